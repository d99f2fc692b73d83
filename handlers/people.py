"""/people: who is enrolled, by agency and role; deactivate a leaver in two taps; confirm a
new enrolment; the access review (everyone, last active, with Remove beside each)."""

from __future__ import annotations

from itertools import groupby

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.buttons import ACCESS_REVIEW, ENROLMENT_CONFIRM
from bot.permissions import Operation, may
from handlers.buttons import area_button, button, pattern, pressed
from handlers.formatting import local_day
from handlers.replies import acknowledge, guarded, send_sensitive, set_menu_for, show

AREA = "ppl"
MAX_BUTTONS = 40
# Telegram allows 4096 characters a message; a review longer than this goes in several.
REVIEW_TEXT_LIMIT = 3500


def _button(text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return area_button(AREA, text, action, *ids)


async def list_people(update: Update, context: MaracContext) -> None:
    actor = context.actor
    assert actor is not None
    people = await context.runtime.services.people.list_for(actor)
    if not people:
        await show(update, texts.NOBODY_ENROLLED)
        return
    lines: list[str] = []
    for agency, members in groupby(people, key=lambda p: p.agency_name or actor.area_name):
        lines.append(f"\n{agency}")
        lines += [
            texts.person_line(
                p.name, texts.ROLE_NAMES[p.role], local_day(context, p.last_active_at)
            )
            + ("" if p.confirmed else f" ({texts.AWAITING_MARK})")
            for p in members
        ]
    markup = None
    if may(actor, Operation.MANAGE_PEOPLE):
        rows = [[_button(p.name[:60], "open", p.id)] for p in people if p.id != actor.person_id]
        review = [button(ACCESS_REVIEW, texts.BUTTON_ACCESS_REVIEW)]
        markup = InlineKeyboardMarkup([review, *rows[: MAX_BUTTONS - 1]])
    await send_sensitive(update, context, texts.ENROLLED_HEADING + "\n".join(lines), markup)


async def open_person(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    person = await context.runtime.services.people.get(context.actor, pressed(update).id())
    card = texts.person_card(
        person.name,
        texts.ROLE_NAMES[person.role],
        person.agency_name or context.actor.area_name,
        local_day(context, person.last_active_at),
    )
    on_call = (
        _button(texts.BUTTON_STOP_URGENT_ALERTS, "calloff", person.id)
        if person.on_call
        else _button(texts.BUTTON_MAKE_ON_CALL_CONTACT, "callon", person.id)
    )
    rows = [[on_call], [_button(texts.BUTTON_DEACTIVATE, "off", person.id)]]
    if not person.confirmed and person.invite_id is not None:
        # Awaiting confirmation: the same Confirm as in the question the coordinators got.
        confirm = button(
            ENROLMENT_CONFIRM, texts.BUTTON_CONFIRM_ENROLMENT, person.id, person.invite_id
        )
        rows.insert(0, [confirm])
        card += f" ({texts.AWAITING_MARK})"
    keyboard = InlineKeyboardMarkup(rows)
    if person.on_call:
        card += "\n" + texts.ON_CALL_NOTE
    await show(update, card, keyboard)


async def toggle_on_call(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    person = await context.runtime.services.people.set_on_call(
        context.actor, callback.id(), callback.action == "callon"
    )
    await show(update, texts.on_call_changed(person.name, person.on_call))


async def confirm_deactivate(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    person = await context.runtime.services.people.get(context.actor, pressed(update).id())
    keyboard = InlineKeyboardMarkup(
        [
            [
                _button(texts.BUTTON_YES_DEACTIVATE, "offy", person.id),
                _button(texts.BUTTON_CANCEL, "keep", person.id),
            ]
        ]
    )
    await show(update, texts.confirm_deactivate(person.name), keyboard)


async def keep(update: Update, context: MaracContext) -> None:
    await show(update, texts.CANCELLED)


async def deactivate(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    person = await context.runtime.services.people.deactivate(context.actor, pressed(update).id())
    await set_menu_for(context.bot, person.telegram_user_id, None)
    await show(update, texts.deactivated(person.name))


async def access_review(update: Update, context: MaracContext) -> None:
    """Everyone who can use the bot, by agency, with Remove beside each (two taps: the same
    confirm step as Deactivate), in as many protected messages as it takes."""
    actor = context.actor
    assert actor is not None
    review = await context.runtime.services.access_reviews.review(actor)
    heading = texts.access_review_heading(review.area_name, local_day(context, review.at))
    parts: list[tuple[list[str], list[list[InlineKeyboardButton]]]] = [([heading], [])]
    for group in review.groups:
        parts[-1][0].append(f"\n{group.name}")
        for person in group.people:
            line = texts.access_review_line(
                person.name,
                texts.ROLE_NAMES[person.role],
                local_day(context, person.last_active_at),
                person.inactive,
                person.awaiting,
            )
            rows = []
            if person.id != actor.person_id:
                label = texts.access_review_remove(person.name)[:60]
                rows.append([_button(label, "off", person.id)])
            text, buttons = parts[-1]
            if len("\n".join([*text, line])) > REVIEW_TEXT_LIMIT or len(buttons) + len(rows) > (
                MAX_BUTTONS
            ):
                parts.append(([f"\n{group.name}"], []))  # Telegram's limits: go on in another
            parts[-1][0].append(line)
            parts[-1][1].extend(rows)
    await acknowledge(update)
    for text, buttons in parts:
        markup = InlineKeyboardMarkup(buttons) if buttons else None
        await send_sensitive(update, context, "\n".join(text).strip(), markup)


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CommandHandler("people", guarded(list_people)),
        CallbackQueryHandler(guarded(access_review), pattern=ACCESS_REVIEW.pattern),
        CallbackQueryHandler(guarded(list_people), pattern=pattern(AREA, "list")),
        CallbackQueryHandler(guarded(open_person), pattern=pattern(AREA, "open")),
        CallbackQueryHandler(guarded(confirm_deactivate), pattern=pattern(AREA, "off")),
        CallbackQueryHandler(guarded(keep), pattern=pattern(AREA, "keep")),
        CallbackQueryHandler(guarded(deactivate), pattern=pattern(AREA, "offy")),
        CallbackQueryHandler(guarded(toggle_on_call), pattern=pattern(AREA, "callon")),
        CallbackQueryHandler(guarded(toggle_on_call), pattern=pattern(AREA, "calloff")),
    ]

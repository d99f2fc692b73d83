"""/people: who is enrolled, by agency and role; deactivate a leaver in two taps."""

from __future__ import annotations

from itertools import groupby

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.permissions import Operation, may
from handlers.buttons import area_button, pattern, pressed
from handlers.formatting import local_day
from handlers.replies import guarded, send_sensitive, set_menu_for, show

AREA = "ppl"
MAX_BUTTONS = 40


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
            for p in members
        ]
    markup = None
    if may(actor, Operation.MANAGE_PEOPLE):
        rows = [[_button(p.name[:60], "open", p.id)] for p in people if p.id != actor.person_id]
        markup = InlineKeyboardMarkup(rows[:MAX_BUTTONS]) if rows else None
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
    keyboard = InlineKeyboardMarkup(
        [[on_call], [_button(texts.BUTTON_DEACTIVATE, "off", person.id)]]
    )
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


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CommandHandler("people", guarded(list_people)),
        CallbackQueryHandler(guarded(list_people), pattern=pattern(AREA, "list")),
        CallbackQueryHandler(guarded(open_person), pattern=pattern(AREA, "open")),
        CallbackQueryHandler(guarded(confirm_deactivate), pattern=pattern(AREA, "off")),
        CallbackQueryHandler(guarded(keep), pattern=pattern(AREA, "keep")),
        CallbackQueryHandler(guarded(deactivate), pattern=pattern(AREA, "offy")),
        CallbackQueryHandler(guarded(toggle_on_call), pattern=pattern(AREA, "callon")),
        CallbackQueryHandler(guarded(toggle_on_call), pattern=pattern(AREA, "calloff")),
    ]

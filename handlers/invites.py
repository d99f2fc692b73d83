"""/invite: choose a role and agency with buttons, get a single-use link; list and revoke."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.invites import AGENCY_ROLES, deep_link
from bot.permissions import Operation, authorise
from bot.vocabulary import AgencyKind, Role
from handlers.buttons import area_button, pattern, pressed
from handlers.formatting import local_time
from handlers.replies import guarded, show

AREA = "inv"
ROLES = list(Role)


def _button(text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return area_button(AREA, text, action, *ids)


async def start_invite(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    authorise(context.actor, Operation.INVITE_PEOPLE, area_id=context.actor.area_id)
    rows = [[_button(texts.ROLE_BUTTONS[r.value], "role", i)] for i, r in enumerate(ROLES)]
    rows.append([_button(texts.BUTTON_OPEN_INVITES, "open")])
    await show(update, texts.CHOOSE_INVITE_ROLE, InlineKeyboardMarkup(rows))


async def role_chosen(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    index = pressed(update).id()
    if not 0 <= index < len(ROLES):
        await show(update, texts.BUTTON_NOT_RECOGNISED)
        return
    role = ROLES[index]
    if role not in AGENCY_ROLES:
        await _issue(update, context, role, None)
        return
    agencies = await context.runtime.services.agencies.list_for(context.actor)
    if role is Role.PERPETRATOR_REP:
        agencies = [a for a in agencies if a.kind is AgencyKind.PERPETRATOR_SERVICE]
    if not agencies:
        await show(update, texts.NO_AGENCY_FOR_ROLE)
        return
    rows = [[_button(a.name, "ag", index, a.id)] for a in agencies]
    await show(update, texts.CHOOSE_INVITE_AGENCY, InlineKeyboardMarkup(rows))


async def agency_chosen(update: Update, context: MaracContext) -> None:
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(0) < len(ROLES):
        await show(update, texts.BUTTON_NOT_RECOGNISED)
        return
    await _issue(update, context, ROLES[callback.id(0)], callback.id(1))


async def _issue(update: Update, context: MaracContext, role: Role, agency_id: int | None) -> None:
    actor = context.actor
    assert actor is not None
    services = context.runtime.services
    issued = await services.invites.issue(
        actor, area_id=actor.area_id, role=role, agency_id=agency_id
    )
    where = actor.area_name
    if agency_id is not None:
        where = (await services.agencies.get(actor, agency_id)).name
    link = deep_link(context.bot.username, issued.code)
    text = texts.invite_issued(
        texts.ROLE_NAMES[role], where, link, local_time(context, issued.expires_at)
    )
    await show(update, text)


async def list_open(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    invites = await context.runtime.services.invites.list_open(context.actor)
    if not invites:
        await show(update, texts.NO_OPEN_INVITES)
        return
    lines, rows = [], []
    for invite in invites:
        where = invite.agency_name or context.actor.area_name
        role = texts.ROLE_BUTTONS[invite.role.value]
        lines.append(texts.open_invite_line(role, where, local_time(context, invite.expires_at)))
        rows.append([_button(texts.revoke_invite_button(role, where), "rev", invite.id)])
    await show(
        update, texts.OPEN_INVITES_HEADING + "\n" + "\n".join(lines), InlineKeyboardMarkup(rows)
    )


async def confirm_revoke(update: Update, context: MaracContext) -> None:
    invite_id = pressed(update).id()
    keyboard = InlineKeyboardMarkup(
        [
            [
                _button(texts.BUTTON_YES_REVOKE, "revy", invite_id),
                _button(texts.BUTTON_KEEP_IT, "open"),
            ]
        ]
    )
    await show(update, texts.CONFIRM_REVOKE, keyboard)


async def revoke(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    await context.runtime.services.invites.revoke(context.actor, pressed(update).id())
    await show(update, texts.INVITE_REVOKED)


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CommandHandler("invite", guarded(start_invite)),
        CallbackQueryHandler(guarded(start_invite), pattern=pattern(AREA, "menu")),
        CallbackQueryHandler(guarded(role_chosen), pattern=pattern(AREA, "role")),
        CallbackQueryHandler(guarded(agency_chosen), pattern=pattern(AREA, "ag")),
        CallbackQueryHandler(guarded(list_open), pattern=pattern(AREA, "open")),
        CallbackQueryHandler(guarded(confirm_revoke), pattern=pattern(AREA, "rev")),
        CallbackQueryHandler(guarded(revoke), pattern=pattern(AREA, "revy")),
    ]

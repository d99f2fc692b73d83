"""/start: enrolment by invite code, or the home menu for someone already enrolled."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import texts
from bot.actor import Actor
from bot.adapter.context import MaracContext
from bot.i18n import set_reader
from bot.permissions import Operation, may
from bot.services.enrolment import Redemption
from handlers.replies import set_menu_for

MENU: tuple[tuple[str, Operation, str], ...] = (
    (texts.MENU_AGENCIES, Operation.MANAGE_AGENCIES, "ag:list"),
    (texts.MENU_INVITE, Operation.INVITE_PEOPLE, "inv:menu"),
    (texts.MENU_PEOPLE, Operation.VIEW_PEOPLE, "ppl:list"),
    (texts.MENU_AUDIT, Operation.VIEW_AUDIT, "aud:latest"),
    (texts.MENU_MEETINGS, Operation.VIEW_MEETINGS, "mtg:list"),
)


def home_keyboard(actor: Actor) -> InlineKeyboardMarkup | None:
    buttons = [
        InlineKeyboardButton(label, callback_data=data)
        for label, operation, data in MENU
        if may(actor, operation)
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return InlineKeyboardMarkup(rows) if rows else None


async def send_home(update: Update, context: MaracContext, actor: Actor) -> None:
    set_reader(actor.language)
    chat = update.effective_chat
    assert chat is not None
    await set_menu_for(context.bot, chat.id, actor.role, confirmed=actor.confirmed)
    if not actor.confirmed:
        # Nothing to open until a coordinator confirms them: say so, and offer no buttons.
        await chat.send_message(
            texts.home_awaiting_confirmation(actor.display_name, actor.role, actor.where)
        )
        return
    await chat.send_message(
        texts.home(actor.display_name, actor.role, actor.where),
        reply_markup=home_keyboard(actor),
    )


async def start(update: Update, context: MaracContext) -> None:
    user, chat = update.effective_user, update.effective_chat
    if user is None or chat is None:
        return
    enrolment = context.runtime.services.enrolment
    code = context.args[0] if context.args else None
    if code is None:
        actor = await enrolment.identify(user.id)
        if actor is None:
            await chat.send_message(texts.NEUTRAL_UNKNOWN)
            return
        await send_home(update, context, actor)
        return

    result = await enrolment.redeem(user.id, user.full_name, code)
    if result.outcome is Redemption.LOCKED_OUT:
        await chat.send_message(texts.INVITE_LOCKED_OUT)
    elif result.outcome is Redemption.NOT_VALID:
        await chat.send_message(texts.INVITE_NOT_VALID)
    elif result.actor is not None:
        actor = result.actor
        if result.outcome is Redemption.ALREADY_ENROLLED:
            await chat.send_message(texts.ALREADY_ENROLLED)
        else:
            await chat.send_message(texts.welcome(actor.display_name, actor.role, actor.where))
        await send_home(update, context, actor)


async def not_understood(update: Update, context: MaracContext) -> None:
    if update.effective_chat is not None and update.message is not None:
        await update.effective_chat.send_message(texts.NOT_UNDERSTOOD)

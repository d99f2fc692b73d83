"""/start: enrolment by invite code, or the home menu for someone already enrolled."""

from __future__ import annotations

from telegram import Update

from bot import texts
from bot.context import MaracContext
from bot.services.enrolment import Redemption
from handlers.replies import set_menu_for


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
        await set_menu_for(context.bot, chat.id, actor.role)
        await chat.send_message(texts.home(actor.display_name, actor.role, actor.area_name))
        return

    result = await enrolment.redeem(user.id, user.full_name, code)
    if result.outcome is Redemption.LOCKED_OUT:
        await chat.send_message(texts.INVITE_LOCKED_OUT)
    elif result.outcome is Redemption.NOT_VALID:
        await chat.send_message(texts.INVITE_NOT_VALID)
    elif result.actor is not None:
        actor = result.actor
        await set_menu_for(context.bot, chat.id, actor.role)
        if result.outcome is Redemption.ALREADY_ENROLLED:
            await chat.send_message(texts.ALREADY_ENROLLED)
            await chat.send_message(texts.home(actor.display_name, actor.role, actor.area_name))
        else:
            await chat.send_message(
                texts.welcome(actor.display_name, actor.role, actor.area_name, result.agency_name)
            )

"""The gate every update passes first: private chats with enrolled, active people only."""

from __future__ import annotations

from telegram import Update
from telegram.constants import ChatType
from telegram.ext import ApplicationHandlerStop

from bot import texts
from bot.adapter.context import MaracContext
from bot.i18n import set_reader
from bot.services.case_access import identified_this_update
from handlers.replies import refuse_button, start_update

GUARD_GROUP = -10


def _is_start_command(update: Update) -> bool:
    message = update.message
    return bool(message and message.text and message.text.split()[0].split("@")[0] == "/start")


async def guard(update: Update, context: MaracContext) -> None:
    start_update()
    set_reader(None)  # English until we know who this is
    identified_this_update(None)
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None or user.is_bot:
        raise ApplicationHandlerStop
    if chat.type != ChatType.PRIVATE:
        # Never a word about cases or users here; answer commands and buttons only,
        # so the bot does not chatter in a group it was added to.
        if update.callback_query is not None:
            await update.callback_query.answer(texts.GROUP_CHAT_REFUSAL, show_alert=True)
        elif update.message and update.message.text and update.message.text.startswith("/"):
            await chat.send_message(texts.GROUP_CHAT_REFUSAL)
        raise ApplicationHandlerStop
    if _is_start_command(update):
        return  # /start itself deals with invite codes and strangers.
    actor = await context.runtime.services.enrolment.identify(user.id)
    if actor is None:
        await context.runtime.services.audit.record_refusal(
            action="access.refused",
            reason="button press" if update.callback_query else "message",
            source=user.id,  # counted, never written: a flood makes one summary, not N events
        )
        if update.callback_query is not None:
            await refuse_button(update, texts.NO_LONGER_HAS_ACCESS)
        else:
            await chat.send_message(texts.NEUTRAL_UNKNOWN)
        raise ApplicationHandlerStop
    context.actor = actor
    # The access policy may take this read as the person "as they are now" in this update.
    identified_this_update(actor)
    # Everything written back to this person in this update is in their own language.
    set_reader(actor.language)

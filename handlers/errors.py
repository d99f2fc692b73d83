"""The last line of defence: a calm answer for the person, a clean line for the log.

The log gets the error's type and where it happened, never its message or the
update, because either could carry a name or a case detail.
"""

from __future__ import annotations

import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TimedOut

from bot import texts
from bot.context import MaracContext
from bot.logging_setup import describe
from storage.db import is_database_unavailable

log = logging.getLogger("marac.errors")


async def on_error(update: object, context: MaracContext) -> None:
    error = context.error
    if error is None:
        return
    if isinstance(error, Forbidden):
        log.warning("telegram refused delivery (user blocked the bot?): %s", describe(error))
        return
    if isinstance(error, RetryAfter | TimedOut | NetworkError) and not isinstance(update, Update):
        log.warning("telegram unavailable: %s", describe(error))
        return
    log.error("update failed: %s", describe(error))
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    text = texts.SERVICE_BUSY if is_database_unavailable(error) else texts.SOMETHING_WENT_WRONG
    try:
        if update.callback_query is not None:
            await update.callback_query.answer()
        await update.effective_chat.send_message(text)
    except Exception as second:  # the apology itself may fail when Telegram is down
        log.warning("could not tell the person about the failure: %s", describe(second))

"""The last line of defence: a calm answer for the person, a clean line for the log.

The log gets the error's type and where it happened, never its message or the
update, because either could carry a name or a case detail.

Once an update has failed, nothing else handles it: the person has had their one answer.
PTB would otherwise go on to the next handler group, and after a failure in the guard (say,
the database is down) that means feature handlers running with no identified actor, each
failing again and sending a second, different apology.
"""

from __future__ import annotations

import contextlib
import logging

from telegram import Update
from telegram.error import Forbidden, NetworkError, RetryAfter, TelegramError, TimedOut
from telegram.ext import ApplicationHandlerStop

from bot import texts
from bot.adapter.context import MaracContext
from bot.logging_setup import describe
from storage.crypto import KeySourceUnavailable
from storage.db import is_database_unavailable

log = logging.getLogger("marac.errors")


async def on_error(update: object, context: MaracContext) -> None:
    error = context.error
    if error is None:
        return
    if isinstance(error, Forbidden):
        log.warning("telegram refused delivery (user blocked the bot?): %s", describe(error))
        _stop_if_update(update)
        return
    if isinstance(error, RetryAfter | TimedOut | NetworkError) and not isinstance(update, Update):
        log.warning("telegram unavailable: %s", describe(error))
        return
    # Vault (when it holds the key-encryption key) being away is the same to the person.
    unavailable = is_unavailable(error)
    if unavailable:
        # Expected while the database restarts or fails over, and the person is told: a
        # warning, not an error that pages someone for every update meanwhile.
        log.warning("database or key service unavailable: %s", describe(error))
    else:
        log.error("update failed: %s", describe(error))
    if not isinstance(update, Update) or update.effective_chat is None:
        _stop_if_update(update)
        return
    text = texts.SERVICE_BUSY if unavailable else texts.SOMETHING_WENT_WRONG
    if update.callback_query is not None:
        # Stops the button's spinner. It fails once the press is too old (a slow database
        # took Telegram's patience) or was answered already; the message below still goes.
        with contextlib.suppress(TelegramError):
            await update.callback_query.answer()
    try:
        await update.effective_chat.send_message(text)
    except Exception as second:  # the apology itself may fail when Telegram is down
        log.warning("could not tell the person about the failure: %s", describe(second))
    raise ApplicationHandlerStop


def is_unavailable(error: BaseException) -> bool:
    """The database or the key service is away: the person is asked to try again shortly."""
    return is_database_unavailable(error) or isinstance(error, KeySourceUnavailable)


def _stop_if_update(update: object) -> None:
    """No later handler group for a failed update (PTB ignores this for job errors)."""
    if isinstance(update, Update):
        raise ApplicationHandlerStop

"""Deleting messages with case content from private chats: the bot's own and what people type.

The rows come from the sensitive-message service, which records each deletion before it
is tried. Telegram answers a deletion in one of three ways that matter here: done; the
message is already gone (the person deleted it, or the chat is gone) — nothing left to do;
or the message can't be deleted (for a person's message, older than Telegram's 48 hours).
Anything else (network trouble, flood control) is tried again by the next housekeeping run.
A person's message that can no longer be deleted is reported to them, as a reply to it,
so they can delete it themselves; nothing else in the bot would ever tell them.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telegram import ReplyParameters
from telegram.error import BadRequest, Forbidden, TelegramError

from bot import texts
from bot.adapter import metrics
from bot.services.sensitive_messages import DueMessage

if TYPE_CHECKING:
    from telegram import Bot

    from bot.services.sensitive_messages import SensitiveMessageService

log = logging.getLogger("marac.jobs")

_CANNOT_DELETE = "can't be deleted"


@dataclass
class RemovalReport:
    deleted: int = 0
    retried: int = 0
    left: int = 0


async def remove_messages(
    bot: Bot, service: SensitiveMessageService, due: list[DueMessage]
) -> RemovalReport:
    """Delete each message; settle every row as deleted, failed or to retry."""
    report = RemovalReport()
    done: list[int] = []
    retry: list[int] = []
    left: list[DueMessage] = []
    for message in due:
        try:
            await bot.delete_message(message.chat_id, message.message_id)
            done.append(message.id)
        except Forbidden:
            done.append(message.id)  # the person blocked the bot: the chat is gone for us
        except BadRequest as error:
            if message.typed and _CANNOT_DELETE in error.message.lower():
                left.append(message)
            else:
                done.append(message.id)  # already deleted by the person, or the chat is gone
        except TelegramError as error:
            if service.past_telegram_limit(message):
                left.append(message)
            else:
                retry.append(message.id)
                log.warning("could not delete a message yet, will retry: %s", type(error).__name__)
    await service.mark_deleted(done)
    await service.mark_retry(retry)
    await service.mark_failed([m.id for m in left])
    if left:
        metrics.record_typed_messages_left(len(left))
        log.warning("%d typed message(s) could not be deleted; asking the senders", len(left))
    for message in left:
        await _ask_person_to_delete(bot, message)
    report.deleted, report.retried, report.left = len(done), len(retry), len(left)
    return report


async def _ask_person_to_delete(bot: Bot, message: DueMessage) -> None:
    """A reply to the message itself, so the person sees which one; best effort."""
    with contextlib.suppress(TelegramError):
        await bot.send_message(
            message.chat_id,
            texts.TYPED_MESSAGE_NOT_REMOVED,
            reply_parameters=ReplyParameters(message.message_id, allow_sending_without_reply=True),
        )

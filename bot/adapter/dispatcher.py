"""Sending what the outbox says is due, on PTB's JobQueue, from any number of bot instances.

Each run claims a batch, then for each row: re-confirms it is still ours
(``OutboxService.hold``), sends it, and settles it. What Telegram answers
decides what happens next:

* flood control (429) and network trouble say nothing about the message: it is
  tried again later, and the rest of the batch is handed back untouched (no
  attempt counted) rather than have every remaining send hit the same wall;
* "blocked by the user" / "chat not found" will not change by retrying: the
  recipient is marked unreachable and the coordinators are told;
* any other refusal of the message itself (400) fails it at once, with an audit
  event, because the same request gets the same answer;
* anything unexpected is retried with backoff, and never stops the other rows.

A send that timed out may still have been delivered; Telegram offers no way to
ask, so such a message is retried and may, rarely, arrive twice.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
import weakref
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Final

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputFile,
    Message,
    WebAppInfo,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.warnings import PTBDeprecationWarning

from bot.adapter import metrics
from bot.buttons import workspace_url
from bot.i18n import speaking
from bot.send_lanes import bulk_sends
from bot.services.outbox import (
    DEFAULT_LEASE,
    Buttons,
    ClaimedMessage,
    Hold,
    OutboxService,
    retry_backoff,
)
from storage.db import is_database_unavailable

if TYPE_CHECKING:
    from bot.adapter.context import MaracContext

log = logging.getLogger("marac.dispatcher")

# Well inside the lease, so a send stuck behind the rate limiter cannot outlive our claim.
DEFAULT_SEND_TIMEOUT: Final = 60.0
_UNREACHABLE_BAD_REQUESTS: Final = ("chat not found", "user not found", "peer_id_invalid")
# Sent, but the database never heard of it (it went away mid-send): outbox id -> Telegram's
# message id, per outbox. Recorded first thing on the next run, before anything is claimed,
# so the row is not sent again once its claim runs out.
_UNSETTLED: weakref.WeakKeyDictionary[OutboxService, dict[int, int]] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class DispatchReport:
    sent: int = 0
    retried: int = 0
    unreachable: int = 0
    expired: int = 0
    failed: int = 0  # refused by Telegram for good, or out of attempts
    skipped: int = 0  # cancelled, taken over or handed back before sending; or our own error

    @property
    def total(self) -> int:
        return self.sent + self.retried + self.unreachable + self.expired + self.failed


def retry_after_delay(error: RetryAfter) -> timedelta:
    """Telegram's wait as a timedelta, whether PTB gives seconds or a timedelta (PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    delay = value if isinstance(value, timedelta) else timedelta(seconds=float(value))
    return max(delay, timedelta(seconds=1))


def inline_button(label: str, data: str, webapp_url: str | None) -> InlineKeyboardButton:
    """A button as stored; one with a workspace page opens it, where there is a workspace."""
    url = workspace_url(data, webapp_url)
    if url is not None:
        return InlineKeyboardButton(label, web_app=WebAppInfo(url))
    return InlineKeyboardButton(label, callback_data=data)


def keyboard(buttons: Buttons | None, webapp_url: str | None = None) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup(
        [[inline_button(label, data, webapp_url) for label, data in row] for row in buttons]
    )


def _describe(error: BaseException) -> str:
    """Telegram's own descriptions carry no message content; other errors might, so type only."""
    if isinstance(error, TelegramError):
        return f"{type(error).__name__}: {error.message}"
    return type(error).__name__


async def _send(
    bot: Bot,
    outbox: OutboxService,
    message: ClaimedMessage,
    send_timeout: float,
    webapp_url: str | None,
) -> Message:
    async with asyncio.timeout(send_timeout):
        document = (
            await outbox.render_attachment(message.attachment) if message.attachment else None
        )
        if document is not None:
            filename, content = document
            return await bot.send_document(
                message.chat_id,
                InputFile(content, filename=filename),
                caption=message.text,
                reply_markup=keyboard(message.buttons, webapp_url),
                protect_content=False,
            )
        # A text built when sent names a person: kept from forwarding and saving.
        return await bot.send_message(
            message.chat_id,
            await outbox.render_text(message),
            reply_markup=keyboard(message.buttons, webapp_url),
            protect_content=message.text_from is not None,
        )


async def _deliver(
    bot: Bot,
    outbox: OutboxService,
    message: ClaimedMessage,
    send_timeout: float,
    lease: timedelta,
    webapp_url: str | None = None,
) -> tuple[str, bool]:
    """Send one claimed row and settle it.

    Returns the DispatchReport field to count it under, and whether Telegram or
    the network is unavailable, so the rest of the batch should wait.
    """
    state = await outbox.hold(message, lease)
    if state is Hold.EXPIRED:
        return "expired", False
    if state is Hold.LOST:
        return "skipped", False
    now = outbox.clock.now
    language = await outbox.reader_language(message.person_id)
    try:
        # Texts and documents built now, and the boundary's lookup, are in the reader's language.
        with speaking(language):
            sent = await _send(bot, outbox, message, send_timeout, webapp_url)
    except RetryAfter as error:
        kept = await outbox.mark_retry(
            message.id, _describe(error), now() + retry_after_delay(error)
        )
        return ("retried" if kept else "failed"), True
    except Forbidden as error:
        await outbox.mark_unreachable(message.id)
        log.info("outbox %s: recipient unreachable (%s)", message.id, _describe(error))
        return "unreachable", False
    except BadRequest as error:
        if any(phrase in error.message.lower() for phrase in _UNREACHABLE_BAD_REQUESTS):
            await outbox.mark_unreachable(message.id)
            return "unreachable", False
        await outbox.mark_failed(message.id, _describe(error))
        log.warning("outbox %s refused by Telegram: %s", message.id, _describe(error))
        return "failed", False
    except (NetworkError, TimeoutError) as error:  # TimedOut is a NetworkError
        retry_at = now() + retry_backoff(message.attempts)
        kept = await outbox.mark_retry(message.id, _describe(error), retry_at)
        log.warning("outbox %s not sent, Telegram unreachable: %s", message.id, _describe(error))
        return ("retried" if kept else "failed"), True
    except Exception as error:
        retry_at = now() + retry_backoff(message.attempts)
        kept = await outbox.mark_retry(message.id, _describe(error), retry_at)
        log.warning("outbox %s not sent, will retry: %s", message.id, _describe(error))
        return ("retried" if kept else "failed"), False
    try:
        await outbox.mark_sent(message.id, sent.message_id)
    except Exception:
        _UNSETTLED.setdefault(outbox, {})[message.id] = sent.message_id
        raise
    return "sent", False


async def _settle_unsettled(outbox: OutboxService) -> None:
    """Record the sends the database missed; raises (keeping the rest) while it is still away."""
    pending = _UNSETTLED.get(outbox, {})
    for outbox_id, telegram_message_id in list(pending.items()):
        await outbox.mark_sent(outbox_id, telegram_message_id)
        del pending[outbox_id]
        log.info("outbox %s: delivery recorded now the database is back", outbox_id)


async def dispatch_due(
    bot: Bot,
    outbox: OutboxService,
    *,
    batch: int = 100,
    send_timeout: float = DEFAULT_SEND_TIMEOUT,
    lease: timedelta = DEFAULT_LEASE,
    webapp_url: str | None = None,
) -> DispatchReport:
    """Send one batch of due messages; safe to run concurrently, here or on other instances.

    ``webapp_url``: the case workspace's address, if there is one; buttons whose kind has a
    workspace page then open it (``bot.buttons.workspace_url``).
    """
    counts: Counter[str] = Counter()
    lateness: list[float] = []
    await _settle_unsettled(outbox)
    counts["expired"] += await outbox.expire_overdue()
    claimed = await outbox.claim_due(limit=batch, lease=lease)
    for index, message in enumerate(claimed):
        try:
            # The bulk lane: people's replies to their own messages go first (bot.send_lanes).
            with bulk_sends():
                outcome, stop = await _deliver(
                    bot, outbox, message, send_timeout, lease, webapp_url
                )
        except Exception as error:
            # Our own failure (the database, most likely): the lease runs out and the row is
            # tried again; the other rows still get their turn.
            counts["skipped"] += 1
            level = logging.WARNING if is_database_unavailable(error) else logging.ERROR
            log.log(level, "outbox %s could not be dispatched: %s", message.id, _describe(error))
            continue
        counts[outcome] += 1
        if outcome == "sent":
            lateness.append((outbox.clock.now() - message.due_at).total_seconds())
        if stop:
            rest = claimed[index + 1 :]
            await outbox.release(rest)
            counts["skipped"] += len(rest)
            if rest:
                log.warning("handed %d message(s) back for the next run", len(rest))
            break
    report = DispatchReport(
        sent=counts["sent"],
        retried=counts["retried"],
        unreachable=counts["unreachable"],
        expired=counts["expired"],
        failed=counts["failed"],
        skipped=counts["skipped"],
    )
    if report.total or report.skipped:
        log.info("outbox dispatch: %s", report)
    metrics.record_dispatch(report, lateness)
    metrics.mark_dispatcher_run()
    return report


async def dispatch_job(context: MaracContext) -> None:
    """For ``job_queue.run_repeating``/``run_once``, or a line in the housekeeping job."""
    await dispatch_due(
        context.bot,
        context.runtime.services.outbox,
        webapp_url=context.runtime.settings.webapp_url,
    )

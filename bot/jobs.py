"""Housekeeping that runs on PTB's JobQueue: deleting expired sensitive messages, ISA reminders.

The job asks the services what is due by the injected clock, so tests move the
clock and let the job run, instead of sleeping for fifteen minutes.
"""

from __future__ import annotations

import logging
from datetime import time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from telegram.error import BadRequest, Forbidden, TelegramError

from bot import texts
from bot.dates import format_uk_date
from bot.logging_setup import describe

if TYPE_CHECKING:
    from bot.context import MaracContext

log = logging.getLogger("marac.jobs")


async def delete_expired_messages(context: MaracContext) -> int:
    service = context.runtime.services.sensitive_messages
    due = await service.due()
    done: list[int] = []
    for message in due:
        try:
            await context.bot.delete_message(message.chat_id, message.message_id)
            done.append(message.id)
        except (BadRequest, Forbidden):
            done.append(message.id)  # already deleted by the person, or the chat is gone
        except TelegramError as error:
            log.warning("could not delete a message yet, will retry: %s", type(error).__name__)
    await service.mark_deleted(done)
    return len(done)


async def send_isa_reminders(context: MaracContext) -> int:
    reminders = await context.runtime.services.agencies.take_due_isa_reminders()
    today = context.runtime.clock.now().date()
    sent = 0
    for reminder in reminders:
        text = texts.isa_review_reminder(
            reminder.agency_name, format_uk_date(reminder.review_on), reminder.review_on < today
        )
        for chat_id in reminder.coordinator_chat_ids:
            try:
                await context.bot.send_message(chat_id, text)
                sent += 1
            except TelegramError as error:
                log.warning("ISA reminder not delivered: %s", type(error).__name__)
    return sent


async def housekeeping(context: MaracContext) -> None:
    """Each part runs even if another fails, so one fault never stops reminders or erasure."""
    from bot.dispatcher import dispatch_due

    services = context.runtime.services
    for part in (
        lambda: dispatch_due(context.bot, services.outbox),
        lambda: delete_expired_messages(context),
        lambda: send_isa_reminders(context),
        services.referrals.erase_expired_drafts,
        services.meetings.publish_due,
        services.meetings.queue_morning_digests,
        services.actions.chase_overdue,
    ):
        try:
            await part()
        except Exception as error:  # logged without data; the next run tries again
            log.error("housekeeping step failed: %s", describe(error))


async def morning_digest(context: MaracContext) -> None:
    """The 08:00 cron run; housekeeping also catches up after a restart (the key stops twins)."""
    from bot.dispatcher import dispatch_due

    services = context.runtime.services
    if await services.meetings.queue_morning_digests():
        await dispatch_due(context.bot, services.outbox)


async def erase_by_retention(context: MaracContext) -> None:
    """Nightly: erase what the retention rules say is due (crypto-shredding)."""
    try:
        erased = await context.runtime.services.retention.erase_due()
    except Exception as error:
        log.error("retention failed: %s", describe(error))
        return
    if erased:
        log.info("retention erased %d record(s)", len(erased))


def schedule_jobs(application: Any, interval_seconds: float, timezone: str) -> None:
    application.job_queue.run_repeating(
        housekeeping,
        interval=interval_seconds,
        first=min(interval_seconds, 5.0),
        name="housekeeping",
        job_kwargs={"misfire_grace_time": int(max(interval_seconds, 30)), "coalesce": True},
    )
    application.job_queue.run_daily(
        morning_digest,
        time=time(8, 0, tzinfo=ZoneInfo(timezone)),
        days=(0, 1, 2, 3, 4),
        name="morning-digest",
        job_kwargs={"misfire_grace_time": 3600, "coalesce": True},
    )
    # A missed night catches up the next; several instances are safe (row lock, re-check).
    application.job_queue.run_daily(
        erase_by_retention,
        time=time(2, 30, tzinfo=ZoneInfo(timezone)),
        name="retention",
        job_kwargs={"misfire_grace_time": 6 * 3600, "coalesce": True},
    )

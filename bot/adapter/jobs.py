"""Housekeeping that runs on PTB's JobQueue: sending the outbox, deleting expired sensitive
messages, and asking each service for what is due (agendas, digests, chases, reviews).

The job asks the services what is due by the injected clock, so tests move the
clock and let the job run, instead of sleeping for fifteen minutes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.adapter.message_removal import remove_messages
from bot.logging_setup import describe
from storage.db import is_database_unavailable

if TYPE_CHECKING:
    from bot.adapter.context import MaracContext

log = logging.getLogger("marac.jobs")


async def delete_expired_messages(context: MaracContext) -> int:
    """The bot's case messages past their time, and typed messages a handler could not delete."""
    service = context.runtime.services.sensitive_messages
    report = await remove_messages(context.bot, service, await service.due())
    return report.deleted


async def _run_part(name: str, part: Callable[[], Awaitable[object]]) -> None:
    """One housekeeping part; a failure is logged by name (never with data) and goes no further.

    Each part opens and commits its own short transactions inside its service, so none
    holds the database (on SQLite, the bot's one connection) for the others or for the
    handlers; the next tick tries a failed part again.
    """
    try:
        await part()
    except Exception as error:  # logged without data; the next run tries again
        if is_database_unavailable(error):
            # Expected during an outage and retried every tick: a warning, not a page.
            log.warning("housekeeping step %s waits for the database: %s", name, describe(error))
        else:
            log.error("housekeeping step %s failed: %s", name, describe(error))


async def housekeeping(context: MaracContext) -> None:
    """Each part runs even if another fails, so one fault never stops reminders or erasure.

    Runs every 30 seconds, so each part returns quickly when nothing is due: the
    agenda auto-publish and the morning digest check what is due, or already queued
    today, before they compute anything.
    """
    from bot.adapter.dispatcher import dispatch_due

    services = context.runtime.services
    webapp_url = context.runtime.settings.webapp_url
    parts: tuple[tuple[str, Callable[[], Awaitable[object]]], ...] = (
        (
            "dispatch",
            lambda: dispatch_due(context.bot, services.outbox, webapp_url=webapp_url),
        ),
        ("sensitive messages", lambda: delete_expired_messages(context)),
        ("agreement reviews", services.agencies.queue_isa_reminders),
        ("referral drafts", services.referrals.erase_expired_drafts),
        ("meeting series", services.meetings.extend_series),
        ("agenda publishing", services.meetings.publish_due),
        ("morning digest", services.meetings.queue_morning_digests),
        ("action chasing", services.actions.chase_overdue),
        ("victim told the outcome", services.victim_voice.follow_up_outcomes),
        ("Clare's Law chasing", services.dvds.chase_overdue),
        ("access reviews", services.access_reviews.queue_quarterly),
        ("audit checkpoint", services.audit_checkpoints.publish_due),
        ("refusal summaries", services.audit.summarise_refusals),
    )
    for name, part in parts:
        await _run_part(name, part)


async def morning_digest(context: MaracContext) -> None:
    """The 08:00 cron run; housekeeping also catches up after a restart (the key stops twins)."""
    from bot.adapter.dispatcher import dispatch_due

    services = context.runtime.services
    try:
        queued = await services.meetings.queue_morning_digests()
    except Exception as error:  # housekeeping tries again within 30 seconds
        level = logging.WARNING if is_database_unavailable(error) else logging.ERROR
        log.log(level, "morning digest failed: %s", describe(error))
        return
    if queued:
        await _run_part(
            "dispatch",
            lambda: dispatch_due(
                context.bot, services.outbox, webapp_url=context.runtime.settings.webapp_url
            ),
        )


async def erase_by_retention(context: MaracContext) -> None:
    """Nightly: erase what is due, then make older database copies useless for it, then prune.

    Each step runs even if the one before failed: the key rotation also finishes a rotation
    an earlier night left half-done, and audit pruning does not depend on case erasure.
    """
    runtime = context.runtime
    try:
        erased = await runtime.services.retention.erase_due()
        if erased:
            log.info("retention erased %d record(s)", len(erased))
    except Exception as error:
        log.error("retention failed: %s", describe(error))
    await rotate_keys_after_erasure(context)
    try:
        await runtime.services.retention.prune_audit_trail()
    except Exception as error:
        log.error("audit pruning failed: %s", describe(error))


async def rotate_keys_after_erasure(context: MaracContext) -> None:
    """A new key-encryption key after erasures, so a backup taken before cannot open them.

    Also run once straight after an early erasure (scheduled by the handler, so the
    coordinator does not wait for it); it does nothing when no erasure is newer than the
    last completed rotation, and reports rather than raises.
    """
    try:
        report = await context.runtime.services.retention.rotate_keys_after_erasure()
    except Exception as error:  # the next night's run finishes it
        log.error("key rotation after erasure failed: %s", describe(error))
        return
    if report.status != "not_needed":
        log.info("key rotation after erasure: %s", report.message)


async def clean_up_after_erasure(context: MaracContext) -> None:
    """Run once straight after an early erasure (scheduled by the handler, so the coordinator
    waits for neither): vacuum what the erasure deleted, then rotate the key-encryption key."""
    await context.runtime.services.retention.reclaim_erased_space()
    await rotate_keys_after_erasure(context)


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

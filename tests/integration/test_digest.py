"""The coordinators' morning digest: once per working day, after 08:00 local, with the counts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlalchemy import select

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.meetings import MeetingService
from bot.vocabulary import Role
from storage.models import OutboxMessage
from tests.support.service_scenarios import refer


async def test_digest_once_per_working_day_after_eight(
    runtime: Runtime, clock: ManualClock
) -> None:
    area = await runtime.services.areas.ensure_area("Northamptonshire")
    issued = await runtime.services.invites.issue(None, area_id=area.id, role=Role.COORDINATOR)
    actor = (await runtime.services.enrolment.redeem(501, "Priya Shah", issued.code)).actor
    assert actor is not None
    await refer(runtime, actor)
    meetings = MeetingService(dataclasses.replace(runtime.deps, morning_digest=True))

    clock.set(datetime(2026, 11, 27, 7, 59, tzinfo=UTC))  # Friday, 07:59 in London
    assert await meetings.queue_morning_digests() == 0
    clock.set(datetime(2026, 11, 27, 8, 0, tzinfo=UTC))
    assert await meetings.queue_morning_digests() == 1
    assert await meetings.queue_morning_digests() == 0  # the cron run and a catch-up agree
    clock.set(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))  # Saturday
    assert await meetings.queue_morning_digests() == 0
    clock.set(datetime(2026, 12, 25, 9, 0, tzinfo=UTC))  # Christmas Day
    assert await meetings.queue_morning_digests() == 0
    async with runtime.sessions() as session:
        (digest,) = (
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "digest"))
        ).all()
    assert "Referrals awaiting triage: 1" in digest.text and "Jane" not in digest.text

"""The victim's voice through the services: only the allocated IDVA records it, sealed and
kept as history; those who hold the case in full read it; the agenda says whether it is
recorded and never what it is; after the closed meeting the IDVA is asked, then chased once
after two working days (the coordinators told when no IDVA is allocated)."""

from __future__ import annotations

import contextlib
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from bot import texts
from bot.actor import Actor
from bot.clock import ManualClock
from bot.errors import NotFound, ServiceError
from bot.permissions import PermissionDenied
from bot.runtime import Runtime
from bot.services.retention import RetentionService
from bot.vocabulary import AgencyKind, Engagement, OutcomeTold, Role
from storage.models import (
    AgendaItem,
    AuditEvent,
    OutboxMessage,
    VictimOutcomeReply,
    VictimVoiceEntry,
)
from tests.support.access_world import KEPT_OUT, World, build
from tests.support.idva import allocate_idva
from tests.support.retention import build_world
from tests.support.service_scenarios import enrol

VIEWS = "She wants to stay at home with the locks changed; contact by text only."
# The world's meeting is on Thursday 10 Dec 2026 (ten working days after 26 Nov), closed.
FRIDAY_AFTER = datetime(2026, 12, 11, 12, 0, tzinfo=UTC)
MONDAY_AFTER = datetime(2026, 12, 14, 9, 0, 1, tzinfo=UTC)


async def _record(runtime: Runtime, world: World) -> None:
    s, jo = runtime.services.victim_voice, world.people["idva"]
    assert await s.record_engagement(jo, world.case_id, Engagement.ENGAGING) == world.reference
    await s.record_engagement(jo, world.case_id, Engagement.PARTLY_ENGAGING)
    assert await s.record_wishes(jo, world.case_id, "An earlier view") == world.reference
    await s.record_wishes(jo, world.case_id, VIEWS)


async def test_the_allocated_idva_records_and_those_holding_the_case_read(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    await _record(runtime, world)
    s = runtime.services.victim_voice
    for name in ("idva", "coordinator"):
        voice = await s.read(world.people[name], world.case_id)
        assert voice is not None, name
        assert voice.views == VIEWS and voice.engagement is Engagement.PARTLY_ENGAGING
        assert voice.views_by == "Jo Evans"
        assert voice.may_record is (name == "idva")
    status = await s.status(world.people["idva"], world.case_id)
    assert status.views is None and status.views_at is not None  # the chat never opens them
    # History kept, sealed: four rows, no plaintext in any column.
    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(VictimVoiceEntry)))
    assert len(rows) == 4
    assert all(VIEWS.encode() not in (row.views_sealed or b"") for row in rows)
    # Every read is recorded against the case.
    async with runtime.sessions() as session:
        viewed = list(
            await session.scalars(
                select(AuditEvent.actor_person_id).where(
                    AuditEvent.action == "case.viewed",
                    AuditEvent.subject == world.reference,
                    AuditEvent.details.contains("victim's views"),
                )
            )
        )
    assert world.people["coordinator"].person_id in viewed


@pytest.mark.parametrize("name", ["idva colleague", "other agency", "referrer", *KEPT_OUT])
async def test_nobody_else_records_or_reads_it(
    runtime: Runtime, clock: ManualClock, name: str
) -> None:
    world = await build(runtime, clock)
    await _record(runtime, world)
    s, who = runtime.services.victim_voice, world.people[name]
    for attempt in (
        s.record_engagement(who, world.case_id, Engagement.NOT_ENGAGING),
        s.record_wishes(who, world.case_id, "Something else"),
        s.status(who, world.case_id),
        s.confirm_outcome(who, world.case_id, world.meeting_id, OutcomeTold.TOLD),
    ):
        with pytest.raises((NotFound, PermissionDenied)):
            await attempt
    with contextlib.suppress(PermissionDenied):  # no case pages at all for some roles
        assert await s.read(who, world.case_id) is None


async def test_a_coordinator_reads_but_does_not_record(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    priya = world.people["coordinator"]
    with pytest.raises(ServiceError) as refused:
        await runtime.services.victim_voice.record_wishes(priya, world.case_id, VIEWS)
    assert refused.value.user_message == texts.ONLY_ALLOCATED_IDVA


async def test_the_agenda_says_whether_views_are_recorded_never_what(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    nia = world.people["other agency"]
    (line,) = (await runtime.services.meetings.detail(nia, world.meeting_id)).agenda
    assert line.voice is not None and not line.voice.views_recorded
    await _record(runtime, world)
    (line,) = (await runtime.services.meetings.detail(nia, world.meeting_id)).agenda
    assert line.voice is not None and line.voice.views_recorded
    assert line.voice.engagement is Engagement.PARTLY_ENGAGING
    assert line.voice.meeting_closed and line.voice.told is None
    assert VIEWS not in repr(line)


async def _queued(runtime: Runtime, kind: str) -> list[OutboxMessage]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


async def test_told_the_outcome_asked_then_chased_once_after_two_working_days(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    s, jo = runtime.services.victim_voice, world.people["idva"]
    assert await s.follow_up_outcomes() == 1
    (ask,) = await _queued(runtime, "victim_outcome_ask")
    assert ask.person_id == jo.person_id and world.reference in ask.text
    assert await s.follow_up_outcomes() == 0  # asked once
    for moment in (FRIDAY_AFTER, datetime(2026, 12, 13, 12, tzinfo=UTC)):
        clock.set(moment)
        assert await s.follow_up_outcomes() == 0
    clock.set(MONDAY_AFTER)
    assert await s.follow_up_outcomes() == 1
    (chase,) = await _queued(runtime, "victim_outcome_chase")
    assert chase.person_id == jo.person_id
    assert await s.follow_up_outcomes() == 0  # chased once
    # The coordinator sees it outstanding on the agenda until the IDVA answers.
    priya = world.people["coordinator"]
    (line,) = (await runtime.services.meetings.detail(priya, world.meeting_id)).agenda
    assert line.voice is not None and line.voice.told is None
    await s.confirm_outcome(jo, world.case_id, world.meeting_id, OutcomeTold.TOLD)
    (line,) = (await runtime.services.meetings.detail(priya, world.meeting_id)).agenda
    assert line.voice is not None and line.voice.told is OutcomeTold.TOLD
    assert (await s.status(jo, world.case_id)).awaiting_outcome == ()


async def test_could_not_tell_keeps_a_sealed_reason_and_stops_the_chase(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    s, jo = runtime.services.victim_voice, world.people["idva"]
    await s.follow_up_outcomes()
    await s.confirm_outcome(
        jo, world.case_id, world.meeting_id, OutcomeTold.COULD_NOT_TELL, "No answer on her phone"
    )
    clock.set(MONDAY_AFTER)
    assert await s.follow_up_outcomes() == 0
    assert await _queued(runtime, "victim_outcome_chase") == []


async def test_with_no_idva_allocated_the_coordinators_are_told(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with runtime.sessions.begin() as session:
        session.add(
            AgendaItem(
                meeting_id=world.meeting_id,
                case_id=world.repeat_case_id,
                position=2,
                added_at=clock.now(),
            )
        )
    await runtime.services.victim_voice.follow_up_outcomes()
    told = await _queued(runtime, "victim_outcome_no_idva")
    # Both of the area's coordinators (one is kept out of the other case, not this one).
    coordinators = {world.people[n].person_id for n in ("coordinator", "excluded coordinator")}
    assert {m.person_id for m in told} == coordinators
    assert all("No IDVA is allocated" in m.text for m in told)
    assert all(m.buttons is None for m in told)


async def test_erasing_the_case_erases_its_voice(runtime: Runtime, clock: ManualClock) -> None:
    world = await build_world(runtime, clock)  # the meeting that heard "full" is closed
    jo = await enrol_idva(runtime, world.area_id)
    await allocate_idva(runtime.sessions, world.full, jo.person_id, clock.now())
    s = runtime.services.victim_voice
    await s.record_wishes(jo, world.full, VIEWS)
    await s.confirm_outcome(jo, world.full, world.meeting1, OutcomeTold.TOLD)
    await s.follow_up_outcomes()
    erased = await RetentionService(runtime.deps).erase_due(date(2032, 12, 11))
    assert world.full in {item.case_id for item in erased}
    async with runtime.sessions() as session:
        for table in (VictimVoiceEntry, VictimOutcomeReply):
            assert await session.scalar(select(func.count()).select_from(table)) == 0


async def enrol_idva(runtime: Runtime, area_id: int) -> Actor:
    cora = await runtime.services.enrolment.identify(1001)
    assert cora is not None
    idva = await runtime.services.agencies.add(cora, "Sunflower IDVA", AgencyKind.IDVA)
    return await enrol(runtime, area_id, 1010, "Jo Evans", Role.AGENCY_REP, idva.id)

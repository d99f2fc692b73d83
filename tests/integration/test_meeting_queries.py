"""Meeting queries that run on every housekeeping tick or every agenda view stay small.

The digest and auto-publish are asked every 30 seconds; the agenda on every tap. These
tests pin what people see (one digest a day, the next two meetings in it, the right
meeting published, full meetings flagged) and that the repeated calls do not grow with
the area's history or the agenda's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import event, select

from bot.actor import Actor
from bot.adapter.context import MaracContext
from bot.adapter.jobs import housekeeping
from bot.adapter.local import running_bot
from bot.clock import ManualClock
from bot.meetings.recurrence import Repeat
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn
from bot.services.meetings import MeetingView
from bot.vocabulary import AgencyKind, Role
from storage.models import Agency, OutboxMessage
from tests.support.service_scenarios import refer


@dataclass
class Cast:
    area_id: int
    priya: Actor  # coordinator, Telegram user 501
    sam: Actor  # police rep
    nia: Actor  # health rep


async def _enrol(
    runtime: Runtime, area_id: int, user: int, name: str, role: Role, agency_id: int | None
) -> Actor:
    services = runtime.services
    issued = await services.invites.issue(None, area_id=area_id, role=role, agency_id=agency_id)
    actor = (await services.enrolment.redeem(user, name, issued.code)).actor
    assert actor is not None
    return actor


async def cast(runtime: Runtime) -> Cast:
    area = await runtime.services.areas.ensure_area("Northamptonshire")
    ids = []
    async with runtime.sessions.begin() as session:
        for name, kind in (("Police", AgencyKind.POLICE), ("Health", AgencyKind.HEALTH)):
            row = Agency(area_id=area.id, name=name, kind=kind, created_at=runtime.clock.now())
            session.add(row)
            await session.flush()
            ids.append(row.id)
    return Cast(
        area.id,
        await _enrol(runtime, area.id, 501, "Priya Shah", Role.COORDINATOR, None),
        await _enrol(runtime, area.id, 601, "Sam Okafor", Role.AGENCY_REP, ids[0]),
        await _enrol(runtime, area.id, 602, "Nia Brown", Role.AGENCY_REP, ids[1]),
    )


async def fortnightly(
    runtime: Runtime, who: Cast, capacity: int | None = None
) -> list[MeetingView]:
    """Thursdays 10:00 from 10 Dec 2026: 10 Dec, 24 Dec, 7 Jan, 21 Jan, ..."""
    return (
        await runtime.services.meetings.create(
            who.priya,
            first_date=date(2026, 12, 10),
            start=time(10),
            repeat=Repeat.FORTNIGHTLY,
            location="Room 2, County Hall",
            capacity=capacity,
        )
    ).meetings


async def accept_new_case(runtime: Runtime, who: Cast) -> int:
    submitted = await refer(runtime, who.sam)
    await runtime.services.cases.accept(who.priya, submitted.case_id)
    return submitted.case_id


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """The SQL the block sends to the database, as text."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", record)


async def digests(runtime: Runtime) -> list[str]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage.text)
            .where(OutboxMessage.kind == "digest")
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def test_a_second_housekeeping_tick_on_the_same_day_sends_no_second_digest(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    await fortnightly(runtime, who)
    await refer(runtime, who.sam)  # awaiting triage
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))  # Friday, 10:00 in London
    async with BotApiStandIn() as server, running_bot(runtime, server) as application:
        assert application.job_queue is not None
        application.job_queue.scheduler.pause()  # the test runs the ticks itself
        server.driver().user(501, "Priya", last_name="Shah")  # her chat with the bot exists
        context = MaracContext(application)
        for _ in range(3):  # the digest is queued by the first tick, sent by the second
            await housekeeping(context)
        received = [m.text or "" for m in server.driver().bot_messages(501)]
    assert [text for text in received if text.startswith("Good morning")] == [
        "Good morning. Northamptonshire today:\n"
        "Referrals awaiting triage: 1\n"
        "No published agenda in the next two meetings."
    ]
    assert len(await digests(runtime)) == 1


async def test_once_queued_a_digest_tick_reads_only_coordinators_and_the_outbox(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    meetings = await fortnightly(runtime, who)
    await accept_new_case(runtime, who)
    await runtime.services.meetings.publish(who.priya, meetings[0].id, who.area_id)
    clock.set(datetime(2026, 11, 27, 10, 0, tzinfo=UTC))
    assert await runtime.services.meetings.queue_morning_digests() == 1
    clock.set(datetime(2026, 11, 27, 10, 0, 30, tzinfo=UTC))  # the next tick, 30 s later
    with statements(runtime) as sql:
        assert await runtime.services.meetings.queue_morning_digests() == 0
    assert len(sql) <= 2
    case_tables = ("cases", "case_events", "agenda_items", "research_returns", "meetings")
    assert not [s for s in sql if any(f" {table}" in s for table in case_tables)]
    # A coordinator enrolled later that morning still gets today's digest, and only they do.
    await _enrol(runtime, who.area_id, 502, "Lee Grant", Role.COORDINATOR, None)
    assert await runtime.services.meetings.queue_morning_digests() == 1
    assert len(await digests(runtime)) == 2


async def test_the_digest_reports_only_the_next_two_uncancelled_meetings(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    meetings = await fortnightly(runtime, who)  # 10 Dec, 24 Dec, 7 Jan, 21 Jan, ...
    services = runtime.services.meetings
    case_id = await accept_new_case(runtime, who)  # listed for 10 Dec
    (line,) = (await services.detail(who.priya, meetings[0].id)).agenda
    await services.move_case(who.priya, line.item_id, meetings[1].id)  # now 24 Dec
    for meeting in meetings[:4]:
        await services.publish(who.priya, meeting.id, who.area_id)
    (item,) = (await services.detail(who.priya, meetings[1].id)).agenda
    assert item.case_id == case_id
    await services.record_research(who.sam, item.item_id, "nothing_known", None)
    await services.reply_attendance(who.nia, meetings[1].id, "attending")
    await services.reply_attendance(who.nia, meetings[1].id, "apologies")  # the last one counts

    clock.set(datetime(2026, 12, 11, 9, 0, tzinfo=UTC))  # Friday: 10 Dec has been held
    assert await services.queue_morning_digests() == 1
    (text,) = await digests(runtime)
    assert text == (
        "Good morning. Northamptonshire today:\n"
        "Referrals awaiting triage: 0\n"
        "MARAC Thu 24 Dec 2026 10:00: 1 research answer(s) outstanding; "
        "no attendance reply from Police.\n"
        "MARAC Thu 7 Jan 2027 10:00: 0 research answer(s) outstanding; "
        "no attendance reply from Police, Health.\n"
        # Nobody from an IDVA service has taken the case: eleven working days on.
        "No IDVA contact after two working days: NOR-2026-0001 (11 working days, no IDVA). "
        "Send /idva."
    )

    # Cancelled, 24 Dec drops out (its case moves to 7 Jan) and 21 Jan comes in.
    await services.cancel(who.priya, meetings[1].id)
    clock.set(datetime(2026, 12, 14, 9, 0, tzinfo=UTC))  # Monday
    assert await services.queue_morning_digests() == 1
    text = (await digests(runtime))[-1]
    assert "24 Dec" not in text and "10 Dec" not in text and "4 Feb" not in text
    assert "MARAC Thu 7 Jan 2027 10:00: 2 research answer(s) outstanding" in text
    assert "MARAC Thu 21 Jan 2027 10:00: 0 research answer(s) outstanding" in text


async def test_publish_due_reads_once_when_nothing_is_due_and_publishes_only_what_is(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    meetings = await fortnightly(runtime, who)
    services = runtime.services.meetings
    with statements(runtime) as sql:
        assert await services.publish_due() == 0
    assert len(sql) == 1
    clock.set(datetime(2026, 12, 3, 17, 0, tzinfo=UTC))  # 10 Dec's cut-off: 5 working days
    assert await services.publish_due() == 1
    views = {view.id: view for view in await services.upcoming(who.priya)}
    assert views[meetings[0].id].published
    assert not views[meetings[1].id].published
    assert await services.publish_due() == 0


async def test_agenda_view_costs_the_same_for_one_case_or_four(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    meetings = await fortnightly(runtime, who)
    services = runtime.services.meetings
    await accept_new_case(runtime, who)  # 10 Dec
    clock.set(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))  # after 10 Dec's cut-off
    for _ in range(4):
        await accept_new_case(runtime, who)  # 24 Dec
    await services.publish(who.priya, meetings[1].id, who.area_id)
    listed = (await services.detail(who.sam, meetings[1].id)).agenda
    await services.record_research(who.sam, listed[0].item_id, "information", "Known to us")
    await services.cancel(who.priya, meetings[2].id)  # 7 Jan

    costs = []
    for meeting in meetings[:2]:
        await services.detail(who.priya, meeting.id)  # warm the meeting's key in the cache
        with statements(runtime) as sql:
            detail = await services.detail(who.priya, meeting.id)
        costs.append(len(sql))
    assert len(detail.agenda) == 4
    assert costs[0] == costs[1]
    police = next(agency_id for agency_id, name in detail.agencies if name == "Police")
    assert [line.returned_by for line in detail.agenda] == [frozenset({police})] + [frozenset()] * 3
    assert detail.meeting.listed == 4
    # The next meeting after 24 Dec skips the cancelled 7 Jan.
    assert detail.next_meeting_id == meetings[3].id


async def test_a_full_meeting_is_flagged_and_the_next_one_with_room_suggested(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    await fortnightly(runtime, who, capacity=1)
    first = await refer(runtime, who.sam)
    _, listing = await runtime.services.cases.accept(who.priya, first.case_id)
    assert listing is not None and not listing.over_capacity
    second = await refer(runtime, who.sam)
    _, listing = await runtime.services.cases.accept(who.priya, second.case_id)
    assert listing is not None and listing.over_capacity
    assert listing.starts_at == datetime(2026, 12, 10, 10, 0, tzinfo=UTC)
    assert listing.suggestion_starts_at == datetime(2026, 12, 24, 10, 0, tzinfo=UTC)
    # Once 10 Dec has been held its cases no longer count against anything: the next
    # case goes to 24 Dec, which has room.
    clock.set(datetime(2026, 12, 11, 9, 0, tzinfo=UTC))
    third = await refer(runtime, who.sam)
    _, listing = await runtime.services.cases.accept(who.priya, third.case_id)
    assert listing is not None and not listing.over_capacity
    assert listing.starts_at == datetime(2026, 12, 24, 10, 0, tzinfo=UTC)

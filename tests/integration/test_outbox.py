"""The outbox on both databases: de-duplication, cancelling, expiry, quiet hours, and claims
that stay exclusive between dispatchers with their own connections (as separate processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.deps import ServiceDeps
from bot.services.outbox import (
    EXPIRED,
    MAX_ATTEMPTS,
    RECIPIENT_DEACTIVATED,
    UNREACHABLE,
    UNREACHABLE_NOTICE_KIND,
    ClaimedMessage,
    Hold,
    OutboxService,
    cancel,
    enqueue,
)
from bot.vocabulary import Role
from storage.db import create_engine, create_session_factory
from storage.models import AuditEvent, OutboxMessage, Person

LEASE = timedelta(minutes=2)


@pytest.fixture
def outbox(runtime: Runtime) -> OutboxService:
    return OutboxService(runtime.deps)


@pytest.fixture
async def second_sessions(runtime: Runtime) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A second engine with its own connections, as another bot process would have."""
    engine = create_engine(runtime.settings.database_url)
    try:
        yield create_session_factory(engine, audit_key=runtime.vault.key_ring.audit_key())
    finally:
        await engine.dispose()


@pytest.fixture
def other_outbox(
    runtime: Runtime, second_sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> OutboxService:
    return OutboxService(ServiceDeps(sessions=second_sessions, vault=runtime.vault, clock=clock))


async def area_in(runtime: Runtime, timezone: str = "Europe/London") -> int:
    """An area to queue for: when a message may go is judged on its calendar."""
    name = "Testshire" if timezone == "Europe/London" else f"Area in {timezone}"
    return (await runtime.services.areas.ensure_area(name, timezone)).id


async def put(
    runtime: Runtime,
    key: str,
    *,
    chat_id: int = 1001,
    text: str = "Reminder: MARAC on Thursday, case NOR-2026-0001.",
    **options: object,
) -> bool:
    if "area_id" not in options:
        options["area_id"] = await area_in(runtime)
    async with runtime.sessions.begin() as session:
        return await enqueue(
            session,
            dedupe_key=key,
            chat_id=chat_id,
            kind="reminder",
            text=text,
            now=runtime.clock.now(),
            **options,  # type: ignore[arg-type]
        )


async def rows(runtime: Runtime) -> dict[str, OutboxMessage]:
    async with runtime.sessions() as session:
        found = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return {row.dedupe_key: row for row in found}


async def claim_all(outbox: OutboxService, limit: int = 100) -> list[ClaimedMessage]:
    return await outbox.claim_due(limit=limit, lease=LEASE)


async def add_person(
    runtime: Runtime,
    area_id: int,
    telegram_user_id: int,
    role: Role,
    *,
    deactivated: bool = False,
) -> int:
    now = runtime.clock.now()
    async with runtime.sessions.begin() as session:
        person = Person(
            area_id=area_id,
            role=role,
            telegram_user_id=telegram_user_id,
            enrolled_at=now,
            confirmed_at=now,  # enrolled and confirmed, as everyone these tests send to is
            deactivated_at=now if deactivated else None,
        )
        session.add(person)
        await session.flush()
        return person.id


# -- queueing ---------------------------------------------------------------------------------


async def test_same_key_twice_makes_one_row(runtime: Runtime, outbox: OutboxService) -> None:
    assert await put(runtime, "meeting:1:day-before") is True
    assert await put(runtime, "meeting:1:day-before", text="a different text") is False
    found = await rows(runtime)
    assert list(found) == ["meeting:1:day-before"]
    assert found["meeting:1:day-before"].text.startswith("Reminder: MARAC")
    assert await outbox.pending_count() == 1


async def test_same_key_from_two_connections_at_once_makes_one_row(
    runtime: Runtime, second_sessions: async_sessionmaker[AsyncSession], clock: ManualClock
) -> None:
    """Both transactions are open when they insert; the second must wait and then do nothing."""
    inside = asyncio.Event()
    area_id = await area_in(runtime)

    async def queue(sessions: async_sessionmaker[AsyncSession], first: bool) -> bool:
        async with sessions.begin() as session:
            if not first:
                await inside.wait()
            queued = await enqueue(
                session,
                dedupe_key="action:9:assigned",
                chat_id=1001,
                kind="action",
                text="Action 9 assigned to your agency.",
                now=clock.now(),
                area_id=area_id,
            )
            if first:
                inside.set()
                await asyncio.sleep(0.2)  # keep the transaction open while the other inserts
            return queued

    results = await asyncio.gather(queue(runtime.sessions, True), queue(second_sessions, False))
    assert sorted(results) == [False, True]
    assert len(await rows(runtime)) == 1


async def test_message_rolls_back_with_its_cause(runtime: Runtime) -> None:
    area_id = await area_in(runtime)
    with pytest.raises(RuntimeError, match="cause failed"):
        async with runtime.sessions.begin() as session:
            await enqueue(
                session,
                dedupe_key="meeting:2:scheduled",
                chat_id=1001,
                kind="reminder",
                text="Meeting scheduled.",
                now=runtime.clock.now(),
                area_id=area_id,
            )
            raise RuntimeError("cause failed")
    assert await rows(runtime) == {}


async def test_bad_messages_are_refused_when_queued(runtime: Runtime) -> None:
    with pytest.raises(ValueError, match="text"):
        await put(runtime, "too-long", text="x" * 4097)
    with pytest.raises(ValueError, match="callback data"):
        await put(runtime, "bad-button", buttons=[[("Open", "x" * 65)]])
    with pytest.raises(ValueError, match="timezone-aware"):
        await put(runtime, "naive", due_at=datetime(2026, 12, 1, 9, 0))
    assert await rows(runtime) == {}


async def test_buttons_round_trip(runtime: Runtime, outbox: OutboxService) -> None:
    buttons = [[("Confirm attendance", "mtg:attend:5"), ("Can't attend", "mtg:absent:5")]]
    await put(runtime, "meeting:5:attendance", buttons=buttons)
    (claimed,) = await claim_all(outbox)
    assert claimed.buttons == buttons


# -- quiet hours --------------------------------------------------------------------------------


async def test_quiet_hours_apply_to_non_urgent_only(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    evening = datetime(2026, 11, 26, 21, 0, tzinfo=UTC)  # 21:00 GMT
    await put(runtime, "plain", due_at=evening)
    await put(runtime, "urgent", due_at=evening, urgent=True)
    found = await rows(runtime)
    assert found["plain"].due_at == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert found["urgent"].due_at == evening

    clock.set(datetime(2026, 11, 26, 22, 0, tzinfo=UTC))
    (urgent,) = await claim_all(outbox)
    assert urgent.id == found["urgent"].id
    await outbox.mark_sent(urgent.id, 1)
    clock.set(datetime(2026, 11, 27, 6, 59, tzinfo=UTC))
    assert await claim_all(outbox) == []
    clock.set(datetime(2026, 11, 27, 7, 0, tzinfo=UTC))
    assert [m.id for m in await claim_all(outbox)] == [found["plain"].id]


async def test_queued_at_night_without_a_due_time_waits_for_morning(
    runtime: Runtime, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 7, 1, 22, 30, tzinfo=UTC))  # 23:30 BST
    await put(runtime, "summer-night")
    assert (await rows(runtime))["summer-night"].due_at == datetime(2026, 7, 2, 6, 0, tzinfo=UTC)


async def test_quiet_hours_use_the_areas_time_zone(runtime: Runtime) -> None:
    due = datetime(2026, 11, 26, 19, 30, tzinfo=UTC)  # 19:30 in London, 20:30 in Paris
    await put(runtime, "london", due_at=due)
    await put(runtime, "paris", due_at=due, area_id=await area_in(runtime, "Europe/Paris"))
    found = await rows(runtime)
    assert found["london"].due_at == due
    assert found["paris"].due_at == datetime(2026, 11, 27, 6, 0, tzinfo=UTC)  # 07:00 CET


# -- cancelling -----------------------------------------------------------------------------------


async def test_cancelled_rows_are_never_claimed(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    for key in ("meeting:7:day-before", "meeting:7:hour-before", "meeting:70:day-before"):
        await put(runtime, key)
    async with runtime.sessions.begin() as session:
        assert await cancel(session, dedupe_key_prefix="meeting:7:", now=clock.now()) == 2
        # Cancelling again finds nothing left to cancel.
        assert await cancel(session, dedupe_key_prefix="meeting:7:", now=clock.now()) == 0
    claimed = await claim_all(outbox)
    assert [m.id for m in claimed] == [(await rows(runtime))["meeting:70:day-before"].id]
    await outbox.mark_sent(claimed[0].id, 1)
    clock.advance(timedelta(days=3))
    assert await claim_all(outbox) == []
    assert await outbox.pending_count() == 0
    found = await rows(runtime)
    assert found["meeting:7:day-before"].cancelled_at is not None
    assert found["meeting:7:day-before"].sent_at is None


async def test_cancel_prefix_is_literal_not_a_pattern(runtime: Runtime, clock: ManualClock) -> None:
    for key in ("a_b:1", "axb:1", "50%:1", "500:1"):
        await put(runtime, key)
    async with runtime.sessions.begin() as session:
        assert await cancel(session, dedupe_key_prefix="a_b", now=clock.now()) == 1
        assert await cancel(session, dedupe_key_prefix="50%", now=clock.now()) == 1
        with pytest.raises(ValueError, match="empty prefix"):
            await cancel(session, dedupe_key_prefix="", now=clock.now())
    found = await rows(runtime)
    assert {k for k, r in found.items() if r.cancelled_at is not None} == {"a_b:1", "50%:1"}


async def test_a_moved_meeting_queues_its_reminders_again_under_the_same_keys(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    await put(runtime, "meeting:8:day-before", text="MARAC tomorrow (Thursday).")
    moved_to = clock.now() + timedelta(days=7)
    area_id = await area_in(runtime)
    async with runtime.sessions.begin() as session:
        assert await cancel(session, dedupe_key_prefix="meeting:8:", now=clock.now()) == 1
        assert await enqueue(
            session,
            dedupe_key="meeting:8:day-before",
            chat_id=1001,
            kind="reminder",
            text="MARAC tomorrow (moved to next Thursday).",
            now=clock.now(),
            due_at=moved_to,
            area_id=area_id,
        )
    (row,) = (await rows(runtime)).values()
    assert row.cancelled_at is None and row.due_at == moved_to
    assert row.text == "MARAC tomorrow (moved to next Thursday)."
    assert await claim_all(outbox) == []
    clock.set(moved_to)
    (claimed,) = await claim_all(outbox)
    assert claimed.text == "MARAC tomorrow (moved to next Thursday)."
    await outbox.mark_sent(claimed.id, 77)
    # Once sent, the key is spent: queueing it again does nothing.
    assert await put(runtime, "meeting:8:day-before") is False


# -- expiry -------------------------------------------------------------------------------------


async def test_expired_rows_are_marked_expired_not_claimed(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    now = clock.now()
    await put(runtime, "too-late", due_at=now, expires_at=now + timedelta(minutes=30))
    await put(runtime, "in-time", due_at=now, expires_at=now + timedelta(hours=3))
    clock.advance(timedelta(hours=1))
    claimed = await claim_all(outbox)
    found = await rows(runtime)
    assert [m.id for m in claimed] == [found["in-time"].id]
    assert found["too-late"].failed_at == clock.now()
    assert found["too-late"].last_error == EXPIRED
    assert found["too-late"].sent_at is None
    assert await outbox.expire_overdue() == 0


async def test_expire_overdue_reports_how_many(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    now = clock.now()
    # Pushed past its expiry by quiet hours: it can never be sent.
    await put(
        runtime,
        "evening-only",
        due_at=now.replace(hour=21),
        expires_at=now.replace(hour=23),
    )
    await put(runtime, "no-expiry", due_at=now + timedelta(days=2))
    clock.set(now.replace(hour=23, minute=1))
    assert await outbox.expire_overdue() == 1
    assert await outbox.pending_count() == 1


async def test_a_held_row_that_expires_before_sending_is_not_sent(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    now = clock.now()
    await put(runtime, "short-lived", expires_at=now + timedelta(seconds=30))
    (claimed,) = await claim_all(outbox)
    clock.advance(timedelta(seconds=31))
    assert await outbox.hold(claimed) is Hold.EXPIRED
    assert (await rows(runtime))["short-lived"].last_error == EXPIRED


# -- claiming -------------------------------------------------------------------------------------


async def test_claims_are_exclusive_between_two_dispatchers(
    runtime: Runtime,
    outbox: OutboxService,
    other_outbox: OutboxService,
    clock: ManualClock,
    backend: str,
) -> None:
    area_id = await area_in(runtime)
    async with runtime.sessions.begin() as session:
        for n in range(200):
            await enqueue(
                session,
                dedupe_key=f"bulk:{n}",
                chat_id=2000 + n,
                kind="reminder",
                text=f"Reminder {n}",
                now=clock.now(),
                area_id=area_id,
            )

    async def drain(service: OutboxService) -> list[int]:
        got: list[int] = []
        for _ in range(100):
            batch = await service.claim_due(limit=13, lease=LEASE)
            if not batch:
                # The other dispatcher may have taken a whole batch we looked at; look once more.
                batch = await service.claim_due(limit=13, lease=LEASE)
                if not batch:
                    break
            got.extend(m.id for m in batch)
            await asyncio.sleep(0.002)  # let the other dispatcher's connection in
        return got

    first, second = await asyncio.gather(drain(outbox), drain(other_outbox))
    assert len(first) == len(set(first)) and len(second) == len(set(second))
    assert not set(first) & set(second)
    assert len(set(first) | set(second)) == 200
    if backend == "postgresql":
        # SKIP LOCKED lets both work at once. SQLite runs one writer at a time, and its busy
        # handler can leave one connection waiting until the other has taken everything.
        assert first and second, "both dispatchers should have got some of the work"
    assert await outbox.claim_due() == [] and await other_outbox.claim_due() == []


async def test_a_crashed_claim_is_claimable_again_after_its_lease(
    runtime: Runtime, outbox: OutboxService, other_outbox: OutboxService, clock: ManualClock
) -> None:
    await put(runtime, "orphan")
    (claimed,) = await claim_all(outbox)  # ...and this dispatcher dies before marking it
    assert await other_outbox.claim_due(lease=LEASE) == []
    clock.advance(LEASE - timedelta(seconds=1))
    assert await other_outbox.claim_due(lease=LEASE) == []
    clock.advance(timedelta(seconds=2))
    (again,) = await other_outbox.claim_due(lease=LEASE)
    assert again.id == claimed.id and again.attempts == 0
    # The first dispatcher, if it was only slow, finds the row taken over and leaves it.
    assert await outbox.hold(claimed) is Hold.LOST
    assert await other_outbox.hold(again) is Hold.HELD


async def test_cancelled_after_claim_is_not_sent(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    await put(runtime, "meeting:3:day-before")
    (claimed,) = await claim_all(outbox)
    async with runtime.sessions.begin() as session:
        await cancel(session, dedupe_key_prefix="meeting:3:", now=clock.now())
    assert await outbox.hold(claimed) is Hold.LOST


async def test_urgent_first_then_oldest(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    now = clock.now()
    await put(runtime, "late", due_at=now - timedelta(minutes=1))
    await put(runtime, "early", due_at=now - timedelta(minutes=5))
    await put(runtime, "urgent", due_at=now, urgent=True)
    found = await rows(runtime)
    claimed = await claim_all(outbox, limit=2)
    assert [m.id for m in claimed] == [found["urgent"].id, found["early"].id]


async def test_release_hands_rows_back_without_counting_an_attempt(
    runtime: Runtime, outbox: OutboxService
) -> None:
    await put(runtime, "one")
    await put(runtime, "two")
    claimed = await claim_all(outbox)
    assert await outbox.release(claimed) == 2
    again = await claim_all(outbox)
    assert sorted(m.id for m in again) == sorted(m.id for m in claimed)
    assert {m.attempts for m in again} == {0}


# -- settling -------------------------------------------------------------------------------------


async def test_sent_rows_are_done(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    await put(runtime, "done")
    (claimed,) = await claim_all(outbox)
    await outbox.mark_sent(claimed.id, 4242)
    row = (await rows(runtime))["done"]
    assert row.sent_at == clock.now() and row.telegram_message_id == 4242
    assert row.claimed_until is None
    clock.advance(timedelta(hours=1))
    assert await claim_all(outbox) == []
    assert await outbox.pending_count() == 0


async def test_retry_moves_the_row_and_gives_up_after_eight_attempts(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    await put(runtime, "flaky", urgent=True)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        (claimed,) = await claim_all(outbox)
        assert claimed.attempts == attempt - 1
        retry_at = clock.now() + timedelta(seconds=30)
        kept = await outbox.mark_retry(claimed.id, "NetworkError: boom", retry_at)
        assert kept is (attempt < MAX_ATTEMPTS)
        assert await claim_all(outbox) == []  # not before retry_at
        clock.set(retry_at)
    assert await claim_all(outbox) == []
    row = (await rows(runtime))["flaky"]
    assert row.attempts == MAX_ATTEMPTS and row.failed_at is not None
    assert row.last_error == "NetworkError: boom"
    async with runtime.sessions() as session:
        (event,) = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == "outbox.failed")
        )
    assert event.outcome == "failed" and '"attempts":8' in event.details


async def test_a_non_urgent_retry_does_not_go_out_at_night(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 26, 19, 59, tzinfo=UTC))
    await put(runtime, "evening")
    (claimed,) = await claim_all(outbox)
    await outbox.mark_retry(claimed.id, "RetryAfter", clock.now() + timedelta(seconds=90))
    assert (await rows(runtime))["evening"].due_at == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)


async def test_unreachable_person_is_flagged_and_coordinators_told_once(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    area = (await runtime.services.areas.ensure_area("Northamptonshire")).id
    other_area = (await runtime.services.areas.ensure_area("Rutland")).id
    chair = await add_person(runtime, area, 701, Role.CHAIR)
    coordinator = await add_person(runtime, area, 501, Role.COORDINATOR)
    second = await add_person(runtime, area, 502, Role.COORDINATOR)
    await add_person(runtime, area, 503, Role.COORDINATOR, deactivated=True)
    await add_person(runtime, other_area, 504, Role.COORDINATOR)
    for n in (1, 2):
        await put(runtime, f"meeting:{n}:chair", chat_id=701, area_id=area, person_id=chair)
    for claimed in await claim_all(outbox):
        await outbox.mark_unreachable(claimed.id)

    found = await rows(runtime)
    for n in (1, 2):
        assert found[f"meeting:{n}:chair"].last_error == UNREACHABLE
        assert found[f"meeting:{n}:chair"].failed_at == clock.now()
    notices = [r for r in found.values() if r.kind == UNREACHABLE_NOTICE_KIND]
    assert sorted(n.chat_id for n in notices) == [501, 502]
    assert {n.person_id for n in notices} == {coordinator, second}
    assert {n.text for n in notices} == {
        f"A message to MARAC chair person:{chair} could not be delivered: they have blocked "
        "the bot or left Telegram. Please contact them another way."
    }
    async with runtime.sessions() as session:
        person = await session.get(Person, chair)
        assert person is not None and person.unreachable_since == clock.now()
        events = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "outbox.unreachable")
            )
        )
    assert len(events) == 2 and {e.subject for e in events} == {f"person:{chair}"}
    assert {e.area_id for e in events} == {area}


async def test_an_undelivered_urgent_message_makes_an_urgent_notice(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    clock.set(datetime(2026, 11, 26, 23, 0, tzinfo=UTC))
    area = (await runtime.services.areas.ensure_area("Northamptonshire")).id
    rep = await add_person(runtime, area, 601, Role.AGENCY_REP)
    await add_person(runtime, area, 501, Role.COORDINATOR)
    await put(runtime, "case:1:urgent", chat_id=601, area_id=area, person_id=rep, urgent=True)
    (claimed,) = await claim_all(outbox)
    await outbox.mark_unreachable(claimed.id)
    (notice,) = await claim_all(outbox)  # due now, at 23:00, not at 07:00
    assert notice.chat_id == 501 and notice.urgent
    assert "agency representative person:" in notice.text


async def test_messages_for_someone_deactivated_meanwhile_are_not_claimed(
    runtime: Runtime, outbox: OutboxService, clock: ManualClock
) -> None:
    area = (await runtime.services.areas.ensure_area("Northamptonshire")).id
    leaver = await add_person(runtime, area, 601, Role.AGENCY_REP)
    await put(runtime, "action:4:due", chat_id=601, area_id=area, person_id=leaver)
    async with runtime.sessions.begin() as session:
        person = await session.get(Person, leaver)
        assert person is not None
        person.deactivated_at = clock.now()
    assert await claim_all(outbox) == []
    assert (await rows(runtime))["action:4:due"].last_error == RECIPIENT_DEACTIVATED

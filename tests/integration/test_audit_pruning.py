"""Audit events are kept 7 years, then pruned from the start of the chain, on both databases.

The chain is one sequence, so only a prefix goes: every event up to the first one that must
still be kept. A checkpoint in the chain head (and in the ``audit.pruned`` event written
with it) lets ``verify_chain`` check what remains, and catches a checkpoint moved by hand.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, func, select, update

import storage.audit_retention as audit_retention
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.retention import RetentionService
from bot.services.subject_access import EXPORTED_ACTION, SubjectAccessService
from storage.audit import (
    GENESIS_HASH,
    KEYED_ACTION,
    PRUNED_ACTION,
    append_event,
    key_the_chain,
    verify_chain,
)
from storage.audit_retention import audit_rule, plan_audit_pruning, prune_audit_events
from storage.models import AuditEvent, AuditHead, Case
from tests.support.audit_tamper import edit_details, relink, sha256
from tests.support.retention import build_world, table_counts

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # the clock fixture's time
OLD = datetime(2019, 11, 25, 23, 59, tzinfo=UTC)  # 7 years and a day ago, London (GMT)
ANNIVERSARY = datetime(2019, 11, 26, 0, 0, tzinfo=UTC)  # exactly 7 years: kept today
RULE = "audit: 7 years after the event"


async def write(runtime: Runtime, *times: datetime) -> None:
    """One audit event at each time, in this order (so the sequence follows the arguments)."""
    async with runtime.sessions.begin() as session:
        for n, at in enumerate(times):
            await append_event(session, at=at, action="test.event", details={"n": n})


async def events(runtime: Runtime) -> list[AuditEvent]:
    async with runtime.sessions() as session:
        return list(await session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


async def remaining(runtime: Runtime) -> list[int]:
    async with runtime.sessions() as session:
        return list(await session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))


async def pruned_records(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == PRUNED_ACTION).order_by(AuditEvent.seq)
        )
        return [
            {"actor": row.actor_label, "area_id": row.area_id, **json.loads(row.details)}
            for row in rows
        ]


async def hash_of(runtime: Runtime, seq: int) -> str:
    async with runtime.sessions() as session:
        digest = await session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
        assert digest is not None
        return digest


async def set_checkpoint(runtime: Runtime, seq: int, digest: str) -> None:
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(AuditHead).where(AuditHead.id == 1).values(pruned_seq=seq, pruned_hash=digest)
        )


async def verify(runtime: Runtime) -> Any:
    async with runtime.sessions() as session:
        return await verify_chain(session)


def seqs(first: int, last: int) -> Sequence[int]:
    return list(range(first, last + 1))


# ---------------------------------------------------------------------------
# What is due, and what stays
# ---------------------------------------------------------------------------


async def test_prunes_the_old_prefix_and_nothing_else(runtime: Runtime) -> None:
    # 1-3 are past 7 years; 4 is exactly 7 years old (kept today); 5 is old but comes after
    # 4, so it waits for it; 6 is recent.
    await write(runtime, OLD - timedelta(days=400), OLD, OLD, ANNIVERSARY, OLD, NOW)
    old_hash_3 = await hash_of(runtime, 3)

    plan = await plan_audit_pruning(runtime.sessions, NOW)
    assert (plan.due, plan.from_seq, plan.to_seq, plan.held_back) == (3, 1, 3, 1)
    assert plan.rule == RULE == audit_rule(7)

    report = await prune_audit_events(runtime.sessions, NOW)
    assert (report.pruned, report.pruned_seq, report.pruned_hash) == (3, 3, old_hash_3)
    assert report.complete and report.batches == 1
    assert await remaining(runtime) == [4, 5, 6, 7]  # 7 records the pruning
    (record,) = await pruned_records(runtime)
    assert record == {
        "actor": "system",
        "area_id": None,
        "rule": RULE,
        "cutoff": "2019-11-26T00:00:00Z",
        "events": 3,
        "from_seq": 1,
        "to_seq": 3,
        "checkpoint_hash": old_hash_3,
    }

    chain = await verify(runtime)
    assert chain.intact and chain.events_checked == 4 and chain.pruned_through == 3

    # The next day the anniversary event is due, and the one held back behind it with it.
    tomorrow = NOW + timedelta(days=1)
    report = await prune_audit_events(runtime.sessions, tomorrow)
    assert (report.pruned, report.pruned_seq) == (2, 5)
    assert await remaining(runtime) == [6, 7, 8]
    assert (await verify(runtime)).intact


async def test_a_second_run_changes_nothing(runtime: Runtime) -> None:
    await write(runtime, OLD, OLD, NOW)
    assert (await prune_audit_events(runtime.sessions, NOW)).pruned == 2
    before = await table_counts(runtime)
    again = await prune_audit_events(runtime.sessions, NOW)
    assert (again.pruned, again.batches, again.pruned_seq) == (0, 0, 2)
    assert await table_counts(runtime) == before  # not even an audit.pruned event
    assert (await plan_audit_pruning(runtime.sessions, NOW)).due == 0


async def test_a_recent_event_at_the_start_keeps_everything(runtime: Runtime) -> None:
    """An event written with a later time than those after it stops pruning at once."""
    await write(runtime, NOW, OLD, OLD)
    plan = await plan_audit_pruning(runtime.sessions, NOW)
    assert (plan.due, plan.held_back) == (0, 2)
    report = await prune_audit_events(runtime.sessions, NOW)
    assert report.pruned == 0 and report.pruned_seq == 0
    assert await remaining(runtime) == [1, 2, 3]
    assert await pruned_records(runtime) == []


async def test_pruning_ahead_of_time_is_refused(runtime: Runtime) -> None:
    await write(runtime, OLD)
    with pytest.raises(ValueError, match="not come yet"):
        await prune_audit_events(runtime.sessions, NOW, today=date(2027, 1, 1))
    with pytest.raises(ValueError, match="at least one year"):
        await prune_audit_events(runtime.sessions, NOW, years=0)
    assert await remaining(runtime) == [1]


async def test_dry_run_changes_nothing(runtime: Runtime, clock: ManualClock) -> None:
    await build_world(runtime, clock)  # events on 26 and 28 Nov 2026
    clock.set(datetime(2033, 11, 29, 9, tzinfo=UTC))
    service = RetentionService(runtime.deps)
    before = await table_counts(runtime)
    plan = await service.audit_pruning_plan()
    assert plan.due == before["audit_events"] and plan.held_back == 0
    await service.erase_due(dry_run=True)
    assert await table_counts(runtime) == before


# ---------------------------------------------------------------------------
# The chain after pruning
# ---------------------------------------------------------------------------


async def test_the_nightly_prune_keeps_the_trail_verifiable(
    runtime: Runtime, clock: ManualClock
) -> None:
    """The retention service's nightly entry point, on a realistic trail."""
    await build_world(runtime, clock)  # events on 26 Nov 2026, then on 28 Nov 2026
    async with runtime.sessions() as session:
        first_day = int(
            await session.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.at < datetime(2026, 11, 27, tzinfo=UTC))
            )
            or 0
        )
        total = int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
    assert 0 < first_day < total
    service = RetentionService(runtime.deps)

    clock.set(datetime(2033, 11, 26, 23, 30, tzinfo=UTC))  # the anniversary: all kept
    assert (await service.prune_audit_trail()).pruned == 0
    clock.set(datetime(2033, 11, 27, 2, 30, tzinfo=UTC))  # the night after
    report = await service.prune_audit_trail()
    assert (report.pruned, report.pruned_seq) == (first_day, first_day)
    assert await remaining(runtime) == seqs(first_day + 1, total + 1)
    chain = await verify(runtime)
    assert chain.intact and chain.pruned_through == first_day


async def test_tampering_after_pruning_is_detected(runtime: Runtime) -> None:
    await write(runtime, OLD, OLD, OLD, NOW, NOW, NOW)
    await prune_audit_events(runtime.sessions, NOW)  # 1-3 gone; 7 is audit.pruned
    assert (await verify(runtime)).intact
    checkpoint = (await pruned_records(runtime))[0]["checkpoint_hash"]

    # The checkpoint hash changed: the first remaining event no longer links to it.
    await set_checkpoint(runtime, 3, "f" * 64)
    report = await verify(runtime)
    assert report.first_broken_seq == 4 and "checkpoint" in (report.reason or "")
    await set_checkpoint(runtime, 3, checkpoint)
    assert (await verify(runtime)).intact

    # Set back to "never pruned": events 1-3 are reported missing.
    await set_checkpoint(runtime, 0, GENESIS_HASH)
    assert (await verify(runtime)).first_broken_seq == 1
    await set_checkpoint(runtime, 3, checkpoint)

    # Event 4 deleted by hand and the checkpoint moved over it, consistently with the
    # remaining chain: the audit.pruned record still says 3.
    hash_4 = await hash_of(runtime, 4)
    async with runtime.sessions.begin() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
    await set_checkpoint(runtime, 4, hash_4)
    report = await verify(runtime)
    assert not report.intact and "audit.pruned" in (report.reason or "")


async def test_moving_the_checkpoint_over_live_events_is_detected(runtime: Runtime) -> None:
    await write(runtime, OLD, OLD, NOW, NOW)
    await prune_audit_events(runtime.sessions, NOW)
    await set_checkpoint(runtime, 3, await hash_of(runtime, 3))  # event 3 still there
    report = await verify(runtime)
    assert report.first_broken_seq == 3 and "still there" in (report.reason or "")


async def test_editing_or_removing_a_remaining_event_is_detected(runtime: Runtime) -> None:
    await write(runtime, OLD, OLD, NOW, NOW)
    await prune_audit_events(runtime.sessions, NOW)  # 1-2 gone; 5 is audit.pruned
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == 4).values(outcome="refused")
        )
    assert (await verify(runtime)).first_broken_seq == 4
    async with runtime.sessions.begin() as session:
        await session.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(outcome="ok"))
        await session.execute(delete(AuditEvent).where(AuditEvent.action == PRUNED_ACTION))
    report = await verify(runtime)
    assert report.first_broken_seq == 5  # the record of the pruning cannot be removed either


async def test_pruning_by_hand_without_a_record_is_detected(runtime: Runtime) -> None:
    """Deleting old events and setting a matching checkpoint is not enough to look pruned."""
    await write(runtime, OLD, OLD, NOW)
    hash_2 = await hash_of(runtime, 2)
    async with runtime.sessions.begin() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq <= 2))
    await set_checkpoint(runtime, 2, hash_2)
    report = await verify(runtime)
    assert not report.intact and "audit.pruned" in (report.reason or "")


async def test_a_tampered_stretch_is_never_pruned_out_of_sight(runtime: Runtime) -> None:
    await write(runtime, OLD, OLD, OLD, NOW)
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == 2).values(outcome="refused")
        )
    report = await prune_audit_events(runtime.sessions, NOW)
    assert report.broken is not None and report.broken.first_broken_seq == 2
    assert report.pruned == 0 and await remaining(runtime) == [1, 2, 3, 4]
    assert (await verify(runtime)).first_broken_seq == 2  # the evidence is still there


async def test_a_stretch_rewritten_without_the_key_is_never_pruned_out_of_sight(
    runtime: Runtime,
) -> None:
    """The rewrite someone with the database alone can make (every hash after the change
    recomputed) is refused as well, and stays there to be found."""
    await write(runtime, OLD, OLD, OLD, NOW)
    await edit_details(runtime.sessions, 2, {"n": "changed"})
    await relink(runtime.sessions, sha256, start=2)
    report = await prune_audit_events(runtime.sessions, NOW)
    assert report.broken is not None and report.broken.first_broken_seq == 2
    assert report.pruned == 0 and await remaining(runtime) == [1, 2, 3, 4]
    assert (await verify(runtime)).first_broken_seq == 2


async def test_a_trail_from_before_the_audit_key_is_keyed_then_pruned_and_still_verifies(
    runtime: Runtime,
) -> None:
    await write(runtime, OLD, OLD, OLD, NOW)
    await relink(runtime.sessions, sha256)  # as the version before the audit key wrote it
    report = await verify(runtime)
    assert report.first_broken_seq == 1 and "run 'marac-bot migrate'" in (report.reason or "")

    async with runtime.sessions.begin() as session:
        assert await key_the_chain(session, NOW) == 5
    async with runtime.sessions.begin() as session:
        assert await key_the_chain(session, NOW) is None  # once is enough
    (keyed,) = [e for e in await events(runtime) if e.action == KEYED_ACTION]
    assert json.loads(keyed.details) == {
        "plain_through_seq": 4,
        "plain_head": await hash_of(runtime, 4),
    }
    assert (await verify(runtime)).intact

    # Batches of two: the first must walk on to the keyed event before deleting plain ones.
    report = await prune_audit_events(runtime.sessions, NOW, batch_size=2)
    assert report.complete and (report.pruned, report.batches) == (3, 2)
    assert await remaining(runtime) == [4, 5, 6, 7]
    assert (await verify(runtime)).intact

    # The plain part that is left is sealed by the keyed event after it.
    await edit_details(runtime.sessions, 4, {"n": "changed"})
    await relink(runtime.sessions, sha256, start=4)
    assert (await verify(runtime)).first_broken_seq == 4


# ---------------------------------------------------------------------------
# Batches: an interrupted run leaves a verifiable chain and the next one finishes
# ---------------------------------------------------------------------------


async def test_an_interrupted_run_resumes_where_it_stopped(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    await write(runtime, *([OLD] * 10), NOW)  # 1-10 old, 11 recent
    calls = 0

    async def fail_second_batch(*args: Any, **kwargs: Any) -> AuditEvent:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("connection lost")  # after its delete: all rolled back
        return await append_event(*args, **kwargs)

    monkeypatch.setattr(audit_retention, "append_event", fail_second_batch)
    with pytest.raises(ConnectionError):
        await prune_audit_events(runtime.sessions, NOW, batch_size=3)
    monkeypatch.undo()

    assert await remaining(runtime) == [*seqs(4, 11), 12]  # the first batch only
    chain = await verify(runtime)
    assert chain.intact and chain.pruned_through == 3

    report = await prune_audit_events(runtime.sessions, NOW, batch_size=3)
    assert (report.pruned, report.batches, report.pruned_seq) == (7, 3, 10)
    assert await remaining(runtime) == seqs(11, 15)
    records = await pruned_records(runtime)
    assert [(r["from_seq"], r["to_seq"], r["events"]) for r in records] == [
        (1, 3, 3),
        (4, 6, 3),
        (7, 9, 3),
        (10, 10, 1),
    ]
    assert (await verify(runtime)).intact


# ---------------------------------------------------------------------------
# Subject access when the case's early trail has gone
# ---------------------------------------------------------------------------


async def test_subject_access_export_works_after_the_early_trail_is_pruned(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    async with runtime.sessions() as session:
        case = await session.get(Case, world.full)
        assert case is not None
        reference = case.reference
    # Seven years on the case is still held and a coordinator opens it again.
    clock.set(datetime(2033, 12, 20, 10, tzinfo=UTC))
    await runtime.services.cases.card(world.cora, reference)
    report = await RetentionService(runtime.deps).prune_audit_trail()
    assert report.pruned > 0

    doc = json.loads(await SubjectAccessService(runtime.deps).export(reference))
    assert doc["victim"]["name"] == "Jane Doe"  # the case itself is untouched
    assert doc["research_returns"] and doc["actions"]
    trail = doc["audit_trail"]
    assert [entry["action"] for entry in trail] == ["case.viewed"]
    assert all(entry["seq"] > report.pruned_seq for entry in trail)
    # The data protection officer is told the trail's oldest part was deleted, and up to where.
    assert f"1-{report.pruned_seq}" in doc["audit_trail_note"]

    async with runtime.sessions() as session:
        last = await session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        assert last is not None and last.action == EXPORTED_ACTION
        assert (await verify_chain(session)).intact

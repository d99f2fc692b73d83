"""The daily audit checkpoint, on both databases: signed, sent to every area's coordinators
through the outbox, written to the JSON log and the checkpoint file, and what it catches.

The chain is keyed (storage.audit), so someone with the database alone cannot rewrite it; a
checkpoint kept outside the database is what shows a cut-off tail, or a rewrite by someone who
also holds the key file.
"""

from __future__ import annotations

import io
import json
import logging
import stat
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import delete, select, update

from bot.clock import ManualClock
from bot.json_logging import json_handler
from bot.runtime import Runtime
from bot.services.audit_checkpoints import AuditCheckpointService
from bot.vocabulary import Role
from storage.audit import PRUNED_ACTION, append_event, verify_chain
from storage.audit_checkpoint import (
    CheckpointError,
    compare,
    find_checkpoints,
    refuse_forged,
)
from storage.audit_retention import audit_cutoff, prune_audit_events
from storage.models import AuditEvent, AuditHead, OutboxMessage
from tests.support.audit_tamper import cut_tail, edit_details, keyed, relink
from tests.support.service_scenarios import cast, enrol

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """What the JSON log of a running bot receives from the audit logger."""
    stream = io.StringIO()
    logger = logging.getLogger("marac.audit")
    handler = json_handler(stream)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


async def write(runtime: Runtime, count: int) -> None:
    async with runtime.sessions.begin() as session:
        for n in range(count):
            await append_event(
                session, at=runtime.clock.now(), action="test.event", details={"n": n}
            )


async def checkpoint_messages(runtime: Runtime) -> list[tuple[int, str]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.text)
            .where(OutboxMessage.kind == "audit_checkpoint")
            .order_by(OutboxMessage.id)
        )
        return [(int(chat), str(text)) for chat, text in rows.all()]


async def test_each_coordinator_of_each_area_is_sent_the_signed_checkpoint_and_the_log_has_it(
    runtime: Runtime, clock: ManualClock, json_log: io.StringIO
) -> None:
    northants = await cast(runtime)
    leics = (await runtime.services.areas.ensure_area("Leicestershire")).id
    await enrol(runtime, leics, 701, "Lee Grant", Role.COORDINATOR, None)
    gone = await enrol(runtime, northants.area_id, 502, "Ola Reed", Role.COORDINATOR, None)
    await runtime.services.people.deactivate(northants.priya, gone.person_id)

    checkpoint = await runtime.services.audit_checkpoints.publish_due()

    assert checkpoint is not None
    messages = await checkpoint_messages(runtime)
    # The active coordinators only: not the leaver, not the agency representatives.
    assert [chat for chat, _ in messages] == [501, 701]
    (priya_text,) = [text for chat, text in messages if chat == 501]
    assert priya_text.startswith(
        f"Audit checkpoint for Northamptonshire: {checkpoint.count:,} events, ends "
        f"{checkpoint.link[:4]}…{checkpoint.link[-2:]} (signed {checkpoint.signature[:4]}…). "
        "Keep this message"
    )
    assert priya_text.endswith("\n" + checkpoint.text)
    assert "Leicestershire" in next(text for chat, text in messages if chat == 701)
    for name in ("Priya", "Sam", "Nia", "Lee", "Ola", "Shah", "Okafor"):
        assert name not in priya_text  # counts and hashes, never a person
    # What the coordinator keeps is what the operator checks, and it is genuine.
    (kept,) = find_checkpoints(priya_text)
    assert kept == checkpoint
    refuse_forged([kept], runtime.vault.key_ring.audit_key())

    (line,) = [json.loads(text) for text in json_log.getvalue().splitlines()]
    assert line["logger"] == "marac.audit"
    assert line["audit_checkpoint"] == checkpoint.text
    assert (line["audit_seq"], line["audit_count"], line["audit_link"]) == (
        checkpoint.seq,
        checkpoint.count,
        checkpoint.link,
    )
    assert line["audit_signature"] == checkpoint.signature
    assert checkpoint.text in line["message"]


async def test_one_checkpoint_a_day_from_seven_and_none_when_nothing_happened(
    runtime: Runtime, clock: ManualClock
) -> None:
    await cast(runtime)
    day = clock.now().astimezone(LONDON).date()
    clock.set(datetime.combine(day, time(6, 59), tzinfo=LONDON))
    assert await runtime.services.audit_checkpoints.publish_due() is None  # quiet hours
    clock.set(datetime.combine(day, time(7, 0), tzinfo=LONDON))
    first = await runtime.services.audit_checkpoints.publish_due()
    assert first is not None
    clock.advance(timedelta(hours=3))
    await write(runtime, 2)
    assert await runtime.services.audit_checkpoints.publish_due() is None  # same day
    # Another process (or a restart) finds today's checkpoint by its audit event.
    other = AuditCheckpointService(runtime.deps, enabled=True, file=None)
    assert await other.publish_due() is None

    clock.advance(timedelta(days=1))
    second = await runtime.services.audit_checkpoints.publish_due()
    assert second is not None and second.seq == first.seq + 1 + 2  # its own record, then two
    clock.advance(timedelta(days=1))  # a day with nothing recorded: nothing new to vouch for
    assert await runtime.services.audit_checkpoints.publish_due() is None
    assert len(await checkpoint_messages(runtime)) == 2


async def test_the_checkpoint_file_gets_a_line_each_day_readable_by_the_owner_only(
    runtime: Runtime, clock: ManualClock, tmp_path: Path
) -> None:
    path = tmp_path / "audit" / "checkpoints.txt"
    service = AuditCheckpointService(runtime.deps, enabled=True, file=path)
    await cast(runtime)
    first = await service.publish_due()
    clock.advance(timedelta(days=1))
    await write(runtime, 1)
    second = await service.publish_due()
    assert first is not None and second is not None
    assert path.read_text().splitlines() == [first.text, second.text]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert find_checkpoints(path.read_text()) == [first, second]


async def verified_against(runtime: Runtime, *checkpoints: Any) -> list[str]:
    async with runtime.sessions() as session:
        report = await verify_chain(session, watch={c.seq for c in checkpoints})
    assert report.intact, report
    today = runtime.clock.now().astimezone(LONDON).date()
    comparisons = compare(report, list(checkpoints), audit_cutoff(today))
    return [comparison.outcome for comparison in comparisons]


async def test_a_cut_off_tail_passes_the_chain_but_not_the_last_checkpoint(
    runtime: Runtime, clock: ManualClock
) -> None:
    await write(runtime, 6)
    checkpoint = await runtime.services.audit_checkpoints.publish_due()
    assert checkpoint is not None and checkpoint.seq == 6
    # Someone with the database deletes the last events and moves the head back to match.
    await cut_tail(runtime.sessions, keep_through=4)
    assert await verified_against(runtime, checkpoint) == ["truncated"]


async def test_a_rewrite_by_someone_holding_the_key_is_caught_by_the_checkpoint_before_it(
    runtime: Runtime, clock: ManualClock
) -> None:
    await write(runtime, 4)
    monday = await runtime.services.audit_checkpoints.publish_due()
    clock.advance(timedelta(days=1))
    await write(runtime, 3)
    tuesday = await runtime.services.audit_checkpoints.publish_due()
    assert monday is not None and tuesday is not None
    assert await verified_against(runtime, monday, tuesday) == ["matches", "matches"]

    # Database and key file: change event 6, recompute every keyed link after it.
    await edit_details(runtime.sessions, 6, {"n": "changed"})
    await relink(runtime.sessions, keyed(runtime.vault.key_ring.audit_key().chain), start=6)
    # The chain verifies (the key vouches for it), but the kept checkpoints disagree.
    assert await verified_against(runtime, monday, tuesday) == ["matches", "rewritten"]


async def test_events_deleted_under_a_forged_pruning_record_are_caught_by_a_recent_checkpoint(
    runtime: Runtime, clock: ManualClock
) -> None:
    await write(runtime, 4)
    checkpoint = await runtime.services.audit_checkpoints.publish_due()
    assert checkpoint is not None and checkpoint.seq == 4  # 5 is its own record
    clock.advance(timedelta(days=1))
    await write(runtime, 2)
    # Database and key file: delete events 1-5 and write the record a pruning run would.
    async with runtime.sessions.begin() as session:
        link = await session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == 5))
        await session.execute(delete(AuditEvent).where(AuditEvent.seq <= 5))
        await session.execute(
            update(AuditHead).where(AuditHead.id == 1).values(pruned_seq=5, pruned_hash=link)
        )
        details = {"rule": "audit: 7 years after the event", "to_seq": 5, "checkpoint_hash": link}
        await append_event(session, at=clock.now(), action=PRUNED_ACTION, details=details)
    assert await verified_against(runtime, checkpoint) == ["pruned too early"]


async def test_a_checkpoint_older_than_the_retention_period_is_not_compared_once_pruned(
    runtime: Runtime, clock: ManualClock
) -> None:
    today = clock.now()
    clock.set(today - timedelta(days=8 * 366))
    await write(runtime, 3)
    old = await runtime.services.audit_checkpoints.publish_due()
    assert old is not None
    clock.set(today)
    await write(runtime, 1)
    report = await prune_audit_events(runtime.sessions, today)
    assert report.pruned == 4  # the three events and the checkpoint's own record
    assert await verified_against(runtime, old) == ["before pruning"]


async def test_a_forged_checkpoint_is_refused(runtime: Runtime, clock: ManualClock) -> None:
    await write(runtime, 3)
    checkpoint = await runtime.services.audit_checkpoints.publish_due()
    assert checkpoint is not None
    key = runtime.vault.key_ring.audit_key()
    # A checkpoint claiming fewer events (to cover a cut tail), with the old signature ...
    shorter = checkpoint.text.replace(f"_{checkpoint.seq}_{checkpoint.count}_", "_2_2_", 1)
    # ... or one whose signature was changed by a single character.
    last = checkpoint.signature[-1]
    altered = checkpoint.text[:-1] + ("0" if last != "0" else "1")
    for forged in (shorter, altered):
        (parsed,) = find_checkpoints(forged)
        with pytest.raises(CheckpointError, match="not signed with this deployment's audit key"):
            refuse_forged([parsed], key)

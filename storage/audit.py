"""The append-only, hash-chained audit log.

Each event's hash covers its content and the previous event's hash, so any
edit, deletion or reordering of past events breaks the chain at that point and
``verify_chain`` names the first broken link. Appends take the chain head row
with an UPDATE first, which serialises concurrent writers on PostgreSQL (row
lock) and on SQLite (write lock) alike, so the chain never forks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AuditEvent, AuditHead

GENESIS_HASH = "0" * 64
Scalar = str | int | float | bool | None


def event_hash(
    prev_hash: str,
    seq: int,
    at: datetime,
    area_id: int | None,
    actor_person_id: int | None,
    actor_label: str,
    action: str,
    subject: str | None,
    outcome: str,
    details: str,
) -> str:
    canonical = json.dumps(
        [
            prev_hash,
            seq,
            at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            area_id,
            actor_person_id,
            actor_label,
            action,
            subject,
            outcome,
            details,
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


# Built once: an event is appended on most updates, and building a statement costs more than
# running these. Taking the head is an ORM statement on purpose: it flushes what the caller
# has pending first, so the event follows the change it records into the database.
_TAKE_HEAD = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(seq=AuditHead.seq + 1)
    .returning(AuditHead.seq, AuditHead.last_hash)
)
_INSERT_EVENT = insert(cast(Table, AuditEvent.__table__))
_SET_HEAD_HASH = (
    update(cast(Table, AuditHead.__table__))
    .where(AuditHead.id == 1)
    .values(last_hash=bindparam("digest"))
)


async def append_event(
    session: AsyncSession,
    *,
    at: datetime,
    action: str,
    outcome: str = "ok",
    area_id: int | None = None,
    actor_person_id: int | None = None,
    actor_label: str = "system",
    subject: str | None = None,
    details: Mapping[str, Scalar] | None = None,
) -> None:
    """Add an event in the caller's transaction, so it commits or rolls back with the change.

    Written with plain INSERT and UPDATE statements rather than an ORM object to flush: the
    event is never read back in the transaction that writes it.
    """
    head = (await session.execute(_TAKE_HEAD)).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not created by migrations")
    seq, prev_hash = int(head[0]), str(head[1])
    at = at.astimezone(UTC)
    details_json = json.dumps(dict(details or {}), sort_keys=True, separators=(",", ":"))
    digest = event_hash(
        prev_hash,
        seq,
        at,
        area_id,
        actor_person_id,
        actor_label,
        action,
        subject,
        outcome,
        details_json,
    )
    await session.execute(
        _INSERT_EVENT,
        {
            "seq": seq,
            "at": at,
            "area_id": area_id,
            "actor_person_id": actor_person_id,
            "actor_label": actor_label,
            "action": action,
            "subject": subject,
            "outcome": outcome,
            "details": details_json,
            "prev_hash": prev_hash,
            "hash": digest,
        },
    )
    await session.execute(_SET_HEAD_HASH, {"digest": digest})


@dataclass(frozen=True)
class NewEvent:
    """One event of a batch for ``append_events``: the same fields as ``append_event``'s."""

    action: str
    subject: str | None = None
    details: Mapping[str, Scalar] | None = None
    outcome: str = "ok"


_TAKE_HEAD_MANY = (
    update(AuditHead)
    .where(AuditHead.id == 1)
    .values(seq=AuditHead.seq + bindparam("count"))
    .returning(AuditHead.seq, AuditHead.last_hash)
)


async def append_events(
    session: AsyncSession,
    events: Sequence[NewEvent],
    *,
    at: datetime,
    area_id: int | None,
    actor_person_id: int | None,
    actor_label: str,
) -> None:
    """Several events by one actor at one moment, chained in order, in three statements.

    For views that show many cases at once (an agenda, a list of actions): each case gets
    its own event, as if appended one by one, but the chain head is taken once.
    """
    if not events:
        return
    head = (await session.execute(_TAKE_HEAD_MANY, {"count": len(events)})).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not created by migrations")
    last_seq, prev_hash = int(head[0]), str(head[1])
    at = at.astimezone(UTC)
    rows = []
    for seq, event in enumerate(events, start=last_seq - len(events) + 1):
        details_json = json.dumps(dict(event.details or {}), sort_keys=True, separators=(",", ":"))
        digest = event_hash(
            prev_hash,
            seq,
            at,
            area_id,
            actor_person_id,
            actor_label,
            event.action,
            event.subject,
            event.outcome,
            details_json,
        )
        rows.append(
            {
                "seq": seq,
                "at": at,
                "area_id": area_id,
                "actor_person_id": actor_person_id,
                "actor_label": actor_label,
                "action": event.action,
                "subject": event.subject,
                "outcome": event.outcome,
                "details": details_json,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    await session.execute(_INSERT_EVENT, rows)
    await session.execute(_SET_HEAD_HASH, {"digest": prev_hash})


PRUNED_ACTION = "audit.pruned"
"""The event that records a pruning step; ``verify_chain`` checks the head's checkpoint
against the newest one, which (unlike the head row) is itself protected by the chain."""


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    first_broken_seq: int | None
    reason: str | None
    # Events 1..pruned_through were deleted under the retention rule; the walk began after them.
    pruned_through: int = 0

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


def link_problem(event: AuditEvent, expected_seq: int, expected_prev: str) -> str | None:
    """Why ``event`` is not the next link after (expected_seq - 1, expected_prev), or None.

    Shared by ``verify_chain`` and pruning, so pruning can refuse to delete (and so hide)
    a stretch of the chain that does not verify.
    """
    if event.seq != expected_seq:
        return "event missing from the sequence"
    if event.prev_hash != expected_prev:
        return "link to the previous event does not match"
    recomputed = event_hash(
        event.prev_hash,
        event.seq,
        event.at,
        event.area_id,
        event.actor_person_id,
        event.actor_label,
        event.action,
        event.subject,
        event.outcome,
        event.details,
    )
    if recomputed != event.hash:
        return "event content was changed"
    return None


def claimed_checkpoint(event: AuditEvent) -> tuple[int, str] | None:
    """The (seq, hash) checkpoint an ``audit.pruned`` event records, or None if it is not one."""
    if event.action != PRUNED_ACTION:
        return None
    try:
        details = json.loads(event.details)
        return int(details["to_seq"]), str(details["checkpoint_hash"])
    except (ValueError, TypeError, KeyError):
        return (-1, "")  # an audit.pruned event that claims nothing usable matches no checkpoint


@dataclass(frozen=True)
class _Head:
    seq: int
    last_hash: str
    pruned_seq: int
    pruned_hash: str


async def _read_head(session: AsyncSession) -> _Head | None:
    """The head as it is now (a column query, so never a stale copy from the session)."""
    row = (
        await session.execute(
            select(
                AuditHead.seq, AuditHead.last_hash, AuditHead.pruned_seq, AuditHead.pruned_hash
            ).where(AuditHead.id == 1)
        )
    ).one_or_none()
    if row is None:
        return None
    return _Head(int(row[0]), str(row[1]), int(row[2]), str(row[3]))


async def verify_chain(session: AsyncSession, batch_size: int = 5000) -> ChainReport:
    """Walk the chain in order; report the first event whose link or content does not match.

    After pruning, the walk starts at the checkpoint in the head row: the first remaining
    event must be ``pruned_seq + 1`` and link to ``pruned_hash``. The head row is not itself
    chained, so the checkpoint must also equal the one the newest ``audit.pruned`` event
    recorded; moving it (to hide deleted events, or to skip some) is reported as a break.
    A prune that commits while the walk runs is told apart from tampering by reading the
    head again and walking once more.
    """
    head = await _read_head(session)
    report = await _walk(session, head, batch_size)
    if not report.intact:
        again = await _read_head(session)
        if again is not None and head is not None and again.pruned_seq != head.pruned_seq:
            report = await _walk(session, again, batch_size)
    return report


async def _walk(session: AsyncSession, head: _Head | None, batch_size: int) -> ChainReport:
    pruned_seq = head.pruned_seq if head is not None else 0
    pruned_hash = head.pruned_hash if head is not None else GENESIS_HASH
    expected_prev = pruned_hash
    expected_seq = pruned_seq + 1
    checked = 0
    last_seq = 0  # from the very start: an event left at or before the checkpoint shows up
    newest_claim: tuple[int, str] | None = None
    tip = head
    while True:
        found = False
        while True:
            rows = (
                await session.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.seq > last_seq)
                    .order_by(AuditEvent.seq)
                    .limit(batch_size)
                )
            ).all()
            if not rows:
                break
            found = True
            for event in rows:
                problem = link_problem(event, expected_seq, expected_prev)
                if problem is not None and checked == 0 and pruned_seq > 0:
                    problem = _checkpoint_problem(event, expected_seq, expected_prev) or problem
                if problem is not None:
                    return ChainReport(checked, min(event.seq, expected_seq), problem, pruned_seq)
                newest_claim = claimed_checkpoint(event) or newest_claim
                expected_prev = event.hash
                expected_seq += 1
                checked += 1
                last_seq = event.seq
        # The head is read after the walk; events appended meanwhile are walked too.
        tip = await _read_head(session)
        if not (found and tip is not None and tip.seq > expected_seq - 1):
            break
    if tip is not None and tip.seq < expected_seq - 1:
        return ChainReport(
            checked, tip.seq + 1, "the chain head was moved back over these events", pruned_seq
        )
    if tip is not None and (tip.seq != expected_seq - 1 or tip.last_hash != expected_prev):
        return ChainReport(
            checked, expected_seq, "events after this point were removed", pruned_seq
        )
    if (newest_claim or (0, GENESIS_HASH)) != (pruned_seq, pruned_hash):
        return ChainReport(
            checked,
            pruned_seq + 1,
            "the pruning checkpoint does not match the last audit.pruned event",
            pruned_seq,
        )
    return ChainReport(checked, None, None, pruned_seq)


def _checkpoint_problem(event: AuditEvent, expected_seq: int, expected_prev: str) -> str | None:
    """A clearer reason when the very first remaining event does not follow the checkpoint."""
    if event.seq < expected_seq:
        return "an event at or before the pruning checkpoint is still there: it was moved"
    if event.seq == expected_seq and event.prev_hash != expected_prev:
        return "the first event after the pruning checkpoint does not link to it"
    return None

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
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select, update
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
) -> AuditEvent:
    """Add an event in the caller's transaction, so it commits or rolls back with the change."""
    head = (
        await session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=AuditHead.seq + 1)
            .returning(AuditHead.seq, AuditHead.last_hash)
        )
    ).one_or_none()
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
    event = AuditEvent(
        seq=seq,
        at=at,
        area_id=area_id,
        actor_person_id=actor_person_id,
        actor_label=actor_label,
        action=action,
        subject=subject,
        outcome=outcome,
        details=details_json,
        prev_hash=prev_hash,
        hash=digest,
    )
    session.add(event)
    await session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=digest))
    await session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    first_broken_seq: int | None
    reason: str | None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


async def verify_chain(session: AsyncSession, batch_size: int = 5000) -> ChainReport:
    """Walk the chain in order; report the first event whose link or content does not match."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    last_seq = 0
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
        for event in rows:
            if event.seq != expected_seq:
                return ChainReport(checked, expected_seq, "event missing from the sequence")
            if event.prev_hash != expected_prev:
                return ChainReport(checked, event.seq, "link to the previous event does not match")
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
                return ChainReport(checked, event.seq, "event content was changed")
            expected_prev = event.hash
            expected_seq += 1
            checked += 1
            last_seq = event.seq
    head = await session.get(AuditHead, 1)
    if head is not None and (head.seq != checked or head.last_hash != expected_prev):
        return ChainReport(checked, checked + 1, "events after this point were removed")
    return ChainReport(checked, None, None)

"""What someone who can write to the database does to the audit trail, to test that it shows.

The attacker's tools are written out here rather than taken from storage.audit: the canonical
form below is the one every version of the bot has hashed, and plain SHA-256 over it is all a
person with the database (and the source code, but not the key file) can compute. Someone who
also holds the key file passes ``keyed(key)`` as the link instead.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import AuditEvent, AuditHead

Link = Callable[[bytes], str]
GENESIS = "0" * 64


def canonical(event: AuditEvent) -> bytes:
    return json.dumps(
        [
            event.prev_hash,
            event.seq,
            event.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            event.area_id,
            event.actor_person_id,
            event.actor_label,
            event.action,
            event.subject,
            event.outcome,
            event.details,
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode()


def sha256(content: bytes) -> str:
    """What anyone can compute: the link of the old, unkeyed chain."""
    return hashlib.sha256(content).hexdigest()


def keyed(key: bytes) -> Link:
    """The link someone holding the audit key computes."""
    return lambda content: hmac.new(key, content, hashlib.sha256).hexdigest()


Sessions = async_sessionmaker[AsyncSession]


async def edit_details(sessions: Sessions, seq: int, details: dict[str, object]) -> None:
    async with sessions.begin() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == seq).values(details=json.dumps(details))
        )


async def delete_events(sessions: Sessions, *seqs: int, renumber: bool = False) -> None:
    """Delete events; with ``renumber`` the later ones move down to close the gap."""
    async with sessions.begin() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq.in_(seqs)))
        if renumber:
            later = (
                await session.scalars(
                    select(AuditEvent.seq)
                    .where(AuditEvent.seq > min(seqs))
                    .order_by(AuditEvent.seq)
                )
            ).all()
            for new_seq, old_seq in enumerate(later, start=min(seqs)):
                await session.execute(
                    update(AuditEvent).where(AuditEvent.seq == old_seq).values(seq=new_seq)
                )


async def relink(sessions: Sessions, link: Link, *, start: int = 1) -> None:
    """Recompute every link from event ``start`` on with ``link`` and point the head at the
    new last event: what hides an edit or a deletion from a checker without the key."""
    async with sessions.begin() as session:
        events = list(await session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
        before = [event for event in events if event.seq < start]
        prev = before[-1].hash if before else await _pruned_hash(session)
        for event in events:
            if event.seq < start:
                continue
            event.prev_hash = prev
            event.hash = link(canonical(event))
            prev = event.hash
        await session.flush()
        last = events[-1].seq if events else 0
        await session.execute(
            update(AuditHead).where(AuditHead.id == 1).values(seq=last, last_hash=prev)
        )


async def cut_tail(sessions: Sessions, keep_through: int) -> None:
    """Delete every event after ``keep_through`` and move the head back to match."""
    async with sessions.begin() as session:
        await session.execute(delete(AuditEvent).where(AuditEvent.seq > keep_through))
        last = await session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == keep_through))
        await session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=keep_through, last_hash=last or GENESIS)
        )


async def _pruned_hash(session: AsyncSession) -> str:
    pruned = await session.scalar(select(AuditHead.pruned_hash).where(AuditHead.id == 1))
    return pruned or GENESIS

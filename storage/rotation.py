"""Rotating the key-encryption key: re-wrapping data keys, never touching the data.

A rotation adds a new KEK to the key file and makes it active (storage.keyfile.add_kek),
then re-wraps every data key that is still under an older KEK, in batches. Each batch is
its own transaction, so a rotation can stop at any point and simply be run again. Data
keys themselves do not change, so sealed values, blind indexes and a running bot's cache
of unwrapped data keys all stay valid. An old KEK may leave the key file only once no
data key uses it (storage.keyfile.retire_kek).

Concurrency: on PostgreSQL a batch claims its rows with ``FOR NO KEY UPDATE SKIP LOCKED``
(the FOR UPDATE strength that does not conflict with the key-share locks foreign-key
checks take), so neither the bot nor a second rotator ever waits for a batch, and two
rotators never take the same row. On SQLite, which has one writer at a time, rows are
read plainly and each update is conditional on the row still being under the KEK it
was read with, so a row changed meanwhile is left to whoever changed it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.audit import append_event
from storage.crypto import KeyRing
from storage.keyfile import key_ring_from_document, read_key_document
from storage.models import DataKey
from storage.vault import Vault

Sessions = async_sessionmaker[AsyncSession]
Now = Callable[[], datetime]
DEFAULT_BATCH_SIZE = 500
# SQLite's busy handler retries a waiting writer about every 100 ms; a pause this long
# between batches lets the bot's writes in while a rotation runs.
SQLITE_PAUSE_SECONDS = 0.1
DEFAULT_CHASE_BATCHES = 10
AUDIT_ACTOR = "cli"


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _dialect(sessions: Sessions) -> str:
    bind = sessions.kw.get("bind")
    return str(bind.dialect.name) if bind is not None else ""


def _old_key_ids(ring: KeyRing) -> list[str]:
    return sorted(key_id for key_id in ring.key_ids if key_id != ring.active_key_id)


async def key_usage(sessions: Sessions) -> dict[str, int]:
    """How many data keys each KEK id wraps (ids absent from the ring included)."""
    async with sessions() as session:
        rows = await session.execute(
            select(DataKey.kek_id, func.count()).group_by(DataKey.kek_id).order_by(DataKey.kek_id)
        )
        return {str(kek_id): int(count) for kek_id, count in rows.all()}


async def remaining(sessions: Sessions, ring: KeyRing) -> int:
    """Data keys still under a KEK of the ring other than the active one."""
    old = _old_key_ids(ring)
    if not old:
        return 0
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(DataKey).where(DataKey.kek_id.in_(old))
        )
        return int(count or 0)


def unknown_key_ids(usage: dict[str, int], key_ids: list[str]) -> dict[str, int]:
    """KEK ids data keys use that are not in ``key_ids``: those data keys cannot be opened."""
    return {key_id: count for key_id, count in usage.items() if key_id not in key_ids and count}


def retirable_key_ids(usage: dict[str, int], ring: KeyRing) -> list[str]:
    """Old KEKs of the ring that no data key uses any more."""
    return [key_id for key_id in _old_key_ids(ring) if not usage.get(key_id)]


@dataclass(frozen=True)
class BatchResult:
    """What one batch did. ``selected`` may exceed ``rewrapped`` when another process
    (a second rotator, or the bot erasing a record) changed a row first."""

    selected: int
    rewrapped: int
    from_key_ids: tuple[str, ...] = ()
    # Re-wrapped data keys created after ``created_after``: written under an old KEK by a
    # process that loaded the key file before the new KEK was added.
    created_after: int = 0


async def rewrap_batch_detailed(
    sessions: Sessions,
    ring: KeyRing,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    created_after: datetime | None = None,
    now: Now | None = None,
) -> BatchResult:
    """Re-wrap up to ``batch_size`` data keys under the active KEK, in one transaction.

    Only data keys under another KEK of ``ring`` are taken (one under a KEK the ring
    lacks cannot be unwrapped; ``keys status`` reports those). A data key that fails to
    unwrap raises CryptoError and the whole batch rolls back. The audit event names the
    key ids and the count, never key material.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    old = _old_key_ids(ring)
    if not old:
        return BatchResult(0, 0)
    active = ring.active_key_id
    async with sessions() as session, session.begin():
        query = select(DataKey.id, DataKey.kek_id, DataKey.wrapped, DataKey.created_at).where(
            DataKey.kek_id.in_(old)
        )
        query = query.order_by(DataKey.id).limit(batch_size)
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, key_share=True)
        rows = (await session.execute(query)).all()
        rewrapped = 0
        sources: set[str] = set()
        late = 0
        for data_key_id, kek_id, wrapped, created_at in rows:
            data_key = ring.unwrap(kek_id, wrapped, data_key_id)
            new_kek_id, new_wrapped = ring.wrap(data_key, data_key_id)
            result = await session.execute(
                update(DataKey)
                .where(DataKey.id == data_key_id, DataKey.kek_id == kek_id)
                .values(kek_id=new_kek_id, wrapped=new_wrapped)
                .execution_options(synchronize_session=False)
            )
            if getattr(result, "rowcount", 0) != 1:
                continue  # erased or re-wrapped by someone else since it was read
            rewrapped += 1
            sources.add(kek_id)
            if created_after is not None and created_at > created_after:
                late += 1
        if rewrapped:
            await append_event(
                session,
                at=(now or _utc_now)(),
                action="keys.rewrapped",
                actor_label=AUDIT_ACTOR,
                details={"count": rewrapped, "from": ",".join(sorted(sources)), "to": active},
            )
    return BatchResult(len(rows), rewrapped, tuple(sorted(sources)), late)


async def rewrap_batch(
    sessions: Sessions,
    ring: KeyRing,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: Now | None = None,
) -> int:
    """Re-wrap up to ``batch_size`` data keys under the active KEK; return how many."""
    result = await rewrap_batch_detailed(sessions, ring, batch_size=batch_size, now=now)
    return result.rewrapped


@dataclass
class RewrapReport:
    rewrapped: int = 0
    batches: int = 0
    # Re-wrapped data keys created after ``created_after`` (see rewrap_batch_detailed).
    created_after: int = 0
    # Data keys still under an old KEK when the loop ended (0 unless stopped early).
    left: int = 0
    from_key_ids: set[str] = field(default_factory=set)


Progress = Callable[[int, int], None]


async def rewrap_all(
    sessions: Sessions,
    ring: KeyRing,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    created_after: datetime | None = None,
    progress: Progress | None = None,
    now: Now | None = None,
    max_batches: int | None = None,
    chase_batches: int = DEFAULT_CHASE_BATCHES,
    pause_seconds: float | None = None,
    poll_seconds: float = 0.2,
) -> RewrapReport:
    """Run batches until no data key is left under an old KEK of the ring.

    Data keys a running process creates under an old KEK meanwhile are picked up too:
    the loop ends when a fresh count finds none. A process that never stops doing so
    would be chased for ever, so once the backlog is drained (a batch came back short)
    at most ``chase_batches`` more run; ``left`` then says what remains for a resume.
    ``progress(done, total)`` is called after every batch; ``max_batches`` stops early.
    Between batches the loop pauses ``pause_seconds`` (default: SQLITE_PAUSE_SECONDS on
    SQLite, whose single write lock the bot must get between batches; none on PostgreSQL).
    """
    if pause_seconds is None:
        pause_seconds = SQLITE_PAUSE_SECONDS if _dialect(sessions) == "sqlite" else 0.0
    report = RewrapReport()
    total = await remaining(sessions, ring)
    if progress is not None:
        progress(0, total)
    chased: int | None = None  # batches since the backlog was drained
    while True:
        if max_batches is not None and report.batches >= max_batches:
            break
        if chased is not None and chased >= chase_batches:
            break
        batch = await rewrap_batch_detailed(
            sessions, ring, batch_size=batch_size, created_after=created_after, now=now
        )
        if batch.selected:
            report.batches += 1
            report.rewrapped += batch.rewrapped
            report.created_after += batch.created_after
            report.from_key_ids.update(batch.from_key_ids)
            if chased is not None:
                chased += 1
            elif batch.selected < batch_size:
                chased = 0
            if report.rewrapped > total:
                total = report.rewrapped + await remaining(sessions, ring)
            if progress is not None:
                progress(report.rewrapped, total)
            if pause_seconds:
                await asyncio.sleep(pause_seconds)
            continue
        if await remaining(sessions, ring) == 0:
            break
        # Rows exist but another rotator's open batch holds them: wait for it to commit.
        await asyncio.sleep(poll_seconds)
    report.left = await remaining(sessions, ring)
    return report


def reload_key_ring(vault: Vault, path: Path) -> bool:
    """Give a running process the KEKs now in the key file; return whether they changed.

    For a bot that should pick up a rotation without restarting (e.g. on SIGHUP or from a
    periodic job). Cached data keys stay valid: rotation never changes a data key.
    """
    document = read_key_document(path)
    ring = key_ring_from_document(document, str(path))
    current = vault.key_ring
    if ring.active_key_id == current.active_key_id and sorted(ring.key_ids) == sorted(
        current.key_ids
    ):
        return False
    vault.key_ring = ring
    return True

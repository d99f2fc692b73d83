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

With the KEK in Vault's transit engine (storage.kek_sources.TransitKeySource) the same
batches send the wrapped keys to Vault's rewrap endpoint instead (the data key never
leaves Vault), and retiring a KEK means raising the key's minimum decryption version and
trimming the older versions, which deletes them in Vault.

Crypto-shredding old backups (``rotate_after_erasure``). Erasure deletes a record's data
key, but a database copy taken before still holds it, wrapped by a KEK that can still
unwrap it. After erasures the KEK is therefore rotated: a new KEK, every live data key
re-wrapped, the old KEK destroyed. Which erasures a rotation covers is read from the
audit trail, written in the same transaction as each erasure: a rotation covers the
erasures recorded before it started, and records the last one it covered
(``keys.shredded``). So the function can be called after every erasure run and at any
time after a crash, and does work only when an erasure is not yet covered; an
interrupted rotation is finished by the next call, not started again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal

from sqlalchemy import ColumnElement, func, or_, select, text, update
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.audit import Scalar, append_event
from storage.crypto import CryptoError, KeyRing, KeySource
from storage.kek_sources import KeyFileSource, TransitKeySource
from storage.keyfile import (
    KeyFileError,
    RotationBusy,
    add_kek,
    file_lock,
    key_ring_from_document,
    read_key_document,
    retire_kek,
    without_local_keks,
    write_key_document,
)
from storage.models import AuditEvent, DataKey
from storage.reclaim import reclaim_erased
from storage.vault import Vault

Sessions = async_sessionmaker[AsyncSession]
Now = Callable[[], datetime]
DEFAULT_BATCH_SIZE = 500
# SQLite's busy handler retries a waiting writer about every 100 ms; a pause this long
# between batches lets the bot's writes in while a rotation runs.
SQLITE_PAUSE_SECONDS = 0.1
DEFAULT_CHASE_BATCHES = 10
AUDIT_ACTOR = "cli"
SHRED_ACTOR: Final = "system"
KEK_ADDED: Final = "keys.kek_added"
KEK_RETIRED: Final = "keys.kek_retired"
SHREDDED: Final = "keys.shredded"
# The audit actions written in the same transaction as a destroyed data key.
ERASURE_ACTIONS: Final = (
    "retention.erased",
    "referral.drafts_expired",
    "referral.draft_discarded",
)
# How long the final count may wait for the bot's in-flight writes to data_keys.
BARRIER_LOCK_TIMEOUT: Final = "30s"
PG_ROTATION_LOCK: Final = 0x6D617261_6B657973  # "marakeys": pg_try_advisory_lock key

log = logging.getLogger("marac.keys")


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

    async def batch() -> BatchResult:
        return await rewrap_batch_detailed(
            sessions, ring, batch_size=batch_size, created_after=created_after, now=now
        )

    return await _rewrap_loop(
        sessions,
        lambda: remaining(sessions, ring),
        batch,
        batch_size=batch_size,
        progress=progress,
        max_batches=max_batches,
        chase_batches=chase_batches,
        pause_seconds=pause_seconds,
        poll_seconds=poll_seconds,
    )


async def _rewrap_loop(
    sessions: Sessions,
    count: Callable[[], Awaitable[int]],
    batch: Callable[[], Awaitable[BatchResult]],
    *,
    batch_size: int,
    progress: Progress | None,
    max_batches: int | None,
    chase_batches: int,
    pause_seconds: float | None,
    poll_seconds: float,
) -> RewrapReport:
    """The batch loop shared by the key-file and the transit rotations (see rewrap_all)."""
    if pause_seconds is None:
        pause_seconds = SQLITE_PAUSE_SECONDS if _dialect(sessions) == "sqlite" else 0.0
    report = RewrapReport()
    total = await count()
    if progress is not None:
        progress(0, total)
    chased: int | None = None  # batches since the backlog was drained
    while True:
        if max_batches is not None and report.batches >= max_batches:
            break
        if chased is not None and chased >= chase_batches:
            break
        result = await batch()
        if result.selected:
            report.batches += 1
            report.rewrapped += result.rewrapped
            report.created_after += result.created_after
            report.from_key_ids.update(result.from_key_ids)
            if chased is not None:
                chased += 1
            elif result.selected < batch_size:
                chased = 0
            if report.rewrapped > total:
                total = report.rewrapped + await count()
            if progress is not None:
                progress(report.rewrapped, total)
            if pause_seconds:
                await asyncio.sleep(pause_seconds)
            continue
        if await count() == 0:
            break
        # Rows exist but another rotator's open batch holds them: wait for it to commit.
        await asyncio.sleep(poll_seconds)
    report.left = await count()
    return report


def reload_key_ring(vault: Vault, path: Path) -> bool:
    """Give a running process the KEKs now in the key file; return whether they changed.

    For a bot that should pick up a rotation without restarting (e.g. on SIGHUP or from a
    periodic job). Cached data keys stay valid: rotation never changes a data key. A vault
    whose source is a KeyFileSource re-reads the file itself; this just makes it do so now.
    """
    current = vault.key_ring
    if isinstance(current, KeyFileSource) and current.path == path:
        return current.reload()
    document = read_key_document(path)
    ring = key_ring_from_document(document, str(path))
    if (
        isinstance(current, KeyRing)
        and ring.active_key_id == current.active_key_id
        and sorted(ring.key_ids) == sorted(current.key_ids)
    ):
        return False
    vault.key_ring = ring
    return True


# --- counting with the bot's writes settled ---------------------------------------------------


@asynccontextmanager
async def writes_held(sessions: Sessions) -> AsyncIterator[AsyncSession]:
    """A transaction in which no other process writes data_keys; for the last step of a
    rotation: count what is still under an old KEK, and destroy the KEK only if nothing is.

    A process may have wrapped a data key under an old KEK before the rotation began and
    not committed it yet; a plain count would miss it, and the KEK would be destroyed under
    it. So this waits for the writers in flight and holds new ones off until it ends: on
    PostgreSQL a SHARE lock on data_keys (waits for open INSERT/UPDATE/DELETE transactions;
    the key-share locks of foreign-key checks are not affected), on SQLite the write lock
    (a write that matches no row takes it). Keep what runs inside short: the bot's writes
    of new data keys wait for it.
    """
    async with sessions() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text(f"SET LOCAL lock_timeout = '{BARRIER_LOCK_TIMEOUT}'"))
            await session.execute(text("LOCK TABLE data_keys IN SHARE MODE"))
        else:
            await session.execute(text("UPDATE data_keys SET kek_id = kek_id WHERE 0 = 1"))
        yield session


async def _count(session: AsyncSession, condition: ColumnElement[bool]) -> int:
    count = await session.scalar(select(func.count()).select_from(DataKey).where(condition))
    return int(count or 0)


# --- what the audit trail says about erasures and rotations -----------------------------------


async def latest_erasure_seq(
    sessions: Sessions, actions: Collection[str] = ERASURE_ACTIONS, *, before: int | None = None
) -> int:
    """The audit sequence number of the newest erasure (before ``before``; 0 if none)."""
    query = select(func.max(AuditEvent.seq)).where(AuditEvent.action.in_(list(actions)))
    if before is not None:
        query = query.where(AuditEvent.seq < before)
    async with sessions() as session:
        return int(await session.scalar(query) or 0)


def _details(raw: str) -> dict[str, Any]:
    try:
        loaded = json.loads(raw)
    except (TypeError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


async def shredded_through(sessions: Sessions) -> int:
    """The newest erasure (audit seq) a completed rotation has covered (0 if none)."""
    async with sessions() as session:
        raw = await session.scalar(
            select(AuditEvent.details)
            .where(AuditEvent.action == SHREDDED)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
    value = _details(raw or "").get("through_seq", 0)
    return value if isinstance(value, int) else 0


async def kek_added_seq(sessions: Sessions, key_id: str) -> int | None:
    """When (audit seq) the KEK ``key_id`` was added, if the trail still says."""
    async with sessions() as session:
        rows = await session.execute(
            select(AuditEvent.seq, AuditEvent.details)
            .where(AuditEvent.action == KEK_ADDED)
            .order_by(AuditEvent.seq.desc())
            .limit(50)
        )
        for seq, raw in rows.all():
            if _details(raw).get("key") == key_id:
                return int(seq)
    return None


async def record(
    sessions: Sessions,
    action: str,
    details: Mapping[str, Scalar],
    *,
    now: Now | None = None,
    actor_label: str = AUDIT_ACTOR,
) -> None:
    """One audit event in a transaction of its own (key ids and counts only)."""
    async with sessions() as session, session.begin():
        await append_event(
            session,
            at=(now or _utc_now)(),
            action=action,
            actor_label=actor_label,
            details=details,
        )


# --- the key-file steps shared by ``keys rotate`` and rotate_after_erasure -------------------


async def add_key_file_kek(
    sessions: Sessions,
    path: Path,
    document: dict[str, Any],
    *,
    now: Now | None = None,
    actor_label: str = AUDIT_ACTOR,
    reason: str | None = None,
) -> tuple[dict[str, Any], str]:
    """Write a new active KEK to the key file first (the old ones stay), then audit it."""
    previous = str(document["active"])
    updated, new_id = add_kek(document)
    write_key_document(path, updated)
    details: dict[str, Scalar] = {"key": new_id, "previous": previous}
    if reason:
        details["reason"] = reason
    await record(sessions, KEK_ADDED, details, now=now, actor_label=actor_label)
    return updated, new_id


@dataclass(frozen=True)
class RetireOutcome:
    retired: tuple[str, ...] = ()
    # Data keys found under a key being retired after the file was written (it was put back).
    late: int = 0
    # Old KEKs still wrapping data keys (not retired).
    still_used: Mapping[str, int] = field(default_factory=dict)


async def retire_unused_keks(
    sessions: Sessions,
    path: Path,
    document: dict[str, Any],
    ring: KeyRing,
    *,
    now: Now | None = None,
    actor_label: str = AUDIT_ACTOR,
) -> RetireOutcome:
    """Remove from the key file every old KEK no data key uses.

    The file is rewritten while the bot's writes to data_keys are held off (writes_held),
    right after a count under that hold finds nothing under the KEKs being removed.
    """
    usage = await key_usage(sessions)
    old = [key_id for key_id in ring.key_ids if key_id != ring.active_key_id]
    still_used = {key_id: usage[key_id] for key_id in old if usage.get(key_id)}
    retired = retirable_key_ids(usage, ring)
    if not retired:
        return RetireOutcome(still_used=still_used)
    async with writes_held(sessions) as session:
        late = await _count(session, DataKey.kek_id.in_(retired))
        if late:
            return RetireOutcome(late=late, still_used=still_used)
        updated = document
        for key_id in retired:
            updated = retire_kek(updated, key_id)
        write_key_document(path, updated)
    for key_id in retired:
        await record(
            sessions,
            KEK_RETIRED,
            {"key": key_id, "active": ring.active_key_id},
            now=now,
            actor_label=actor_label,
        )
    return RetireOutcome(retired=tuple(retired), still_used=still_used)


# --- Vault transit ------------------------------------------------------------------------------


def transit_stale(source: TransitKeySource, latest: int) -> ColumnElement[bool]:
    """Data keys not yet under the latest transit version: older versions, legacy KEKs."""
    older = DataKey.kek_id.startswith(source.id_prefix, autoescape=True) & (
        DataKey.kek_id != source.key_id(latest)
    )
    legacy = source.legacy_ids()
    return or_(older, DataKey.kek_id.in_(legacy)) if legacy else older


async def transit_remaining(sessions: Sessions, source: TransitKeySource, latest: int) -> int:
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(DataKey).where(transit_stale(source, latest))
        )
        return int(count or 0)


async def rewrap_transit_batch(
    sessions: Sessions,
    source: TransitKeySource,
    latest: int,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: Now | None = None,
) -> tuple[BatchResult, int]:
    """Re-wrap up to ``batch_size`` stale data keys through Vault, in one transaction.

    Returns the batch result and the newest key version Vault wrapped with (it moves if
    someone rotates the transit key meanwhile). A refused item rolls the batch back.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    async with sessions() as session, session.begin():
        query = (
            select(DataKey.id, DataKey.kek_id, DataKey.wrapped)
            .where(transit_stale(source, latest))
            .order_by(DataKey.id)
            .limit(batch_size)
        )
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, key_share=True)
        rows = [(str(r[0]), str(r[1]), bytes(r[2])) for r in (await session.execute(query)).all()]
        if not rows:
            return BatchResult(0, 0), latest
        new = await source.rewrap_many(rows)
        rewrapped = 0
        sources: set[str] = set()
        targets: set[str] = set()
        for (data_key_id, kek_id, _), (new_kek_id, new_wrapped) in zip(rows, new, strict=True):
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
            targets.add(new_kek_id)
            latest = max(latest, source.version_of(new_kek_id))
        if rewrapped:
            await append_event(
                session,
                at=(now or _utc_now)(),
                action="keys.rewrapped",
                actor_label=AUDIT_ACTOR,
                details={
                    "count": rewrapped,
                    "from": ",".join(sorted(sources)),
                    "to": ",".join(sorted(targets)),
                },
            )
    return BatchResult(len(rows), rewrapped, tuple(sorted(sources))), latest


async def rewrap_transit_all(
    sessions: Sessions,
    source: TransitKeySource,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: Progress | None = None,
    now: Now | None = None,
    max_batches: int | None = None,
    chase_batches: int = DEFAULT_CHASE_BATCHES,
    pause_seconds: float | None = None,
    poll_seconds: float = 0.2,
) -> RewrapReport:
    """Batches until every data key is under the transit key's latest version."""
    latest = (await source.key_info()).latest_version

    async def batch() -> BatchResult:
        nonlocal latest
        result, latest = await rewrap_transit_batch(
            sessions, source, latest, batch_size=batch_size, now=now
        )
        return result

    return await _rewrap_loop(
        sessions,
        lambda: transit_remaining(sessions, source, latest),
        batch,
        batch_size=batch_size,
        progress=progress,
        max_batches=max_batches,
        chase_batches=chase_batches,
        pause_seconds=pause_seconds,
        poll_seconds=poll_seconds,
    )


@dataclass(frozen=True)
class TransitRetireOutcome:
    # Versions below this one were destroyed in Vault (trimmed); None if nothing was retired.
    retired_below: int | None = None
    late: int = 0
    legacy_retired: tuple[str, ...] = ()
    # Why a step could not be taken (one line), if one could not.
    problem: str | None = None


async def retire_transit_versions(
    sessions: Sessions,
    source: TransitKeySource,
    *,
    now: Now | None = None,
    actor_label: str = AUDIT_ACTOR,
) -> TransitRetireOutcome:
    """Destroy the transit key's versions below the latest, once no data key needs them.

    The minimum encryption version is raised first (Vault trims only below it; harmless).
    Then, with the bot's writes to data_keys held off (writes_held) and a count finding no
    data key under an older version or a legacy KEK: the minimum decryption version is
    raised and the key is trimmed, which deletes the old versions in Vault, so a wrapped key
    in an old database copy can never be unwrapped again; legacy key-file KEKs leave the key
    file in the same step. Interrupted half-way, the next call repeats what is left.
    """
    info = await source.key_info()
    latest = info.latest_version
    legacy = tuple(source.legacy_ids())
    problem = None
    if source.key_file is None and legacy:
        problem = (
            f"the local key(s) {', '.join(legacy)} are still in MARAC_KEYS: remove them "
            "there, or an old database copy can still be opened with them"
        )
    retired_below: int | None = None
    if info.min_available_version < latest and info.min_encryption_version < latest:
        await source.set_min_encryption_version(latest)
    async with writes_held(sessions) as session:
        late = await _count(session, transit_stale(source, latest))
        if late:
            return TransitRetireOutcome(late=late)
        if info.min_available_version < latest:
            if info.min_decryption_version < latest:
                await source.set_min_decryption_version(latest)
            await source.trim(latest)
            retired_below = latest
        if legacy and source.key_file is not None:
            write_key_document(
                source.key_file, without_local_keks(read_key_document(source.key_file))
            )
            source.legacy = None
        else:
            legacy = ()
    if retired_below is not None:
        await record(
            sessions,
            KEK_RETIRED,
            {"key": source.label, "below_version": latest, "active": source.key_id(latest)},
            now=now,
            actor_label=actor_label,
        )
    for key_id in legacy:
        await record(
            sessions,
            KEK_RETIRED,
            {"key": key_id, "active": source.key_id(latest)},
            now=now,
            actor_label=actor_label,
        )
    return TransitRetireOutcome(retired_below=retired_below, legacy_retired=legacy, problem=problem)


# --- one rotation at a time -----------------------------------------------------------------------


def _sqlite_lock_path(sessions: Sessions) -> Path | None:
    bind = sessions.kw.get("bind")
    if bind is None or bind.dialect.name != "sqlite":
        return None
    database = make_url(str(bind.url)).database or ""
    if database in ("", ":memory:"):
        return None
    return Path(database).with_name(Path(database).name + ".keys-rotation.lock")


@asynccontextmanager
async def rotation_guard(sessions: Sessions, lock_path: Path | None) -> AsyncIterator[None]:
    """Hold off a second rotation (RotationBusy): a lock file beside the key file (or the
    SQLite database), and on PostgreSQL an advisory lock, which also covers processes on
    other hosts that share the database."""
    async with AsyncExitStack() as stack:
        path = lock_path or _sqlite_lock_path(sessions)
        if path is not None:
            stack.enter_context(file_lock(path))
        bind = sessions.kw.get("bind")
        if bind is not None and bind.dialect.name == "postgresql":
            connection = await stack.enter_async_context(bind.connect())
            got = await connection.scalar(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": PG_ROTATION_LOCK}
            )
            await connection.commit()
            if not got:
                raise RotationBusy(
                    "Another key rotation is running (it holds the database's rotation lock); "
                    "wait for it to finish."
                )

            async def unlock() -> None:
                try:
                    await connection.scalar(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": PG_ROTATION_LOCK}
                    )
                    await connection.commit()
                except SQLAlchemyError:
                    # Never hand a connection still holding the lock back to the pool:
                    # discarding it ends its database session, and the lock with it.
                    await connection.invalidate()

            stack.push_async_callback(unlock)
        yield


# --- crypto-shredding old backups after erasures ------------------------------------------------

ShredStatus = Literal["not_needed", "done", "incomplete", "unsupported"]


@dataclass(frozen=True)
class ShredReport:
    """What ``rotate_after_erasure`` did; ``message`` is one line, safe to log."""

    status: ShredStatus
    message: str
    rewrapped: int = 0
    retired: tuple[str, ...] = ()
    active_key_id: str | None = None
    # The newest erasure (audit seq) now covered by a completed rotation.
    covered_seq: int = 0

    @property
    def complete(self) -> bool:
        return self.status in ("not_needed", "done")


async def rotate_after_erasure(
    sessions: Sessions,
    vault: Vault,
    *,
    source: KeySource | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    now: Now | None = None,
    erasure_actions: Collection[str] = ERASURE_ACTIONS,
    force: bool = False,
) -> ShredReport:
    """After erasures, rotate the KEK so copies of the database taken before cannot be opened.

    Call it after every erasure run (nightly retention, an early erasure) or at any time:
    it does nothing unless an erasure recorded in the audit trail is newer than the last
    completed rotation (``force`` rotates anyway). Otherwise: a new KEK (key file: a new
    active KEK; Vault: ``rotate``), every live data key re-wrapped in resumable batches,
    then the old KEK destroyed (key file: removed from the file; Vault: minimum versions
    raised and old versions trimmed). Finally ``keys.shredded`` records the erasures it
    covered. It never raises for a key-source or database problem: the report says
    ``incomplete`` and why, and the next call picks up where this one stopped.

    Several processes: the key source of a bot process (KeyFileSource, TransitKeySource)
    never keeps wrapping under a KEK a rotation has replaced, so a standby that takes over
    later is safe; one rotation runs at a time (RotationBusy is reported as incomplete);
    a data key written under an old KEK during the rotation keeps that KEK (see
    writes_held) until the next call. The source is ``vault.key_ring`` unless given.
    """
    source = source if source is not None else vault.key_ring
    try:
        erased_through = await latest_erasure_seq(sessions, erasure_actions)
        covered = await shredded_through(sessions)
        if erased_through <= covered and not force:
            return ShredReport(
                "not_needed",
                "No erasure since the last key rotation; the KEK was not rotated.",
                covered_seq=covered,
            )
        if isinstance(source, KeyFileSource):
            async with rotation_guard(sessions, source.lock_path):
                report = await _shred_key_file(
                    sessions, source, erased_through, batch_size=batch_size, now=now, fresh=force
                )
        elif isinstance(source, TransitKeySource):
            async with rotation_guard(sessions, source.lock_path):
                report = await _shred_transit(
                    sessions, source, erased_through, batch_size=batch_size, now=now, fresh=force
                )
        else:
            report = ShredReport(
                "unsupported",
                "The key-encryption keys come from MARAC_KEYS and cannot be rotated by the bot: "
                "erased records stay recoverable from older database copies until they are "
                "rotated (use a key file or Vault).",
            )
        if report.status == "done":
            await record(
                sessions,
                SHREDDED,
                {
                    "through_seq": erased_through,
                    "active": report.active_key_id,
                    "retired": ",".join(report.retired),
                    "rewrapped": report.rewrapped,
                },
                now=now,
                actor_label=SHRED_ACTOR,
            )
            report = ShredReport(
                "done",
                report.message,
                report.rewrapped,
                report.retired,
                report.active_key_id,
                covered_seq=erased_through,
            )
            await _vacuum_data_keys(sessions)
    except (KeyFileError, CryptoError) as error:  # incl. RotationBusy and Vault's errors
        report = ShredReport("incomplete", f"Key rotation after erasure stopped: {error}")
    except SQLAlchemyError as error:
        report = ShredReport(
            "incomplete",
            f"Key rotation after erasure stopped on a database error ({type(error).__name__}); "
            "the next run resumes it.",
        )
    level = logging.INFO if report.complete else logging.WARNING
    log.log(level, "%s", report.message)
    return report


async def _vacuum_data_keys(sessions: Sessions) -> None:
    """Re-wrapping left every data key's old wrapped form as a dead row: remove them now
    (storage.reclaim). The rotation is done either way, so a failure is only a warning."""
    try:
        await reclaim_erased(sessions, ("data_keys",))
    except Exception as error:
        log.warning("could not vacuum data_keys after rotation: %s", type(error).__name__)


async def _shred_key_file(
    sessions: Sessions,
    source: KeyFileSource,
    erased_through: int,
    *,
    batch_size: int,
    now: Now | None,
    fresh: bool = False,
) -> ShredReport:
    path = source.path
    document = read_key_document(path)
    ring = key_ring_from_document(document, str(path))
    started = _utc_now()
    added = await kek_added_seq(sessions, ring.active_key_id)
    # A rotation already under way covers the erasure only if it began after it.
    if fresh or len(ring.key_ids) == 1 or added is None or added < erased_through:
        document, _ = await add_key_file_kek(
            sessions, path, document, now=now, actor_label=SHRED_ACTOR, reason="erasure"
        )
        ring = key_ring_from_document(document, str(path))
    source.reload()  # this process wraps under the new KEK from now on
    report = await rewrap_all(sessions, ring, batch_size=batch_size, created_after=started, now=now)
    if report.created_after:
        return ShredReport(
            "incomplete",
            f"Kept the old key-encryption key(s) in {path}: {report.created_after} data key(s) "
            "were wrapped under one during the rotation by a process that does not re-read "
            "the key file. Restart it; the next run finishes the rotation.",
            rewrapped=report.rewrapped,
            active_key_id=ring.active_key_id,
        )
    outcome = await retire_unused_keks(
        sessions, path, document, ring, now=now, actor_label=SHRED_ACTOR
    )
    source.reload()  # and no longer holds the retired KEK
    if outcome.late or outcome.still_used:
        waiting = outcome.late or sum(outcome.still_used.values())
        return ShredReport(
            "incomplete",
            f"Kept the old key-encryption key(s) in {path}: {waiting} data key(s) still under "
            "one; the next run finishes the rotation.",
            rewrapped=report.rewrapped,
            active_key_id=ring.active_key_id,
        )
    return ShredReport(
        "done",
        f"Rotated the key-encryption key after erasure: {report.rewrapped} data key(s) "
        f"re-wrapped under {ring.active_key_id}; retired {', '.join(outcome.retired) or 'none'}.",
        rewrapped=report.rewrapped,
        retired=outcome.retired,
        active_key_id=ring.active_key_id,
    )


async def _shred_transit(
    sessions: Sessions,
    source: TransitKeySource,
    erased_through: int,
    *,
    batch_size: int,
    now: Now | None,
    fresh: bool = False,
) -> ShredReport:
    info = await source.key_info()
    added = await kek_added_seq(sessions, source.key_id(info.latest_version))
    if fresh or added is None or added < erased_through:
        previous = source.key_id(info.latest_version)
        info = await source.rotate()
        await record(
            sessions,
            KEK_ADDED,
            {"key": source.key_id(info.latest_version), "previous": previous, "reason": "erasure"},
            now=now,
            actor_label=SHRED_ACTOR,
        )
    active = source.key_id(info.latest_version)
    report = await rewrap_transit_all(sessions, source, batch_size=batch_size, now=now)
    outcome = await retire_transit_versions(sessions, source, now=now, actor_label=SHRED_ACTOR)
    if report.left or outcome.late or outcome.problem:
        why = outcome.problem or (
            f"{report.left or outcome.late} data key(s) still under an older version of "
            f"{source.label}; the next run finishes the rotation"
        )
        return ShredReport(
            "incomplete",
            f"Transit key rotation after erasure not finished: {why}.",
            rewrapped=report.rewrapped,
            active_key_id=active,
        )
    retired = tuple(
        (
            [f"{source.label} versions below {outcome.retired_below}"]
            if outcome.retired_below
            else []
        )
        + list(outcome.legacy_retired)
    )
    return ShredReport(
        "done",
        f"Rotated transit key {source.label} after erasure: {report.rewrapped} data key(s) "
        f"re-wrapped under {active}; retired {', '.join(retired) or 'nothing'}.",
        rewrapped=report.rewrapped,
        retired=retired,
        active_key_id=active,
    )

"""Pruning audit events after their retention period without breaking the hash chain.

Audit events are kept ``AUDIT_RETENTION_YEARS`` (7) years and deleted from the day after
that anniversary (read on the deployment's clock, like case retention). The chain is one
sequence for the whole deployment, so only a *prefix* can go: every event with
``seq <= N``, where each of them is past its time. One event that is younger than the
cutoff (a clock that was wrong, or an event written with an earlier time) stops the prefix
and keeps every event after it until it is due itself; nothing is ever punched out of the
middle of the chain. For the same reason the period is one deployment-wide rule, not an
area policy: an area with a shorter period could not have its events removed without
holes, and a longer one would hold back every other area's events too.

Each batch is one transaction that, holding the chain head's lock:

1. reads the next events after the checkpoint and checks that they verify (pruning must
   never delete, and so hide, a stretch of the chain that was tampered with);
2. deletes the old prefix among them;
3. moves the checkpoint (``AuditHead.pruned_seq`` / ``pruned_hash``) to the last deleted
   event; and
4. appends an ``audit.pruned`` event recording the rule, how many events, up to which seq
   and the checkpoint hash (no personal data), which ``verify_chain`` compares with the
   head row, so a checkpoint moved by hand is reported.

A run that stops part-way (a crash, a lost connection) therefore leaves a consistent,
verifiable chain, and running it again carries on where it stopped; a run with nothing
due changes nothing and writes no event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.audit import (
    PRUNED_ACTION,
    ChainReport,
    ChainWalker,
    append_event,
    audit_key_of,
)
from storage.models import AuditEvent, AuditHead

AUDIT_RETENTION_YEARS: Final = 7
DEFAULT_BATCH_SIZE: Final = 5000
DEFAULT_ZONE: Final = "Europe/London"


def audit_rule(years: int) -> str:
    """The rule as written into ``audit.pruned`` events and shown by the CLI."""
    return f"audit: {years} years after the event"


def _add_years(day: date, years: int) -> date:
    """As ``bot.services.retention.add_years``: 29 February becomes 1 March (never early)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def audit_cutoff(
    today: date, years: int = AUDIT_RETENTION_YEARS, zone: str = DEFAULT_ZONE
) -> datetime:
    """Events before this instant are past their time on ``today``.

    The start of the same calendar day ``years`` ago in ``zone``: an event is kept up to and
    including its anniversary and due from the day after, exactly like a case.
    """
    day = _add_years(today, -years)
    return datetime.combine(day, time(), tzinfo=ZoneInfo(zone)).astimezone(UTC)


@dataclass(frozen=True)
class PrunePlan:
    """What pruning would do on a day; reading only (``marac-bot retention --dry-run``)."""

    cutoff: datetime
    rule: str
    due: int  # events pruning would delete
    from_seq: int  # the first of them (0 when none)
    to_seq: int  # the last of them: the checkpoint pruning would reach (0 when none)
    held_back: int  # older than the cutoff, but after a younger event, so kept for now


@dataclass(frozen=True)
class PruneReport:
    """What a pruning run did."""

    cutoff: datetime
    rule: str
    pruned: int  # events deleted by this run
    batches: int  # transactions that deleted something (one audit.pruned event each)
    pruned_seq: int  # the checkpoint after the run: events up to here are gone
    pruned_hash: str
    # Set when pruning stopped because the events it was about to delete do not verify;
    # nothing from that point on was deleted.
    broken: ChainReport | None = None

    @property
    def complete(self) -> bool:
        return self.broken is None


@dataclass(frozen=True)
class _Batch:
    pruned: int
    pruned_seq: int
    pruned_hash: str
    more: bool
    broken: ChainReport | None = None
    # Plain links up to here were found closed by a keyed link earlier in this run.
    keyed_through: int = 0


def _validate(years: int, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
    if years < 1:
        raise ValueError("audit retention must be at least one year")
    if batch_size < 1:
        raise ValueError("the batch size must be at least one event")


def _judged_on(now: datetime, zone: str, today: date | None) -> date:
    return today or now.astimezone(ZoneInfo(zone)).date()


async def plan_audit_pruning(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    years: int = AUDIT_RETENTION_YEARS,
    *,
    zone: str = DEFAULT_ZONE,
    today: date | None = None,
) -> PrunePlan:
    """How many events ``prune_audit_events`` would delete as on ``today``; changes nothing.

    It does not verify the chain (pruning does, batch by batch, before deleting), so a
    tampered chain can show events here that pruning then refuses to delete.
    """
    _validate(years)
    cutoff = audit_cutoff(_judged_on(now, zone, today), years, zone)
    async with sessions() as session:
        pruned_seq = int(
            await session.scalar(select(AuditHead.pruned_seq).where(AuditHead.id == 1)) or 0
        )
        remaining = AuditEvent.seq > pruned_seq
        first_young = await session.scalar(
            select(func.min(AuditEvent.seq)).where(remaining, AuditEvent.at >= cutoff)
        )
        prefix = [remaining] if first_young is None else [remaining, AuditEvent.seq < first_young]
        due, first, last = (
            await session.execute(
                select(func.count(), func.min(AuditEvent.seq), func.max(AuditEvent.seq)).where(
                    *prefix
                )
            )
        ).one()
        older = await session.scalar(
            select(func.count()).select_from(AuditEvent).where(remaining, AuditEvent.at < cutoff)
        )
    return PrunePlan(
        cutoff=cutoff,
        rule=audit_rule(years),
        due=int(due or 0),
        from_seq=int(first or 0),
        to_seq=int(last or 0),
        held_back=int(older or 0) - int(due or 0),
    )


async def prune_audit_events(
    sessions: async_sessionmaker[AsyncSession],
    now: datetime,
    years: int = AUDIT_RETENTION_YEARS,
    *,
    zone: str = DEFAULT_ZONE,
    today: date | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    actor_label: str = "system",
) -> PruneReport:
    """Delete the prefix of the chain that is past its time, in batches; see the module notes.

    ``now`` stamps the ``audit.pruned`` events; ``today`` (default: ``now``'s day in
    ``zone``) is the day retention is judged on and may not be later than that, since
    pruning ahead of time would delete events that must still be kept.
    """
    _validate(years, batch_size)
    real_today = now.astimezone(ZoneInfo(zone)).date()
    judged = _judged_on(now, zone, today)
    if judged > real_today:
        raise ValueError("audit events cannot be pruned as on a day that has not come yet")
    cutoff = audit_cutoff(judged, years, zone)
    rule = audit_rule(years)
    pruned = batches = keyed_through = 0
    while True:
        batch = await _prune_batch(
            sessions, cutoff, rule, now, batch_size, actor_label, keyed_through
        )
        keyed_through = max(keyed_through, batch.keyed_through)
        pruned += batch.pruned
        batches += 1 if batch.pruned else 0
        if batch.broken is not None or not batch.more:
            return PruneReport(
                cutoff=cutoff,
                rule=rule,
                pruned=pruned,
                batches=batches,
                pruned_seq=batch.pruned_seq,
                pruned_hash=batch.pruned_hash,
                broken=batch.broken,
            )


async def _prune_batch(
    sessions: async_sessionmaker[AsyncSession],
    cutoff: datetime,
    rule: str,
    now: datetime,
    batch_size: int,
    actor_label: str,
    keyed_through: int,
) -> _Batch:
    """One atomic step: verify, delete, move the checkpoint, record it."""
    async with sessions.begin() as session:
        # A no-op write takes the head row first, as appends do: it serialises this batch
        # with appends and with a second pruner (row lock on PostgreSQL, write lock on
        # SQLite), so the checkpoint read here is the one this batch moves.
        head = (
            await session.execute(
                update(AuditHead)
                .where(AuditHead.id == 1)
                .values(pruned_seq=AuditHead.pruned_seq)
                .returning(AuditHead.pruned_seq, AuditHead.pruned_hash)
            )
        ).one_or_none()
        if head is None:
            raise RuntimeError("audit_head row missing: the database was not created by migrations")
        pruned_seq, pruned_hash = int(head[0]), str(head[1])
        events: Sequence[AuditEvent] = (
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq > pruned_seq)
                .order_by(AuditEvent.seq)
                .limit(batch_size)
            )
        ).all()
        walker = ChainWalker(audit_key_of(session).chain, pruned_seq + 1, pruned_hash)
        prefix: list[AuditEvent] = []
        for event in events:
            if event.at >= cutoff:
                break  # the prefix ends at the first event that must still be kept
            blamed = walker.step(event)
            if blamed is not None:
                broken = ChainReport(len(prefix), *blamed, pruned_seq)
                return _Batch(0, pruned_seq, pruned_hash, more=False, broken=broken)
            prefix.append(event)
        if not prefix:
            return _Batch(0, pruned_seq, pruned_hash, more=False)
        if walker.unkeyed_from is not None and prefix[-1].seq > keyed_through:
            # Plain links (written before the audit key) are only sound under a keyed link
            # after them: find it before deleting any, or refuse as verify_chain would.
            blamed = await _walk_to_keyed_link(session, walker, events[len(prefix) :], batch_size)
            if blamed is not None:
                broken = ChainReport(len(prefix), *blamed, pruned_seq)
                return _Batch(0, pruned_seq, pruned_hash, more=False, broken=broken)
            keyed_through = walker.expected_seq - 1
        last = prefix[-1]
        result = cast(
            CursorResult[Any],
            await session.execute(
                delete(AuditEvent)
                .where(AuditEvent.seq > pruned_seq, AuditEvent.seq <= last.seq)
                .execution_options(synchronize_session=False)
            ),
        )
        if int(result.rowcount or 0) != len(prefix):
            # Cannot happen while the head is locked; if it does, roll the batch back.
            raise RuntimeError("audit pruning deleted a different number of events than it read")
        await session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(pruned_seq=last.seq, pruned_hash=last.hash)
        )
        await append_event(
            session,
            at=now,
            action=PRUNED_ACTION,
            actor_label=actor_label,
            details={
                "rule": rule,
                "cutoff": cutoff.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "events": len(prefix),
                "from_seq": prefix[0].seq,
                "to_seq": last.seq,
                "checkpoint_hash": last.hash,
            },
        )
        more = len(prefix) == len(events) == batch_size
        return _Batch(len(prefix), last.seq, last.hash, more=more, keyed_through=keyed_through)


async def _walk_to_keyed_link(
    session: AsyncSession,
    walker: ChainWalker,
    read: Sequence[AuditEvent],
    batch_size: int,
) -> tuple[int, str] | None:
    """Walk on past the prefix until a keyed link closes the walker's plain stretch.

    Only a database that had events before the audit key existed has such a stretch, and
    only once: its end (the ``audit.keyed`` event, or the first event recorded after the
    upgrade) is remembered for the rest of the run, so later batches do not walk it again.
    """
    pending = list(read)
    while walker.unkeyed_from is not None:
        if not pending:
            pending = list(
                (
                    await session.scalars(
                        select(AuditEvent)
                        .where(AuditEvent.seq >= walker.expected_seq)
                        .order_by(AuditEvent.seq)
                        .limit(batch_size)
                    )
                ).all()
            )
            if not pending:
                return walker.open_stretch()
        blamed = walker.step(pending.pop(0))
        if blamed is not None:
            return blamed
    return None

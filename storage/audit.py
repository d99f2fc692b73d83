"""The append-only, hash-chained audit log, keyed so that the database alone cannot rewrite it.

Each event's link is an HMAC-SHA256, under the audit key (storage.audit_key: derived from the
key file, never stored in the database), of its content and the previous event's link. Anyone
who can write to the database can still change, delete or reorder events, but cannot compute
the links that would hide it: ``verify_chain`` names the first event whose link or content does
not match. Cutting the tail off and moving the head back to match is the one change the chain
cannot show by itself; the signed checkpoints published outside the database show it
(storage.audit_checkpoint).

Chains written before the key existed have plain SHA-256 links over the same content. Keyed
links simply carry on from the last plain one: the first keyed event's HMAC covers the plain
hash before it, so the plain stretch cannot be rewritten either without breaking that keyed
link. ``verify_chain`` therefore accepts plain links only where a keyed link follows them; a
stretch of plain links that runs to the end (what a rewrite by someone without the key leaves)
is reported at its first event. ``key_the_chain`` (run by ``migrate``, ``init`` and ``run``)
appends an ``audit.keyed`` event after the old plain head, so an upgraded database verifies at
once and the trail itself says where keying began.

Appends take the chain head row with an UPDATE first, which serialises concurrent writers on
PostgreSQL (row lock) and on SQLite (write lock) alike, so the chain never forks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit_key import SESSION_INFO_KEY, AuditKey
from storage.models import AuditEvent, AuditHead

GENESIS_HASH = "0" * 64
Scalar = str | int | float | bool | None

KEYED_ACTION = "audit.keyed"
"""Recorded once, when a chain written before the audit key existed is first keyed."""


def canonical_event(
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
) -> bytes:
    """The bytes an event's link covers: every column but the link itself, in a fixed order."""
    return json.dumps(
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
    ).encode()


def keyed_link(key: bytes, canonical: bytes) -> str:
    """An event's link: HMAC-SHA256 under the chain key, as one C call (appends are hot)."""
    return hmac.digest(key, canonical, "sha256").hex()


def plain_link(canonical: bytes) -> str:
    """The link of chains written before the audit key: SHA-256, which anyone can recompute."""
    return hashlib.sha256(canonical).hexdigest()


def audit_key_of(session: AsyncSession) -> AuditKey:
    """The audit key the session's factory was built with (storage.db.create_session_factory)."""
    key = session.info.get(SESSION_INFO_KEY)
    if not isinstance(key, AuditKey):
        raise RuntimeError(
            "this session has no audit key: build its factory with "
            "create_session_factory(engine, audit_key=...)"
        )
    return key


def _event_bytes(event: AuditEvent) -> bytes:
    return canonical_event(
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
    digest = keyed_link(
        audit_key_of(session).chain,
        canonical_event(
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
        ),
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
    key = audit_key_of(session).chain
    rows = []
    for seq, event in enumerate(events, start=last_seq - len(events) + 1):
        details_json = json.dumps(dict(event.details or {}), sort_keys=True, separators=(",", ":"))
        digest = keyed_link(
            key,
            canonical_event(
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
            ),
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

MISSING = "event missing from the sequence"
MISLINKED = "link to the previous event does not match"
CHANGED = "event content was changed"
RECOMPUTED = "event content was changed and its hash recomputed without the audit key"
NOT_KEYED = (
    "no event from here on is protected by the audit key: the trail was rewritten, or it has "
    "not been keyed since the upgrade (run 'marac-bot migrate')"
)


@dataclass(frozen=True)
class ChainReport:
    events_checked: int
    first_broken_seq: int | None
    reason: str | None
    # Events 1..pruned_through were deleted under the retention rule; the walk began after them.
    pruned_through: int = 0
    # The last event the walk reached (the chain's end when it is intact).
    last_seq: int = 0
    # The link found at each seq the caller asked to watch (checkpoints), where there is one.
    links: Mapping[int, str] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


@dataclass
class ChainWalker:
    """Follows the chain one event at a time and says where it first breaks.

    Shared by ``verify_chain`` and pruning, so pruning can refuse to delete (and so hide) a
    stretch of the chain that does not verify. A link must be keyed (HMAC under the chain
    key) or plain (SHA-256, written before the key existed); plain links are accepted only
    while a keyed link follows them (see the module notes), so ``unkeyed_from`` is where the
    current stretch of plain links began, and ``open_stretch`` reports one that never closes.
    """

    key: bytes
    expected_seq: int
    expected_prev: str
    unkeyed_from: int | None = None
    keyed_seen: bool = False

    def step(self, event: AuditEvent) -> tuple[int, str] | None:
        """Take ``event`` as the next link, or return (the event to name, why) if it is not."""
        if event.seq != self.expected_seq:
            return self._blame(min(event.seq, self.expected_seq), MISSING)
        if event.prev_hash != self.expected_prev:
            return self._blame(event.seq, MISLINKED)
        content = _event_bytes(event)
        if hmac.compare_digest(keyed_link(self.key, content), event.hash):
            self.unkeyed_from = None
            self.keyed_seen = True
        elif hmac.compare_digest(plain_link(content), event.hash):
            if self.unkeyed_from is None:
                self.unkeyed_from = event.seq
        else:
            return self._blame(event.seq, CHANGED)
        self.expected_prev = event.hash
        self.expected_seq += 1
        return None

    def _blame(self, seq: int, reason: str) -> tuple[int, str]:
        """After a keyed link, a stretch of plain ones is where a rewrite without the key
        began: the break found further on is only where its re-linking stopped."""
        if self.unkeyed_from is not None and self.keyed_seen:
            return self.unkeyed_from, RECOMPUTED
        return seq, reason

    def open_stretch(self) -> tuple[int, str] | None:
        """At the end of the chain: plain links that no keyed link closes, or None."""
        if self.unkeyed_from is None:
            return None
        return self.unkeyed_from, RECOMPUTED if self.keyed_seen else NOT_KEYED


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


async def head_seq(session: AsyncSession) -> int:
    """The newest event's seq (0 before the first): whether there is anything to key."""
    head = await _read_head(session)
    return head.seq if head is not None else 0


async def verify_chain(
    session: AsyncSession, batch_size: int = 5000, *, watch: Collection[int] = ()
) -> ChainReport:
    """Walk the chain in order; report the first event whose link or content does not match.

    Every link is checked under the session's audit key. ``watch`` names seqs whose links
    the report should carry (``links``), for comparing with signed checkpoints
    (storage.audit_checkpoint).

    After pruning, the walk starts at the checkpoint in the head row: the first remaining
    event must be ``pruned_seq + 1`` and link to ``pruned_hash``. The head row is not itself
    chained, so the checkpoint must also equal the one the newest ``audit.pruned`` event
    recorded; moving it (to hide deleted events, or to skip some) is reported as a break.
    A prune that commits while the walk runs is told apart from tampering by reading the
    head again and walking once more.
    """
    key = audit_key_of(session).chain
    head = await _read_head(session)
    report = await _walk(session, key, head, batch_size, frozenset(watch))
    if not report.intact:
        again = await _read_head(session)
        if again is not None and head is not None and again.pruned_seq != head.pruned_seq:
            report = await _walk(session, key, again, batch_size, frozenset(watch))
    return report


async def _walk(
    session: AsyncSession,
    key: bytes,
    head: _Head | None,
    batch_size: int,
    watch: frozenset[int],
) -> ChainReport:
    pruned_seq = head.pruned_seq if head is not None else 0
    pruned_hash = head.pruned_hash if head is not None else GENESIS_HASH
    walker = ChainWalker(key, pruned_seq + 1, pruned_hash)
    links: dict[int, str] = {pruned_seq: pruned_hash} if pruned_seq in watch else {}
    checked = 0
    last_seq = 0  # from the very start: an event left at or before the checkpoint shows up

    def broken(seq: int, reason: str) -> ChainReport:
        return ChainReport(checked, seq, reason, pruned_seq, walker.expected_seq - 1, links)

    def blamed(seq: int, reason: str) -> ChainReport:
        """A break the walker names; only the events before that one count as intact (a
        stretch of re-linked events was walked, but none of it is vouched for)."""
        return ChainReport(
            min(checked, seq - pruned_seq - 1), seq, reason, pruned_seq, seq - 1, links
        )

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
                if checked == 0 and pruned_seq > 0:
                    expected = (walker.expected_seq, walker.expected_prev)
                    moved = _checkpoint_problem(event, *expected)
                    if moved is not None:
                        return broken(min(event.seq, walker.expected_seq), moved)
                named = walker.step(event)
                if named is not None:
                    return blamed(*named)
                if event.seq in watch:
                    links[event.seq] = event.hash
                newest_claim = claimed_checkpoint(event) or newest_claim
                checked += 1
                last_seq = event.seq
        # The head is read after the walk; events appended meanwhile are walked too.
        tip = await _read_head(session)
        if not (found and tip is not None and tip.seq > walker.expected_seq - 1):
            break
    stretch = walker.open_stretch()
    if stretch is not None:
        return blamed(*stretch)
    if tip is not None and tip.seq < walker.expected_seq - 1:
        return broken(tip.seq + 1, "the chain head was moved back over these events")
    if tip is not None and (
        tip.seq != walker.expected_seq - 1 or tip.last_hash != walker.expected_prev
    ):
        return broken(walker.expected_seq, "events after this point were removed")
    if (newest_claim or (0, GENESIS_HASH)) != (pruned_seq, pruned_hash):
        return broken(
            pruned_seq + 1, "the pruning checkpoint does not match the last audit.pruned event"
        )
    return ChainReport(checked, None, None, pruned_seq, walker.expected_seq - 1, links)


def _checkpoint_problem(event: AuditEvent, expected_seq: int, expected_prev: str) -> str | None:
    """A clearer reason when the very first remaining event does not follow the checkpoint."""
    if event.seq < expected_seq:
        return "an event at or before the pruning checkpoint is still there: it was moved"
    if event.seq == expected_seq and event.prev_hash != expected_prev:
        return "the first event after the pruning checkpoint does not link to it"
    return None


async def key_the_chain(session: AsyncSession, at: datetime) -> int | None:
    """Record where keying began, if the newest event's link is still plain; its seq, or None.

    For a database written before the audit key existed: the ``audit.keyed`` event is keyed
    and links to the last plain event, so from this commit on no event before it can be
    rewritten unnoticed, and ``verify_chain`` passes straight after an upgrade. Run by
    ``migrate``, ``init`` and ``run``; on a keyed chain, or an empty one, it does nothing
    (and takes the head row first, so two processes starting together key it once), and
    nothing either when the newest link is neither keyed under this key nor plain.
    """
    head = (
        await session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=AuditHead.seq)
            .returning(AuditHead.seq, AuditHead.last_hash)
        )
    ).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not created by migrations")
    seq, last_hash = int(head[0]), str(head[1])
    newest = await session.scalar(select(AuditEvent).where(AuditEvent.seq == seq))
    if newest is None:  # no event yet, or every one pruned: nothing plain to seal
        return None
    content = _event_bytes(newest)
    if hmac.compare_digest(keyed_link(audit_key_of(session).chain, content), newest.hash):
        return None
    if not hmac.compare_digest(plain_link(content), newest.hash):
        # Neither keyed under this key nor plain: a key file from another deployment, or an
        # altered event. Sealing it would vouch for what cannot be checked; verify reports it.
        return None
    await append_event(
        session,
        at=at,
        action=KEYED_ACTION,
        details={"plain_through_seq": seq, "plain_head": last_hash},
    )
    return seq + 1

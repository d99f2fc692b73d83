"""Signed checkpoints of the audit chain, published outside the database.

The keyed chain (storage.audit) stops anyone without the audit key from rewriting events, but
it cannot show that its tail was cut off and the head moved back to match; nor can it stop
someone who also holds the key file from rewriting the chain and re-keying every link. A
checkpoint records the chain's head as it was (the last event's seq and link, and how many
events there were), signed with HMAC-SHA256 under the checkpoint key (storage.audit_key says
why HMAC), and is copied where the database's writers cannot reach: the log, the coordinators'
chats and, if set, a file. ``marac-bot audit verify --checkpoint`` then checks that the event
at that seq is still the one recorded, which neither a truncation nor a rewrite can fake.

A checkpoint is one word of text that survives being pasted from a chat or a log::

    marac_audit_1_<seq>_<count>_<UTC time, 20261126T030000Z>_<link, 64 hex>_<signature, 64 hex>

Underscores, not colons: one double-click selects it whole, and the log's token mask (which
hides anything shaped like ``123456:ABC...``) never mistakes part of it for a bot token.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import ChainReport, append_event, audit_key_of
from storage.audit_key import AuditKey
from storage.models import AuditEvent, AuditHead

CHECKPOINT_ACTION: Final = "audit.checkpoint"
PREFIX: Final = "marac_audit_1"
_TIME_FORMAT: Final = "%Y%m%dT%H%M%SZ"
_SIGNED: Final = b"marac-bot audit checkpoint 1\x1e"
PATTERN: Final = re.compile(
    rf"{PREFIX}_(\d{{1,19}})_(\d{{1,19}})_(\d{{8}}T\d{{6}}Z)_([0-9a-f]{{64}})_([0-9a-f]{{64}})\b"
)


class CheckpointError(ValueError):
    """Text that holds no checkpoint, or a checkpoint this deployment did not sign."""


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at ``at``: event ``seq`` had link ``link``; ``count`` events were kept."""

    seq: int
    count: int
    at: datetime
    link: str
    signature: str

    @property
    def text(self) -> str:
        """The checkpoint as one line, to publish and to paste back into ``audit verify``."""
        return "_".join(
            (
                PREFIX,
                str(self.seq),
                str(self.count),
                self.at.strftime(_TIME_FORMAT),
                self.link,
                self.signature,
            )
        )

    def signed_by(self, key: AuditKey) -> bool:
        """Whether this deployment's checkpoint key made the signature."""
        expected = _signature(key, self.seq, self.count, self.at, self.link)
        return hmac.compare_digest(expected, self.signature)


def _signature(key: AuditKey, seq: int, count: int, at: datetime, link: str) -> str:
    message = f"{seq}:{count}:{at.strftime(_TIME_FORMAT)}:{link}".encode()
    return hmac.digest(key.checkpoint, _SIGNED + message, "sha256").hex()


def sign(key: AuditKey, *, seq: int, count: int, at: datetime, link: str) -> Checkpoint:
    """A checkpoint of the head (``seq``, ``link``), timed to the second in UTC."""
    at = at.astimezone(UTC).replace(microsecond=0)
    return Checkpoint(seq, count, at, link, _signature(key, seq, count, at, link))


def find_checkpoints(text: str) -> list[Checkpoint]:
    """Every checkpoint in ``text``: a pasted message, a log line, a whole file of them."""
    found = []
    for match in PATTERN.finditer(text):
        seq, count, at, link, signature = match.groups()
        found.append(
            Checkpoint(
                int(seq),
                int(count),
                datetime.strptime(at, _TIME_FORMAT).replace(tzinfo=UTC),
                link,
                signature,
            )
        )
    return found


def refuse_forged(checkpoints: Iterable[Checkpoint], key: AuditKey) -> None:
    """Raise ``CheckpointError`` naming the first checkpoint this deployment did not sign."""
    for checkpoint in checkpoints:
        if not checkpoint.signed_by(key):
            raise CheckpointError(
                f"the checkpoint for event {checkpoint.seq} "
                f"({checkpoint.at:%d %b %Y %H:%M} UTC) is not signed with this deployment's "
                "audit key: it was altered or mistyped, or comes from another deployment"
            )


async def take_checkpoint(session: AsyncSession, at: datetime, label: str) -> Checkpoint | None:
    """Sign the head and record it as an ``audit.checkpoint`` event labelled ``label``.

    None when a checkpoint with this label is already recorded (one a day: the label is the
    day), when there are no events, or when nothing happened since the last checkpoint
    (its own record is the newest event). Takes the head row first, like an append, so the
    head signed is the one this transaction sees and two processes never sign one day twice.
    """
    head = (
        await session.execute(
            update(AuditHead)
            .where(AuditHead.id == 1)
            .values(seq=AuditHead.seq)
            .returning(AuditHead.seq, AuditHead.last_hash, AuditHead.pruned_seq)
        )
    ).one_or_none()
    if head is None:
        raise RuntimeError("audit_head row missing: the database was not created by migrations")
    seq, link, pruned_seq = int(head[0]), str(head[1]), int(head[2])
    if seq == 0:
        return None
    taken = await session.scalar(
        select(AuditEvent.seq).where(AuditEvent.area_id.is_(None), AuditEvent.subject == label)
    )
    if taken is not None:
        return None
    newest = await session.scalar(select(AuditEvent.action).where(AuditEvent.seq == seq))
    if newest == CHECKPOINT_ACTION:
        return None
    checkpoint = sign(audit_key_of(session), seq=seq, count=seq - pruned_seq, at=at, link=link)
    await append_event(
        session,
        at=at,
        action=CHECKPOINT_ACTION,
        subject=label,
        details={"seq": seq, "count": checkpoint.count, "link": link},
    )
    return checkpoint


async def append_to_file(path: Path, checkpoint: Checkpoint) -> None:
    """Add the checkpoint as a line to ``path`` (created owner-only), off the event loop."""

    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="ascii") as handle:
            handle.write(checkpoint.text + "\n")

    await asyncio.to_thread(write)


Outcome = Literal["matches", "truncated", "rewritten", "before pruning", "pruned too early"]


@dataclass(frozen=True)
class Comparison:
    """What became of one checkpoint's event in the chain as it is now."""

    checkpoint: Checkpoint
    outcome: Outcome


def compare(
    report: ChainReport, checkpoints: Sequence[Checkpoint], prunable_before: datetime
) -> list[Comparison]:
    """Each checkpoint against a chain walk that watched their seqs, oldest first.

    The walk must have been intact for this to mean anything: the links it found are the
    ones the key vouches for. A checkpoint beyond the chain's end means events were cut off;
    one whose event has another link now means the chain up to it was rewritten and re-keyed.
    One inside the pruned part cannot be compared, its event being gone under the retention
    rule, unless it is younger than ``prunable_before`` (the retention cutoff today): its own
    ``audit.checkpoint`` record, written at its time, then cannot have been pruned lawfully,
    so someone holding the key deleted the events and forged the pruning record.
    """
    results = []
    for checkpoint in sorted(checkpoints, key=lambda c: (c.seq, c.at)):
        outcome: Outcome
        if checkpoint.seq < report.pruned_through:
            early = checkpoint.at >= prunable_before
            outcome = "pruned too early" if early else "before pruning"
        elif checkpoint.seq > report.last_seq:
            outcome = "truncated"
        elif report.links.get(checkpoint.seq) != checkpoint.link:
            outcome = "rewritten"
        else:
            outcome = "matches"
        results.append(Comparison(checkpoint, outcome))
    return results

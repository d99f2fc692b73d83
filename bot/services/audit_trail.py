"""Reading the audit trail, and recording refusals that happen outside other services."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actor import Actor
from bot.permissions import Operation, authorise
from bot.referrals.status import REFERENCE_PATTERN
from bot.services.audited import audit_by
from bot.services.case_access import Shown, record_views, require, visible
from bot.services.deps import ServiceDeps
from bot.services.names import name_context
from bot.tally import Summary, Tally
from storage.audit import Scalar, append_event
from storage.models import AuditEvent, Case, Person

MAX_LINES = 50
# Refusals with no actor: at most one event each, plus one summary, per action and window.
STRANGER_WINDOW = timedelta(hours=1)
UNKNOWN_LABEL = "telegram:unknown"
REFERENCE = re.compile(REFERENCE_PATTERN)


@dataclass(frozen=True)
class AuditLine:
    seq: int
    at: datetime
    who: str
    action: str
    subject: str | None
    outcome: str
    details: dict[str, Scalar]


class AuditTrailService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        # Refusals of people the bot does not know, counted per action (record_refusal).
        self._strangers: dict[str, Tally] = {}

    async def latest(
        self, actor: Actor, *, subject: str | None = None, limit: int = 20
    ) -> list[AuditLine]:
        """The newest events of the actor's own area, optionally about one thing only.

        Events about a case the access policy keeps from the reader are left out, and a
        case's own trail is refused as if the case did not exist; reading a case's trail is
        itself recorded against the case.
        """
        authorise(actor, Operation.VIEW_AUDIT, area_id=actor.area_id)
        now = self._deps.clock.now()
        query = select(AuditEvent).where(AuditEvent.area_id == actor.area_id)
        if subject is not None:
            # Equality (every subject is one whole reference, e.g. a case's or "meeting:12"),
            # so the (area_id, subject, seq) index answers it: a LIKE would scan the area.
            query = query.where(AuditEvent.subject == subject)
        query = query.order_by(AuditEvent.seq.desc()).limit(min(limit, MAX_LINES))
        async with self._deps.sessions.begin() as session:
            case_of = await self._cases_named(session, actor, {subject} if subject else set())
            if subject is not None and subject in case_of:
                level = await require(
                    session,
                    actor,
                    case_of[subject],
                    CasePath.AUDIT_TRAIL,
                    now,
                    missing=texts.CASE_NOT_FOUND,
                )
                await record_views(
                    session, actor, [Shown(subject, level)], CasePath.AUDIT_TRAIL, now
                )
            events = list(await session.scalars(query))
            named = await self._cases_named(
                session, actor, {e.subject for e in events if e.subject}
            )
            seen = await visible(session, actor, set(named.values()), CasePath.AUDIT_TRAIL, now)
            events = [e for e in events if e.subject not in named or named[e.subject] in seen]
            names: dict[int, str] = {}
            for event in events:
                pid = event.actor_person_id
                if pid is None or pid in names:
                    continue
                person = await session.get(Person, pid)
                names[pid] = "(erased)"
                if person and person.data_key_id and person.display_name_sealed:
                    names[pid] = await self._deps.vault.open(
                        session, person.data_key_id, name_context(pid), person.display_name_sealed
                    )
            await audit_by(
                session, actor, at=self._deps.clock.now(), action="audit.viewed", subject=subject
            )
        return [
            AuditLine(
                e.seq,
                e.at,
                names.get(e.actor_person_id, e.actor_label) if e.actor_person_id else e.actor_label,
                e.action,
                e.subject,
                e.outcome,
                json.loads(e.details),
            )
            for e in events
        ]

    async def _cases_named(
        self, session: AsyncSession, actor: Actor, subjects: set[str | None]
    ) -> dict[str, int]:
        """Which of these audit subjects are case references of the area: reference -> id."""
        references = sorted(s for s in subjects if s and REFERENCE.fullmatch(s))
        if not references:
            return {}
        rows = await session.execute(
            select(Case.reference, Case.id).where(
                Case.area_id == actor.area_id, Case.reference.in_(references)
            )
        )
        return {str(reference): int(case_id) for reference, case_id in rows.all()}

    async def record_refusal(
        self,
        *,
        action: str,
        actor: Actor | None = None,
        reason: str,
        subject: str | None = None,
        source: int | None = None,
    ) -> None:
        """Refused requests (forged buttons, strangers, no permission) belong in the trail too.

        A refusal with no actor (a stranger's message, a forged workspace sign-in) can be
        repeated by anyone as often as they like, so those are counted (``bot.tally``): per
        action, the first in an hour is recorded as before, the rest in one summary event
        (``<action>.summary``: how many, why, from how many unknown users, when). ``source``
        (the Telegram user id) is only counted, never written.
        """
        if actor is None:
            await self._record_stranger(action, reason[:120], subject, source)
            return
        async with self._deps.sessions.begin() as session:
            await append_event(
                session,
                at=self._deps.clock.now(),
                area_id=actor.area_id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action=action,
                subject=subject,
                outcome="refused",
                details={"reason": reason[:120]},
            )

    async def _record_stranger(
        self, action: str, reason: str, subject: str | None, source: int | None
    ) -> None:
        now = self._deps.clock.now()
        tally = self._strangers.setdefault(action, Tally(STRANGER_WINDOW))
        record_this, ended = tally.note(now, reason, source)
        if ended is None and not record_this:
            return
        async with self._deps.sessions.begin() as session:
            if ended is not None:
                await self._summarise(session, action, ended, now)
            if record_this:
                await append_event(
                    session,
                    at=now,
                    actor_label=UNKNOWN_LABEL,
                    action=action,
                    subject=subject,
                    outcome="refused",
                    details={"reason": reason},
                )

    async def summarise_refusals(self, *, force: bool = False) -> int:
        """Write the summary of every refusal window that has ended (all of them if ``force``,
        e.g. when the bot stops); returns how many were written. Housekeeping calls it."""
        now = self._deps.clock.now()
        ended = [
            (action, summary)
            for action, tally in self._strangers.items()
            if (summary := tally.close(now, force=force)) is not None
        ]
        if ended:
            async with self._deps.sessions.begin() as session:
                for action, summary in ended:
                    await self._summarise(session, action, summary, now)
        return len(ended)

    @staticmethod
    async def _summarise(
        session: AsyncSession, action: str, summary: Summary, now: datetime
    ) -> None:
        await append_event(
            session,
            at=now,
            actor_label=UNKNOWN_LABEL,
            action=f"{action}.summary",
            outcome="refused",
            details={
                "count": summary.count,
                "reasons": summary.kinds_text()[:200],
                "unknown_users": summary.sources,
                "unknown_users_capped": summary.sources_capped,
                "since": summary.since.isoformat(),
                "until": summary.until.isoformat(),
            },
        )

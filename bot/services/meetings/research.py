"""Agencies return research on the cases listed and say whether they will attend."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, Scope, authorise, scope_for
from bot.services.audited import audit_by
from bot.services.case_access import require
from bot.services.meetings.common import (
    ATTENDANCE,
    MeetingBase,
    _area,
    apology_context,
    research_context,
)
from bot.services.outbox import cancel as cancel_outbox
from storage.models import (
    AgendaItem,
    AttendanceReply,
    Case,
    Meeting,
    Person,
    ResearchReturn,
)


class ResearchAndAttendance(MeetingBase):
    """Research returns and attendance replies."""

    async def research_item(self, actor: Actor, item_id: int) -> tuple[str, str]:
        """(case reference, meeting date) of an item this rep may research."""
        authorise(
            actor, Operation.RETURN_RESEARCH, area_id=actor.area_id, agency_id=actor.agency_id
        )
        async with self._deps.sessions() as session:
            _, case, meeting = await self._researchable(session, actor, item_id)
            area = await _area(session, actor.area_id)
            view = await self._view(session, meeting, area)
            return case.reference, self._when(view)

    async def record_research(
        self, actor: Actor, item_id: int, outcome: str, note: str | None
    ) -> str:
        authorise(
            actor, Operation.RETURN_RESEARCH, area_id=actor.area_id, agency_id=actor.agency_id
        )
        if outcome not in ("nothing_known", "information"):
            raise ServiceError(texts.BUTTON_NOT_RECOGNISED)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            item, case, meeting = await self._researchable(session, actor, item_id)
            assert actor.agency_id is not None
            row = ResearchReturn(
                agenda_item_id=item.id,
                agency_id=actor.agency_id,
                outcome=outcome,
                by_person_id=actor.person_id,
                at=now,
            )
            session.add(row)
            await session.flush()
            if note and case.data_key_id:
                row.note_sealed = await self._deps.vault.seal(
                    session, case.data_key_id, research_context(row.id), note
                )
            await audit_by(
                session,
                actor,
                at=now,
                action=f"research.{outcome}",
                subject=case.reference,
                details={"meeting": meeting.id, "agency": actor.agency_id},
            )
            if await self._agency_done(session, meeting.id, actor.agency_id):
                reps = await session.scalars(
                    select(Person.id).where(
                        Person.agency_id == actor.agency_id, Person.deactivated_at.is_(None)
                    )
                )
                for person_id in reps:
                    await cancel_outbox(
                        session,
                        dedupe_key_prefix=f"meeting:{meeting.id}:research_due:{person_id}",
                        now=now,
                    )
            return case.reference

    async def reply_attendance(
        self, actor: Actor, meeting_id: int, status: str, reason: str | None = None
    ) -> str:
        authorise(
            actor, Operation.RETURN_RESEARCH, area_id=actor.area_id, agency_id=actor.agency_id
        )
        if status not in ATTENDANCE:
            raise ServiceError(texts.BUTTON_NOT_RECOGNISED)
        now = self._deps.clock.now()
        reason = (reason or "").strip()[:200] or None
        async with self._deps.sessions.begin() as session:
            # Locked: two agencies' apologies for a meeting without a data key make one key.
            meeting = await self._meeting(session, actor, meeting_id, lock=reason is not None)
            if meeting.starts_at <= now:
                raise ServiceError(texts.MEETING_ALREADY_STARTED)
            assert actor.agency_id is not None
            reply = AttendanceReply(
                meeting_id=meeting.id,
                agency_id=actor.agency_id,
                status=status,
                by_person_id=actor.person_id,
                at=now,
            )
            session.add(reply)
            await session.flush()
            if reason is not None:
                # Sealed like the meeting's location: it may name someone ("Sam is in court").
                if meeting.data_key_id is None:
                    meeting.data_key_id = await self._deps.vault.create_data_key(session, "meeting")
                reply.reason_sealed = await self._deps.vault.seal(
                    session, meeting.data_key_id, apology_context(reply.id), reason
                )
            reps = await session.scalars(
                select(Person.id).where(
                    Person.agency_id == actor.agency_id, Person.deactivated_at.is_(None)
                )
            )
            for person_id in reps:
                await cancel_outbox(
                    session,
                    dedupe_key_prefix=f"meeting:{meeting.id}:attendance_chase:{person_id}",
                    now=now,
                )
            await audit_by(
                session,
                actor,
                at=now,
                action=f"attendance.{status}",
                subject=f"meeting:{meeting.id}",
            )
            area = await _area(session, actor.area_id)
            return self._when(await self._view(session, meeting, area))

    async def _researchable(
        self, session: AsyncSession, actor: Actor, item_id: int
    ) -> tuple[AgendaItem, Case, Meeting]:
        item = await session.get(AgendaItem, item_id)
        if item is None or item.removed_at is not None:
            raise NotFound(texts.AGENDA_ITEM_NOT_FOUND)
        meeting = await self._meeting(session, actor, item.meeting_id)
        case = await session.get(Case, item.case_id)
        if case is None or scope_for(actor.role, Operation.RETURN_RESEARCH) is not Scope.AGENCY:
            raise NotFound(texts.AGENDA_ITEM_NOT_FOUND)
        if meeting.published_at is None:
            raise ServiceError(texts.AGENDA_NOT_PUBLISHED)
        await require(
            session,
            actor,
            case.id,
            CasePath.RESEARCH,
            self._deps.clock.now(),
            missing=texts.AGENDA_ITEM_NOT_FOUND,
        )
        return item, case, meeting

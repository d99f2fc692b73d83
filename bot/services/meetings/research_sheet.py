"""What an agency researches on: the identifiers of the cases on a published agenda.

A reference number finds nothing in a police or health record system; names and dates of
birth do. From publication until the area's window closes (``research_open_days_after``
working days after the meeting) an invited agency is shown, for each case on the agenda
it may see, the identifiers the access policy opens for it, beside what its agency has
returned so far. The case workspace shows the whole sheet; where there is no workspace,
one case at a time comes in a protected chat message that deletes itself. Either way each
case shown is recorded against it, with the level it was shown at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath, Level, identifiers_shown
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.meetings.agenda_rules import research_closes
from bot.permissions import Operation, authorise
from bot.services.case_access import Shown, record_views, require, visible
from bot.services.case_identifiers import Identifiers, open_identifiers
from bot.services.dash_assessments import assessments_of, latest_score
from bot.services.meetings.common import MeetingBase, MeetingView, _area, research_context
from bot.services.names import person_name
from bot.services.policy import area_calendar, research_open_days
from storage.models import Agency, AgendaItem, Case, ResearchReturn


@dataclass(frozen=True)
class Returned:
    """One research return of the reader's agency on a case."""

    at: datetime
    nothing_known: bool
    note: str | None
    by: str


@dataclass(frozen=True)
class ResearchCase:
    item_id: int
    case_id: int
    reference: str
    criterion: str
    dash_yes: int
    # The latest reassessment's count (None when only the referral's was counted).
    dash_latest: int | None
    urgent: bool
    emergency: bool
    children_count: int
    referring_agency: str
    level: Level
    identifiers: Identifiers
    returned: tuple[Returned, ...]


@dataclass(frozen=True)
class ResearchSheet:
    meeting: MeetingView
    agency: str
    # Until when the identifiers are shown (None before publication).
    open_until: datetime | None
    cases: tuple[ResearchCase, ...]


class ResearchSheets(MeetingBase):
    """The research sheet of a meeting, and one case of it for the chat."""

    async def research_sheet(self, actor: Actor, meeting_id: int) -> ResearchSheet:
        """Every case on a published agenda the reader may see, with what opens for them."""
        authorise(
            actor, Operation.RETURN_RESEARCH, area_id=actor.area_id, agency_id=actor.agency_id
        )
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting = await self._meeting(session, actor, meeting_id)
            if meeting.published_at is None:
                raise NotFound(texts.AGENDA_NOT_PUBLISHED)
            rows = await self._sheet_rows(session, AgendaItem.meeting_id == meeting.id)
            cases = await self._research_cases(
                session, actor, rows, CasePath.RESEARCH_SHEET, now, meeting.id
            )
            area = await _area(session, actor.area_id)
            view = await self._view(session, meeting, area, listed=len(cases))
            agency = await session.get(Agency, actor.agency_id)
            closes = research_closes(
                meeting.starts_at,
                await area_calendar(session, area.id),
                await research_open_days(session, area.id),
            )
            return ResearchSheet(view, agency.name if agency else "", closes, tuple(cases))

    async def meeting_of_item(self, actor: Actor, item_id: int) -> int:
        """The meeting an agenda item of the reader's area is on (its sheet shows the case,
        if the reader may see it); NotFound for anyone else's."""
        authorise(
            actor, Operation.RETURN_RESEARCH, area_id=actor.area_id, agency_id=actor.agency_id
        )
        async with self._deps.sessions() as session:
            item = await session.get(AgendaItem, item_id)
            if item is None or item.removed_at is not None:
                raise NotFound(texts.AGENDA_ITEM_NOT_FOUND)
            meeting = await self._meeting(session, actor, item.meeting_id)
            await require(
                session,
                actor,
                item.case_id,
                CasePath.RESEARCH_SHEET,
                self._deps.clock.now(),
                missing=texts.AGENDA_ITEM_NOT_FOUND,
            )
            return meeting.id

    async def research_case(self, actor: Actor, item_id: int) -> tuple[ResearchCase, str]:
        """One listed case as its research sheet shows it, and the meeting's date: for the
        protected chat message where no workspace is set up."""
        authorise(
            actor, Operation.RETURN_RESEARCH, area_id=actor.area_id, agency_id=actor.agency_id
        )
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            item = await session.get(AgendaItem, item_id)
            if item is None or item.removed_at is not None:
                raise NotFound(texts.AGENDA_ITEM_NOT_FOUND)
            meeting = await self._meeting(session, actor, item.meeting_id)
            if meeting.published_at is None:
                raise ServiceError(texts.AGENDA_NOT_PUBLISHED)
            rows = await self._sheet_rows(session, AgendaItem.id == item.id)
            cases = await self._research_cases(
                session, actor, rows, CasePath.RESEARCH_MESSAGE, now, meeting.id
            )
            if not cases:
                raise NotFound(texts.AGENDA_ITEM_NOT_FOUND)
            area = await _area(session, actor.area_id)
            return cases[0], self._when(await self._view(session, meeting, area))

    async def _sheet_rows(
        self, session: AsyncSession, which: ColumnElement[bool]
    ) -> list[tuple[AgendaItem, Case, str | None]]:
        rows = await session.execute(
            select(AgendaItem, Case, Agency.name)
            .join(Case, Case.id == AgendaItem.case_id)
            .outerjoin(Agency, Agency.id == Case.referring_agency_id)
            .where(which, AgendaItem.removed_at.is_(None))
            .order_by(AgendaItem.emergency.desc(), AgendaItem.position)
        )
        return [(item, case, name) for item, case, name in rows.all()]

    async def _research_cases(
        self,
        session: AsyncSession,
        actor: Actor,
        rows: list[tuple[AgendaItem, Case, str | None]],
        path: CasePath,
        now: datetime,
        meeting_id: int,
    ) -> list[ResearchCase]:
        levels = await visible(session, actor, [case.id for _, case, _ in rows], path, now)
        shown = [(item, case, name) for item, case, name in rows if case.id in levels]
        await record_views(
            session,
            actor,
            [Shown(case.reference, levels[case.id]) for _, case, _ in shown],
            path,
            now,
            meeting=meeting_id,
        )
        opening = [
            case.data_key_id
            for _, case, _ in shown
            if identifiers_shown(levels[case.id], actor.role, actor.agency_kind)
        ]
        await self._deps.vault.preload(session, opening)
        assessed = await assessments_of(session, [case.id for _, case, _ in shown])
        returned = await self._own_returns(session, actor, [item.id for item, _, _ in shown])
        area_name = actor.area_name
        found = []
        for item, case, agency_name in shown:
            level = levels[case.id]
            parts = identifiers_shown(level, actor.role, actor.agency_kind)
            found.append(
                ResearchCase(
                    item_id=item.id,
                    case_id=case.id,
                    reference=case.reference,
                    criterion=case.criterion.value,
                    dash_yes=case.dash_yes,
                    dash_latest=latest_score(assessed.get(case.id, [])),
                    urgent=case.urgent,
                    emergency=item.emergency,
                    children_count=case.children_count,
                    referring_agency=agency_name or area_name,
                    level=level,
                    identifiers=await open_identifiers(session, self._deps.vault, case, parts),
                    returned=tuple(
                        [
                            await self._returned(session, case, row)
                            for row in returned.get(item.id, [])
                        ]
                    ),
                )
            )
        return found

    async def _own_returns(
        self, session: AsyncSession, actor: Actor, item_ids: list[int]
    ) -> dict[int, list[ResearchReturn]]:
        """What the reader's own agency returned on these items; never another agency's."""
        found: dict[int, list[ResearchReturn]] = {}
        if not item_ids or actor.agency_id is None:
            return found
        rows = await session.scalars(
            select(ResearchReturn)
            .where(
                ResearchReturn.agenda_item_id.in_(item_ids),
                ResearchReturn.agency_id == actor.agency_id,
            )
            .order_by(ResearchReturn.id)
        )
        for row in rows:
            found.setdefault(row.agenda_item_id, []).append(row)
        return found

    async def _returned(self, session: AsyncSession, case: Case, row: ResearchReturn) -> Returned:
        note = None
        if row.note_sealed is not None and case.data_key_id:
            note = await self._deps.vault.open(
                session, case.data_key_id, research_context(row.id), row.note_sealed
            )
        by = await person_name(session, self._deps.vault, row.by_person_id)
        return Returned(row.at, row.outcome == "nothing_known", note, by)

"""MARAC meetings: schedules, agendas, research, attendance, reminders and calendar invites.

A case accepted at triage goes onto the first meeting whose cut-off has not
passed. Publishing an agenda (by the coordinator, or automatically at the
cut-off) asks every agency for research on each listed case and for attendance,
sends each invitee a calendar invite, and queues the reminders; moving or
cancelling a meeting replaces or cancels those reminders in the same
transaction. Agendas show references, never names.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ScalarSelect, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actions.states import ActionState, action_state, is_open
from bot.actor import Actor
from bot.dates import format_local
from bot.meetings.agenda_rules import (
    MeetingSlot,
    cutoff,
    days_before_reminder,
    place_case,
    reorder,
    research_deadline,
)
from bot.meetings.calendar_file import meeting_ics
from bot.meetings.off_days import (
    DayChoice,
    OffDayRule,
    PlannedDay,
    day_choice,
    off_days,
    plan_days,
)
from bot.meetings.recurrence import Repeat, Series, describe, local_to_utc, series_days
from bot.meetings.workdays import NO_CLOSURES, NotWorking, is_working_day
from bot.permissions import Operation, Scope, authorise, scope_for
from bot.referrals.status import OPEN_FOR_TRIAGE, TRIAGE_STEPS, CaseStep, triage_status
from bot.services.audited import audit_by
from bot.services.case_access import Shown, receivers, record_views, require, visible
from bot.services.deps import ServiceDeps
from bot.services.errors import NotFound, ServiceError
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar, area_policy
from storage.audit import append_event
from storage.crypto import FieldContext
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgendaItem,
    Area,
    AreaClosure,
    AreaPolicy,
    AttendanceReply,
    Case,
    CaseEvent,
    Meeting,
    MeetingSeries,
    OutboxMessage,
    Person,
    ResearchReturn,
    Role,
)

MEETINGS_AHEAD = 6  # meetings of a series kept scheduled at any time
OFF_DAY_LOOKAHEAD_DAYS = 365  # a new series is checked this far ahead for non-working days
ATTENDANCE = ("attending", "deputy", "apologies")
REP_ROLES = (Role.AGENCY_REP, Role.PERPETRATOR_REP)
DIGEST_HOUR = 8


@dataclass(frozen=True)
class MeetingView:
    id: int
    starts_at: datetime
    timezone: str
    capacity: int
    listed: int
    published: bool
    cancelled: bool
    cutoff: datetime
    research_deadline: datetime


@dataclass(frozen=True)
class AgendaLine:
    item_id: int
    case_id: int
    reference: str
    criterion: str
    dash_yes: int
    repeat: bool
    referring_agency: str
    emergency: bool
    returned_by: frozenset[int]
    outstanding_actions: int = 0  # open actions from earlier meetings (a returning case)


@dataclass(frozen=True)
class MeetingDetail:
    meeting: MeetingView
    location: str | None
    agenda: list[AgendaLine]
    agencies: list[tuple[int, str]]
    attendance: dict[int, str]
    may_manage: bool
    my_agency_id: int | None
    next_meeting_id: int | None = None
    research_notes: list[tuple[str, str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Schedule:
    """A new series' first meetings, and where each was planned (moved or kept)."""

    meetings: list[MeetingView]
    planned: list[PlannedDay]

    @property
    def notable(self) -> list[PlannedDay]:
        """The later meetings that fell on a non-working day, moved or kept."""
        return [plan for plan in self.planned[1:] if plan.off is not None]


@dataclass(frozen=True)
class Listing:
    meeting_id: int | None
    starts_at: datetime | None
    over_capacity: bool
    suggestion_starts_at: datetime | None


@dataclass(frozen=True)
class _DigestArea:
    id: int
    name: str
    timezone: str


@dataclass(frozen=True)
class _DigestRecipient:
    person_id: int
    chat_id: int
    dedupe_key: str


def location_context(meeting_id: int) -> FieldContext:
    return FieldContext("meetings", "location", meeting_id)


def research_context(return_id: int) -> FieldContext:
    return FieldContext("research_returns", "note", return_id)


async def _area(session: AsyncSession, area_id: int) -> Area:
    area = await session.get(Area, area_id)
    assert area is not None
    return area


def _listed_count() -> ScalarSelect[int]:
    """Cases currently on a meeting's agenda, as a subquery correlated to ``Meeting``.

    Counted per meeting through the (meeting_id, removed_at) index, so asking about the
    next few meetings never groups the agenda items of the area's whole history.
    """
    return (
        select(func.count())
        .select_from(AgendaItem)
        .where(AgendaItem.meeting_id == Meeting.id, AgendaItem.removed_at.is_(None))
        .correlate(Meeting)
        .scalar_subquery()
    )


async def _slots(session: AsyncSession, area_id: int, now: datetime) -> list[MeetingSlot]:
    """The area's meetings still to come, as placement sees them.

    Only future, uncancelled meetings of the area are read (a series keeps a handful
    scheduled), each with its own count: past meetings cannot take a case.
    """
    area = await _area(session, area_id)
    rows = await session.execute(
        select(Meeting.id, Meeting.starts_at, Meeting.capacity, _listed_count())
        .where(
            Meeting.area_id == area_id,
            Meeting.cancelled_at.is_(None),
            Meeting.starts_at > now,
        )
        .order_by(Meeting.starts_at, Meeting.id)
    )
    return [
        MeetingSlot(int(meeting_id), starts_at, area.timezone, int(capacity), int(listed or 0))
        for meeting_id, starts_at, capacity, listed in rows.all()
    ]


async def _next_meeting_id(session: AsyncSession, area_id: int, after: datetime) -> int | None:
    """The area's next uncancelled meeting after ``after``: one indexed row, no counts."""
    found = await session.scalar(
        select(Meeting.id)
        .where(
            Meeting.area_id == area_id,
            Meeting.cancelled_at.is_(None),
            Meeting.starts_at > after,
        )
        .order_by(Meeting.starts_at, Meeting.id)
        .limit(1)
    )
    return int(found) if found is not None else None


async def _next_position(session: AsyncSession, meeting_id: int) -> int:
    """New cases join the end of the agenda; emergencies are sorted to the top when shown."""
    last = await session.scalar(
        select(func.coalesce(func.max(AgendaItem.position), 0)).where(
            AgendaItem.meeting_id == meeting_id, AgendaItem.removed_at.is_(None)
        )
    )
    return int(last or 0) + 1


async def list_case(
    session: AsyncSession, case: Case, now: datetime, by_person_id: int | None
) -> Listing:
    """Put an accepted case on the next open meeting, in the caller's transaction."""
    slots = await _slots(session, case.area_id, now)
    policy = await area_policy(session, case.area_id)
    calendar = await area_calendar(session, case.area_id)
    placement = place_case(
        slots, now, cutoff_days=policy.agenda_cutoff_days, extra_closures=calendar.closed
    )
    if placement.meeting_id is None:
        return Listing(None, None, False, None)
    session.add(
        AgendaItem(
            meeting_id=placement.meeting_id,
            case_id=case.id,
            position=await _next_position(session, placement.meeting_id),
            added_at=now,
            added_by_id=by_person_id,
        )
    )
    starts = {slot.meeting_id: slot.starts_at for slot in slots}
    return Listing(
        placement.meeting_id,
        starts[placement.meeting_id],
        placement.over_capacity,
        starts.get(placement.suggestion) if placement.suggestion else None,
    )


class MeetingService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    # -- scheduling ----------------------------------------------------------------------------

    async def check_day(self, actor: Actor, day: date) -> DayChoice | None:
        """None when ``day`` is a working day in the area; otherwise why not, and the choices."""
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            calendar = await area_calendar(session, actor.area_id)
        return day_choice(day, calendar, earliest=calendar.local_date(self._deps.clock.now()))

    async def series_off_days(
        self, actor: Actor, *, first_date: date, start: time, repeat: Repeat, nth: int | None
    ) -> list[NotWorking]:
        """A series' later meetings in the next year that fall on non-working days.

        The coordinator is asked once what to do with them; the first meeting is left out,
        as its date was just chosen (and warned about) on its own.
        """
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        if repeat is Repeat.ONE_OFF:
            return []
        async with self._deps.sessions() as session:
            calendar = await area_calendar(session, actor.area_id)
        series = Series(first_date, start, calendar.timezone, repeat, nth)
        later = series_days(
            series,
            from_day=first_date + timedelta(days=1),
            until=first_date + timedelta(days=OFF_DAY_LOOKAHEAD_DAYS),
        )
        return off_days(later, calendar)

    async def create(
        self,
        actor: Actor,
        *,
        first_date: date,
        start: time,
        repeat: Repeat,
        nth: int | None = None,
        location: str | None = None,
        capacity: int | None = None,
        chair_person_id: int | None = None,
        off_day_rule: OffDayRule = OffDayRule.BEFORE,
    ) -> Schedule:
        """The series and its next meetings; later meetings on non-working days follow the rule.

        The first meeting is held on ``first_date`` as chosen. The rule is kept with the
        series, so the meetings added as the series goes on follow it too.
        """
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            area = await _area(session, actor.area_id)
            policy = await area_policy(session, area.id)
            calendar = await area_calendar(session, area.id)
            capacity = capacity or policy.meeting_capacity
            if chair_person_id is not None:
                chair = await session.get(Person, chair_person_id)
                if (
                    chair is None
                    or chair.area_id != area.id
                    or chair.deactivated_at is not None
                    or chair.role not in (Role.CHAIR, Role.COORDINATOR)
                ):
                    raise NotFound(texts.PERSON_NOT_FOUND)
            series = Series(first_date, start, area.timezone, repeat, nth)
            count = 1 if repeat is Repeat.ONE_OFF else MEETINGS_AHEAD
            days = series_days(series, from_day=first_date, count=count)
            today = calendar.local_date(now)
            planned = [
                PlannedDay(first_date, first_date, calendar.not_working(first_date)),
                *plan_days(days[1:], calendar, off_day_rule, earliest=today),
            ]
            row = MeetingSeries(
                area_id=area.id,
                repeat=repeat.value,
                nth=nth,
                first_date=first_date,
                start_time=start.strftime("%H:%M"),
                off_day_rule=off_day_rule.value,
                created_at=now,
                created_by_id=actor.person_id,
            )
            session.add(row)
            await session.flush()
            meetings = []
            for plan in planned:
                moment = local_to_utc(plan.day, start, area.timezone)
                if moment <= now:
                    raise ServiceError(texts.MEETING_IN_PAST)
                meeting = await self._new_meeting(
                    session, area.id, actor.person_id, row.id, moment, location, capacity
                )
                meeting.series_day = plan.series_day
                meeting.chair_person_id = chair_person_id
                meetings.append(meeting)
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="meeting.scheduled",
                subject=f"series:{row.id}",
                details={
                    "repeat": repeat.value,
                    "meetings": len(meetings),
                    "off_day_rule": off_day_rule.value,
                    "moved": sum(plan.moved for plan in planned),
                },
            )
            await self._list_waiting_cases(session, area.id, now, actor.person_id)
            return Schedule([await self._view(session, m, area) for m in meetings], planned)

    async def extend_series(self) -> int:
        """Keep every running series ``MEETINGS_AHEAD`` meetings ahead; returns meetings added.

        Runs on the housekeeping tick; the usual tick is one grouped read that finds every
        series still far enough ahead. A meeting added on a non-working day follows the
        series' rule, and the area's coordinators are told what was moved or kept.
        """
        now = self._deps.clock.now()
        upcoming = (
            select(func.count())
            .select_from(Meeting)
            .where(
                Meeting.series_id == MeetingSeries.id,
                Meeting.cancelled_at.is_(None),
                Meeting.starts_at > now,
            )
            .correlate(MeetingSeries)
            .scalar_subquery()
        )
        async with self._deps.sessions() as session:
            due = list(
                await session.scalars(
                    select(MeetingSeries.id).where(
                        MeetingSeries.ended_at.is_(None),
                        MeetingSeries.repeat != Repeat.ONE_OFF.value,
                        upcoming < MEETINGS_AHEAD,
                    )
                )
            )
        added = 0
        for series_id in due:
            async with self._deps.sessions.begin() as session:
                added += await self._extend(session, int(series_id), now)
        return added

    async def _extend(self, session: AsyncSession, series_id: int, now: datetime) -> int:
        row = await session.get(MeetingSeries, series_id, with_for_update=True)
        if row is None or row.ended_at is not None:
            return 0
        area = await _area(session, row.area_id)
        calendar = await area_calendar(session, area.id)
        meetings = list(
            await session.scalars(
                select(Meeting).where(Meeting.series_id == row.id).order_by(Meeting.starts_at)
            )
        )
        ahead = [m for m in meetings if m.cancelled_at is None and m.starts_at > now]
        if not meetings or len(ahead) >= MEETINGS_AHEAD:
            return 0  # another instance topped it up meanwhile
        start = time.fromisoformat(row.start_time)
        series = Series(row.first_date, start, area.timezone, Repeat(row.repeat), row.nth)
        last = meetings[-1]
        last_day = max(m.series_day or calendar.local_date(m.starts_at) for m in meetings)
        today = calendar.local_date(now)
        days = series_days(
            series,
            from_day=max(last_day + timedelta(days=1), today),
            count=MEETINGS_AHEAD - len(ahead),
        )
        rule = OffDayRule(row.off_day_rule)
        location = await self._location(session, last)
        planned = []
        for plan in plan_days(days, calendar, rule, earliest=today):
            moment = local_to_utc(plan.day, start, area.timezone)
            if moment <= now:
                continue
            meeting = await self._new_meeting(
                session, area.id, row.created_by_id, row.id, moment, location, last.capacity
            )
            meeting.series_day = plan.series_day
            meeting.chair_person_id = last.chair_person_id
            planned.append(plan)
        if not planned:
            return 0
        await append_event(
            session,
            at=now,
            area_id=area.id,
            actor_label="system",
            action="meeting.series_extended",
            subject=f"series:{row.id}",
            details={"meetings": len(planned), "moved": sum(p.moved for p in planned)},
        )
        notable = [plan for plan in planned if plan.off is not None]
        if notable:
            text = texts.series_extended_off_days(
                describe(series), [texts.planned_day_line(plan) for plan in notable]
            )
            for person in await self._coordinators(session, area.id):
                await enqueue(
                    session,
                    dedupe_key=f"series:{row.id}:off_days:{notable[0].series_day}:{person.id}",
                    chat_id=person.telegram_user_id,
                    kind="series_off_days",
                    text=text,
                    now=now,
                    area_id=area.id,
                    person_id=person.id,
                )
        await self._list_waiting_cases(session, area.id, now, None)
        return len(planned)

    async def _location(self, session: AsyncSession, meeting: Meeting) -> str | None:
        if meeting.location_sealed is None or not meeting.data_key_id:
            return None
        return await self._deps.vault.open(
            session, meeting.data_key_id, location_context(meeting.id), meeting.location_sealed
        )

    async def _new_meeting(
        self,
        session: AsyncSession,
        area_id: int,
        by_person_id: int,
        series_id: int | None,
        starts_at: datetime,
        location: str | None,
        capacity: int,
    ) -> Meeting:
        meeting = Meeting(
            area_id=area_id,
            series_id=series_id,
            starts_at=starts_at,
            capacity=capacity,
            calendar_uid=f"{secrets.token_hex(12)}@marac-bot",
            created_at=self._deps.clock.now(),
            created_by_id=by_person_id,
        )
        session.add(meeting)
        await session.flush()
        if location:
            meeting.data_key_id = await self._deps.vault.create_data_key(session, "meeting")
            meeting.location_sealed = await self._deps.vault.seal(
                session, meeting.data_key_id, location_context(meeting.id), location
            )
        return meeting

    async def _list_waiting_cases(
        self, session: AsyncSession, area_id: int, now: datetime, by: int | None
    ) -> None:
        """Accepted cases that had no meeting to go to are listed as soon as one exists."""
        listed = select(AgendaItem.case_id).where(AgendaItem.removed_at.is_(None))
        accepted = select(CaseEvent.case_id).where(CaseEvent.kind == CaseStep.ACCEPTED)
        waiting = await session.scalars(
            select(Case)
            .where(Case.area_id == area_id, Case.id.in_(accepted), Case.id.not_in(listed))
            .order_by(Case.referred_at)
        )
        cases = list(waiting)
        if not cases:
            return
        # Every waiting case's history in one query, not one query per case.
        steps: dict[int, list[str]] = {case.id: [] for case in cases}
        for case_id, kind in await session.execute(
            select(CaseEvent.case_id, CaseEvent.kind)
            .where(CaseEvent.case_id.in_(list(steps)))
            .order_by(CaseEvent.case_id, CaseEvent.id)
        ):
            steps[case_id].append(kind)
        for case in cases:
            if triage_status(steps[case.id]) is CaseStep.ACCEPTED:
                await list_case(session, case, now, by)

    async def upcoming(self, actor: Actor, limit: int = 8) -> list[MeetingView]:
        """The next meetings, each counting only the cases the reader may see on its agenda."""
        authorise(actor, Operation.VIEW_MEETINGS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions() as session:
            area = await _area(session, actor.area_id)
            meetings = list(
                await session.scalars(
                    select(Meeting)
                    .where(
                        Meeting.area_id == actor.area_id,
                        Meeting.cancelled_at.is_(None),
                        Meeting.starts_at > now - timedelta(hours=4),
                    )
                    .order_by(Meeting.starts_at)
                    .limit(limit)
                )
            )
            items = (
                await session.execute(
                    select(AgendaItem.meeting_id, AgendaItem.case_id).where(
                        AgendaItem.meeting_id.in_([m.id for m in meetings]),
                        AgendaItem.removed_at.is_(None),
                    )
                )
            ).all()
            seen = await visible(
                session, actor, {int(case_id) for _, case_id in items}, CasePath.AGENDA, now
            )
            listed: dict[int, int] = {}
            for meeting_id, case_id in items:
                if case_id in seen:
                    listed[meeting_id] = listed.get(meeting_id, 0) + 1
            return [
                await self._view(session, meeting, area, listed=listed.get(meeting.id, 0))
                for meeting in meetings
            ]

    async def move(
        self, actor: Actor, meeting_id: int, day: date, start: time | None = None
    ) -> MeetingView:
        """Everyone invited is told, with an updated calendar invite (same UID, next sequence).

        Without ``start`` the meeting keeps its local start time on the new day.
        """
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting = await self._meeting(session, actor, meeting_id, lock=True)
            area = await _area(session, actor.area_id)
            if start is None:
                start = meeting.starts_at.astimezone(ZoneInfo(area.timezone)).time()
            new_start = local_to_utc(day, start, area.timezone)
            if new_start <= now:
                raise ServiceError(texts.MEETING_IN_PAST)
            meeting.starts_at = new_start
            meeting.calendar_sequence += 1
            meeting.moved_at = now
            meeting.moved_by_id = actor.person_id
            await cancel_outbox(session, dedupe_key_prefix=f"meeting:{meeting.id}:", now=now)
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="meeting.moved",
                subject=f"meeting:{meeting.id}",
            )
            view = await self._view(session, meeting, area)
            text = texts.meeting_moved(self._when(view))
            await self._tell_invitees(session, meeting, area, "moved", text, ics=True)
            if meeting.published_at is not None:
                await self._queue_reminders(session, meeting, area)
            return view

    async def cancel(self, actor: Actor, meeting_id: int) -> MeetingView:
        """Cancelled meetings send no more reminders; their cases go to the next meeting."""
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting = await self._meeting(session, actor, meeting_id, lock=True)
            area = await _area(session, actor.area_id)
            meeting.cancelled_at = now
            meeting.cancelled_by_id = actor.person_id
            meeting.calendar_sequence += 1
            await cancel_outbox(session, dedupe_key_prefix=f"meeting:{meeting.id}:", now=now)
            items = list(
                await session.scalars(
                    select(AgendaItem).where(
                        AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None)
                    )
                )
            )
            for item in items:
                item.removed_at, item.removed_by_id = now, actor.person_id
            await session.flush()
            for item in items:
                case = await session.get(Case, item.case_id)
                if case is not None:
                    await list_case(session, case, now, actor.person_id)
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="meeting.cancelled",
                subject=f"meeting:{meeting.id}",
                details={"cases_moved": len(items)},
            )
            view = await self._view(session, meeting, area)
            text = texts.meeting_cancelled(self._when(view))
            await self._tell_invitees(session, meeting, area, "cancelled", text, ics=True)
            return view

    # -- agenda ---------------------------------------------------------------------------------

    async def detail(self, actor: Actor, meeting_id: int) -> MeetingDetail:
        """The agenda as the reader may see it, in a fixed number of queries.

        Only the cases the access policy lets the reader see on an agenda are listed or
        counted; each one shown is recorded against its case. Research returns and earlier
        actions are read for the whole agenda at once (``IN (...)``), so a longer agenda
        costs more rows, never more round trips.
        """
        authorise(actor, Operation.VIEW_MEETINGS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting = await self._meeting(session, actor, meeting_id)
            area = await _area(session, actor.area_id)
            rows = (
                await session.execute(
                    select(AgendaItem, Case, Agency.name)
                    .join(Case, Case.id == AgendaItem.case_id)
                    .outerjoin(Agency, Agency.id == Case.referring_agency_id)
                    .where(AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None))
                    .order_by(AgendaItem.emergency.desc(), AgendaItem.position)
                )
            ).all()
            levels = await visible(
                session, actor, [case.id for _, case, _ in rows], CasePath.AGENDA, now
            )
            shown = [(item, case, name) for item, case, name in rows if case.id in levels]
            view = await self._view(session, meeting, area, listed=len(shown))
            await record_views(
                session,
                actor,
                [Shown(case.reference, levels[case.id]) for _, case, _ in shown],
                CasePath.AGENDA,
                now,
                meeting=meeting.id,
            )
            returned = await self._returned_by_item(session, [item.id for item, _, _ in shown])
            outstanding = await self._outstanding_actions(
                session, [case.id for _, case, _ in shown], meeting.id
            )
            agenda = [
                AgendaLine(
                    item.id,
                    case.id,
                    case.reference,
                    case.criterion.value,
                    case.dash_yes,
                    case.repeat_of_case_id is not None,
                    agency_name or area.name,
                    item.emergency,
                    frozenset(returned.get(item.id, ())),
                    outstanding.get(case.id, 0),
                )
                for item, case, agency_name in shown
            ]
            agencies = [
                (a.id, a.name)
                for a in await session.scalars(
                    select(Agency).where(Agency.area_id == area.id).order_by(Agency.name)
                )
            ]
            attendance = (await self._attendance(session, [meeting.id])).get(meeting.id, {})
            location = None
            if meeting.location_sealed is not None and meeting.data_key_id:
                location = await self._deps.vault.open(
                    session,
                    meeting.data_key_id,
                    location_context(meeting.id),
                    meeting.location_sealed,
                )
            return MeetingDetail(
                meeting=view,
                location=location,
                agenda=agenda,
                agencies=agencies,
                attendance=attendance,
                may_manage=scope_for(actor.role, Operation.MANAGE_MEETINGS) is not None,
                my_agency_id=actor.agency_id,
                next_meeting_id=await _next_meeting_id(session, area.id, meeting.starts_at),
            )

    async def move_case(self, actor: Actor, item_id: int, to_meeting_id: int) -> str:
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            item = await self._item(session, actor, item_id)
            target = await self._meeting(session, actor, to_meeting_id)
            if target.id == item.meeting_id:
                raise ServiceError(texts.CASE_ALREADY_ON_THAT_MEETING)
            item.removed_at, item.removed_by_id = now, actor.person_id
            session.add(
                AgendaItem(
                    meeting_id=target.id,
                    case_id=item.case_id,
                    position=await _next_position(session, target.id),
                    emergency=item.emergency,
                    added_at=now,
                    added_by_id=actor.person_id,
                )
            )
            case = await session.get(Case, item.case_id)
            assert case is not None
            await audit_by(
                session,
                actor,
                at=now,
                action="agenda.case_moved",
                subject=case.reference,
                details={"from": item.meeting_id, "to": target.id},
            )
            return case.reference

    async def item_meeting(self, actor: Actor, item_id: int) -> MeetingView:
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            item = await self._item(session, actor, item_id)
            meeting = await self._meeting(session, actor, item.meeting_id)
            return await self._view(session, meeting, await _area(session, actor.area_id))

    async def move_up(self, actor: Actor, item_id: int) -> tuple[str, int]:
        """One place earlier on the agenda; returns the case reference and its new position."""
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            item = await self._item(session, actor, item_id)
            items = list(
                await session.scalars(
                    select(AgendaItem)
                    .where(
                        AgendaItem.meeting_id == item.meeting_id, AgendaItem.removed_at.is_(None)
                    )
                    .order_by(AgendaItem.position, AgendaItem.id)
                )
            )
            ids = [i.id for i in items]
            ordered = reorder(ids, item.id, max(ids.index(item.id) - 1, 0))
            for position, row in enumerate(sorted(items, key=lambda i: ordered.index(i.id)), 1):
                row.position = position
            case = await session.get(Case, item.case_id)
            assert case is not None
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="agenda.reordered",
                subject=case.reference,
            )
            return case.reference, ordered.index(item.id) + 1

    async def mark_emergency(self, actor: Actor, item_id: int) -> str:
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            item = await self._item(session, actor, item_id)
            item.emergency = True
            case = await session.get(Case, item.case_id)
            assert case is not None
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="agenda.emergency",
                subject=case.reference,
            )
            return case.reference

    async def publish(self, actor: Actor | None, meeting_id: int, area_id: int) -> MeetingView:
        """Ask every agency for research and attendance; send invites; queue the reminders."""
        if actor is not None:
            authorise(actor, Operation.MANAGE_MEETINGS, area_id=area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting = await session.get(Meeting, meeting_id, with_for_update=True)
            if meeting is None or meeting.area_id != area_id or meeting.cancelled_at:
                raise NotFound(texts.MEETING_NOT_FOUND)
            area = await _area(session, area_id)
            if meeting.published_at is not None:
                raise ServiceError(texts.AGENDA_ALREADY_PUBLISHED)
            meeting.published_at = now
            meeting.published_by_id = actor.person_id if actor else None
            view = await self._view(session, meeting, area)
            items = await self._items_with_refs(session, meeting.id)
            reps = await self._reps(session, area.id)
            deadline = self._local(view.research_deadline, area.timezone)
            when = self._when(view)
            await session.flush()  # the agenda is published: the policy reads it so
            allowed = await receivers(
                session, [(case_id, p.id) for p in reps for _, _, case_id in items], now
            )
            for person in reps:
                shown = [item for item in items if allowed.allows([item[2]], person.id)]
                buttons = [[(f"Research {ref}", f"mtg:res:{item_id}")] for item_id, ref, _ in shown]
                await enqueue(
                    session,
                    dedupe_key=f"meeting:{meeting.id}:research:{person.id}",
                    chat_id=person.telegram_user_id,
                    kind="research_request",
                    text=texts.research_request(when, [ref for _, ref, _ in shown], deadline),
                    now=now,
                    area_id=area.id,
                    person_id=person.id,
                    buttons=buttons[:40] or None,
                    case_ids=[case_id for _, _, case_id in shown],
                    checked=allowed,
                )
                await enqueue(
                    session,
                    dedupe_key=f"meeting:{meeting.id}:attendance:{person.id}",
                    chat_id=person.telegram_user_id,
                    kind="attendance_request",
                    text=texts.attendance_request(when),
                    now=now,
                    area_id=area.id,
                    person_id=person.id,
                    buttons=[
                        [
                            ("Attending", f"mtg:att:{meeting.id}:0"),
                            ("Sending a deputy", f"mtg:att:{meeting.id}:1"),
                        ],
                        [("Apologies", f"mtg:att:{meeting.id}:2")],
                    ],
                )
            await self._tell_invitees(
                session, meeting, area, "invitation", texts.meeting_invitation(when), ics=True
            )
            await self._queue_reminders(session, meeting, area)
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id if actor else None,
                actor_label="person" if actor else "system",
                action="agenda.published",
                subject=f"meeting:{meeting.id}",
                details={"cases": len(items), "agency_reps": len(reps)},
            )
            return view

    async def publish_due(self) -> int:
        """Agendas nobody published are published automatically at their cut-off.

        Runs on every housekeeping tick, so finding that nothing is due is one read of
        the unpublished meetings to come, with each area's cut-off joined in; each
        agenda that is due is then published in its own transaction.
        """
        now = self._deps.clock.now()
        # Closure days can only bring a cut-off forward, and only one still to come can; so
        # an area's calendar is read only when it has one, and the usual tick stays one read.
        upcoming_closure = (
            exists()
            .where(
                AreaClosure.area_id == Meeting.area_id,
                AreaClosure.day >= (now - timedelta(days=1)).date(),
            )
            .correlate(Meeting)
        )
        async with self._deps.sessions() as session:
            candidates = (
                await session.execute(
                    select(
                        Meeting.id,
                        Meeting.area_id,
                        Meeting.starts_at,
                        Area.timezone,
                        AreaPolicy.agenda_cutoff_days,
                        upcoming_closure,
                    )
                    .join(Area, Area.id == Meeting.area_id)
                    .outerjoin(AreaPolicy, AreaPolicy.area_id == Meeting.area_id)
                    .where(
                        # Area by area, so both databases walk the (area_id, starts_at) index
                        # over the meetings still to come instead of scanning every meeting.
                        Meeting.area_id.in_(select(Area.id).correlate(None)),
                        Meeting.published_at.is_(None),
                        Meeting.cancelled_at.is_(None),
                        Meeting.starts_at > now,
                    )
                    .order_by(Meeting.starts_at, Meeting.id)
                )
            ).all()
            closures = {
                area_id: (await area_calendar(session, area_id)).closed
                for area_id in {int(row.area_id) for row in candidates if row[5]}
            }
        published = 0
        for meeting_id, area_id, starts_at, timezone, days, _ in candidates:
            if days is None:  # an area nobody has used yet: its policy is created as before
                async with self._deps.sessions.begin() as session:
                    days = (await area_policy(session, area_id)).agenda_cutoff_days
            closed = closures.get(area_id, NO_CLOSURES)
            if cutoff(starts_at, timezone, days, closed) <= now:
                try:
                    await self.publish(None, meeting_id, area_id)
                    published += 1
                except ServiceError:
                    continue  # published or cancelled meanwhile by someone else
        return published

    # -- research and attendance ----------------------------------------------------------------

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
        async with self._deps.sessions.begin() as session:
            meeting = await self._meeting(session, actor, meeting_id)
            if meeting.starts_at <= now:
                raise ServiceError(texts.MEETING_ALREADY_STARTED)
            assert actor.agency_id is not None
            session.add(
                AttendanceReply(
                    meeting_id=meeting.id,
                    agency_id=actor.agency_id,
                    status=status,
                    reason=(reason or "")[:200] or None,
                    by_person_id=actor.person_id,
                    at=now,
                )
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

    # -- digest and calendar ---------------------------------------------------------------------

    async def queue_morning_digests(self) -> int:
        """08:00 local on working days: what each coordinator still has to chase.

        Housekeeping calls this every 30 seconds all day, so the usual tick, once the
        day's digests are queued, is two small reads: the active coordinators of areas
        inside their digest window, and which of their keys for today are taken. Only
        an area with a coordinator still waiting has its digest computed, in a read
        session of its own; the digests are then queued in one short write transaction.
        """
        if not self._deps.morning_digest:
            return 0
        now = self._deps.clock.now()
        queued = 0
        for area, recipients in await self._digests_due(now):
            async with self._deps.sessions() as session:
                summaries = await self._digest(session, area, now, recipients)
            async with self._deps.sessions.begin() as session:
                for recipient in recipients:
                    queued += await enqueue(
                        session,
                        dedupe_key=recipient.dedupe_key,
                        chat_id=recipient.chat_id,
                        kind="digest",
                        text=summaries[recipient.person_id],
                        now=now,
                        area_id=area.id,
                        person_id=recipient.person_id,
                        expires_at=now + timedelta(hours=10),
                    )
        return queued

    async def _digests_due(self, now: datetime) -> list[tuple[_DigestArea, list[_DigestRecipient]]]:
        """Areas past 08:00 on a working day, with the coordinators who have no digest yet.

        A key counts as taken exactly when ``enqueue`` would refuse it: queued or sent,
        and not cancelled-before-sending (a cancelled key is queued again).
        """
        wanted: dict[int, tuple[_DigestArea, list[_DigestRecipient]]] = {}
        async with self._deps.sessions() as session:
            rows = await session.execute(
                select(Area.id, Area.name, Area.timezone, Person.id, Person.telegram_user_id)
                .join(Person, Person.area_id == Area.id)
                .where(Person.role == Role.COORDINATOR, Person.deactivated_at.is_(None))
                .order_by(Area.id, Person.id)
            )
            for area_id, name, timezone, person_id, chat_id in rows.all():
                local = now.astimezone(ZoneInfo(timezone))
                if local.hour < DIGEST_HOUR or not is_working_day(local.date()):
                    continue
                area = _DigestArea(int(area_id), name, timezone)
                key = f"digest:{area.id}:{local.date().isoformat()}:{person_id}"
                recipient = _DigestRecipient(int(person_id), int(chat_id), key)
                wanted.setdefault(area.id, (area, []))[1].append(recipient)
            keys = [r.dedupe_key for _, recipients in wanted.values() for r in recipients]
            if not keys:
                return []
            taken = set(
                await session.scalars(
                    select(OutboxMessage.dedupe_key).where(
                        OutboxMessage.dedupe_key.in_(keys),
                        or_(
                            OutboxMessage.cancelled_at.is_(None), OutboxMessage.sent_at.is_not(None)
                        ),
                    )
                )
            )
            due = []
            for area, recipients in wanted.values():
                waiting = [r for r in recipients if r.dedupe_key not in taken]
                # The area's own closure days are read only when a digest is still to go,
                # so the usual tick, once today's digests are queued, stays two reads.
                calendar = await area_calendar(session, area.id) if waiting else None
                if calendar is not None and calendar.is_working_day(calendar.local_date(now)):
                    due.append((area, waiting))
        return due

    async def calendar_file(self, meeting_id: int) -> tuple[str, bytes] | None:
        async with self._deps.sessions() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None:
                return None
            area = await _area(session, meeting.area_id)
            location = None
            if meeting.location_sealed is not None and meeting.data_key_id:
                location = await self._deps.vault.open(
                    session,
                    meeting.data_key_id,
                    location_context(meeting.id),
                    meeting.location_sealed,
                )
            content = meeting_ics(
                uid=meeting.calendar_uid,
                sequence=meeting.calendar_sequence,
                starts_at=meeting.starts_at,
                duration=timedelta(minutes=meeting.duration_minutes),
                timezone=area.timezone,
                summary=f"MARAC meeting, {area.name}",
                location=location,
                description=texts.CALENDAR_DESCRIPTION,
                cancelled=meeting.cancelled_at is not None,
                now=self._deps.clock.now(),
            )
            return f"marac-{meeting.starts_at.strftime('%Y-%m-%d')}.ics", content

    # -- helpers --------------------------------------------------------------------------------

    async def _digest(
        self,
        session: AsyncSession,
        area: _DigestArea,
        now: datetime,
        recipients: list[_DigestRecipient],
    ) -> dict[int, str]:
        """Each coordinator's digest text, reading only what it reports: the referrals
        awaiting triage and the next two meetings (their agenda items, research returns and
        attendance replies). A case the access policy keeps from a coordinator is left out
        of their counts, so no number gives it away."""
        meetings = (
            await session.execute(
                select(Meeting.id, Meeting.starts_at, Meeting.published_at)
                .where(
                    Meeting.area_id == area.id,
                    Meeting.cancelled_at.is_(None),
                    Meeting.starts_at > now,
                )
                .order_by(Meeting.starts_at, Meeting.id)
                .limit(2)
            )
        ).all()
        # Of the next two meetings, only those with a published agenda are reported on.
        published = [(int(m_id), starts) for m_id, starts, at in meetings if at is not None]
        ids = [m_id for m_id, _ in published]
        items: dict[int, list[tuple[int, int]]] = {m_id: [] for m_id in ids}
        agencies: list[tuple[int, str]] = []
        returned: dict[int, set[int]] = {}
        attendance: dict[int, dict[int, str]] = {}
        if published:
            agencies = [
                (int(agency_id), str(name))
                for agency_id, name in await session.execute(
                    select(Agency.id, Agency.name)
                    .where(Agency.area_id == area.id)
                    .order_by(Agency.id)
                )
            ]
            for m_id, item_id, case_id in await session.execute(
                select(AgendaItem.meeting_id, AgendaItem.id, AgendaItem.case_id).where(
                    AgendaItem.meeting_id.in_(ids), AgendaItem.removed_at.is_(None)
                )
            ):
                items[int(m_id)].append((int(item_id), int(case_id)))
            returned = await self._returned_by_item(
                session, [item_id for listed in items.values() for item_id, _ in listed]
            )
            attendance = await self._attendance(session, ids)
        awaiting = await self._awaiting_triage(session, area.id)
        cases = {case_id for listed in items.values() for _, case_id in listed} | set(awaiting)
        allowed = await receivers(
            session, [(case_id, r.person_id) for r in recipients for case_id in cases], now
        )
        texts_for: dict[int, str] = {}
        for recipient in recipients:

            def told(case_id: int, person_id: int = recipient.person_id) -> bool:
                return allowed.allows([case_id], person_id)

            lines = []
            for m_id, starts_at in published:
                outstanding = sum(
                    1
                    for item_id, case_id in items[m_id]
                    if told(case_id)
                    for agency_id, _ in agencies
                    if agency_id not in returned.get(item_id, ())
                )
                replied = attendance.get(m_id, {})
                silent = [name for agency_id, name in agencies if agency_id not in replied]
                when = self._local(starts_at, area.timezone)
                lines.append(texts.digest_meeting(when, outstanding, silent))
            waiting = sum(1 for case_id in awaiting if told(case_id))
            texts_for[recipient.person_id] = texts.morning_digest(area.name, waiting, lines)
        return texts_for

    async def _awaiting_triage(self, session: AsyncSession, area_id: int) -> list[int]:
        """Cases whose latest triage step is still open (submitted or more information asked).

        The same reading as ``triage_status``, done by the database: each case's latest
        triage event is found through the (case_id, id) index.
        """
        latest = (
            select(CaseEvent.kind)
            .where(CaseEvent.case_id == Case.id, CaseEvent.kind.in_(sorted(TRIAGE_STEPS)))
            .order_by(CaseEvent.id.desc())
            .limit(1)
            .correlate(Case)
            .scalar_subquery()
        )
        found = await session.scalars(
            select(Case.id).where(
                Case.area_id == area_id,
                func.coalesce(latest, CaseStep.SUBMITTED.value).in_(sorted(OPEN_FOR_TRIAGE)),
            )
        )
        return [int(case_id) for case_id in found]

    async def _queue_reminders(self, session: AsyncSession, meeting: Meeting, area: Area) -> None:
        now = self._deps.clock.now()
        view = await self._view(session, meeting, area)
        when = self._when(view)
        calendar = await area_calendar(session, area.id)
        chase_day = calendar.subtract_working_days(calendar.local_date(view.research_deadline), 1)
        research_due_at = local_to_utc(chase_day, time(9, 0), area.timezone)
        for person in await self._reps(session, area.id):
            await enqueue(
                session,
                dedupe_key=f"meeting:{meeting.id}:research_due:{person.id}",
                chat_id=person.telegram_user_id,
                kind="research_due",
                text=texts.research_due(when, self._local(view.research_deadline, area.timezone)),
                now=now,
                due_at=max(research_due_at, now),
                expires_at=view.research_deadline,
                area_id=area.id,
                person_id=person.id,
            )
            await enqueue(
                session,
                dedupe_key=f"meeting:{meeting.id}:attendance_chase:{person.id}",
                chat_id=person.telegram_user_id,
                kind="attendance_chase",
                text=texts.attendance_chase(when),
                now=now,
                due_at=max(research_due_at, now),
                expires_at=meeting.starts_at,
                area_id=area.id,
                person_id=person.id,
                buttons=[
                    [
                        ("Attending", f"mtg:att:{meeting.id}:0"),
                        ("Sending a deputy", f"mtg:att:{meeting.id}:1"),
                    ],
                    [("Apologies", f"mtg:att:{meeting.id}:2")],
                ],
            )
        policy = await area_policy(session, area.id)
        days, hours = policy.reminder_days_before, policy.reminder_hours_before
        moments = {
            "days": days_before_reminder(meeting.starts_at, days, calendar),
            "hours": meeting.starts_at - timedelta(hours=hours),
        }
        for person in await self._invitees(session, area.id):
            for label, moment in moments.items():
                await enqueue(
                    session,
                    dedupe_key=f"meeting:{meeting.id}:reminder_{label}:{person.id}",
                    chat_id=person.telegram_user_id,
                    kind=f"meeting_reminder_{label}",
                    text=texts.meeting_reminder(when, hours if label == "hours" else None),
                    now=now,
                    due_at=max(moment, now),
                    expires_at=meeting.starts_at,
                    area_id=area.id,
                    person_id=person.id,
                    # The last reminder is on the day itself, inside working hours.
                    urgent=label == "hours",
                )

    async def _tell_invitees(
        self,
        session: AsyncSession,
        meeting: Meeting,
        area: Area,
        kind: str,
        text: str,
        *,
        ics: bool,
    ) -> None:
        now = self._deps.clock.now()
        for person in await self._invitees(session, area.id):
            await enqueue(
                session,
                dedupe_key=f"meeting:{meeting.id}:{kind}:{meeting.calendar_sequence}:{person.id}",
                chat_id=person.telegram_user_id,
                kind=f"meeting_{kind}",
                text=text,
                now=now,
                area_id=area.id,
                person_id=person.id,
                attachment=f"meeting_ics:{meeting.id}" if ics else None,
                urgent=kind == "cancelled",
            )

    async def _outstanding_actions(
        self, session: AsyncSession, case_ids: list[int], meeting_id: int
    ) -> dict[int, int]:
        """Per case, actions from earlier meetings still open: a returning case's unfinished
        business. Every action's steps for the whole agenda come back in one query."""
        if not case_ids:
            return {}
        rows = await session.execute(
            select(Action.case_id, Action.id, ActionStep.state)
            .outerjoin(ActionStep, ActionStep.action_id == Action.id)
            .where(
                Action.case_id.in_(case_ids),
                Action.meeting_id != meeting_id,
                Action.sent_at.is_not(None),
            )
            .order_by(Action.id, ActionStep.id)
        )
        histories: dict[int, tuple[int, list[ActionState]]] = {}
        for case_id, action_id, state in rows.all():
            steps = histories.setdefault(int(action_id), (int(case_id), []))[1]
            if state is not None:  # an action without steps fails in action_state, as before
                steps.append(ActionState(state))
        counts: dict[int, int] = {}
        for case_id, steps in histories.values():
            if is_open(action_state(steps)):
                counts[case_id] = counts.get(case_id, 0) + 1
        return counts

    async def _reps(self, session: AsyncSession, area_id: int) -> list[Person]:
        return list(
            await session.scalars(
                select(Person)
                .where(
                    Person.area_id == area_id,
                    Person.role.in_(REP_ROLES),
                    Person.agency_id.is_not(None),
                    Person.deactivated_at.is_(None),
                )
                .order_by(Person.id)
            )
        )

    async def _coordinators(self, session: AsyncSession, area_id: int) -> list[Person]:
        return list(
            await session.scalars(
                select(Person)
                .where(
                    Person.area_id == area_id,
                    Person.role == Role.COORDINATOR,
                    Person.deactivated_at.is_(None),
                )
                .order_by(Person.id)
            )
        )

    async def _invitees(self, session: AsyncSession, area_id: int) -> list[Person]:
        return list(
            await session.scalars(
                select(Person)
                .where(
                    Person.area_id == area_id,
                    Person.role.in_((Role.COORDINATOR, Role.CHAIR, *REP_ROLES)),
                    Person.deactivated_at.is_(None),
                )
                .order_by(Person.id)
            )
        )

    async def _items_with_refs(
        self, session: AsyncSession, meeting_id: int
    ) -> list[tuple[int, str, int]]:
        rows = await session.execute(
            select(AgendaItem.id, Case.reference, Case.id)
            .join(Case, Case.id == AgendaItem.case_id)
            .where(AgendaItem.meeting_id == meeting_id, AgendaItem.removed_at.is_(None))
            .order_by(AgendaItem.emergency.desc(), AgendaItem.position)
        )
        return [(int(i), str(r), int(c)) for i, r, c in rows.all()]

    async def _agency_done(self, session: AsyncSession, meeting_id: int, agency_id: int) -> bool:
        """True when the agency has returned research on every case on the agenda (one query)."""
        missing = await session.scalar(
            select(AgendaItem.id)
            .join(Case, Case.id == AgendaItem.case_id)
            .where(
                AgendaItem.meeting_id == meeting_id,
                AgendaItem.removed_at.is_(None),
                ~exists().where(
                    ResearchReturn.agenda_item_id == AgendaItem.id,
                    ResearchReturn.agency_id == agency_id,
                ),
            )
            .limit(1)
        )
        return missing is None

    async def _returned_by_item(
        self, session: AsyncSession, item_ids: list[int]
    ) -> dict[int, set[int]]:
        """Which agencies have returned research on each agenda item."""
        returned: dict[int, set[int]] = {}
        if not item_ids:
            return returned
        rows = await session.execute(
            select(ResearchReturn.agenda_item_id, ResearchReturn.agency_id).where(
                ResearchReturn.agenda_item_id.in_(item_ids)
            )
        )
        for item_id, agency_id in rows.all():
            returned.setdefault(int(item_id), set()).add(int(agency_id))
        return returned

    async def _attendance(
        self, session: AsyncSession, meeting_ids: list[int]
    ) -> dict[int, dict[int, str]]:
        """Each meeting's latest reply per agency (all replies are kept; the last one counts)."""
        latest: dict[int, dict[int, str]] = {}
        if not meeting_ids:
            return latest
        rows = await session.execute(
            select(AttendanceReply.meeting_id, AttendanceReply.agency_id, AttendanceReply.status)
            .where(AttendanceReply.meeting_id.in_(meeting_ids))
            .order_by(AttendanceReply.id)
        )
        for meeting_id, agency_id, status in rows.all():
            latest.setdefault(int(meeting_id), {})[int(agency_id)] = status
        return latest

    async def _meeting(
        self, session: AsyncSession, actor: Actor, meeting_id: int, *, lock: bool = False
    ) -> Meeting:
        meeting = await session.get(Meeting, meeting_id, with_for_update=lock)
        if meeting is None or meeting.area_id != actor.area_id or meeting.cancelled_at:
            raise NotFound(texts.MEETING_NOT_FOUND)
        return meeting

    async def _item(self, session: AsyncSession, actor: Actor, item_id: int) -> AgendaItem:
        """An agenda item the coordinator may change: its case must be one they may see."""
        item = await session.get(AgendaItem, item_id, with_for_update=True)
        if item is None or item.removed_at is not None:
            raise NotFound(texts.AGENDA_ITEM_NOT_FOUND)
        await self._meeting(session, actor, item.meeting_id)
        await require(
            session,
            actor,
            item.case_id,
            CasePath.AGENDA,
            self._deps.clock.now(),
            missing=texts.AGENDA_ITEM_NOT_FOUND,
        )
        return item

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

    async def _view(
        self, session: AsyncSession, meeting: Meeting, area: Area, *, listed: int | None = None
    ) -> MeetingView:
        """``listed`` may be given by a caller that already counted it in a query of its own."""
        policy = await area_policy(session, area.id)
        closed = (await area_calendar(session, area.id)).closed
        if listed is None:
            listed = await session.scalar(
                select(func.count())
                .select_from(AgendaItem)
                .where(AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None))
            )
        return MeetingView(
            id=meeting.id,
            starts_at=meeting.starts_at,
            timezone=area.timezone,
            capacity=meeting.capacity,
            listed=int(listed or 0),
            published=meeting.published_at is not None,
            cancelled=meeting.cancelled_at is not None,
            cutoff=cutoff(meeting.starts_at, area.timezone, policy.agenda_cutoff_days, closed),
            research_deadline=research_deadline(
                meeting.starts_at, area.timezone, policy.research_days, closed
            ),
        )

    def _when(self, view: MeetingView) -> str:
        return self._local(view.starts_at, view.timezone)

    @staticmethod
    def _local(moment: datetime, timezone: str) -> str:
        return format_local(moment, timezone)

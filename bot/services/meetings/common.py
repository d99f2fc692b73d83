"""MARAC meetings: the views, placement and queries every part of the meeting service uses.

A case accepted at triage goes onto the first meeting whose cut-off has not passed.
Publishing an agenda asks every agency for research on each listed case and for
attendance, sends calendar invites and queues the reminders; moving or cancelling a
meeting replaces or cancels those reminders in the same transaction. Agendas show
references, never names, and only the cases the access policy lets the reader see.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property

from sqlalchemy import ScalarSelect, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actions.states import ActionState, action_state, is_open
from bot.actor import Actor
from bot.buttons import attendance_buttons
from bot.dates import format_local
from bot.errors import NotFound
from bot.meetings.agenda_rules import (
    MeetingSlot,
    days_before_reminder,
    place_case,
    research_deadline,
)
from bot.meetings.agenda_rules import (
    cutoff as agenda_cutoff,
)
from bot.meetings.off_days import (
    PlannedDay,
)
from bot.meetings.recurrence import local_to_utc
from bot.referrals.status import CaseStep, triage_status
from bot.services.case_access import require
from bot.services.deps import ServiceDeps
from bot.services.idva import tell_case_idva
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar, area_policy
from bot.victim_voice import VoiceStatus
from bot.vocabulary import AgencyKind, Role
from storage.crypto import FieldContext
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgendaItem,
    Area,
    AttendanceReply,
    Case,
    CaseEvent,
    Meeting,
    Person,
    ResearchReturn,
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
    # What the two deadlines are counted from. They are counted only when read: a list of
    # meetings shows neither, and counting working days for each meeting was a tenth of it.
    agenda_cutoff_days: int
    research_days: int
    closed: frozenset[date] = field(repr=False)

    @cached_property
    def cutoff(self) -> datetime:
        return agenda_cutoff(self.starts_at, self.timezone, self.agenda_cutoff_days, self.closed)

    @cached_property
    def research_deadline(self) -> datetime:
        return research_deadline(self.starts_at, self.timezone, self.research_days, self.closed)


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
    children: int = 0  # the coded count: children's social care is asked about every child
    # Whether the victim's views are recorded (never what they are), and the engagement.
    voice: VoiceStatus | None = None
    # The latest reassessment's score when it differs from the referral's ("DASH 14 → 18").
    dash_latest: int | None = None


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
    # Why each agency whose latest reply is apologies sent them; only for those who produce
    # the minutes (coordinator and chair), empty for everyone else.
    apology_reasons: dict[int, str] = field(default_factory=dict)
    # For those who manage the meeting: references of cases with children when no children's
    # social care agency has a confirmed representative to research them (else empty).
    children_without_csc: list[str] = field(default_factory=list)


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
    # The case has children and no children's social care agency can research them.
    children_without_csc: bool = False


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


def apology_context(reply_id: int) -> FieldContext:
    """An apology reason, sealed with its meeting's data key (as migration 0014 sealed the
    plaintext ones: keep the two in step)."""
    return FieldContext("attendance_replies", "reason", reply_id)


@dataclass(frozen=True)
class AreaZone:
    """What a meeting's view needs of its area: which one, and its time zone."""

    id: int
    timezone: str


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
    # The victim's IDVA hears when the case will be heard, so she can bring the victim's views.
    await tell_case_idva(
        session,
        case,
        key=f"listed:{placement.meeting_id}",
        kind="idva_listed",
        text=texts.idva_listed_notice(
            case.reference, format_local(starts[placement.meeting_id], calendar.timezone)
        ),
        now=now,
    )
    return Listing(
        placement.meeting_id,
        starts[placement.meeting_id],
        placement.over_capacity,
        starts.get(placement.suggestion) if placement.suggestion else None,
        case.children_count > 0 and not await csc_agencies(session, case.area_id),
    )


async def csc_agencies(session: AsyncSession, area_id: int) -> set[int]:
    """Children's social care agencies of the area with an active, confirmed rep: those
    that can research the children of a case."""
    rows = await session.scalars(
        select(Agency.id)
        .join(Person, Person.agency_id == Agency.id)
        .where(
            Agency.area_id == area_id,
            Agency.kind == AgencyKind.CHILDRENS_SOCIAL_CARE,
            Person.role.in_(REP_ROLES),
            Person.deactivated_at.is_(None),
            Person.confirmed_at.is_not(None),
        )
        .distinct()
    )
    return set(rows)


class MeetingBase:
    """What the capabilities share: the dependencies and the queries they all use."""

    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

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
                buttons=attendance_buttons(meeting.id),
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

    async def _attendance_and_reasons(
        self, session: AsyncSession, meeting: Meeting
    ) -> tuple[dict[int, str], dict[int, str]]:
        """``_attendance`` for one meeting, and the reason given with each agency's latest
        reply where that reply is apologies (opened with the meeting's data key)."""
        rows = await session.execute(
            select(AttendanceReply)
            .where(AttendanceReply.meeting_id == meeting.id)
            .order_by(AttendanceReply.id)
        )
        latest = {int(reply.agency_id): reply for reply in rows.scalars()}
        reasons: dict[int, str] = {}
        for agency_id, reply in latest.items():
            if reply.status == "apologies" and reply.reason_sealed and meeting.data_key_id:
                reasons[agency_id] = await self._deps.vault.open(
                    session, meeting.data_key_id, apology_context(reply.id), reply.reason_sealed
                )
        return {agency_id: reply.status for agency_id, reply in latest.items()}, reasons

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

    async def _view(
        self,
        session: AsyncSession,
        meeting: Meeting,
        area: Area | AreaZone,
        *,
        listed: int | None = None,
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
            agenda_cutoff_days=policy.agenda_cutoff_days,
            research_days=policy.research_days,
            closed=closed,
        )

    def _when(self, view: MeetingView) -> str:
        return self._local(view.starts_at, view.timezone)

    @staticmethod
    def _local(moment: datetime, timezone: str) -> str:
        return format_local(moment, timezone)

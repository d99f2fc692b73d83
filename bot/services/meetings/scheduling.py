"""Scheduling meetings and series (off working days when the area says so), moving and
cancelling them, and the list of meetings to come.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.meetings.off_days import (
    DayChoice,
    OffDayRule,
    PlannedDay,
    day_choice,
    off_days,
    plan_days,
)
from bot.meetings.recurrence import Repeat, Series, describe, local_to_utc, series_days
from bot.meetings.workdays import NotWorking
from bot.permissions import Operation, authorise
from bot.services.audited import audit_by
from bot.services.case_access import visible
from bot.services.meetings.common import (
    MEETINGS_AHEAD,
    OFF_DAY_LOOKAHEAD_DAYS,
    AreaZone,
    MeetingBase,
    MeetingView,
    Schedule,
    _area,
    list_case,
)
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar, area_policy
from bot.vocabulary import Role
from storage.audit import append_event
from storage.models import (
    AgendaItem,
    Case,
    Meeting,
    MeetingSeries,
    Person,
)

# /meetings runs often: its two statements are built once (issue #20).
_UPCOMING = (
    select(Meeting)
    .where(
        Meeting.area_id == bindparam("area_id"),
        Meeting.cancelled_at.is_(None),
        Meeting.starts_at > bindparam("after"),
    )
    .order_by(Meeting.starts_at)
    .limit(bindparam("limit"))
)
_LISTED_ON = select(AgendaItem.meeting_id, AgendaItem.case_id).where(
    AgendaItem.meeting_id.in_(bindparam("ids", expanding=True)),
    AgendaItem.removed_at.is_(None),
)


class Scheduling(MeetingBase):
    """Meetings and series on the area's calendar."""

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

    async def upcoming(self, actor: Actor, limit: int = 8) -> list[MeetingView]:
        """The next meetings, each counting only the cases the reader may see on its agenda."""
        authorise(actor, Operation.VIEW_MEETINGS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions() as session:
            # The calendar brings the area's time zone: the view needs nothing else of it.
            calendar = await area_calendar(session, actor.area_id)
            area = AreaZone(actor.area_id, calendar.timezone)
            meetings = list(
                await session.scalars(
                    _UPCOMING,
                    {"area_id": actor.area_id, "after": now - timedelta(hours=4), "limit": limit},
                )
            )
            items = (await session.execute(_LISTED_ON, {"ids": [m.id for m in meetings]})).all()
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
            await audit_by(
                session,
                actor,
                at=now,
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
            await audit_by(
                session,
                actor,
                at=now,
                action="meeting.cancelled",
                subject=f"meeting:{meeting.id}",
                details={"cases_moved": len(items)},
            )
            view = await self._view(session, meeting, area)
            text = texts.meeting_cancelled(self._when(view))
            await self._tell_invitees(session, meeting, area, "cancelled", text, ics=True)
            return view

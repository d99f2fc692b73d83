"""An area's closure days: kept by its coordinators, counted by every deadline and reminder.

Adding a closure day takes effect at once for everything worked out from now on
(cut-offs, research deadlines, action deadlines, chases, the digest). Reminders already
queued for that day are moved too, in the same transaction, so nothing lands on a day
the offices are shut; a reminder that would then come too late is moved to the working
day before instead. Meetings already arranged on such a day are listed for the
coordinator to move or keep: the bot never moves a meeting by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.actor import Actor
from bot.errors import NotFound
from bot.meetings.closures import ClosureInput
from bot.meetings.off_days import DayChoice, day_choice
from bot.meetings.recurrence import local_to_utc
from bot.meetings.workdays import AreaCalendar
from bot.permissions import Operation, authorise
from bot.quiet_hours import AHEAD_OF_TIME_KINDS, WORKING_DAY_KINDS, next_sendable
from bot.services.audited import audit_by
from bot.services.deps import ServiceDeps
from bot.services.policy import area_calendar, forget_calendar
from storage.models import AreaClosure, Meeting, OutboxMessage


@dataclass(frozen=True)
class ClosureView:
    day: date
    note: str | None


@dataclass(frozen=True)
class AffectedMeeting:
    """A meeting arranged on a day that has just become a closure day."""

    meeting_id: int
    starts_at: datetime
    choice: DayChoice


@dataclass(frozen=True)
class ClosuresAdded:
    added: list[date]
    already_closed: list[date]  # weekends and bank holidays in the range: nothing to add
    meetings: list[AffectedMeeting]
    reminders_moved: int


class ClosureService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def upcoming(self, actor: Actor) -> list[ClosureView]:
        """Closure days from today on, soonest first."""
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            calendar = await area_calendar(session, actor.area_id)
        today = calendar.local_date(self._deps.clock.now())
        return [
            ClosureView(day, note or None)
            for day, note in sorted(calendar.closures.items())
            if day >= today
        ]

    async def today(self, actor: Actor) -> date:
        """The area's date now: what "from today" means to the person typing."""
        async with self._deps.sessions() as session:
            calendar = await area_calendar(session, actor.area_id)
        return calendar.local_date(self._deps.clock.now())

    async def add(self, actor: Actor, closure: ClosureInput) -> ClosuresAdded:
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            before = await area_calendar(session, actor.area_id)
            wanted = [day for day in closure.days if before.is_working_day(day)]
            already = [day for day in closure.days if not before.is_working_day(day)]
            for day in wanted:
                await _insert(session, actor, day, closure.note, now)
            forget_calendar(session, actor.area_id)
            calendar = await area_calendar(session, actor.area_id)
            moved = await _move_reminders(session, actor.area_id, set(wanted), calendar, now)
            meetings = await _meetings_on(session, actor.area_id, set(wanted), calendar, now)
            if wanted:
                await audit_by(
                    session,
                    actor,
                    at=now,
                    action="area.closure_added",
                    subject=f"area:{actor.area_id}",
                    details={
                        "first": wanted[0].isoformat(),
                        "days": len(wanted),
                        "reminders_moved": moved,
                    },
                )
            return ClosuresAdded(wanted, already, meetings, moved)

    async def remove(self, actor: Actor, day: date) -> date:
        """The day counts as a working day again for everything worked out from now on."""
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            result = await session.execute(
                delete(AreaClosure)
                .where(AreaClosure.area_id == actor.area_id, AreaClosure.day == day)
                .returning(AreaClosure.id)
            )
            if result.first() is None:
                raise NotFound(texts.CLOSURE_NOT_FOUND)
            forget_calendar(session, actor.area_id)
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="area.closure_removed",
                subject=f"area:{actor.area_id}",
                details={"day": day.isoformat()},
            )
            return day


async def _insert(
    session: AsyncSession, actor: Actor, day: date, note: str | None, now: datetime
) -> None:
    """One closure day; adding a day that is already there keeps the first note."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(
        insert(AreaClosure)
        .values(
            area_id=actor.area_id, day=day, note=note, added_at=now, added_by_id=actor.person_id
        )
        .on_conflict_do_nothing(index_elements=[AreaClosure.area_id, AreaClosure.day])
    )


async def _move_reminders(
    session: AsyncSession,
    area_id: int,
    closed: set[date],
    calendar: AreaCalendar,
    now: datetime,
) -> int:
    """Reminders and chases queued for a new closure day go on a working day instead.

    One that leads up to something (a meeting, a research deadline) comes on the working
    day before, at the same time, as "2 days before" does; a chase waits for the morning of
    the next working day. Neither is moved to before now, nor past the moment it expires.
    """
    if not closed:
        return 0
    rows = await session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.area_id == area_id,
            OutboxMessage.kind.in_(sorted(WORKING_DAY_KINDS)),
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.cancelled_at.is_(None),
            OutboxMessage.failed_at.is_(None),
            OutboxMessage.due_at > now,
        )
    )
    moved = 0
    for row in rows:
        day = calendar.local_date(row.due_at)
        if day not in closed:
            continue
        later = next_sendable(
            row.due_at,
            calendar.timezone,
            urgent=False,
            working_days_only=True,
            closures=calendar.closed,
        )
        too_late = row.expires_at is not None and later >= row.expires_at
        if row.kind in AHEAD_OF_TIME_KINDS or too_late:
            at = row.due_at.astimezone(ZoneInfo(calendar.timezone)).time()
            row.due_at = max(local_to_utc(calendar.on_or_before(day), at, calendar.timezone), now)
        else:
            row.due_at = later
        moved += 1
    return moved


async def _meetings_on(
    session: AsyncSession,
    area_id: int,
    closed: set[date],
    calendar: AreaCalendar,
    now: datetime,
) -> list[AffectedMeeting]:
    if not closed:
        return []
    meetings = await session.scalars(
        select(Meeting)
        .where(Meeting.area_id == area_id, Meeting.cancelled_at.is_(None), Meeting.starts_at > now)
        .order_by(Meeting.starts_at)
    )
    today = calendar.local_date(now)
    affected = []
    for meeting in meetings:
        day = calendar.local_date(meeting.starts_at)
        if day in closed:
            choice = day_choice(day, calendar, earliest=today)
            assert choice is not None
            affected.append(AffectedMeeting(meeting.id, meeting.starts_at, choice))
    return affected

"""Daily chasing of overdue actions, escalated to the coordinator after three working days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.actions.states import (
    overdue_escalation_due,
)
from bot.dates import format_uk_date
from bot.meetings.workdays import AreaCalendar, is_working_day
from bot.services.actions.common import (
    CHASE_HOUR,
    ActionBase,
    _Chase,
)
from bot.services.case_access import (
    receivers,
)
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar
from storage.models import (
    Action,
    Agency,
    Area,
    Case,
)


class Chasing(ActionBase):
    """The housekeeping chase of overdue actions."""

    async def chase_overdue(self) -> int:
        """From 09:00 on working days: one chase a day per overdue action; escalate after 3.

        Housekeeping calls this every 30 seconds, and after the first tick of the day
        everything it would queue is queued already. So a tick is a handful of statements
        however many actions there are: open overdue actions by ``closed_at`` (one), the
        people to tell (three), and the dedupe keys already in the outbox (one per 500 keys);
        only the messages not yet queued are built and written.
        """
        now = self._deps.clock.now()
        queued = 0
        async with self._deps.sessions.begin() as session:
            for area in list(await session.scalars(select(Area))):
                local = now.astimezone(ZoneInfo(area.timezone))
                today = local.date()
                if local.time() < CHASE_HOUR or not is_working_day(today):
                    continue  # before 09:00, or a weekend or bank holiday: no query needed
                calendar = await area_calendar(session, area.id)
                if not calendar.is_working_day(today):
                    continue  # one of the area's own closure days
                queued += await self._chase_area(session, area, calendar, today, now)
        return queued

    async def _chase_area(
        self, session: AsyncSession, area: Area, calendar: AreaCalendar, today: date, now: datetime
    ) -> int:
        # By the area's agencies rather than the cases' area, so the open-actions index
        # (agency, closed_at, due_on) drives the query instead of a walk over every case.
        area_agencies = select(Agency.id).where(Agency.area_id == area.id)
        overdue = (
            Action.agency_id.in_(area_agencies),
            Action.sent_at.is_not(None),
            Action.closed_at.is_(None),
            Action.due_on < today,
        )
        rows = (
            await session.execute(
                select(Action.id, Action.case_id, Action.agency_id, Action.due_on)
                .add_columns(Case.reference, Agency.name)
                .join(Case, Case.id == Action.case_id)
                .join(Agency, Agency.id == Action.agency_id)
                .where(*overdue)
                .order_by(Action.id)
            )
        ).all()
        if not rows:
            return 0
        # Everyone who could be chased first; the policy is asked only about the chases not
        # queued yet, so the usual tick, after the day's chases are out, asks it nothing.
        reps, coordinators = await self._people_for(session, area.id, {r.agency_id for r in rows})
        escalate_from: dict[date, date] = {}
        chases: list[_Chase] = []
        for action_id, case_id, agency_id, due_on, reference, agency_name in rows:
            for person in reps.get(agency_id, []):
                key = f"action:{action_id}:overdue:{today.isoformat()}:{person.id}"
                chases.append(
                    _Chase(key, person, False, action_id, case_id, reference, agency_name, due_on)
                )
            if due_on not in escalate_from:
                escalate_from[due_on] = overdue_escalation_due(due_on, calendar.closed)
            if today >= escalate_from[due_on]:
                for person in coordinators:
                    key = f"action:{action_id}:escalated:{person.id}"
                    chases.append(
                        _Chase(
                            key, person, True, action_id, case_id, reference, agency_name, due_on
                        )
                    )
        queued_already = await self._queued_already(session, [c.key for c in chases])
        chases = [chase for chase in chases if chase.key not in queued_already]
        allowed = await receivers(session, {(c.case_id, c.recipient.id) for c in chases}, now)
        queued = 0
        for chase in chases:
            due = format_uk_date(chase.due_on)
            if chase.escalation:
                queued += await enqueue(
                    session,
                    dedupe_key=chase.key,
                    chat_id=chase.recipient.chat_id,
                    kind="action_escalated",
                    text=texts.action_escalated(chase.reference, chase.agency, due),
                    now=now,
                    area_id=area.id,
                    person_id=chase.recipient.id,
                    case_ids=[chase.case_id],
                    checked=allowed,
                )
            else:
                queued += await enqueue(
                    session,
                    dedupe_key=chase.key,
                    chat_id=chase.recipient.chat_id,
                    kind="action_overdue",
                    text=texts.action_overdue(chase.reference, due),
                    now=now,
                    area_id=area.id,
                    person_id=chase.recipient.id,
                    buttons=self._buttons(chase.action_id),
                    expires_at=now + timedelta(hours=12),
                    case_ids=[chase.case_id],
                    checked=allowed,
                )
        return queued

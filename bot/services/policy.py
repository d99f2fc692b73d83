"""Reading an area's policy (thresholds, timings) and its working calendar.

The policy is created with SafeLives' defaults on first use. The calendar (the area's
time zone and closure days) is read once per session and kept in ``session.info``, so
a transaction that queues a thousand chases asks the database for it once.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot.meetings.workdays import AreaCalendar
from storage.models import Area, AreaClosure, AreaPolicy

_CALENDARS = "area_calendars"
_RESEARCH_DAYS = "area_research_open_days"
_POLICIES = "area_policies"
# Read on most updates that show a case or an action (issue #20): built once. The area's
# time zone, its research days and its closure days come in one statement (a row per
# closure day, or one row of NULLs for the days when there are none).
_CALENDAR = (
    select(Area.timezone, AreaPolicy.research_open_days_after, AreaClosure.day, AreaClosure.note)
    .select_from(Area)
    .outerjoin(AreaPolicy, AreaPolicy.area_id == Area.id)
    .outerjoin(AreaClosure, AreaClosure.area_id == Area.id)
    .where(Area.id == bindparam("area_id"))
)
_RESEARCH_OPEN_DAYS = select(AreaPolicy.research_open_days_after).where(
    AreaPolicy.area_id == bindparam("area_id")
)

DEFAULTS: dict[str, Any] = {
    "dash_threshold": 14,
    "escalation_threshold": 3,
    "repeat_window_days": 365,
    "draft_ttl_days": 7,
    "out_of_hours_route": "the police on 999 if anyone is in immediate danger",
    "agenda_cutoff_days": 5,
    "research_days": 2,
    "reminder_days_before": 2,
    "reminder_hours_before": 2,
    "meeting_capacity": 20,
    "adult_female_population": None,
    "case_retention_years": 6,
    "research_open_days_after": 5,
    "calendar_location": False,
}


async def area_policy(session: AsyncSession, area_id: int) -> AreaPolicy:
    """Read it; the first reader ever creates it with one statement that cannot race.

    The session keeps a strong reference to what it read: its identity map holds objects only
    weakly, so a listing that asks once per meeting would otherwise read the row again for
    each. ``session.get`` is still asked every time, so an expired policy is read afresh.
    """
    held: dict[int, AreaPolicy] = session.info.setdefault(_POLICIES, {})
    existing = await session.get(AreaPolicy, area_id)
    if existing is not None:
        held[area_id] = existing
        return existing
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(AreaPolicy)
        .values(area_id=area_id, **DEFAULTS)
        .on_conflict_do_nothing(index_elements=[AreaPolicy.area_id])
    )
    policy = await session.get(AreaPolicy, area_id)
    assert policy is not None
    held[area_id] = policy
    return policy


async def area_calendar(session: AsyncSession, area_id: int) -> AreaCalendar:
    """The area's time zone and closure days, as every deadline and reminder needs them.

    One statement, which also brings the area's research days (``research_open_days``), as
    the listings that need the calendar need those too.
    """
    cached: dict[int, AreaCalendar] = session.info.setdefault(_CALENDARS, {})
    if area_id in cached:
        return cached[area_id]
    rows = (await session.execute(_CALENDAR, {"area_id": area_id})).all()
    if not rows:
        raise LookupError(f"there is no area {area_id}")
    timezone, days = rows[0][0], rows[0][1]
    calendar = AreaCalendar(
        timezone, {day: note or "" for _, _, day, note in rows if day is not None}
    )
    cached[area_id] = calendar
    research: dict[int, int] = session.info.setdefault(_RESEARCH_DAYS, {})
    research.setdefault(
        area_id, int(days if days is not None else DEFAULTS["research_open_days_after"])
    )
    return calendar


def forget_calendar(session: AsyncSession, area_id: int) -> None:
    """After the area's closure days change in this session, read them again when next asked."""
    session.info.get(_CALENDARS, {}).pop(area_id, None)


async def research_open_days(session: AsyncSession, area_id: int) -> int:
    """For how many working days after a meeting invited agencies keep the identifiers of
    the cases on it (``research_closes``); read once per session, like the calendar (and
    with it, when the calendar is read first)."""
    cached: dict[int, int] = session.info.setdefault(_RESEARCH_DAYS, {})
    if area_id not in cached:
        days = await session.scalar(_RESEARCH_OPEN_DAYS, {"area_id": area_id})
        cached[area_id] = int(days if days is not None else DEFAULTS["research_open_days_after"])
    return cached[area_id]


async def calendar_shows_location(session: AsyncSession, area_id: int) -> bool:
    """Whether the area chose to put the meeting's place in calendar invitations.

    Off by default: an invitation goes to every invitee unprotected (a calendar file must be
    saveable to be any use) and ends up in their mail and calendar systems; the place is in
    the agenda, which is protected.
    """
    chosen = await session.scalar(
        select(AreaPolicy.calendar_location).where(AreaPolicy.area_id == area_id)
    )
    return bool(chosen)

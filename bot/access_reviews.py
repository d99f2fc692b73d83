"""When the quarterly access review is due, and who counts as inactive in it (pure rules).

An invite link can be forwarded and people change jobs without telling anyone, so each
quarter the coordinators of an area are shown everyone who can use the bot, with when each
last used it, and the agencies' representatives are asked to report their leavers. The
review goes out on the first working day of each calendar quarter (the area's own calendar:
weekends, English bank holidays and its closure days are skipped), in the morning on the
area's wall clock. Someone who has not used the bot for ``INACTIVE_AFTER`` is marked, as the
likeliest leaver.

No clock, no database, no Telegram: ``now`` and the area's calendar are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.meetings.workdays import AreaCalendar

REVIEW_TIME = time(9, 0)  # after the 08:00 digest, so the two never arrive together
INACTIVE_AFTER = timedelta(days=90)


@dataclass(frozen=True)
class Quarter:
    year: int
    number: int  # 1 = January to March

    @property
    def label(self) -> str:
        return f"{self.year} Q{self.number}"

    @property
    def first_day(self) -> date:
        return date(self.year, 3 * self.number - 2, 1)


def quarter_of(day: date) -> Quarter:
    return Quarter(day.year, (day.month - 1) // 3 + 1)


def review_moment(quarter: Quarter, calendar: AreaCalendar) -> datetime:
    """When the quarter's review is due: its first working day at ``REVIEW_TIME``, local."""
    day = calendar.on_or_after(quarter.first_day)
    return datetime.combine(day, REVIEW_TIME, tzinfo=ZoneInfo(calendar.timezone))


@dataclass(frozen=True)
class ReviewDue:
    """The review the area is in now: the quarter, and whether its moment has come."""

    quarter: Quarter
    due_at: datetime
    due: bool


def review_due(now: datetime, calendar: AreaCalendar) -> ReviewDue:
    """The current quarter's review on the area's calendar, and whether ``now`` is past it.

    Once due, it stays due for the rest of the quarter, so a bot that was stopped on the
    first working day sends it when it starts again (the outbox key stops a second copy).
    """
    quarter = quarter_of(calendar.local_date(now))
    due_at = review_moment(quarter, calendar)
    return ReviewDue(quarter, due_at, now >= due_at)


def is_inactive(last_active: datetime | None, enrolled_at: datetime, now: datetime) -> bool:
    """Not seen for ``INACTIVE_AFTER``: counted from enrolment for someone never seen since."""
    seen = last_active if last_active is not None else enrolled_at
    return now - seen >= INACTIVE_AFTER

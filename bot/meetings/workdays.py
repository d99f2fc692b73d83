"""Working-day arithmetic for MARAC deadlines, on England's bank holidays.

MARAC deadlines are set in working days ("research back two working days before the
meeting", "minutes within three working days") because agencies are closed at weekends
and on bank holidays; counting calendar days would give a deadline nobody is at work to
meet. Areas also close on days of their own (a council shutdown between Christmas and
New Year), so every function takes ``extra_closures``.

The bank holidays come from the ``holidays`` package for England (``GB``/``ENG``), which
includes the substitute days when Christmas, Boxing Day or New Year's Day fall at a
weekend, and one-off days such as the 2023 coronation. Wales shares England's list;
Scotland and Northern Ireland differ and are not covered here.

Pure functions only; the holiday table is computed per year and cached because it is
a fixed fact about that year. ``AreaCalendar`` bundles an area's zone and closure days so
that services pass one value, loaded once, to every rule that counts working days.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

NO_CLOSURES: frozenset[date] = frozenset()
_ONE_DAY = timedelta(days=1)


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def load_holiday_tables() -> None:
    """Import the ``holidays`` package's country tables now rather than on the first
    deadline counted: they load lazily, and the first ``/meetings`` after start-up paid for
    it (about 0.2 s). Called once at start-up (``bot.adapter.heap``)."""
    holidays.country_holidays("GB", subdiv="ENG")


def _require_date(day: date) -> None:
    # A datetime is a date to Python, but its day depends on the zone it is read in, and
    # it never equals a holiday date, so it would silently count as a working day.
    if isinstance(day, datetime):
        raise TypeError("pass the local date, not a datetime")


def is_bank_holiday(day: date) -> bool:
    """Whether ``day`` is an English bank holiday (weekend-dated ones included)."""
    _require_date(day)
    return day in _bank_holidays(day.year)


def is_working_day(day: date, extra_closures: frozenset[date] = NO_CLOSURES) -> bool:
    """Monday to Friday, not an English bank holiday, and not one of the area's closures."""
    _require_date(day)
    return day.weekday() < 5 and not is_bank_holiday(day) and day not in extra_closures


def add_working_days(day: date, n: int, extra_closures: frozenset[date] = NO_CLOSURES) -> date:
    """The nth working day after ``day``, not counting ``day`` itself (``day`` when n is 0).

    ``day`` need not be a working day: a referral made on a Saturday is two working days
    from the Tuesday.
    """
    return _step(day, n, _ONE_DAY, extra_closures)


def subtract_working_days(day: date, n: int, extra_closures: frozenset[date] = NO_CLOSURES) -> date:
    """The nth working day before ``day``, not counting ``day`` itself (``day`` when n is 0)."""
    return _step(day, n, -_ONE_DAY, extra_closures)


def _step(day: date, n: int, direction: timedelta, extra_closures: frozenset[date]) -> date:
    _require_date(day)
    if n < 0:
        raise ValueError("n must not be negative; use the other function to go the other way")
    current = day
    remaining = n
    while remaining:
        current += direction
        if is_working_day(current, extra_closures):
            remaining -= 1
    return current


def working_days_between(
    start: date, end: date, extra_closures: frozenset[date] = NO_CLOSURES
) -> int:
    """How many working days after ``start`` up to and including ``end``.

    Counted this way so that it inverts the arithmetic above:
    ``working_days_between(d, add_working_days(d, n)) == n``. When ``end`` is before
    ``start`` the count is negative, so "how late is this?" needs no special case.
    """
    _require_date(start)
    _require_date(end)
    if end < start:
        return -working_days_between(end, start, extra_closures)
    count = 0
    current = start
    while current < end:
        current += _ONE_DAY
        if is_working_day(current, extra_closures):
            count += 1
    return count


def bank_holiday_name(day: date) -> str | None:
    """England's name for the bank holiday on ``day`` ("Christmas Day"), or None."""
    _require_date(day)
    return holidays.country_holidays("GB", subdiv="ENG", years=day.year).get(day)


class DayOff(enum.Enum):
    """Why a day is not a working day, for the warning a coordinator reads."""

    SATURDAY = "saturday"
    SUNDAY = "sunday"
    BANK_HOLIDAY = "bank_holiday"
    CLOSURE = "closure"


@dataclass(frozen=True)
class NotWorking:
    """A day that is not a working day, and why; ``name`` names the holiday or closure."""

    day: date
    reason: DayOff
    name: str | None = None


@dataclass(frozen=True)
class AreaCalendar:
    """An area's working calendar: its time zone, England's bank holidays and its closures.

    Every deadline and every non-urgent reminder in an area is worked out on this, so a
    council's Christmas shutdown moves a research deadline exactly as a bank holiday does.
    ``closures`` maps each closure day to the area's note for it ("Christmas Eve").
    """

    timezone: str = "Europe/London"
    closures: Mapping[date, str] = field(default_factory=dict)
    closed: frozenset[date] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for day in self.closures:
            _require_date(day)
        # Worked out once: every working-day count below asks for it.
        object.__setattr__(self, "closed", frozenset(self.closures))

    def local_date(self, moment: datetime) -> date:
        """The date on the area's wall clock at an aware instant."""
        if moment.tzinfo is None:
            raise ValueError("local_date needs a timezone-aware time")
        return moment.astimezone(ZoneInfo(self.timezone)).date()

    def is_working_day(self, day: date) -> bool:
        return is_working_day(day, self.closed)

    def add_working_days(self, day: date, n: int) -> date:
        return add_working_days(day, n, self.closed)

    def subtract_working_days(self, day: date, n: int) -> date:
        return subtract_working_days(day, n, self.closed)

    def working_days_between(self, start: date, end: date) -> int:
        return working_days_between(start, end, self.closed)

    def on_or_before(self, day: date) -> date:
        """``day`` if it is a working day, else the last working day before it."""
        return day if self.is_working_day(day) else self.subtract_working_days(day, 1)

    def on_or_after(self, day: date) -> date:
        """``day`` if it is a working day, else the first working day after it."""
        return day if self.is_working_day(day) else self.add_working_days(day, 1)

    def not_working(self, day: date) -> NotWorking | None:
        """Why ``day`` is not a working day (the weekend first), or None when it is one."""
        _require_date(day)
        if day.weekday() == 5:
            return NotWorking(day, DayOff.SATURDAY)
        if day.weekday() == 6:
            return NotWorking(day, DayOff.SUNDAY)
        holiday = bank_holiday_name(day)
        if holiday is not None:
            return NotWorking(day, DayOff.BANK_HOLIDAY, holiday)
        if day in self.closures:
            return NotWorking(day, DayOff.CLOSURE, self.closures[day] or None)
        return None

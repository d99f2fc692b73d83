"""When an area's MARAC meets, and reading the dates and times coordinators type for it.

A series is defined on the area's wall clock, not in UTC: the meeting is "10:00 on
alternate Tuesdays" to the people who attend, so a 10:00 meeting must stay at 10:00
local through both daylight-saving changes while its UTC instant moves by an hour.
Occurrences are worked out from the local date and time every time, never by adding
fixed durations to a UTC instant, because that drifts by an hour at each change.

Pure functions only: no clock, no database. "Today" and "after" are always passed in.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import assert_never
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.dates import MONTHS, example_date

EARLIEST_START = time(7, 0)
LATEST_START = time(20, 0)
MAX_YEARS_AHEAD = 2

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Our own tables rather than strftime("%a %b"), which follows the process locale.
_WEEKDAY_ABBREVIATIONS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_ABBREVIATIONS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
_MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", -1: "last"}
MONTHLY_WEEKS = frozenset(_ORDINALS)

_MONTHS_BY_WORD = MONTHS
_WEEKDAYS_BY_WORD = {
    word: number
    for number, words in enumerate(
        [
            ("mon", "monday"),
            ("tue", "tues", "tuesday"),
            ("wed", "weds", "wednesday"),
            ("thu", "thur", "thurs", "thursday"),
            ("fri", "friday"),
            ("sat", "saturday"),
            ("sun", "sunday"),
        ]
    )
    for word in words
}


def _date_how(example: str) -> str:
    return f"Please write the date as day/month/year, for example {example}."


_TIME_HOW = "Please write the time like 10:00, 14:30 or 2pm."


class MeetingInputError(ValueError):
    """A date, time or schedule that cannot be a meeting.

    ``str()`` is a short, polite correction in UK English, written to be shown to the
    coordinator as it is, so handlers need no translation table of their own.
    """


class Repeat(StrEnum):
    """How often an area meets; the values are stored, so they must never change."""

    ONE_OFF = "one_off"
    FORTNIGHTLY = "fortnightly"
    FOUR_WEEKLY = "four_weekly"
    MONTHLY_NTH_WEEKDAY = "monthly_nth_weekday"


def zone_for(timezone: str) -> ZoneInfo:
    """The zone for an area's configured name, refusing unknown names in words people can act on."""
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise MeetingInputError(
            "That time zone is not one I know. Please use a name like Europe/London."
        ) from None


def format_day(day: date) -> str:
    """A date as UK readers scan it in a message, e.g. "Tue 16 Mar 2027"."""
    return (
        f"{_WEEKDAY_ABBREVIATIONS[day.weekday()]} {day.day} "
        f"{_MONTH_ABBREVIATIONS[day.month - 1]} {day.year}"
    )


def nth_weekday(year: int, month: int, weekday: int, nth: int) -> date:
    """The nth (1-4) or last (-1) given weekday of a month.

    Only 1-4 and "last" exist in every month; a "5th Tuesday" does not, which is why
    monthly series refuse 5 and offer "last" instead.
    """
    if nth not in MONTHLY_WEEKS:
        raise ValueError(f"nth must be one of {sorted(MONTHLY_WEEKS)}, not {nth}")
    if nth == -1:
        last_day = calendar.monthrange(year, month)[1]
        last = date(year, month, last_day)
        return last - timedelta(days=(last.weekday() - weekday) % 7)
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (nth - 1))


@dataclass(frozen=True)
class Series:
    """A meeting schedule as the area thinks of it: a first date, a local start time, a rhythm.

    The weekday is always ``first_date``'s, so a series cannot disagree with itself.
    ``nth`` is only for monthly series (1-4, or -1 for "last").
    """

    first_date: date
    start: time
    timezone: str
    repeat: Repeat
    nth: int | None = None

    def __post_init__(self) -> None:
        # Stored rows give plain strings; accept them so a loaded series equals a built one.
        object.__setattr__(self, "repeat", Repeat(self.repeat))
        if isinstance(self.first_date, datetime):
            raise TypeError("first_date must be a date: a datetime's day depends on the zone")
        if self.start.tzinfo is not None:
            raise ValueError("start is a wall-clock time; give the zone in timezone instead")
        zone_for(self.timezone)
        if self.repeat is not Repeat.MONTHLY_NTH_WEEKDAY:
            if self.nth is not None:
                raise ValueError("nth is only used by monthly series")
            return
        weekday = WEEKDAY_NAMES[self.first_date.weekday()]
        if self.nth is None:
            raise MeetingInputError(
                f"Please choose which {weekday} of the month: the 1st, 2nd, 3rd, 4th or last."
            )
        if self.nth not in MONTHLY_WEEKS:
            lead = f"Not every month has a 5th {weekday}. " if self.nth == 5 else ""
            raise MeetingInputError(
                f"{lead}Please choose the 1st, 2nd, 3rd, 4th or last {weekday} of the month."
            )
        month = f"{_MONTH_NAMES[self.first_date.month - 1]} {self.first_date.year}"
        expected = nth_weekday(
            self.first_date.year, self.first_date.month, self.first_date.weekday(), self.nth
        )
        if self.first_date != expected:
            raise MeetingInputError(
                f"{format_day(self.first_date)} is not the {_ORDINALS[self.nth]} {weekday} "
                f"of {month}; that is {format_day(expected)}. "
                "Please choose that date, or a different week of the month."
            )


def local_to_utc(day: date, at: time, timezone: str) -> datetime:
    """The UTC instant a wall clock in ``timezone`` shows ``at`` on ``day``.

    Twice a year the wall clock misbehaves. In the autumn an hour happens twice: we take
    the first (fold=0), the moment people would already be sitting down. In the spring
    an hour is skipped: a time inside the gap never happens, so we take the first real
    instant after it (01:30 in London becomes 02:00 BST), rather than Python's default
    of reading it with the old offset, which lands half an hour further on.
    """
    zone = zone_for(timezone)
    naive = datetime.combine(day, at.replace(tzinfo=None))
    instant = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant
    # In a gap. fold=1 reads the time with the offset after the change and fold=0 with
    # the one before, so the change itself lies between the two readings: search it out
    # to the second for the first instant whose wall clock has reached ``naive``.
    low = int(naive.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(naive.replace(tzinfo=zone, fold=0).astimezone(UTC).timestamp()) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return datetime.fromtimestamp(high, UTC)


def _meeting_days(series: Series, not_before: date) -> Iterator[date]:
    """Every meeting day from ``not_before`` on (and perhaps one earlier), without skipping any."""
    first = series.first_date
    match series.repeat:
        case Repeat.ONE_OFF:
            yield first
        case Repeat.FORTNIGHTLY | Repeat.FOUR_WEEKLY:
            step = 14 if series.repeat is Repeat.FORTNIGHTLY else 28
            index = max(0, (not_before - first).days // step)
            while True:
                yield first + timedelta(days=step * index)
                index += 1
        case Repeat.MONTHLY_NTH_WEEKDAY:
            assert series.nth is not None  # checked when the series was made
            year, month = max((first.year, first.month), (not_before.year, not_before.month))
            while True:
                yield nth_weekday(year, month, first.weekday(), series.nth)
                year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        case _:
            assert_never(series.repeat)


def series_days(
    series: Series, *, from_day: date, count: int | None = None, until: date | None = None
) -> list[date]:
    """The series' own meeting dates from ``from_day`` on: ``count`` of them, or up to ``until``.

    These are the dates the rhythm gives, before any is moved off a non-working day
    (``bot.meetings.off_days``); a one-off series has its single date.
    """
    if count is None and until is None:
        raise ValueError("give a count or an end date")
    found: list[date] = []
    for day in _meeting_days(series, from_day):
        if day < from_day:
            continue
        if (until is not None and day > until) or (count is not None and len(found) >= count):
            break
        found.append(day)
        if series.repeat is Repeat.ONE_OFF:
            break
    return found


def occurrences(series: Series, *, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` meeting starts strictly after ``after``, as aware UTC instants.

    Each is the series' local start time on its own day, so the UTC hour moves with
    daylight saving (10:00 London is 10:00 UTC in winter and 09:00 UTC in summer).
    "Strictly after" lets a caller page on by passing the last instant it already has.
    """
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("occurrences needs a timezone-aware 'after'")
    if count < 0:
        raise ValueError("count must not be negative")
    # Two days' margin: the local date of ``after`` may differ from its UTC date.
    not_before = after.astimezone(zone_for(series.timezone)).date() - timedelta(days=2)
    found: list[datetime] = []
    if count == 0:
        return found
    for day in _meeting_days(series, not_before):
        moment = local_to_utc(day, series.start, series.timezone)
        if moment > after:
            found.append(moment)
            if len(found) == count:
                break
    return found


def describe(series: Series) -> str:
    """The schedule in the words a coordinator would use, for confirmations and menus."""
    at = f"{series.start:%H:%M}"
    weekday = WEEKDAY_NAMES[series.first_date.weekday()]
    match series.repeat:
        case Repeat.ONE_OFF:
            return f"once, on {format_day(series.first_date)} at {at}"
        case Repeat.FORTNIGHTLY:
            return f"every 2 weeks on {weekday} at {at}"
        case Repeat.FOUR_WEEKLY:
            return f"every 4 weeks on {weekday} at {at}"
        case Repeat.MONTHLY_NTH_WEEKDAY:
            assert series.nth is not None
            return f"on the {_ORDINALS[series.nth]} {weekday} of each month at {at}"
        case _:
            assert_never(series.repeat)


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February into a year that has none
        return date(day.year + years, 2, 28)


def _full_year(year: int) -> int:
    return 2000 + year if year < 100 else year


def _calendar_date(year: int, month: int, day: int, example: str) -> date:
    """A date from its parts, or a correction that names exactly which part is wrong."""
    if not 1 <= month <= 12:
        raise MeetingInputError(
            f"There is no month {month}. Please put the day first, then the month, "
            f"for example {example}."
        )
    month_name = _MONTH_NAMES[month - 1]
    days_in_month = calendar.monthrange(year, month)[1]
    if day < 1:
        raise MeetingInputError(f"There is no day 0 in a month. {_date_how(example)}")
    if day > days_in_month:
        if month == 2 and day == 29:
            raise MeetingInputError(
                f"{year} is not a leap year, so there is no 29 February {year}. "
                "Please check the date."
            )
        raise MeetingInputError(
            f"There is no {day} {month_name}: {month_name} {year} has {days_in_month} days. "
            "Please check the day and month."
        )
    return date(year, month, day)


def _read_date(cleaned: str, example: str) -> date:
    words = cleaned.split(" ")
    said_weekday: int | None = None
    if len(words) > 1 and words[0].rstrip(".") in _WEEKDAYS_BY_WORD:
        said_weekday = _WEEKDAYS_BY_WORD[words[0].rstrip(".")]
        cleaned = " ".join(words[1:])

    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", cleaned)
    numeric = re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})", cleaned)
    spelled = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)? ([a-z]+)\.? (\d{2}|\d{4})", cleaned)
    no_year = re.fullmatch(
        r"\d{1,2}[/.\-]\d{1,2}|\d{1,2}(?:st|nd|rd|th)? [a-z]+\.?|[a-z]+ \d{1,2}", cleaned
    )
    if iso:
        year, month, day = (int(part) for part in iso.groups())
    elif numeric:
        day, month, year = (int(part) for part in numeric.groups())
        year = _full_year(year)
    elif spelled:
        month_word = spelled.group(2)
        if month_word not in _MONTHS_BY_WORD:
            raise MeetingInputError(
                "I did not recognise the month. "
                f"Please write it like {example}, or with the month's name."
            )
        day, month = int(spelled.group(1)), _MONTHS_BY_WORD[month_word]
        year = _full_year(int(spelled.group(3)))
    elif no_year:
        raise MeetingInputError(f"Please include the year, for example {example}.")
    else:
        raise MeetingInputError(f"I could not read that as a date. {_date_how(example)}")

    result = _calendar_date(year, month, day, example)
    if said_weekday is not None and said_weekday != result.weekday():
        raise MeetingInputError(
            f"{result.day} {_MONTH_NAMES[result.month - 1]} {result.year} is a "
            f"{WEEKDAY_NAMES[result.weekday()]}, not a {WEEKDAY_NAMES[said_weekday]}. "
            "Please check the date."
        )
    return result


def parse_meeting_date(text: str, today: date) -> date:
    """A meeting date typed the UK way (day first), from today up to two years ahead.

    Accepts day/month/year with /, - or . (2- or 4-digit year), "14 Mar" or "14th March"
    with the year, a weekday first (it is checked), ISO year-month-day, "today" and
    "tomorrow". Corrections give an example worked out from ``today``.
    The two-year limit catches a mistyped year before invitations go out. ``today``
    is the area's local date, which the caller knows and this module must not guess.
    """
    cleaned = " ".join(text.strip().lower().replace(",", " ").split())
    example = example_date(today)
    if not cleaned:
        raise MeetingInputError(f"Please type the meeting date, for example {example}.")
    if cleaned == "today":
        day = today
    elif cleaned == "tomorrow":
        day = today + timedelta(days=1)
    else:
        day = _read_date(cleaned, example)
    if day < today:
        raise MeetingInputError(
            f"That date has passed ({format_day(day)}). Please choose today or a later date."
        )
    limit = _years_later(today, MAX_YEARS_AHEAD)
    if day > limit:
        raise MeetingInputError(
            f"That date is more than two years away. Please check the year: "
            f"meetings can be arranged up to {format_day(limit)}."
        )
    return day


def parse_start_time(text: str) -> time:
    """A start time typed as 10:00, 10.00, 0930, 10am, 2pm, 14:30, 2:30pm or noon.

    A bare hour ("2") is refused rather than guessed: 02:00 and 14:00 are both plausible
    readings and a meeting invitation at the wrong one is worse than asking again.
    Times outside 07:00-20:00 are refused because MARACs meet in working hours and such
    a time is far more likely a slip (2:00 for 14:00) than a real plan.
    """
    cleaned = text.strip().lower().replace(" ", "").replace(".m.", "m").replace(".m", "m")
    if not cleaned:
        raise MeetingInputError(f"Please type the start time. {_TIME_HOW}")
    if cleaned in ("noon", "midday", "12noon"):
        return time(12, 0)
    match = re.fullmatch(r"(\d{1,2})(?:[:.]?(\d{2}))?(am|pm)?", cleaned)
    if not match:
        raise MeetingInputError(f"I could not read that as a time. {_TIME_HOW}")
    hour, minute_text, suffix = int(match.group(1)), match.group(2), match.group(3)
    if minute_text is None and suffix is None:
        raise MeetingInputError(
            "Please add the minutes or am/pm so I know which you mean, for example 10:00 or 2pm."
        )
    minute = int(minute_text or 0)
    if minute > 59:
        raise MeetingInputError(f"Minutes go from 00 to 59, so that is not a time. {_TIME_HOW}")
    if suffix is not None:
        if not 1 <= hour <= 12:
            raise MeetingInputError(
                "With am or pm the hour goes from 1 to 12. "
                "Please write the time like 10am, 2pm or 14:00."
            )
        hour = hour % 12 + (12 if suffix == "pm" else 0)
    elif hour > 23:
        raise MeetingInputError(
            f"There is no {hour}:{minute:02d} on a 24-hour clock, which runs from 00:00 to 23:59. "
            f"{_TIME_HOW}"
        )
    start = time(hour, minute)
    if not EARLIEST_START <= start <= LATEST_START:
        hint = ""
        afternoon = time(hour + 12, minute) if hour < 12 else None
        if suffix is None and afternoon is not None and EARLIEST_START <= afternoon <= LATEST_START:
            hint = f" If you meant the afternoon, write {hour + 12}:{minute:02d}."
        raise MeetingInputError(
            f"{start:%H:%M} is outside working hours. MARACs meet in working hours, so please "
            f"choose a start time between {EARLIEST_START:%H:%M} and {LATEST_START:%H:%M}.{hint}"
        )
    return start

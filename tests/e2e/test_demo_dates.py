"""``marac-bot demo`` plays the whole cycle from any start date, as a new user would run it.

The dates are worked out from today, never written in: each of the next seven days (every
weekday), the Saturday before Christmas, the days around both clock changes, 31 December
and the next 29 February. From each, every scene must complete, the meetings must fall on
working days, and the "meeting in 2 days" reminder must arrive on a working day.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.cli.demo import run_demo, today_in_london
from bot.meetings.workdays import is_working_day

# Real outages, processes, rotations or whole demos: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

LONDON = ZoneInfo("Europe/London")
LISTED = re.compile(r"listed for the MARAC on (\w{3} \d{1,2} \w{3} \d{4}) \d{2}:\d{2}")
CLOCK_MOVES = re.compile(r"\[the clock moves to (\w{3} \d{1,2} \w{3} \d{4}) \d{2}:\d{2}\]")
SCENES = 18


def clock_changes(after: date) -> list[date]:
    """The next two days on which London's clocks change (one spring, one autumn)."""
    found: list[date] = []
    day = after
    while len(found) < 2:
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=LONDON)
        if noon.utcoffset() != (noon - timedelta(days=1)).utcoffset():
            found.append(day)
        day += timedelta(days=1)
    return found


def next_leap_day(after: date) -> date:
    year = after.year
    while True:
        try:
            leap = date(year, 2, 29)
        except ValueError:
            year += 1
            continue
        if leap >= after:
            return leap
        year += 1


def start_dates(today: date) -> dict[str, date]:
    dates = {f"{day:%A}": day for day in (today + timedelta(days=n) for n in range(7))}
    christmas = date(today.year, 12, 25)
    if christmas < today:
        christmas = date(today.year + 1, 12, 25)
    dates["Saturday before Christmas"] = christmas - timedelta(
        days=(christmas.weekday() - 5) % 7 or 7
    )
    for change in clock_changes(today):
        for offset, when in ((-1, "before"), (0, "on"), (1, "after")):
            dates[f"day {when} the clock change of {change:%B %Y}"] = change + timedelta(
                days=offset
            )
    dates["31 December"] = date(today.year, 12, 31)
    dates["29 February"] = next_leap_day(today)
    return dates


DATES = start_dates(today_in_london())


def test_the_dates_cover_what_has_broken_the_demo_before() -> None:
    weekdays = {day.weekday() for name, day in DATES.items() if name.endswith("day")}
    assert weekdays == set(range(7))
    saturday = DATES["Saturday before Christmas"]
    assert saturday.weekday() == 5 and 0 < (date(saturday.year, 12, 25) - saturday).days <= 7
    assert (DATES["29 February"].month, DATES["29 February"].day) == (2, 29)
    assert len([name for name in DATES if "clock change" in name]) == 6


def parse_day(text: str) -> date:
    return datetime.strptime(text, "%a %d %b %Y").date()


@pytest.mark.parametrize("start", DATES.values(), ids=[f"{n} {d}" for n, d in DATES.items()])
async def test_the_demo_plays_from(start: date) -> None:
    out = io.StringIO()
    assert await run_demo(start=start, out=out) == 0
    transcript = out.getvalue()
    assert f"=== Scene {SCENES}:" in transcript, transcript[-3000:]
    assert "chain intact" in transcript
    assert "Traceback" not in transcript
    listed = [parse_day(day) for day in LISTED.findall(transcript)]
    assert listed, "the case was never listed for a meeting"
    assert all(is_working_day(day) for day in listed), listed
    reminder_day, meeting_day = (parse_day(day) for day in CLOCK_MOVES.findall(transcript))
    assert is_working_day(reminder_day) and reminder_day < meeting_day == listed[0]

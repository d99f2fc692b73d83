"""Working days on England's bank holidays, substitute days and an area's own closures."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.meetings.workdays import (
    add_working_days,
    is_bank_holiday,
    is_working_day,
    subtract_working_days,
    working_days_between,
)

# A council closing its offices between Christmas and New Year.
COUNCIL_SHUTDOWN = frozenset({date(2027, 12, 29), date(2027, 12, 30), date(2027, 12, 31)})


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2027, 3, 26), "Good Friday"),
        (date(2027, 3, 29), "Easter Monday"),
        (date(2027, 5, 3), "early May bank holiday"),
        (date(2027, 5, 31), "spring bank holiday"),
        (date(2027, 8, 30), "summer bank holiday"),
        # Christmas Day and Boxing Day 2027 are Saturday and Sunday: Monday and Tuesday off.
        (date(2027, 12, 27), "Christmas Day substitute"),
        (date(2027, 12, 28), "Boxing Day substitute"),
        # 2026: Boxing Day is a Saturday, so Monday 28 December is the substitute.
        (date(2026, 12, 28), "Boxing Day substitute"),
        # 2022: Christmas Day is a Sunday, Boxing Day Monday, substitute Tuesday.
        (date(2022, 12, 27), "Christmas Day substitute"),
        (date(2028, 1, 3), "New Year's Day substitute"),
        (date(2023, 5, 8), "coronation of King Charles III"),
        (date(2022, 9, 19), "state funeral of Queen Elizabeth II"),
        (date(2022, 6, 2), "spring bank holiday moved for the jubilee"),
        (date(2022, 6, 3), "platinum jubilee"),
    ],
)
def test_english_bank_holidays_are_not_working_days(day: date, why: str) -> None:
    assert day.weekday() < 5, why
    assert is_bank_holiday(day), why
    assert not is_working_day(day), why


@pytest.mark.parametrize(
    "day",
    [
        date(2027, 3, 25),  # the Thursday before Easter
        date(2027, 3, 30),  # the Tuesday after
        date(2027, 12, 29),
        date(2022, 5, 30),  # the usual last Monday of May, moved in the jubilee year
        date(2023, 5, 9),  # the day after the coronation
    ],
)
def test_ordinary_weekdays_are_working_days(day: date) -> None:
    assert is_working_day(day)


def test_weekends_are_never_working_days() -> None:
    assert not is_working_day(date(2027, 3, 13))  # Saturday
    assert not is_working_day(date(2027, 3, 14))  # Sunday
    assert is_working_day(date(2027, 3, 15))


def test_scottish_holidays_do_not_apply_in_england() -> None:
    assert not is_bank_holiday(date(2027, 1, 4))  # 2 January (substitute) is Scotland only
    assert not is_bank_holiday(date(2027, 11, 30))  # St Andrew's Day


def test_extra_closures_are_not_working_days() -> None:
    assert is_working_day(date(2027, 12, 29))
    assert not is_working_day(date(2027, 12, 29), COUNCIL_SHUTDOWN)


def test_adding_over_christmas_skips_substitute_days_and_closures() -> None:
    thursday = date(2027, 12, 23)
    assert add_working_days(thursday, 1) == date(2027, 12, 24)
    assert add_working_days(thursday, 2) == date(2027, 12, 29)
    # With the shutdown, and Monday 3 January 2028 the New Year's Day substitute.
    assert add_working_days(thursday, 2, COUNCIL_SHUTDOWN) == date(2028, 1, 4)


def test_subtracting_over_easter() -> None:
    tuesday_after = date(2027, 3, 30)
    assert subtract_working_days(tuesday_after, 1) == date(2027, 3, 25)
    assert subtract_working_days(tuesday_after, 2) == date(2027, 3, 24)
    assert subtract_working_days(date(2027, 3, 29), 1) == date(2027, 3, 25)


def test_a_start_on_a_non_working_day_is_not_counted() -> None:
    saturday = date(2027, 3, 13)
    assert add_working_days(saturday, 1) == date(2027, 3, 15)
    assert add_working_days(saturday, 2) == date(2027, 3, 16)
    assert subtract_working_days(saturday, 1) == date(2027, 3, 12)


def test_zero_days_is_the_day_itself_and_negative_is_refused() -> None:
    sunday = date(2027, 3, 14)
    assert add_working_days(sunday, 0) == sunday
    assert subtract_working_days(sunday, 0) == sunday
    with pytest.raises(ValueError, match="negative"):
        add_working_days(sunday, -1)
    with pytest.raises(ValueError, match="negative"):
        subtract_working_days(sunday, -1)


def test_a_datetime_is_refused_because_its_day_depends_on_the_zone() -> None:
    with pytest.raises(TypeError, match="local date"):
        is_working_day(datetime(2027, 3, 29, 12))
    with pytest.raises(TypeError):
        add_working_days(datetime(2027, 3, 29, 12), 1)


@pytest.mark.parametrize(
    ("start", "end", "closures", "expected"),
    [
        (date(2027, 3, 15), date(2027, 3, 15), frozenset(), 0),
        (date(2027, 3, 15), date(2027, 3, 19), frozenset(), 4),  # Mon to Fri
        (date(2027, 3, 15), date(2027, 3, 22), frozenset(), 5),
        (date(2027, 3, 24), date(2027, 3, 31), frozenset(), 3),  # Thu, Tue, Wed around Easter
        (date(2027, 3, 31), date(2027, 3, 24), frozenset(), -3),
        (date(2027, 12, 23), date(2028, 1, 4), frozenset(), 5),  # 24, 29, 30, 31 Dec, 4 Jan
        (date(2027, 12, 23), date(2028, 1, 4), COUNCIL_SHUTDOWN, 2),
    ],
)
def test_working_days_between(
    start: date, end: date, closures: frozenset[date], expected: int
) -> None:
    assert working_days_between(start, end, closures) == expected


DAYS = st.dates(date(2022, 1, 1), date(2030, 12, 31))
CLOSURES = st.frozensets(st.dates(date(2026, 12, 1), date(2027, 1, 31)), max_size=6)


@given(DAYS, st.integers(0, 40), CLOSURES)
def test_add_then_subtract_round_trips_on_working_days(
    day: date, n: int, closures: frozenset[date]
) -> None:
    if not is_working_day(day, closures):
        return
    later = add_working_days(day, n, closures)
    assert subtract_working_days(later, n, closures) == day
    assert add_working_days(subtract_working_days(day, n, closures), n, closures) == day


@given(DAYS, st.integers(1, 40), CLOSURES)
def test_counting_inverts_adding(day: date, n: int, closures: frozenset[date]) -> None:
    later = add_working_days(day, n, closures)
    earlier = subtract_working_days(day, n, closures)
    assert is_working_day(later, closures)
    assert is_working_day(earlier, closures)
    assert earlier < day < later
    assert working_days_between(day, later, closures) == n
    assert working_days_between(later, day, closures) == -n
    # Counting back from a day counts that day if it is a working day.
    assert working_days_between(earlier, day, closures) == n - 1 + is_working_day(day, closures)

"""When the quarterly access review is due, and who it marks as inactive (pure rules)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.access_reviews import (
    INACTIVE_AFTER,
    REVIEW_TIME,
    Quarter,
    is_inactive,
    quarter_of,
    review_due,
    review_moment,
)
from bot.meetings.workdays import AreaCalendar, is_bank_holiday, is_working_day
from bot.quiet_hours import WORKING_DAY_KINDS
from bot.services.access_review import LEAVERS_KIND, REVIEW_KIND

LONDON = ZoneInfo("Europe/London")
DAYS = st.dates(min_value=date(2026, 1, 1), max_value=date(2040, 12, 31))
# The bank holidays of a year are worked out on its first use, which can take longer than
# Hypothesis's default deadline.
CALENDAR_SETTINGS = settings(deadline=None)


@CALENDAR_SETTINGS
@given(DAYS)
def test_the_review_is_the_first_working_day_of_the_quarter_in_the_morning(day: date) -> None:
    quarter = quarter_of(day)
    moment = review_moment(quarter, AreaCalendar())
    local = moment.astimezone(LONDON)
    assert local.time() == REVIEW_TIME
    assert is_working_day(local.date())
    assert quarter_of(local.date()) == quarter
    # Every day of the quarter before it is a weekend or a bank holiday.
    start = quarter.first_day
    assert all(
        not is_working_day(start + timedelta(days=n)) for n in range((local.date() - start).days)
    )


@CALENDAR_SETTINGS
@given(DAYS)
def test_a_closure_day_moves_the_review_to_the_next_working_day(day: date) -> None:
    quarter = quarter_of(day)
    usual = review_moment(quarter, AreaCalendar()).astimezone(LONDON).date()
    closed = AreaCalendar(closures={usual: "council shutdown"})
    moved = review_moment(quarter, closed).astimezone(LONDON).date()
    assert moved > usual and closed.is_working_day(moved)


@CALENDAR_SETTINGS
@given(DAYS)
def test_new_years_day_and_weekends_are_skipped(day: date) -> None:
    january = Quarter(day.year, 1)
    first = review_moment(january, AreaCalendar()).astimezone(LONDON).date()
    assert first != january.first_day  # 1 January is a bank holiday in England
    assert is_bank_holiday(january.first_day)


@CALENDAR_SETTINGS
@given(DAYS)
def test_once_due_it_stays_due_until_the_quarter_ends(day: date) -> None:
    calendar = AreaCalendar()
    moment = review_moment(quarter_of(day), calendar)
    assert not review_due(moment - timedelta(seconds=1), calendar).due
    assert review_due(moment, calendar).due
    quarter_end = datetime.combine(
        date(day.year + (day.month > 9), (3 * ((day.month - 1) // 3) + 3) % 12 + 1, 1),
        datetime.min.time(),
        tzinfo=LONDON,
    ) - timedelta(seconds=1)
    late = review_due(quarter_end, calendar)
    assert late.due and late.quarter == quarter_of(day)
    assert not review_due(quarter_end + timedelta(seconds=2), calendar).due  # a new quarter


@given(st.integers(min_value=0, max_value=400))
def test_ninety_days_without_a_visit_is_inactive(days: int) -> None:
    now = datetime.now(UTC)
    enrolled = now - timedelta(days=500)
    seen = now - timedelta(days=days)
    assert is_inactive(seen, enrolled, now) is (timedelta(days=days) >= INACTIVE_AFTER)
    # Someone never seen since enrolling counts from their enrolment.
    assert is_inactive(None, seen, now) is (timedelta(days=days) >= INACTIVE_AFTER)


def test_quarters_are_labelled_as_the_returns_are() -> None:
    assert quarter_of(date(2031, 11, 5)).label == "2031 Q4"
    assert quarter_of(date(2031, 1, 1)) == Quarter(2031, 1)


def test_the_review_and_the_leavers_reminder_wait_for_a_working_day() -> None:
    """A bot started again on a Saturday sends the quarter's review on the Monday."""
    assert {REVIEW_KIND, LEAVERS_KIND} <= WORKING_DAY_KINDS

"""An area's working calendar: why a day is off, meetings moved off it, reminders kept off it.

The dates are calendar facts (England's bank holidays, the 2027 clock changes), not "today":
nothing here reads the wall clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import texts
from bot.meetings.agenda_rules import days_before_reminder
from bot.meetings.closures import parse_closure
from bot.meetings.off_days import OffDayRule, day_choice, off_days, plan_day
from bot.meetings.recurrence import MeetingInputError, Repeat, Series, series_days
from bot.meetings.workdays import AreaCalendar, DayOff
from bot.quiet_hours import WORKING_DAY_KINDS, next_sendable

LONDON = "Europe/London"
ZONE = ZoneInfo(LONDON)
CHRISTMAS_EVE = date(2027, 12, 24)  # a Friday
CALENDAR = AreaCalendar(LONDON, {CHRISTMAS_EVE: "Christmas Eve"})


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), ZONE).astimezone(UTC)


# --- why a day is not a working day ------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "reason", "name", "said"),
    [
        (date(2027, 12, 18), DayOff.SATURDAY, None, "a Saturday"),
        (date(2027, 12, 19), DayOff.SUNDAY, None, "a Sunday"),
        (CHRISTMAS_EVE, DayOff.CLOSURE, "Christmas Eve", "a closure day in your area"),
        (date(2027, 12, 27), DayOff.BANK_HOLIDAY, None, "a bank holiday"),
        (date(2027, 3, 26), DayOff.BANK_HOLIDAY, "Good Friday", "Good Friday, a bank holiday"),
    ],
)
def test_why_a_day_is_off(day: date, reason: DayOff, name: str | None, said: str) -> None:
    off = CALENDAR.not_working(day)
    assert off is not None and off.reason is reason
    if name is not None:
        assert off.name == name
    assert said in texts.day_off_reason(off)


def test_a_working_day_has_no_reason() -> None:
    assert CALENDAR.not_working(date(2027, 12, 23)) is None
    assert CALENDAR.is_working_day(date(2027, 12, 23))
    assert not CALENDAR.is_working_day(CHRISTMAS_EVE)


def test_closure_days_move_every_count() -> None:
    thursday = date(2027, 12, 23)
    # 24 Dec closed, 25-28 weekend and substitute days: the next working day is the 29th.
    assert CALENDAR.add_working_days(thursday, 1) == date(2027, 12, 29)
    assert AreaCalendar(LONDON).add_working_days(thursday, 1) == CHRISTMAS_EVE
    assert CALENDAR.on_or_before(CHRISTMAS_EVE) == thursday
    assert CALENDAR.on_or_after(CHRISTMAS_EVE) == date(2027, 12, 29)


def test_local_date_is_the_areas_date() -> None:
    # 23:30 UTC on a summer evening is already the next day in London.
    assert CALENDAR.local_date(datetime(2027, 7, 1, 23, 30, tzinfo=UTC)) == date(2027, 7, 2)
    with pytest.raises(ValueError, match="aware"):
        CALENDAR.local_date(datetime(2027, 7, 1, 12, 0))


# --- a single meeting date ---------------------------------------------------------------


def test_a_typed_bank_holiday_offers_the_working_days_either_side() -> None:
    choice = day_choice(date(2027, 12, 27), CALENDAR, earliest=date(2027, 12, 1))
    assert choice is not None
    assert (choice.before, choice.after) == (date(2027, 12, 23), date(2027, 12, 29))
    assert texts.off_day_warning(choice.off).startswith("Mon 27 Dec 2027 is ")


def test_a_working_day_needs_no_choice() -> None:
    assert day_choice(date(2027, 12, 23), CALENDAR, earliest=date(2027, 12, 1)) is None


def test_the_day_before_is_not_offered_when_it_has_passed() -> None:
    saturday = date(2027, 12, 18)
    choice = day_choice(saturday, CALENDAR, earliest=saturday)
    assert choice is not None
    assert choice.before == saturday  # nothing earlier to offer
    assert choice.after == date(2027, 12, 20)


# --- a series ------------------------------------------------------------------------------


def fortnightly_fridays() -> Series:
    return Series(date(2027, 12, 10), time(10), LONDON, Repeat.FORTNIGHTLY)


def test_a_series_lists_its_off_days_for_one_question() -> None:
    days = series_days(fortnightly_fridays(), from_day=date(2027, 12, 11), until=date(2028, 1, 31))
    assert days == [CHRISTMAS_EVE, date(2028, 1, 7), date(2028, 1, 21)]
    assert [off.day for off in off_days(days, CALENDAR)] == [CHRISTMAS_EVE]


@pytest.mark.parametrize(
    ("rule", "held"),
    [
        (OffDayRule.BEFORE, date(2027, 12, 23)),
        (OffDayRule.AFTER, date(2027, 12, 29)),
        (OffDayRule.KEEP, CHRISTMAS_EVE),
    ],
)
def test_the_series_rule_decides_where_an_off_day_meeting_is_held(
    rule: OffDayRule, held: date
) -> None:
    plan = plan_day(CHRISTMAS_EVE, CALENDAR, rule, earliest=date(2027, 12, 1))
    assert plan.series_day == CHRISTMAS_EVE and plan.day == held
    assert plan.moved is (rule is not OffDayRule.KEEP)
    assert plan.kept_off_day is (rule is OffDayRule.KEEP)
    line = texts.planned_day_line(plan)
    assert line.startswith("Fri 24 Dec 2027 (a closure day in your area (Christmas Eve))")
    assert ("moved to" in line) is plan.moved


def test_moving_before_never_lands_in_the_past() -> None:
    plan = plan_day(CHRISTMAS_EVE, CALENDAR, OffDayRule.BEFORE, earliest=CHRISTMAS_EVE)
    assert plan.day == date(2027, 12, 29)


def test_a_one_off_series_has_one_day() -> None:
    once = Series(date(2027, 12, 10), time(10), LONDON, Repeat.ONE_OFF)
    assert series_days(once, from_day=date(2027, 12, 1), count=6) == [date(2027, 12, 10)]
    assert series_days(once, from_day=date(2027, 12, 11), count=6) == []
    with pytest.raises(ValueError):
        series_days(once, from_day=date(2027, 12, 1))


# --- the "days before" reminder ----------------------------------------------------------


def test_two_days_before_a_monday_is_the_friday_before() -> None:
    monday = local(date(2027, 11, 15), 10)
    assert days_before_reminder(monday, 2, CALENDAR) == local(date(2027, 11, 12), 10)


def test_two_days_before_a_thursday_is_the_tuesday() -> None:
    thursday = local(date(2027, 11, 18), 10)
    assert days_before_reminder(thursday, 2, CALENDAR) == local(date(2027, 11, 16), 10)


def test_the_reminder_keeps_the_wall_clock_across_the_clock_change() -> None:
    # The meeting is after the spring change (BST), the reminder day before it (GMT).
    tuesday = local(date(2027, 3, 30), 10)
    reminder = days_before_reminder(tuesday, 2, CALENDAR)
    # Sunday 28th, back over Easter (Good Friday) to Thursday 25 March, at 10:00 GMT.
    assert reminder == datetime(2027, 3, 25, 10, 0, tzinfo=UTC)


@given(st.dates(date(2026, 1, 1), date(2030, 12, 31)), st.integers(0, 14))
def test_the_reminder_always_falls_on_a_working_day_before_the_meeting(
    day: date, days: int
) -> None:
    meeting = local(day, 10)
    reminder = days_before_reminder(meeting, days, CALENDAR)
    assert CALENDAR.is_working_day(CALENDAR.local_date(reminder))
    assert reminder <= meeting or days == 0


# --- sending reminders on working days only ----------------------------------------------


def test_a_reminder_due_on_saturday_waits_for_monday_morning() -> None:
    saturday = local(date(2027, 11, 13), 10)
    assert next_sendable(saturday, LONDON, urgent=False, working_days_only=True) == local(
        date(2027, 11, 15), 7
    )
    # A notice of something a person just did goes the same day, outside quiet hours.
    assert next_sendable(saturday, LONDON, urgent=False) == saturday
    # An urgent alert goes at once, whatever the day.
    assert next_sendable(saturday, LONDON, urgent=True, working_days_only=True) == saturday


def test_a_reminder_on_a_closure_day_waits_for_the_next_working_day() -> None:
    due = local(CHRISTMAS_EVE, 9)
    sendable = next_sendable(
        due, LONDON, urgent=False, working_days_only=True, closures=CALENDAR.closed
    )
    assert sendable == local(date(2027, 12, 29), 7)


def test_a_friday_evening_chase_goes_on_monday_not_saturday() -> None:
    friday_evening = local(date(2027, 11, 12), 21)
    assert next_sendable(friday_evening, LONDON, urgent=False, working_days_only=True) == local(
        date(2027, 11, 15), 7
    )


def test_reminders_and_chases_are_the_working_day_kinds() -> None:
    assert {"meeting_reminder_days", "action_overdue", "digest"} <= WORKING_DAY_KINDS
    # A new referral, a triage decision and urgent alerts are not held for Monday.
    assert not {"triage", "urgent", "triage_accepted"} & WORKING_DAY_KINDS


# --- typing closure days -----------------------------------------------------------------


TODAY = date(2027, 12, 1)


@pytest.mark.parametrize(
    ("typed", "first", "last", "note"),
    [
        ("24/12/2027 Christmas Eve", CHRISTMAS_EVE, CHRISTMAS_EVE, "Christmas Eve"),
        ("29/12/2027 to 31/12/2027 council closure", date(2027, 12, 29), date(2027, 12, 31),
         "council closure"),
        ("29/12/2027-31/12/2027", date(2027, 12, 29), date(2027, 12, 31), None),
        ("2027-12-24", CHRISTMAS_EVE, CHRISTMAS_EVE, None),
        ("24/12/27: office shut", CHRISTMAS_EVE, CHRISTMAS_EVE, "office shut"),
    ],
)  # fmt: skip
def test_closures_as_coordinators_type_them(
    typed: str, first: date, last: date, note: str | None
) -> None:
    closure = parse_closure(typed, TODAY, "19/12/2027")
    assert (closure.first, closure.last, closure.note) == (first, last, note)
    assert closure.days[0] == first and closure.days[-1] == last


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("Christmas Eve", "start with the date, for example 19/12/2027"),
        ("31/12/2027 to 29/12/2027", "before the first"),
        ("01/12/2027 to 31/01/2028", "more than 31 days"),
        ("24/12/2026", "has passed"),
        ("31/02/2028", "29 days"),
        ("24/12/2027 " + "x" * 81, "under 80 characters"),
    ],
)
def test_closure_corrections_say_what_to_type(typed: str, said: str) -> None:
    with pytest.raises(MeetingInputError, match=said):
        parse_closure(typed, TODAY, "19/12/2027")

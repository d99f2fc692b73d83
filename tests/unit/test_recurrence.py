"""Meeting series on the area's wall clock, and reading typed dates and times.

UK clock changes used below: 2026 forward Sun 29 Mar, back Sun 25 Oct; 2027 forward
Sun 28 Mar (01:00 GMT -> 02:00 BST), back Sun 31 Oct (02:00 BST -> 01:00 GMT).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.meetings.recurrence import (
    MeetingInputError,
    Repeat,
    Series,
    describe,
    local_to_utc,
    nth_weekday,
    occurrences,
    parse_meeting_date,
    parse_start_time,
)

LONDON = "Europe/London"
ZONE = ZoneInfo(LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def series(first: date, repeat: Repeat, start: time = time(10), nth: int | None = None) -> Series:
    return Series(first_date=first, start=start, timezone=LONDON, repeat=repeat, nth=nth)


# --- daylight saving -------------------------------------------------------------------


def test_fortnightly_10am_stays_10am_local_across_the_spring_change() -> None:
    tuesdays = series(date(2027, 3, 16), Repeat.FORTNIGHTLY)
    found = occurrences(tuesdays, after=utc(2027, 3, 1), count=3)
    assert found == [utc(2027, 3, 16, 10), utc(2027, 3, 30, 9), utc(2027, 4, 13, 9)]
    assert [moment.astimezone(ZONE).time() for moment in found] == [time(10)] * 3


def test_fortnightly_10am_stays_10am_local_across_the_autumn_change() -> None:
    tuesdays = series(date(2027, 10, 19), Repeat.FORTNIGHTLY)
    found = occurrences(tuesdays, after=utc(2027, 10, 1), count=3)
    assert found == [utc(2027, 10, 19, 9), utc(2027, 11, 2, 10), utc(2027, 11, 16, 10)]


def test_a_whole_year_of_2026_keeps_the_wall_clock_and_moves_in_utc() -> None:
    thursdays = series(date(2026, 1, 8), Repeat.FOUR_WEEKLY, start=time(13, 30))
    found = occurrences(thursdays, after=utc(2026, 1, 1), count=13)
    assert {moment.astimezone(ZONE).time() for moment in found} == {time(13, 30)}
    summer = [m for m in found if date(2026, 3, 29) < m.date() < date(2026, 10, 25)]
    winter = [m for m in found if m not in summer]
    assert summer and winter
    assert {m.time() for m in summer} == {time(12, 30)}
    assert {m.time() for m in winter} == {time(13, 30)}
    assert all(m.tzinfo is UTC for m in found)


def test_a_time_skipped_by_the_spring_change_moves_forward_to_the_first_real_time() -> None:
    sundays = series(date(2027, 3, 14), Repeat.FORTNIGHTLY, start=time(1, 30))
    found = occurrences(sundays, after=utc(2027, 3, 1), count=3)
    # 01:30 GMT; 01:30 does not exist on 28 March, so 02:00 BST (01:00 UTC); 01:30 BST.
    assert found == [utc(2027, 3, 14, 1, 30), utc(2027, 3, 28, 1, 0), utc(2027, 4, 11, 0, 30)]
    assert found[1].astimezone(ZONE).time() == time(2, 0)


def test_a_time_that_happens_twice_in_autumn_takes_the_first() -> None:
    once = series(date(2027, 10, 31), Repeat.ONE_OFF, start=time(1, 30))
    assert occurrences(once, after=utc(2027, 1, 1), count=1) == [utc(2027, 10, 31, 0, 30)]


def test_spring_gap_in_another_zone() -> None:
    new_york = Series(date(2027, 3, 14), time(2, 30), "America/New_York", Repeat.ONE_OFF)
    # Clocks go from 02:00 EST to 03:00 EDT: the first real time is 03:00 EDT = 07:00 UTC.
    assert occurrences(new_york, after=utc(2027, 1, 1), count=1) == [utc(2027, 3, 14, 7)]


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        (date(2027, 3, 28), time(0, 59), utc(2027, 3, 28, 0, 59)),
        (date(2027, 3, 28), time(1, 0), utc(2027, 3, 28, 1, 0)),  # first minute of the gap
        (date(2027, 3, 28), time(1, 59), utc(2027, 3, 28, 1, 0)),  # last minute of the gap
        (date(2027, 3, 28), time(2, 0), utc(2027, 3, 28, 1, 0)),
        (date(2027, 3, 28), time(2, 1), utc(2027, 3, 28, 1, 1)),
        (date(2027, 10, 31), time(1, 0), utc(2027, 10, 31, 0, 0)),  # ambiguous: the first
        (date(2027, 10, 31), time(2, 0), utc(2027, 10, 31, 2, 0)),
    ],
)
def test_local_to_utc_on_change_days(day: date, at: time, expected: datetime) -> None:
    assert local_to_utc(day, at, LONDON) == expected


# --- monthly -----------------------------------------------------------------------------


def test_second_tuesday_of_each_month() -> None:
    monthly = series(date(2027, 1, 12), Repeat.MONTHLY_NTH_WEEKDAY, nth=2)
    found = occurrences(monthly, after=utc(2027, 1, 1), count=5)
    assert [m.date() for m in found] == [
        date(2027, 1, 12),
        date(2027, 2, 9),
        date(2027, 3, 9),
        date(2027, 4, 13),  # BST by now: 09:00 UTC
        date(2027, 5, 11),
    ]
    assert found[3].time() == time(9)


def test_last_tuesday_is_the_fifth_in_a_five_tuesday_month() -> None:
    # March and June 2027 have five Tuesdays; April and May have four.
    last = series(date(2027, 3, 30), Repeat.MONTHLY_NTH_WEEKDAY, nth=-1)
    fourth = series(date(2027, 3, 23), Repeat.MONTHLY_NTH_WEEKDAY, nth=4)
    after = utc(2027, 3, 1)
    assert [m.date() for m in occurrences(last, after=after, count=4)] == [
        date(2027, 3, 30),
        date(2027, 4, 27),
        date(2027, 5, 25),
        date(2027, 6, 29),
    ]
    assert [m.date() for m in occurrences(fourth, after=after, count=4)] == [
        date(2027, 3, 23),
        date(2027, 4, 27),
        date(2027, 5, 25),
        date(2027, 6, 22),
    ]


def test_monthly_series_crosses_the_year_end() -> None:
    first_monday = series(date(2027, 11, 1), Repeat.MONTHLY_NTH_WEEKDAY, nth=1)
    found = occurrences(first_monday, after=utc(2027, 11, 1, 12), count=2)
    assert [m.date() for m in found] == [date(2027, 12, 6), date(2028, 1, 3)]


@pytest.mark.parametrize(
    ("first", "nth", "words"),
    [
        (date(2027, 3, 16), 2, "that is Tue 9 Mar 2027"),  # 16th is the 3rd Tuesday
        (date(2027, 3, 23), -1, "that is Tue 30 Mar 2027"),  # 4th, but not the last
        (date(2027, 3, 30), 5, "Not every month has a 5th Tuesday"),
        (date(2027, 3, 30), None, "which Tuesday of the month"),
        (date(2027, 3, 30), 0, "Please choose the 1st, 2nd, 3rd, 4th or last Tuesday"),
    ],
)
def test_monthly_series_must_start_on_its_own_week(
    first: date, nth: int | None, words: str
) -> None:
    with pytest.raises(MeetingInputError, match=words):
        series(first, Repeat.MONTHLY_NTH_WEEKDAY, nth=nth)


def test_nth_is_only_for_monthly_series() -> None:
    with pytest.raises(ValueError, match="monthly"):
        series(date(2027, 3, 16), Repeat.FORTNIGHTLY, nth=2)


def test_first_date_must_be_a_plain_date() -> None:
    with pytest.raises(TypeError, match="date"):
        series(datetime(2027, 3, 16, 10), Repeat.ONE_OFF)


def test_unknown_time_zone_is_refused_politely() -> None:
    with pytest.raises(MeetingInputError, match="Europe/London"):
        Series(date(2027, 3, 16), time(10), "Mars/Olympus", Repeat.ONE_OFF)


def test_repeat_stored_as_text_is_read_back() -> None:
    stored = Series(date(2027, 3, 16), time(10), LONDON, "fortnightly")  # type: ignore[arg-type]
    assert stored == series(date(2027, 3, 16), Repeat.FORTNIGHTLY)
    assert stored.repeat is Repeat.FORTNIGHTLY


@pytest.mark.parametrize(
    ("first", "weekday", "nth", "expected"),
    [
        (date(2027, 2, 1), 0, 1, date(2027, 2, 1)),
        (date(2027, 2, 1), 6, -1, date(2027, 2, 28)),
        (date(2027, 2, 1), 1, 4, date(2027, 2, 23)),
        (date(2027, 2, 1), 1, -1, date(2027, 2, 23)),
    ],
)
def test_nth_weekday(first: date, weekday: int, nth: int, expected: date) -> None:
    assert nth_weekday(first.year, first.month, weekday, nth) == expected


# --- "after" and "count" -----------------------------------------------------------------


def test_after_is_strict_so_callers_can_page_on() -> None:
    tuesdays = series(date(2027, 3, 16), Repeat.FORTNIGHTLY)
    assert occurrences(tuesdays, after=utc(2027, 3, 16, 10), count=1) == [utc(2027, 3, 30, 9)]
    assert occurrences(tuesdays, after=utc(2027, 3, 16, 9, 59), count=1) == [utc(2027, 3, 16, 10)]


def test_nothing_before_the_first_date_and_one_off_happens_once() -> None:
    once = series(date(2027, 3, 16), Repeat.ONE_OFF)
    assert occurrences(once, after=utc(2020, 1, 1), count=5) == [utc(2027, 3, 16, 10)]
    assert occurrences(once, after=utc(2027, 3, 16, 10), count=5) == []


def test_far_future_after_starts_there_not_at_the_beginning() -> None:
    tuesdays = series(date(2027, 3, 16), Repeat.FORTNIGHTLY)
    found = occurrences(tuesdays, after=utc(2100, 1, 1), count=1)
    assert found[0].date() == date(2100, 1, 12)
    assert (found[0].date() - date(2027, 3, 16)).days % 14 == 0


def test_after_read_in_the_areas_zone_not_utc() -> None:
    # 23:30 UTC on Monday 12 July is 00:30 BST on the Tuesday of the meeting.
    tuesdays = series(date(2027, 6, 29), Repeat.FORTNIGHTLY)
    assert occurrences(tuesdays, after=utc(2027, 7, 12, 23, 30), count=1) == [utc(2027, 7, 13, 9)]


def test_bad_arguments() -> None:
    tuesdays = series(date(2027, 3, 16), Repeat.FORTNIGHTLY)
    assert occurrences(tuesdays, after=utc(2027, 1, 1), count=0) == []
    with pytest.raises(ValueError, match="aware"):
        occurrences(tuesdays, after=datetime(2027, 1, 1), count=1)
    with pytest.raises(ValueError, match="negative"):
        occurrences(tuesdays, after=utc(2027, 1, 1), count=-1)
    with pytest.raises(ValueError, match="wall-clock"):
        Series(date(2027, 3, 16), time(10, tzinfo=UTC), LONDON, Repeat.ONE_OFF)


ZONES = st.sampled_from([LONDON, "America/New_York", "Australia/Sydney", "Asia/Kolkata"])
STARTS = st.builds(time, st.integers(7, 19), st.sampled_from([0, 15, 30, 45]))


@st.composite
def any_series(draw: st.DrawFn) -> Series:
    first = draw(st.dates(date(2026, 1, 1), date(2029, 12, 31)))
    repeat = draw(st.sampled_from(list(Repeat)))
    nth = None
    if repeat is Repeat.MONTHLY_NTH_WEEKDAY:
        nth = draw(st.sampled_from([1, 2, 3, 4, -1]))
        first = nth_weekday(first.year, first.month, first.weekday(), nth)
    return Series(first, draw(STARTS), draw(ZONES), repeat, nth)


@given(
    any_series(),
    st.datetimes(datetime(2025, 6, 1), datetime(2031, 1, 1), timezones=st.just(UTC)),
    st.integers(1, 15),
)
def test_every_occurrence_is_at_the_local_start_time(
    schedule: Series, after: datetime, count: int
) -> None:
    found = occurrences(schedule, after=after, count=count)
    zone = ZoneInfo(schedule.timezone)
    if schedule.repeat is Repeat.ONE_OFF:
        assert len(found) <= 1
    else:
        assert len(found) == count
    assert found == sorted(set(found))
    for moment in found:
        assert moment > after
        assert moment.tzinfo is UTC
        local = moment.astimezone(zone)
        assert local.time() == schedule.start
        assert local.weekday() == schedule.first_date.weekday()
        assert local.date() >= schedule.first_date
        if schedule.repeat is Repeat.FORTNIGHTLY:
            assert (local.date() - schedule.first_date).days % 14 == 0
        if schedule.repeat is Repeat.FOUR_WEEKLY:
            assert (local.date() - schedule.first_date).days % 28 == 0
        if schedule.repeat is Repeat.MONTHLY_NTH_WEEKDAY:
            assert schedule.nth is not None
            day = local.date()
            assert nth_weekday(day.year, day.month, day.weekday(), schedule.nth) == day


@given(any_series(), st.integers(1, 8), st.integers(0, 8))
def test_paging_on_from_the_last_one_misses_nothing(
    schedule: Series, first_page: int, second_page: int
) -> None:
    after = utc(2025, 12, 1)
    whole = occurrences(schedule, after=after, count=first_page + second_page)
    page = occurrences(schedule, after=after, count=first_page)
    rest = occurrences(schedule, after=page[-1], count=second_page) if page else []
    assert page + rest == whole


# --- describe ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "words"),
    [
        (series(date(2027, 3, 16), Repeat.FORTNIGHTLY), "every 2 weeks on Tuesday at 10:00"),
        (
            series(date(2027, 3, 18), Repeat.FOUR_WEEKLY, time(9, 30)),
            "every 4 weeks on Thursday at 09:30",
        ),
        (
            series(date(2027, 3, 9), Repeat.MONTHLY_NTH_WEEKDAY, nth=2),
            "on the 2nd Tuesday of each month at 10:00",
        ),
        (
            series(date(2027, 3, 30), Repeat.MONTHLY_NTH_WEEKDAY, nth=-1),
            "on the last Tuesday of each month at 10:00",
        ),
        (series(date(2027, 3, 16), Repeat.ONE_OFF), "once, on Tue 16 Mar 2027 at 10:00"),
    ],
)
def test_describe(schedule: Series, words: str) -> None:
    assert describe(schedule) == words


# --- typed dates -------------------------------------------------------------------------

TODAY = date(2027, 3, 1)


@pytest.mark.parametrize(
    "text",
    [
        "16/03/2027",
        "16/3/2027",
        "16-03-27",
        "16.03.2027",
        "16 Mar 2027",
        "16 march 2027",
        "16th March 2027",
        "16 Mar, 2027",
        "Tue 16 Mar 2027",
        "Tuesday 16/03/2027",
        "2027-03-16",
        "  16/03/2027  ",
    ],
)
def test_uk_date_formats(text: str) -> None:
    assert parse_meeting_date(text, TODAY) == date(2027, 3, 16)


def test_today_and_tomorrow() -> None:
    assert parse_meeting_date("Tomorrow", TODAY) == date(2027, 3, 2)
    assert parse_meeting_date("today", TODAY) == TODAY
    assert parse_meeting_date("1/3/27", TODAY) == TODAY


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("31/02/2027", "There is no 31 February: February 2027 has 28 days"),
        ("31/04/2027", "There is no 31 April: April 2027 has 30 days"),
        ("29/02/2027", "2027 is not a leap year"),
        ("03/16/2027", "There is no month 16. Please put the day first"),
        ("00/03/2027", "no day 0"),
        ("Wed 16 Mar 2027", "16 March 2027 is a Tuesday, not a Wednesday"),
        ("16/03", "include the year"),
        ("16 March", "include the year"),
        ("16 Marchember 2027", "did not recognise the month"),
        ("next week", "could not read that as a date"),
        ("16/03/2027 10:00", "could not read that as a date"),
        ("", "Please type the meeting date"),
        ("28/02/2027", "That date has passed"),
        ("01/01/2026", "That date has passed"),
        ("yesterday", "could not read"),
        ("02/03/2029", "more than two years away"),
        ("16/03/2127", "more than two years away"),
    ],
)
def test_dates_refused_with_a_specific_correction(text: str, words: str) -> None:
    with pytest.raises(MeetingInputError, match=words) as caught:
        parse_meeting_date(text, TODAY)
    assert isinstance(caught.value, ValueError)
    assert str(caught.value).endswith(".")


def test_two_years_ahead_is_the_last_day_allowed() -> None:
    assert parse_meeting_date("01/03/2029", TODAY) == date(2029, 3, 1)
    assert parse_meeting_date("29/02/2028", TODAY) == date(2028, 2, 29)  # a leap year
    leap_day = date(2028, 2, 29)
    assert parse_meeting_date("28/02/2030", leap_day) == date(2030, 2, 28)
    with pytest.raises(MeetingInputError, match="Thu 28 Feb 2030"):
        parse_meeting_date("01/03/2030", leap_day)


@given(st.dates(TODAY, date(2029, 3, 1)), st.sampled_from(["%d/%m/%Y", "%d-%m-%y", "%Y-%m-%d"]))
def test_any_date_in_range_reads_back(day: date, pattern: str) -> None:
    assert parse_meeting_date(day.strftime(pattern), TODAY) == day


# --- typed times -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:00", time(10)),
        ("10.00", time(10)),
        ("10am", time(10)),
        ("10 am", time(10)),
        ("10 a.m.", time(10)),
        ("2pm", time(14)),
        ("2 PM", time(14)),
        ("14:30", time(14, 30)),
        ("2:30pm", time(14, 30)),
        ("2.30pm", time(14, 30)),
        ("0930", time(9, 30)),
        ("9:05", time(9, 5)),
        ("12pm", time(12)),
        ("noon", time(12)),
        ("07:00", time(7)),
        ("20:00", time(20)),
        ("8pm", time(20)),
    ],
)
def test_start_times(text: str, expected: time) -> None:
    assert parse_start_time(text) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("25:00", "There is no 25:00 on a 24-hour clock"),
        ("24:00", "There is no 24:00"),
        ("10:60", "Minutes go from 00 to 59"),
        ("13pm", "hour goes from 1 to 12"),
        ("0am", "hour goes from 1 to 12"),
        ("2", "add the minutes or am/pm"),
        ("ten", "could not read that as a time"),
        ("10:00:00", "could not read"),
        ("", "Please type the start time"),
        ("06:59", "MARACs meet in working hours"),
        ("20:01", "MARACs meet in working hours"),
        ("12am", "MARACs meet in working hours"),
        ("9pm", "MARACs meet in working hours"),
        ("2:00", "If you meant the afternoon, write 14:00"),
    ],
)
def test_times_refused_with_a_specific_correction(text: str, words: str) -> None:
    with pytest.raises(MeetingInputError, match=words):
        parse_start_time(text)


def test_no_afternoon_hint_when_the_afternoon_is_also_out_of_hours() -> None:
    with pytest.raises(MeetingInputError) as caught:
        parse_start_time("23:00")
    assert "afternoon" not in str(caught.value)


@given(st.builds(time, st.integers(7, 19), st.integers(0, 59)))
def test_any_working_hours_time_reads_back(start: time) -> None:
    assert parse_start_time(start.strftime("%H:%M")) == start
    assert parse_start_time(start.strftime("%H.%M")) == start
    assert parse_start_time(start.strftime("%I:%M%p").lower()) == start


def test_format_of_dates_is_not_locale_dependent() -> None:
    once = series(date(2027, 12, 6), Repeat.ONE_OFF)
    assert describe(once) == "once, on Mon 6 Dec 2027 at 10:00"


def test_occurrence_list_is_fresh_each_call() -> None:
    tuesdays = series(date(2027, 3, 16), Repeat.FORTNIGHTLY)
    first = occurrences(tuesdays, after=utc(2027, 3, 1), count=2)
    first.append(utc(2000, 1, 1))
    assert len(occurrences(tuesdays, after=utc(2027, 3, 1), count=2)) == 2
    assert first[0] + timedelta(days=14) - timedelta(hours=1) == first[1]

"""MARAC figures against a hand-counted data set, period parsing and small-number suppression.

Every expected figure below was counted by hand from the table of cases and is written
out as a literal, not recomputed, so a change in how anything is counted fails here.
The CSV and chart tests reuse this data set.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.referrals.validation import InputError
from bot.stats.figures import (
    AGENCY_KINDS,
    ActionRecord,
    CaseRecord,
    CaseTally,
    MeetingRecord,
    Period,
    PeriodError,
    PerpRecord,
    compute,
    is_small,
    last_12_months,
    local_day_bounds,
    parse_period,
    quarter,
    suppress,
)
from bot.stats.national import CAPACITY_GUIDE, LATEST_DATASET
from bot.stats.report import rate_text, render_text
from bot.vocabulary import AgencyKind
from tests.support.stats import (
    HOUSING,
    POLICE,
    POPULATION,
    Q3,
    TODAY,
    make_actions,
    make_cases,
    make_meetings,
    make_perps,
    q3_figures,
)


def kinds(**counts: int) -> dict[str, int]:
    return {kind: counts.get(kind, 0) for kind in AGENCY_KINDS}


# --- counting ------------------------------------------------------------------------------


def test_meeting_rows_in_date_order_with_empty_meeting_and_nothing_outside_the_quarter() -> None:
    figures = q3_figures()
    assert [(m.meeting_id, m.held_on) for m in figures.meetings] == [
        (1, date(2026, 7, 1)),
        (2, date(2026, 8, 13)),
        (3, date(2026, 9, 10)),
        (4, date(2026, 9, 30)),
    ]


def test_first_meeting_counted_by_hand() -> None:
    m = q3_figures().meetings[0]
    assert m.cases_heard == 6
    assert m.repeat_cases == 3
    assert m.repeat_rate == pytest.approx(0.5)
    assert m.children == 7
    assert m.referrals_by_agency_kind == kinds(police=3, idva=1, health=1, housing=1)
    assert m.not_from_police_share == pytest.approx(0.5)
    assert (m.male, m.lgbt, m.disabled, m.minoritised) == (1, 1, 1, 2)
    assert (m.aged_16_17, m.perpetrators_under_18) == (1, 1)


def test_second_meeting_counted_by_hand() -> None:
    m = q3_figures().meetings[1]
    assert (m.cases_heard, m.repeat_cases, m.children) == (4, 1, 3)
    assert m.repeat_rate == pytest.approx(0.25)
    assert m.referrals_by_agency_kind == kinds(police=2, childrens_social_care=1, probation=1)
    assert m.not_from_police_share == pytest.approx(0.5)
    assert (m.male, m.lgbt, m.disabled, m.minoritised) == (1, 0, 1, 1)
    assert (m.aged_16_17, m.perpetrators_under_18) == (0, 0)


def test_third_meeting_counted_by_hand_with_an_unknown_kind_as_other() -> None:
    m = q3_figures().meetings[2]
    assert (m.cases_heard, m.repeat_cases, m.children) == (10, 3, 9)
    assert m.repeat_rate == pytest.approx(0.3)
    assert m.referrals_by_agency_kind == kinds(police=7, idva=1, education=1, other=1)
    assert m.not_from_police_share == pytest.approx(0.3)
    assert (m.male, m.lgbt, m.disabled, m.minoritised) == (2, 0, 5, 1)
    assert (m.aged_16_17, m.perpetrators_under_18) == (0, 1)


def test_meeting_with_no_cases_has_zeros_and_no_rates() -> None:
    m = q3_figures().meetings[3]
    assert (m.cases_heard, m.repeat_cases, m.children, m.male) == (0, 0, 0, 0)
    assert m.repeat_rate is None
    assert m.not_from_police_share is None
    assert m.referrals_by_agency_kind == kinds()


def test_quarter_totals_counted_by_hand() -> None:
    f = q3_figures()
    assert f.period == Q3
    assert f.as_of == TODAY
    assert (f.cases_heard, f.repeat_cases, f.children) == (20, 7, 19)
    assert f.repeat_rate == pytest.approx(0.35)
    assert f.referrals_by_agency_kind == kinds(
        police=12,
        idva=2,
        childrens_social_care=1,
        health=1,
        housing=1,
        probation=1,
        education=1,
        other=1,
    )
    assert f.not_from_police == 8
    assert f.not_from_police_share == pytest.approx(0.4)
    assert (f.male, f.lgbt, f.disabled, f.minoritised) == (4, 1, 7, 4)
    assert (f.aged_16_17, f.perpetrators_under_18) == (1, 2)
    # Set against SafeLives' published figures, not a remembered range.
    assert f.national is LATEST_DATASET
    assert f.capacity_guide is CAPACITY_GUIDE
    # Heard in the 12 months to 26 Nov 2026: Q3's 20, June's 1 and October's 1.
    assert f.cases_last_12_months == 22
    assert f.repeat_window_days == 365


def test_cases_per_10k_women_is_annualised_over_the_quarter() -> None:
    # 20 cases in 92 days -> 79.35 a year, over 50,000 women -> 15.87 per 10,000.
    assert q3_figures().cases_per_10k_women == pytest.approx(15.8696, abs=1e-4)
    assert q3_figures(population=None).cases_per_10k_women is None
    assert q3_figures(population=0).cases_per_10k_women is None


def test_actions_due_in_the_quarter_by_agency() -> None:
    assert q3_figures().actions_by_agency == {
        HOUSING: {"done": 0, "not_possible": 0, "overdue": 1, "open": 1},
        POLICE: {"done": 2, "not_possible": 1, "overdue": 2, "open": 2},
    }


def test_perpetrator_referrals_made_in_the_quarter() -> None:
    f = q3_figures()
    assert f.perp_by_state == {
        "Drive": {"referred": 1, "attending": 1, "disengaged": 1, "completed": 1},
        "Respect DVPP": {"contact_attempted": 1, "not_suitable": 1},
    }
    # Lifecycle order, not alphabetical, so the summary reads from referral to outcome.
    assert list(f.perp_by_state["Drive"]) == ["referred", "attending", "disengaged", "completed"]
    assert f.perp_starts == {"Drive": 3, "Respect DVPP": 0}
    assert f.median_days_to_start == {"Drive": 20.0, "Respect DVPP": None}


def test_a_quarter_in_progress_counts_up_to_today_only() -> None:
    today = date(2026, 8, 20)
    actions = [
        ActionRecord(POLICE, "accepted", date(2026, 8, 19)),  # yesterday: overdue
        ActionRecord(POLICE, "assigned", date(2026, 8, 20)),  # today: not yet
        ActionRecord(POLICE, "assigned", date(2026, 9, 25)),
        ActionRecord(POLICE, "done", date(2026, 8, 1)),
    ]
    f = compute(
        Q3,
        make_cases(),
        make_meetings(),
        actions,
        [],
        adult_female_population=POPULATION,
        today=today,
    )
    # Meetings 3 and 4 (September) have not happened yet.
    assert [m.meeting_id for m in f.meetings] == [1, 2]
    assert f.cases_heard == 10
    assert f.actions_by_agency == {POLICE: {"done": 1, "not_possible": 0, "overdue": 1, "open": 3}}
    # 10 cases in the 51 days from 1 July to 20 August, not in the quarter's 92.
    assert f.cases_per_10k_women == pytest.approx(10 * 365 / 51 / 5)


def test_a_meeting_known_only_through_its_cases_still_gets_a_row() -> None:
    f = compute(
        Q3,
        make_cases(),
        [],
        [],
        [],
        adult_female_population=None,
        today=TODAY,
    )
    assert [m.meeting_id for m in f.meetings] == [1, 2, 3]
    assert f.cases_heard == 20


def tallies_per_meeting(cases: list[CaseRecord]) -> list[CaseTally]:
    """What the service's GROUP BY hands over: one tally per meeting, added up here by hand."""
    merged: dict[int, CaseTally] = {}
    for case in cases:
        if case.meeting_id is None:
            continue
        one = CaseTally.of(case)
        before = merged.get(case.meeting_id)
        if before is None:
            merged[case.meeting_id] = one
            continue
        kinds_seen = dict(before.by_agency_kind)
        for kind, count in one.by_agency_kind.items():
            kinds_seen[kind] = kinds_seen.get(kind, 0) + count
        merged[case.meeting_id] = replace(
            before,
            cases=before.cases + one.cases,
            repeats=before.repeats + one.repeats,
            children=before.children + one.children,
            by_agency_kind=kinds_seen,
            male=before.male + one.male,
            lgbt=before.lgbt + one.lgbt,
            disabled=before.disabled + one.disabled,
            minoritised=before.minoritised + one.minoritised,
            aged_16_17=before.aged_16_17 + one.aged_16_17,
            perpetrators_under_18=before.perpetrators_under_18 + one.perpetrators_under_18,
        )
    return list(merged.values())


def test_cases_counted_per_meeting_by_the_database_give_the_same_figures() -> None:
    """The service hands over per-meeting tallies; the figures must not change by a digit."""
    by_case = q3_figures()
    tallies = tallies_per_meeting(make_cases())
    assert len(tallies) < len(make_cases())

    by_meeting = compute(
        Q3,
        tallies,
        make_meetings(),
        make_actions(),
        make_perps(),
        adult_female_population=POPULATION,
        today=TODAY,
    )
    mixed = compute(
        Q3,
        [*tallies[:2], *(c for c in make_cases() if c.meeting_id not in (1, 2))],
        make_meetings(),
        make_actions(),
        make_perps(),
        adult_female_population=POPULATION,
        today=TODAY,
    )
    assert by_meeting == by_case
    assert mixed == by_case


def test_grouped_actions_count_as_many_actions() -> None:
    one_by_one = [
        ActionRecord(POLICE, "done", date(2026, 7, 15)),
        ActionRecord(POLICE, "done", date(2026, 7, 16)),
        ActionRecord(POLICE, "accepted", date(2026, 7, 10)),
        ActionRecord(POLICE, "assigned", date(2026, 9, 30)),
        ActionRecord(POLICE, "assigned", date(2026, 9, 30)),
    ]
    grouped = [
        ActionRecord(POLICE, "done", date(2026, 7, 15), count=2),
        ActionRecord(POLICE, "accepted", date(2026, 7, 10)),
        ActionRecord(POLICE, "assigned", date(2026, 9, 30), count=2),
    ]

    def actions_of(records: list[ActionRecord]) -> dict[str, dict[str, int]]:
        return compute(
            Q3, [], [], records, [], adult_female_population=None, today=TODAY
        ).actions_by_agency

    assert actions_of(grouped) == actions_of(one_by_one)
    assert actions_of(grouped) == {POLICE: {"done": 2, "not_possible": 0, "overdue": 3, "open": 3}}


def test_a_tally_whose_referrers_do_not_add_up_is_refused() -> None:
    tally = tallies_per_meeting(make_cases())[0]
    with pytest.raises(ValueError, match="do not add up"):
        replace(tally, cases=tally.cases + 1)
    with pytest.raises(ValueError, match="negative"):
        replace(tally, male=-1)
    with pytest.raises(ValueError, match="has not been heard"):
        CaseTally.of(make_cases()[-1])


def test_a_quarter_in_summer_time_starts_and_ends_at_london_midnight() -> None:
    """A meeting at 00:30 on 1 July in London is 23:30 on 30 June in UTC, and is in Q3."""
    start, end = local_day_bounds(Q3.start, Q3.end, ZoneInfo("Europe/London"))
    assert start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 9, 30, 23, 0, tzinfo=UTC)


def test_days_across_the_clock_change_are_23_and_25_hours_long() -> None:
    london = ZoneInfo("Europe/London")
    spring_start, spring_end = local_day_bounds(date(2026, 3, 29), date(2026, 3, 29), london)
    autumn_start, autumn_end = local_day_bounds(date(2026, 10, 25), date(2026, 10, 25), london)
    assert (spring_end - spring_start).total_seconds() == 23 * 3600
    assert (autumn_end - autumn_start).total_seconds() == 25 * 3600


def test_unknown_action_state_is_refused_rather_than_dropped() -> None:
    with pytest.raises(ValueError, match="unknown action state"):
        compute(
            Q3,
            [],
            [],
            [ActionRecord(POLICE, "lost", date(2026, 8, 1))],
            [],
            adult_female_population=None,
            today=TODAY,
        )


def test_agency_kinds_match_the_storage_enum() -> None:
    assert tuple(kind.value for kind in AgencyKind) == AGENCY_KINDS


# --- periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "start", "end"),
    [
        (1, date(2026, 1, 1), date(2026, 3, 31)),
        (2, date(2026, 4, 1), date(2026, 6, 30)),
        (3, date(2026, 7, 1), date(2026, 9, 30)),
        (4, date(2026, 10, 1), date(2026, 12, 31)),
    ],
)
def test_calendar_quarters(q: int, start: date, end: date) -> None:
    assert quarter(2026, q) == Period(start, end, f"2026 Q{q}")


def test_last_12_months_ends_today() -> None:
    period = last_12_months(TODAY)
    assert period == Period(date(2025, 11, 27), TODAY, "12 months to 26 Nov 2026")
    assert period.days == 365


def test_last_12_months_from_29_february() -> None:
    period = last_12_months(date(2028, 2, 29))
    assert period.start == date(2027, 3, 1)
    assert period.days == 366


@pytest.mark.parametrize("text", ["2026 Q3", "q3 2026", "Q3-2026", "2026q3", "  2026   Q3 "])
def test_parse_quarter(text: str) -> None:
    assert parse_period(text, TODAY) == Q3


@pytest.mark.parametrize(
    "text", ["", "   ", "last 12 months", "Last 12 Months", "past twelve months", "12 months"]
)
def test_parse_last_12_months(text: str) -> None:
    assert parse_period(text, TODAY) == last_12_months(TODAY)


def test_parse_this_and_last_quarter() -> None:
    assert parse_period("this quarter", TODAY) == quarter(2026, 4)
    assert parse_period("last quarter", TODAY) == quarter(2026, 3)
    assert parse_period("last quarter", date(2027, 2, 15)) == quarter(2026, 4)


@pytest.mark.parametrize("text", ["banana", "2026", "Q3", "2026 Q3 please", "last 6 months"])
def test_unreadable_period_gets_a_polite_correction_without_echo(text: str) -> None:
    with pytest.raises(PeriodError) as caught:
        parse_period(text, TODAY)
    message = str(caught.value)
    assert message.startswith("Please give a quarter such as 2026 Q3")
    assert "banana" not in message
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, InputError)


def test_fifth_quarter_is_explained() -> None:
    with pytest.raises(PeriodError, match="four quarters"):
        parse_period("Q5 2026", TODAY)


def test_quarter_not_started_is_refused() -> None:
    with pytest.raises(PeriodError, match=r"2027 Q1 has not started yet.*up to 2026 Q4"):
        parse_period("2027 Q1", TODAY)
    # The current quarter, though unfinished, is allowed.
    assert parse_period("2026 Q4", TODAY) == quarter(2026, 4)


def test_period_cannot_end_before_it_starts() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        Period(date(2026, 2, 1), date(2026, 1, 31), "backwards")


# --- suppression ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"),
    [(0, "0"), (1, "<5"), (2, "<5"), (3, "<5"), (4, "<5"), (5, "5"), (6, "6"), (123, "123")],
)
def test_suppress(value: int, shown: str) -> None:
    assert suppress(value) == shown
    assert is_small(value) == (shown == "<5")


def test_suppress_refuses_negative_counts() -> None:
    with pytest.raises(ValueError, match="negative"):
        suppress(-1)


def test_rate_text_withholds_rates_resting_on_small_counts() -> None:
    assert rate_text(3, 20, suppressed=True) == "suppressed"
    assert rate_text(0, 3, suppressed=True) == "suppressed"
    assert rate_text(3, 20, suppressed=False) == "15%"
    assert rate_text(0, 20, suppressed=True) == "0%"
    assert rate_text(7, 20, suppressed=True) == "35%"
    assert rate_text(0, 0, suppressed=True) == "n/a"


# --- the bot's summary ---------------------------------------------------------------------


def test_exact_summary_for_coordinators() -> None:
    text = render_text(q3_figures(), suppressed=False)
    lines = text.splitlines()
    assert lines[0] == "MARAC figures: 2026 Q3"
    assert lines[1] == "1 Jul 2026 to 30 Sep 2026"
    for expected in [
        "Meetings held: 4",
        "Cases heard: 20",
        "Repeat cases: 7 (35%; national 32%)",
        "Children in the households: 19",
        "Referred by partners, not police: 8 (40%; national 36%)",
        "Cases per 10,000 adult women a year: 16 (national 45; SafeLives expects about 40)",
        "Male: 4 (20%; national 6.5%)",
        "LGBT+: 1 (5%; national 1.6%)",
        "Disabled: 7 (35%; national 10.0%)",
        "Black, Asian or racially minoritised: 4 (20%; national 16.1%)",
        "Aged 16–17: 1 (5%; national 1.3%)",
        "People causing harm aged 17 or under: 2",
        "Police: 12",
        "IDVA service: 2",
        "Children's social care: 1",
        "1 Jul 2026: 6 cases, 3 repeats (50%)",
        "13 Aug 2026: 4 cases, 1 repeat (25%)",
        "10 Sep 2026: 10 cases, 3 repeats (30%)",
        "30 Sep 2026: 0 cases",
        f"{POLICE}: 2 done, 1 not possible, 2 open (2 overdue)",
        f"{HOUSING}: 0 done, 0 not possible, 1 open (1 overdue)",
        "Drive: 4 referred",
        "  now: referred 1, attending 1, disengaged 1, completed 1",
        "  median 20 days from referral to start (3 started)",
        "Respect DVPP: 2 referred",
        "  none started yet",
    ]:
        assert expected in lines, expected
    assert "<5" not in text
    assert "suppressed" not in text
    # Agencies that referred nobody are left out to keep the message short.
    assert "Adult social care: 0" not in lines
    assert len(text) < 4096


def test_suppressed_summary_for_governance() -> None:
    text = render_text(q3_figures(), suppressed=True)
    lines = text.splitlines()
    for expected in [
        "Counts of 1 to 4 are shown as <5.",
        "Cases heard: 20",
        "Repeat cases: 7 (35%; national 32%)",
        "Children in the households: 19",
        "Referred by partners, not police: 8 (40%; national 36%)",
        "Cases per 10,000 adult women a year: 16 (national 45; SafeLives expects about 40)",
        "Male: <5 (national 6.5%)",
        "LGBT+: <5 (national 1.6%)",
        "Disabled: 7 (35%; national 10.0%)",
        "Black, Asian or racially minoritised: <5 (national 16.1%)",
        "Aged 16–17: <5 (national 1.3%)",
        "People causing harm aged 17 or under: <5",
        "Police: 12",
        "IDVA service: <5",
        "1 Jul 2026: 6 cases, <5 repeats (suppressed)",
        "13 Aug 2026: <5 cases, <5 repeats (suppressed)",
        "10 Sep 2026: 10 cases, <5 repeats (suppressed)",
        "30 Sep 2026: 0 cases",
        f"{POLICE}: <5 done, <5 not possible, <5 open (<5 overdue)",
        f"{HOUSING}: 0 done, 0 not possible, <5 open (<5 overdue)",
        "Drive: <5 referred",
        "  days from referral to start: suppressed",
    ]:
        assert expected in lines, expected


def test_suppressed_summary_shows_no_count_from_1_to_4() -> None:
    text = render_text(q3_figures(), suppressed=True)
    # The number of meetings is not a count of people, and the note explains the rule.
    lines = text.splitlines()[2:]
    lines.remove("Meetings held: 4")
    lines.remove("Counts of 1 to 4 are shown as <5.")
    for line in lines:
        line = re.sub(r"^\d{1,2} \w{3} \d{4}: ", "", line)  # a meeting's date
        assert not re.search(r"(?<![\d,.–-])[1-4](?![\d,.%–-])", line), line


def test_small_area_withholds_rates_and_volume() -> None:
    one_meeting = Period(date(2026, 8, 13), date(2026, 8, 13), "13 Aug 2026")
    f = compute(
        one_meeting,
        make_cases(),
        make_meetings(),
        [],
        [],
        adult_female_population=POPULATION,
        today=TODAY,
    )
    lines = render_text(f, suppressed=True).splitlines()
    assert "Cases heard: <5" in lines
    assert "Repeat cases: <5 (suppressed; national 32%)" in lines
    assert "Referred by partners, not police: suppressed (national 36%)" in lines
    assert (
        "Cases per 10,000 adult women a year: suppressed (national 45; SafeLives expects about 40)"
        in lines
    )
    exact = render_text(f, suppressed=False).splitlines()
    assert "Referred by partners, not police: 2 (50%; national 36%)" in exact
    # 4 cases on one day, annualised, over 50,000 women.
    assert (
        "Cases per 10,000 adult women a year: 292 (national 45; SafeLives expects about 40)"
        in exact
    )


def test_unknown_population_and_empty_period_read_sensibly() -> None:
    f = compute(quarter(2026, 1), [], [], [], [], adult_female_population=None, today=TODAY)
    lines = render_text(f, suppressed=True).splitlines()
    assert "Meetings held: 0" in lines
    assert "Cases heard: 0" in lines
    assert (
        "Cases per 10,000 adult women a year: not known (national 45; SafeLives expects about 40)"
        in lines
    )
    assert not any(line.startswith("Repeat cases") for line in lines)


def test_period_in_progress_says_so() -> None:
    f = compute(quarter(2026, 4), [], [], [], [], adult_female_population=None, today=TODAY)
    assert (
        "Counted up to 26 Nov 2026; the period has not ended."
        in render_text(f, suppressed=False).splitlines()
    )


def test_many_meetings_point_to_the_csv_instead_of_listing_each() -> None:
    meetings = [MeetingRecord(i, date(2026, 7, 1 + i)) for i in range(20)]
    f = compute(Q3, [], meetings, [], [], adult_female_population=None, today=TODAY)
    text = render_text(f, suppressed=False)
    assert "20 meetings: the CSV has one row for each." in text.splitlines()
    assert "2 Jul 2026: 0 cases" not in text


def test_start_before_referral_is_refused_as_a_data_error() -> None:
    perps = [PerpRecord("Drive", "started", date(2026, 8, 10), date(2026, 8, 1))]
    with pytest.raises(ValueError, match="before it was made"):
        compute(Q3, [], [], [], perps, adult_female_population=None, today=TODAY)

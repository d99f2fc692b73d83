"""Agenda cut-off, research deadline, placing an accepted case, and agenda order.

Easter 2027: Good Friday 26 March, Easter Monday 29 March; the clocks also go forward on
Sunday 28 March, so a deadline before Easter is in GMT and the meeting after it in BST.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.meetings.agenda_rules import (
    MeetingSlot,
    Placement,
    cutoff,
    place_case,
    reorder,
    research_deadline,
)
from bot.meetings.workdays import add_working_days, is_working_day

LONDON = "Europe/London"
ZONE = ZoneInfo(LONDON)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def local(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ZONE).astimezone(UTC)


# --- deadlines ---------------------------------------------------------------------------


def test_cutoff_is_five_working_days_back_over_the_easter_weekend() -> None:
    meeting = local(2027, 4, 1, 10)  # Thursday after Easter, BST
    # Wed 31, Tue 30, (Mon 29 Easter Monday, Fri 26 Good Friday), Thu 25, Wed 24, Tue 23.
    assert cutoff(meeting, LONDON) == local(2027, 3, 23, 17) == utc(2027, 3, 23, 17)


def test_research_deadline_is_two_working_days_back_at_five_local() -> None:
    assert research_deadline(local(2027, 4, 1, 10), LONDON) == utc(2027, 3, 30, 16)  # 17:00 BST
    # Tuesday after Easter: Monday and Friday are bank holidays, so Wednesday before.
    assert research_deadline(local(2027, 3, 30, 10), LONDON) == utc(2027, 3, 24, 17)  # GMT


def test_deadlines_over_christmas_with_a_council_shutdown() -> None:
    meeting = local(2028, 1, 4, 10)  # Tuesday; Monday 3 January is a bank holiday
    # Fri 31, Thu 30, Wed 29, (Tue 28, Mon 27 substitutes), Fri 24, Thu 23.
    assert cutoff(meeting, LONDON) == utc(2027, 12, 23, 17)
    shutdown = frozenset({date(2027, 12, 29), date(2027, 12, 30), date(2027, 12, 31)})
    assert cutoff(meeting, LONDON, extra_closures=shutdown) == utc(2027, 12, 20, 17)
    assert research_deadline(meeting, LONDON, extra_closures=shutdown) == utc(2027, 12, 23, 17)


def test_working_days_are_configurable() -> None:
    meeting = local(2027, 7, 13, 10)  # Tuesday
    assert cutoff(meeting, LONDON, working_days=10) == local(2027, 6, 29, 17)
    assert research_deadline(meeting, LONDON, working_days=1) == local(2027, 7, 12, 17)


def test_the_meetings_local_day_is_counted_from_not_its_utc_day() -> None:
    # 23:30 UTC on Tuesday 6 July is 00:30 BST on Wednesday 7 July.
    meeting = utc(2027, 7, 6, 23, 30)
    assert research_deadline(meeting, LONDON, working_days=1) == local(2027, 7, 6, 17)


def test_a_naive_meeting_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        cutoff(datetime(2027, 4, 1, 10), LONDON)


@given(
    st.dates(date(2026, 1, 1), date(2029, 12, 31)).filter(is_working_day),
    st.builds(time, st.integers(8, 18), st.sampled_from([0, 30])),
    st.integers(1, 10),
)
def test_deadlines_are_five_pm_local_on_a_working_day_n_days_before(
    day: date, at: time, n: int
) -> None:
    meeting = datetime.combine(day, at, tzinfo=ZONE).astimezone(UTC)
    deadline = cutoff(meeting, LONDON, working_days=n)
    local_deadline = deadline.astimezone(ZONE)
    assert deadline.tzinfo is UTC
    assert local_deadline.time() == time(17)
    assert is_working_day(local_deadline.date())
    assert add_working_days(local_deadline.date(), n) == day
    assert deadline < meeting


# --- placing a case ----------------------------------------------------------------------

# Alternate Tuesdays at 10:00; their 5-working-day cut-offs are 17:00 on the Tuesday before,
# except that Easter moves the 30 March one back to Friday 19 March.
FIRST = MeetingSlot(1, local(2027, 3, 16, 10), LONDON, capacity=16, listed=10)
SECOND = MeetingSlot(2, local(2027, 3, 30, 10), LONDON, capacity=16, listed=4)
THIRD = MeetingSlot(3, local(2027, 4, 13, 10), LONDON, capacity=16, listed=0)


def full(slot: MeetingSlot, listed: int | None = None) -> MeetingSlot:
    return MeetingSlot(
        slot.meeting_id, slot.starts_at, slot.timezone, slot.capacity, listed or slot.capacity
    )


def test_the_first_meeting_whose_cutoff_is_ahead() -> None:
    slots = [FIRST, SECOND, THIRD]
    assert place_case(slots, utc(2027, 3, 9, 16, 59)) == Placement(1, False, None)


def test_the_cutoff_passes_at_five_exactly() -> None:
    slots = [FIRST, SECOND, THIRD]
    assert place_case(slots, utc(2027, 3, 9, 17)) == Placement(2, False, None)


def test_a_cutoff_moved_earlier_by_easter() -> None:
    # Without Easter the 30 March cut-off would be Tuesday 23 March; with Good Friday and
    # Easter Monday it is Friday 19 March.
    slots = [SECOND, THIRD]
    assert cutoff(SECOND.starts_at, LONDON) == utc(2027, 3, 19, 17)
    assert place_case(slots, utc(2027, 3, 19, 16, 59)) == Placement(2, False, None)
    assert place_case(slots, utc(2027, 3, 19, 17)) == Placement(3, False, None)
    assert place_case(slots, utc(2027, 3, 22, 9)) == Placement(3, False, None)


def test_a_full_meeting_still_takes_the_case_and_suggests_the_next_with_room() -> None:
    slots = [full(FIRST), SECOND, THIRD]
    assert place_case(slots, utc(2027, 3, 1)) == Placement(1, True, 2)


def test_over_capacity_counts_as_full() -> None:
    slots = [full(FIRST, listed=20), full(SECOND), THIRD]
    assert place_case(slots, utc(2027, 3, 1)) == Placement(1, True, 3)


def test_no_suggestion_when_every_open_meeting_is_full() -> None:
    slots = [full(FIRST), full(SECOND), full(THIRD)]
    assert place_case(slots, utc(2027, 3, 1)) == Placement(1, True, None)


def test_a_roomy_meeting_whose_cutoff_has_passed_is_not_suggested() -> None:
    slots = [FIRST, full(SECOND), THIRD]
    assert place_case(slots, utc(2027, 3, 10)) == Placement(2, True, 3)


def test_no_meetings_or_none_open() -> None:
    assert place_case([], utc(2027, 3, 1)) == Placement(None, False, None)
    assert place_case([FIRST, SECOND], utc(2027, 4, 1)) == Placement(None, False, None)


def test_order_of_the_list_does_not_matter() -> None:
    assert place_case([THIRD, full(FIRST), SECOND], utc(2027, 3, 1)) == Placement(1, True, 2)


def test_a_zero_day_cutoff_still_closes_when_the_meeting_starts() -> None:
    # The 17:00 same-day cut-off would be after a 10:00 meeting has begun.
    slots = [FIRST, SECOND]
    assert place_case(slots, local(2027, 3, 16, 9, 59), cutoff_days=0) == Placement(1, False, None)
    assert place_case(slots, local(2027, 3, 16, 10), cutoff_days=0) == Placement(2, False, None)


def test_placement_honours_extra_closures() -> None:
    # Close the three working days before the first meeting's cut-off day: it moves back.
    closures = frozenset({date(2027, 3, 9), date(2027, 3, 10), date(2027, 3, 11)})
    now = utc(2027, 3, 8, 18)
    assert place_case([FIRST, SECOND], now) == Placement(1, False, None)
    assert place_case([FIRST, SECOND], now, extra_closures=closures) == Placement(2, False, None)


def test_placement_refuses_naive_now_and_odd_slots() -> None:
    with pytest.raises(ValueError, match="aware"):
        place_case([FIRST], datetime(2027, 3, 1))
    with pytest.raises(ValueError, match="aware"):
        MeetingSlot(9, datetime(2027, 3, 16, 10), LONDON, 16, 0)
    with pytest.raises(ValueError, match="negative"):
        MeetingSlot(9, FIRST.starts_at, LONDON, -1, 0)


@given(
    st.lists(
        st.tuples(st.integers(0, 60), st.integers(0, 3), st.integers(0, 5)),
        max_size=6,
        unique_by=lambda item: item[0],
    ),
    st.integers(0, 60 * 24),
)
def test_placement_is_consistent(raw: list[tuple[int, int, int]], hours: int) -> None:
    start = utc(2027, 1, 4, 10)
    slots = [
        MeetingSlot(index, start + timedelta(days=days), LONDON, capacity, listed)
        for index, (days, capacity, listed) in enumerate(raw)
    ]
    now = start + timedelta(hours=hours) - timedelta(days=10)
    placed = place_case(slots, now)
    open_ids = [
        slot.meeting_id
        for slot in sorted(slots, key=lambda slot: slot.starts_at)
        if now < cutoff(slot.starts_at, LONDON)
    ]
    by_id = {slot.meeting_id: slot for slot in slots}
    assert placed.meeting_id == (open_ids[0] if open_ids else None)
    if placed.meeting_id is None:
        assert placed == Placement(None, False, None)
        return
    chosen = by_id[placed.meeting_id]
    assert placed.over_capacity == (chosen.listed >= chosen.capacity)
    if placed.suggestion is not None:
        assert placed.over_capacity
        suggested = by_id[placed.suggestion]
        assert suggested.listed < suggested.capacity
        assert suggested.starts_at > chosen.starts_at
        assert placed.suggestion in open_ids


# --- agenda order ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moved", "position", "expected"),
    [
        (30, 0, [30, 10, 20, 40]),
        (10, 2, [20, 30, 10, 40]),
        (10, 3, [20, 30, 40, 10]),
        (10, 99, [20, 30, 40, 10]),  # clamped to the end
        (40, -5, [40, 10, 20, 30]),  # clamped to the top, not counted from the end
        (20, 1, [10, 20, 30, 40]),  # already there
    ],
)
def test_reorder(moved: int, position: int, expected: list[int]) -> None:
    agenda = [10, 20, 30, 40]
    assert reorder(agenda, moved, position) == expected
    assert agenda == [10, 20, 30, 40]


def test_reorder_refuses_a_case_not_on_the_agenda_or_a_repeated_one() -> None:
    with pytest.raises(ValueError, match="not on this agenda"):
        reorder([1, 2], 3, 0)
    with pytest.raises(ValueError, match="once"):
        reorder([1, 2, 1], 1, 0)


@given(
    st.lists(st.integers(1, 10_000), min_size=1, max_size=30, unique=True).flatmap(
        lambda ids: st.tuples(st.just(ids), st.sampled_from(ids), st.integers(-5, 40))
    )
)
def test_reorder_is_a_permutation_that_keeps_everyone_elses_order(
    drawn: tuple[list[int], int, int],
) -> None:
    ids, moved, position = drawn
    result = reorder(ids, moved, position)
    assert sorted(result) == sorted(ids)
    assert result.index(moved) == min(max(position, 0), len(ids) - 1)
    assert [case for case in result if case != moved] == [case for case in ids if case != moved]

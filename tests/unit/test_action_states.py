"""Action and perpetrator-referral state machines, follow-up dates and the waiting-time median.

The expected transition tables are written out here edge by edge from the agreed
rules, not read from the module, so a changed table fails these tests.
"""

from __future__ import annotations

from collections import deque
from datetime import date, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot import texts
from bot.actions.states import (
    ACTION_FINAL,
    ACTION_TRANSITIONS,
    PERP_FINAL,
    PERP_NEEDS_REASON,
    PERP_TRANSITIONS,
    ActionState,
    PerpState,
    TransitionRefused,
    acceptance_chase_due,
    action_due_date,
    action_state,
    can_move,
    check_contact_date,
    check_move,
    check_perp_move,
    end_reason_of,
    first_contact_chase_due,
    is_not_done,
    is_open,
    median_days,
    overdue_escalation_due,
    perp_can_move,
    perp_next_options,
    perp_state,
    stale_chase_due,
)
from bot.meetings.workdays import is_working_day
from bot.referrals.validation import InputError
from bot.vocabulary import PerpEndReason

A = ActionState
P = PerpState
R = PerpEndReason

EXPECTED_ACTION_EDGES = {
    (A.ASSIGNED, A.ACCEPTED),
    (A.ASSIGNED, A.DONE),
    (A.ASSIGNED, A.NOT_POSSIBLE),
    (A.ASSIGNED, A.REASSIGNED),
    (A.ACCEPTED, A.DONE),
    (A.ACCEPTED, A.NOT_POSSIBLE),
    (A.ACCEPTED, A.REASSIGNED),
    (A.REASSIGNED, A.ACCEPTED),
    (A.REASSIGNED, A.DONE),
    (A.REASSIGNED, A.NOT_POSSIBLE),
    (A.REASSIGNED, A.REASSIGNED),
}

SESSION_STATES = (P.STARTED, P.SESSION_ATTENDED, P.SESSION_MISSED, P.ATTENDING, P.DISENGAGED)

EXPECTED_PERP_EDGES = (
    {
        # Contact is planned (and the victim's IDVA told) before any contact is attempted.
        (P.REFERRED, P.CONTACT_PLANNED),
        (P.CONTACT_PLANNED, P.CONTACT_PLANNED),
        (P.CONTACT_PLANNED, P.CONTACT_ATTEMPTED),
        (P.CONTACT_ATTEMPTED, P.CONTACT_ATTEMPTED),
        (P.CONTACT_ATTEMPTED, P.CONTACT_PLANNED),
        (P.CONTACT_ATTEMPTED, P.ASSESSED),
        (P.ASSESSED, P.SUITABLE),
        (P.ASSESSED, P.NOT_SUITABLE),
        (P.SUITABLE, P.STARTED),
    }
    | {
        (state, session)
        for state in SESSION_STATES
        for session in (P.SESSION_ATTENDED, P.SESSION_MISSED)
    }
    | {
        (state, P.ENDED)
        for state in (
            P.REFERRED,
            P.CONTACT_PLANNED,
            P.CONTACT_ATTEMPTED,
            P.ASSESSED,
            P.SUITABLE,
            *SESSION_STATES,
        )
    }
)

# Steps only older histories hold: replayed, never taken now.
EARLIER_EDGES = {
    (P.REFERRED, P.CONTACT_ATTEMPTED),
    (P.STARTED, P.ATTENDING),
    (P.STARTED, P.DISENGAGED),
    (P.ATTENDING, P.DISENGAGED),
    (P.ATTENDING, P.COMPLETED),
    (P.DISENGAGED, P.ATTENDING),
}


def _check(current: PerpState, target: PerpState) -> None:
    """check_perp_move with everything a step may need, so that only legality decides."""
    check_perp_move(
        current, target, "moved away", planned_on=date(2026, 12, 14), end_reason=R.MOVED_AWAY
    )


def _edges(table: dict[A, frozenset[A]] | dict[P, frozenset[P]]) -> set[tuple[str, str]]:
    return {(source, target) for source, targets in table.items() for target in targets}


# --- actions ---------------------------------------------------------------------------------


def test_action_values_are_the_stored_ones() -> None:
    assert [state.value for state in ActionState] == [
        "assigned",
        "accepted",
        "done",
        "not_possible",
        "reassigned",
    ]


def test_action_table_is_the_agreed_one() -> None:
    assert set(ACTION_TRANSITIONS) == set(ActionState)
    assert _edges(ACTION_TRANSITIONS) == EXPECTED_ACTION_EDGES
    assert {A.DONE, A.NOT_POSSIBLE} == ACTION_FINAL


@given(st.lists(st.sampled_from(ActionState), max_size=30))
def test_a_move_is_applied_exactly_when_the_table_allows_it(targets: list[ActionState]) -> None:
    history = [A.ASSIGNED]
    for target in targets:
        current = action_state(history)
        legal = (current, target) in EXPECTED_ACTION_EDGES
        assert can_move(current, target) is legal
        if legal:
            check_move(current, target)
            history.append(target)
        else:
            with pytest.raises(TransitionRefused) as refused:
                check_move(current, target)
            assert refused.value.state is current
            assert str(refused.value).endswith(".")
            with pytest.raises(ValueError):
                action_state([*history, target])
        assert action_state(history) == history[-1]


@given(st.data())
def test_legal_walks_close_only_through_the_table(data: st.DataObject) -> None:
    history = [A.ASSIGNED]
    for _ in range(40):
        current = history[-1]
        options = sorted(target for source, target in EXPECTED_ACTION_EDGES if source == current)
        if not options:
            break
        assert is_open(current)
        history.append(data.draw(st.sampled_from(options)))
    assert action_state(history) == history[-1]
    assert all(pair in EXPECTED_ACTION_EDGES for pair in pairwise(history))
    closed = [index for index, state in enumerate(history) if not is_open(state)]
    assert closed in ([], [len(history) - 1])  # once closed, nothing follows


@pytest.mark.parametrize("final", [A.DONE, A.NOT_POSSIBLE])
@pytest.mark.parametrize("target", list(ActionState))
def test_final_actions_accept_no_moves(final: ActionState, target: ActionState) -> None:
    assert not is_open(final)
    assert not can_move(final, target)
    with pytest.raises(TransitionRefused):
        check_move(final, target)


@pytest.mark.parametrize(
    "history",
    [
        [],
        [A.ACCEPTED],
        [A.ASSIGNED, A.ASSIGNED],
        [A.ASSIGNED, A.DONE, A.ACCEPTED],
        [A.ASSIGNED, A.ACCEPTED, A.ACCEPTED],
    ],
)
def test_illegal_histories_are_refused(history: list[ActionState]) -> None:
    with pytest.raises(ValueError):
        action_state(history)


def test_reassignment_needs_the_new_owner_to_accept() -> None:
    history = [A.ASSIGNED, A.ACCEPTED, A.REASSIGNED]
    assert action_state(history) is A.REASSIGNED
    assert is_open(A.REASSIGNED)
    assert can_move(A.REASSIGNED, A.ACCEPTED)
    assert action_state([*history, A.ACCEPTED, A.DONE]) is A.DONE


@pytest.mark.parametrize(
    ("current", "target", "words"),
    [
        (A.DONE, A.ACCEPTED, "This action is already done."),
        (A.DONE, A.DONE, "This action is already done."),
        (A.NOT_POSSIBLE, A.DONE, "This action is already marked not possible."),
        (A.ACCEPTED, A.ACCEPTED, "This action is already accepted."),
        (A.ACCEPTED, A.ASSIGNED, "already assigned"),
    ],
)
def test_refusals_tell_the_person_why(current: A, target: A, words: str) -> None:
    with pytest.raises(TransitionRefused) as refused:
        check_move(current, target)
    assert words in str(refused.value)
    assert refused.value.state is current


def test_not_done_is_an_open_action_past_its_due_date() -> None:
    due = date(2026, 12, 10)
    after = date(2026, 12, 11)
    assert is_not_done(A.ACCEPTED, due, after)
    assert is_not_done(A.REASSIGNED, due, after)
    assert not is_not_done(A.ACCEPTED, due, due)
    assert not is_not_done(A.DONE, due, after)
    assert not is_not_done(A.NOT_POSSIBLE, due, after)


# --- perpetrator referrals -------------------------------------------------------------------


def test_perp_values_are_lower_snake_case() -> None:
    assert [state.value for state in PerpState] == [
        "referred",
        "contact_attempted",
        "assessed",
        "suitable",
        "not_suitable",
        "started",
        "attending",
        "disengaged",
        "completed",
        "ended",
        "contact_planned",
        "session_attended",
        "session_missed",
    ]
    assert [reason.value for reason in PerpEndReason] == [
        "completed",
        "disengaged",
        "unsuitable",
        "breached",
        "moved_away",
    ]


def test_perp_table_is_the_agreed_one() -> None:
    assert set(PERP_TRANSITIONS) == set(PerpState)
    assert _edges(PERP_TRANSITIONS) == EXPECTED_PERP_EDGES
    assert {P.NOT_SUITABLE, P.COMPLETED, P.ENDED} == PERP_FINAL
    assert {P.NOT_SUITABLE} == PERP_NEEDS_REASON


@given(st.lists(st.sampled_from(PerpState), max_size=30))
def test_a_perp_move_is_applied_exactly_when_the_table_allows_it(targets: list[PerpState]) -> None:
    history = [P.REFERRED]
    for target in targets:
        current = perp_state(history)
        legal = (current, target) in EXPECTED_PERP_EDGES
        assert perp_can_move(current, target) is legal
        if legal:
            _check(current, target)
            history.append(target)
        else:
            with pytest.raises(TransitionRefused) as refused:
                _check(current, target)
            assert refused.value.state is current
            if (current, target) not in EARLIER_EDGES:
                with pytest.raises(ValueError):
                    perp_state([*history, target])
        assert perp_state(history) == history[-1]


def test_contact_cannot_be_attempted_before_it_is_planned() -> None:
    with pytest.raises(TransitionRefused) as refused:
        check_perp_move(P.REFERRED, P.CONTACT_ATTEMPTED)
    assert str(refused.value) == texts.PERP_CONTACT_BEFORE_ATTEMPT
    assert perp_next_options(P.REFERRED) == [P.CONTACT_PLANNED, P.ENDED]
    check_perp_move(P.REFERRED, P.CONTACT_PLANNED, planned_on=date(2026, 12, 14))
    check_perp_move(P.CONTACT_PLANNED, P.CONTACT_ATTEMPTED)


def test_planning_contact_needs_a_date_today_or_later_within_the_year() -> None:
    with pytest.raises(InputError) as refused:
        check_perp_move(P.REFERRED, P.CONTACT_PLANNED)
    assert str(refused.value) == texts.PERP_NEEDS_CONTACT_DATE
    today = date(2026, 12, 7)
    check_contact_date(today, today)
    check_contact_date(today + timedelta(days=366), today)
    with pytest.raises(InputError) as passed:
        check_contact_date(today - timedelta(days=1), today)
    assert str(passed.value) == texts.PERP_CONTACT_DATE_PASSED
    with pytest.raises(InputError) as far:
        check_contact_date(today + timedelta(days=367), today)
    assert str(far.value) == texts.PERP_CONTACT_DATE_TOO_FAR


def test_ending_needs_a_coded_reason_and_sessions_continue_after_a_missed_one() -> None:
    with pytest.raises(InputError) as refused:
        check_perp_move(P.SESSION_MISSED, P.ENDED)
    assert str(refused.value) == texts.PERP_NEEDS_END_REASON
    for reason in PerpEndReason:
        check_perp_move(P.SESSION_MISSED, P.ENDED, end_reason=reason)
    assert perp_next_options(P.SESSION_MISSED) == [P.SESSION_ATTENDED, P.SESSION_MISSED, P.ENDED]
    steps = [
        P.REFERRED,
        P.CONTACT_PLANNED,
        P.CONTACT_ATTEMPTED,
        P.ASSESSED,
        P.SUITABLE,
        P.STARTED,
        P.SESSION_ATTENDED,
        P.SESSION_MISSED,
        P.SESSION_ATTENDED,
        P.ENDED,
    ]
    assert perp_state(steps) is P.ENDED


def test_the_end_reason_of_older_closing_steps() -> None:
    assert end_reason_of(P.COMPLETED, None) is R.COMPLETED
    assert end_reason_of(P.NOT_SUITABLE, None) is R.UNSUITABLE
    assert end_reason_of(P.ENDED, "breached") is R.BREACHED
    assert end_reason_of(P.ENDED, None) is None


@given(st.data())
def test_perp_walks_close_only_through_the_table(data: st.DataObject) -> None:
    history = [P.REFERRED]
    for _ in range(40):
        options = perp_next_options(history[-1])
        if not options:
            break
        history.append(data.draw(st.sampled_from(options)))
    assert perp_state(history) == history[-1]
    assert all(pair in EXPECTED_PERP_EDGES for pair in pairwise(history))
    closed = [index for index, state in enumerate(history) if state in PERP_FINAL]
    assert closed in ([], [len(history) - 1])


@pytest.mark.parametrize("current", list(PerpState))
def test_button_options_match_the_table_with_ended_last(current: PerpState) -> None:
    options = perp_next_options(current)
    assert len(options) == len(set(options))
    assert {(current, target) for target in options} == {
        edge for edge in EXPECTED_PERP_EDGES if edge[0] == current
    }
    if current in PERP_FINAL:
        assert options == []
    else:
        assert options[-1] is P.ENDED
        assert options[0] is not P.ENDED


@pytest.mark.parametrize("final", [P.NOT_SUITABLE, P.COMPLETED, P.ENDED])
@pytest.mark.parametrize("target", list(PerpState))
def test_final_referrals_accept_no_moves(final: PerpState, target: PerpState) -> None:
    assert not perp_can_move(final, target)
    with pytest.raises(TransitionRefused) as refused:
        _check(final, target)
    assert "already closed" in str(refused.value)


def test_every_state_is_reachable_and_every_open_state_can_close() -> None:
    def reachable(start: PerpState) -> set[PerpState]:
        seen = {start}
        queue = deque([start])
        while queue:
            for target in PERP_TRANSITIONS[queue.popleft()]:
                if target not in seen:
                    seen.add(target)
                    queue.append(target)
        return seen

    # The states only older histories reach are the ones no new step may take.
    assert reachable(P.REFERRED) == set(PerpState) - {P.ATTENDING, P.DISENGAGED, P.COMPLETED}
    for state in PerpState:
        assert reachable(state) & PERP_FINAL


def test_an_older_history_still_replays() -> None:
    steps = [
        P.REFERRED,
        P.CONTACT_ATTEMPTED,
        P.CONTACT_ATTEMPTED,
        P.CONTACT_ATTEMPTED,
        P.ASSESSED,
        P.SUITABLE,
        P.STARTED,
        P.ATTENDING,
        P.DISENGAGED,
        P.ATTENDING,
        P.COMPLETED,
    ]
    assert perp_state(steps) is P.COMPLETED
    for cut in range(1, len(steps)):
        assert perp_state(steps[:cut]) is steps[cut - 1]


@pytest.mark.parametrize(
    "history",
    [
        [],
        [P.CONTACT_ATTEMPTED],
        [P.REFERRED, P.ASSESSED],
        [P.REFERRED, P.CONTACT_ATTEMPTED, P.ASSESSED, P.STARTED],
        [P.REFERRED, P.CONTACT_ATTEMPTED, P.ASSESSED, P.SUITABLE, P.STARTED, P.COMPLETED],
        [P.REFERRED, P.CONTACT_PLANNED, P.ASSESSED],
    ],
)
def test_illegal_perp_histories_are_refused(history: list[PerpState]) -> None:
    with pytest.raises(ValueError):
        perp_state(history)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_not_suitable_needs_a_reason(reason: str | None) -> None:
    with pytest.raises(InputError) as refused:
        check_perp_move(P.ASSESSED, P.NOT_SUITABLE, reason)
    assert "reason" in str(refused.value)
    check_perp_move(P.ASSESSED, P.NOT_SUITABLE, "Excluded: firearms conviction")


def test_other_moves_need_no_reason() -> None:
    check_perp_move(P.ASSESSED, P.SUITABLE)


# --- follow-up dates -------------------------------------------------------------------------

# 2026: Christmas Day Friday 25 December, Boxing Day Saturday so Monday 28 December is the
# substitute holiday, New Year's Day Friday 1 January 2027.
SHUTDOWN = frozenset({date(2026, 12, 29), date(2026, 12, 30), date(2026, 12, 31)})


@pytest.mark.parametrize(
    ("rule", "start", "closures", "expected"),
    [
        (action_due_date, date(2026, 12, 17), frozenset(), date(2027, 1, 5)),
        (action_due_date, date(2026, 12, 17), SHUTDOWN, date(2027, 1, 8)),
        (action_due_date, date(2026, 11, 12), frozenset(), date(2026, 11, 26)),
        (acceptance_chase_due, date(2026, 12, 24), frozenset(), date(2026, 12, 30)),
        (acceptance_chase_due, date(2026, 12, 4), frozenset(), date(2026, 12, 8)),
        (acceptance_chase_due, date(2026, 12, 24), SHUTDOWN, date(2027, 1, 5)),
        (overdue_escalation_due, date(2026, 12, 23), frozenset(), date(2026, 12, 30)),
        (first_contact_chase_due, date(2026, 12, 18), frozenset(), date(2027, 1, 6)),
        (stale_chase_due, date(2026, 12, 1), frozenset(), date(2026, 12, 31)),
        (stale_chase_due, date(2026, 12, 1), SHUTDOWN, date(2027, 1, 6)),
    ],
)
def test_follow_up_dates_over_christmas_and_new_year(
    rule: object, start: date, closures: frozenset[date], expected: date
) -> None:
    assert callable(rule)
    assert rule(start, extra_closures=closures) == expected


def test_action_due_date_takes_the_area_s_own_number_of_days() -> None:
    assert action_due_date(date(2026, 12, 14), 5) == date(2026, 12, 21)
    assert action_due_date(date(2026, 12, 14), working_days=0) == date(2026, 12, 14)


@given(
    st.dates(min_value=date(2025, 1, 1), max_value=date(2029, 12, 31)),
    st.sampled_from(
        [
            (acceptance_chase_due, 2),
            (overdue_escalation_due, 3),
            (first_contact_chase_due, 10),
            (stale_chase_due, 20),
            (action_due_date, 10),
        ]
    ),
)
def test_follow_ups_land_on_a_working_day_at_least_n_days_later(
    start: date, rule_and_days: tuple[object, int]
) -> None:
    rule, days = rule_and_days
    assert callable(rule)
    result = rule(start)
    assert is_working_day(result)
    assert result - start >= timedelta(days=days)
    working = sum(
        is_working_day(start + timedelta(days=offset))
        for offset in range(1, (result - start).days + 1)
    )
    assert working == days


def test_a_datetime_is_not_a_date_here() -> None:
    with pytest.raises(TypeError):
        acceptance_chase_due(datetime(2026, 12, 24, 9, 0))


# --- waiting times ---------------------------------------------------------------------------

DAY = date(2026, 1, 5)


def _after(days: int) -> date:
    return DAY + timedelta(days=days)


def test_median_ignores_referrals_not_started() -> None:
    pairs = [(DAY, _after(4)), (DAY, None), (DAY, _after(10)), (DAY, _after(6))]
    assert median_days(pairs) == 6.0
    assert median_days([(DAY, _after(4)), (DAY, _after(7))]) == 5.5


def test_median_is_none_when_nothing_has_started() -> None:
    assert median_days([]) is None
    assert median_days([(DAY, None), (DAY, None)]) is None


def test_a_start_before_the_referral_is_a_data_error() -> None:
    with pytest.raises(ValueError):
        median_days([(DAY, DAY - timedelta(days=1))])


@given(
    st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=30),
    st.integers(min_value=0, max_value=10),
)
def test_median_lies_within_the_waits_and_waiting_ones_do_not_move_it(
    waits: list[int], waiting: int
) -> None:
    started: list[tuple[date, date | None]] = [(DAY, _after(wait)) for wait in waits]
    result = median_days(started)
    assert result is not None
    assert min(waits) <= result <= max(waits)
    below = sum(wait < result for wait in waits)
    above = sum(wait > result for wait in waits)
    assert below <= len(waits) / 2 and above <= len(waits) / 2
    assert median_days(started + [(DAY, None)] * waiting) == result

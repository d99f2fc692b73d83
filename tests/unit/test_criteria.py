"""Referral criteria and urgency: judgement may raise a case to MARAC, never lower one."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.referrals.criteria import (
    CriterionChoice,
    Thresholds,
    Urgency,
    assess_urgency,
    available_criteria,
    determine_criterion,
    within_repeat_window,
)
from bot.referrals.dash import STRANGULATION, THREATS_TO_KILL, Answer, DashAnswers
from bot.referrals.validation import InputError
from bot.vocabulary import Criterion

DEFAULT = Thresholds()
REASON = "Strangled last week and extremely frightened"


def answers_with(yes: Collection[int] = (), not_known: Collection[int] = ()) -> DashAnswers:
    return {
        n: Answer.YES if n in yes else Answer.NOT_KNOWN if n in not_known else Answer.NO
        for n in range(1, 25)
    }


choices = st.builds(
    CriterionChoice,
    chosen=st.sampled_from(Criterion),
    judgement_reason=st.none() | st.text(max_size=40),
    police_incidents_12m=st.none() | st.integers(0, 50),
    repeat_confirmed=st.booleans(),
)
thresholds = st.builds(Thresholds, dash=st.integers(1, 24), escalation=st.integers(1, 10))


def test_default_thresholds_are_safelives_recommendations() -> None:
    assert (DEFAULT.dash, DEFAULT.escalation) == (14, 3)


@pytest.mark.parametrize(("dash", "escalation"), [(0, 3), (25, 3), (14, 0)])
def test_nonsense_thresholds_are_refused_at_configuration(dash: int, escalation: int) -> None:
    with pytest.raises(ValueError):
        Thresholds(dash=dash, escalation=escalation)


# --- visible high risk is computed -----------------------------------------------------------


@pytest.mark.parametrize("chosen", list(Criterion))
def test_at_the_threshold_the_case_is_visible_high_risk_whatever_was_chosen(
    chosen: Criterion,
) -> None:
    choice = CriterionChoice(chosen=chosen)
    assert determine_criterion(14, choice, DEFAULT) is Criterion.VISIBLE_HIGH_RISK


def test_one_below_the_threshold_visible_high_risk_is_refused_with_the_numbers() -> None:
    with pytest.raises(InputError) as caught:
        determine_criterion(13, CriterionChoice(Criterion.VISIBLE_HIGH_RISK), DEFAULT)
    message = str(caught.value)
    assert "14 or more" in message
    assert "13" in message
    assert "professional judgement" in message


def test_the_area_threshold_is_the_one_used() -> None:
    local = Thresholds(dash=12)
    choice = CriterionChoice(Criterion.REPEAT)
    assert determine_criterion(12, choice, local) is Criterion.VISIBLE_HIGH_RISK
    assert (
        determine_criterion(12, CriterionChoice(Criterion.REPEAT, repeat_confirmed=True), DEFAULT)
        is Criterion.REPEAT
    )


@given(st.integers(0, 24), choices, thresholds)
def test_judgement_can_raise_but_never_lower_a_high_score(
    yes_count: int, choice: CriterionChoice, area: Thresholds
) -> None:
    try:
        result = determine_criterion(yes_count, choice, area)
    except InputError:
        assert yes_count < area.dash
        return
    if yes_count >= area.dash:
        assert result is Criterion.VISIBLE_HIGH_RISK
    else:
        assert result is choice.chosen
        assert result is not Criterion.VISIBLE_HIGH_RISK


# --- the other routes must be justified ------------------------------------------------------


def test_professional_judgement_with_a_reason() -> None:
    choice = CriterionChoice(Criterion.PROFESSIONAL_JUDGEMENT, judgement_reason=REASON)
    assert determine_criterion(3, choice, DEFAULT) is Criterion.PROFESSIONAL_JUDGEMENT


@pytest.mark.parametrize("reason", [None, "", "   ", "worried", "..............", "- - - - - - -"])
def test_professional_judgement_needs_a_real_reason(reason: str | None) -> None:
    choice = CriterionChoice(Criterion.PROFESSIONAL_JUDGEMENT, judgement_reason=reason)
    with pytest.raises(InputError, match="why you judge the risk to be high"):
        determine_criterion(3, choice, DEFAULT)


def test_potential_escalation_at_the_area_threshold() -> None:
    choice = CriterionChoice(Criterion.POTENTIAL_ESCALATION, police_incidents_12m=3)
    assert determine_criterion(5, choice, DEFAULT) is Criterion.POTENTIAL_ESCALATION


def test_potential_escalation_below_the_area_threshold_names_the_threshold() -> None:
    choice = CriterionChoice(Criterion.POTENTIAL_ESCALATION, police_incidents_12m=4)
    with pytest.raises(InputError) as caught:
        determine_criterion(5, choice, Thresholds(escalation=5))
    message = str(caught.value)
    assert "5 or more police call-outs in 12 months" in message
    assert "you gave 4" in message


def test_potential_escalation_without_a_number_asks_for_one() -> None:
    with pytest.raises(InputError, match="number of police call-outs"):
        determine_criterion(5, CriterionChoice(Criterion.POTENTIAL_ESCALATION), DEFAULT)


def test_repeat_must_be_confirmed() -> None:
    with pytest.raises(InputError, match="last 12 months"):
        determine_criterion(2, CriterionChoice(Criterion.REPEAT), DEFAULT)
    confirmed = CriterionChoice(Criterion.REPEAT, repeat_confirmed=True)
    assert determine_criterion(2, confirmed, DEFAULT) is Criterion.REPEAT


def test_buttons_offer_only_what_the_score_leaves_open() -> None:
    assert available_criteria(14, DEFAULT) == [Criterion.VISIBLE_HIGH_RISK]
    assert available_criteria(24, DEFAULT) == [Criterion.VISIBLE_HIGH_RISK]
    below = available_criteria(13, DEFAULT)
    assert set(below) == {
        Criterion.PROFESSIONAL_JUDGEMENT,
        Criterion.POTENTIAL_ESCALATION,
        Criterion.REPEAT,
    }
    assert available_criteria(10, Thresholds(dash=10)) == [Criterion.VISIBLE_HIGH_RISK]


@given(st.integers(0, 24), thresholds)
def test_buttons_and_rules_agree(yes_count: int, area: Thresholds) -> None:
    offered = available_criteria(yes_count, area)
    assert (Criterion.VISIBLE_HIGH_RISK in offered) == (yes_count >= area.dash)


# --- urgency ---------------------------------------------------------------------------------


def test_an_ordinary_referral_is_not_urgent() -> None:
    assert assess_urgency(answers_with(yes={1, 2, 3}), marked_urgent=False) == Urgency(False, ())


def test_the_referrer_can_mark_any_referral_urgent() -> None:
    urgency = assess_urgency(answers_with(), marked_urgent=True)
    assert urgency == Urgency(True, ("marked urgent by the referrer",))


def test_threats_to_kill_with_strangulation_is_urgent() -> None:
    urgency = assess_urgency(answers_with(yes={THREATS_TO_KILL, STRANGULATION}), False)
    assert urgency == Urgency(True, ("threats to kill and strangulation",))


@pytest.mark.parametrize(
    "answers",
    [
        answers_with(yes={THREATS_TO_KILL}),
        answers_with(yes={STRANGULATION}),
        answers_with(yes={THREATS_TO_KILL}, not_known={STRANGULATION}),
    ],
)
def test_one_of_the_pair_alone_is_not_urgent(answers: DashAnswers) -> None:
    assert not assess_urgency(answers, marked_urgent=False).urgent


def test_eighteen_yes_answers_is_urgent_and_seventeen_is_not() -> None:
    eighteen = answers_with(yes=set(range(1, 19)) - {THREATS_TO_KILL} | {19})
    assert assess_urgency(eighteen, False) == Urgency(True, ("18 or more yes answers",))
    seventeen = answers_with(yes=set(range(1, 18)) - {THREATS_TO_KILL} | {19})
    assert not assess_urgency(seventeen, False).urgent


def test_every_reason_is_given_in_order() -> None:
    urgency = assess_urgency(answers_with(yes=set(range(1, 25))), marked_urgent=True)
    assert urgency.reasons == (
        "marked urgent by the referrer",
        "threats to kill and strangulation",
        "18 or more yes answers",
    )


# --- repeat window ---------------------------------------------------------------------------

LAST = date(2025, 3, 10)


@pytest.mark.parametrize(
    ("days_later", "inside"),
    [(0, True), (1, True), (364, True), (365, True), (366, False), (-1, False)],
)
def test_the_repeat_window_is_twelve_months_inclusive(days_later: int, inside: bool) -> None:
    assert within_repeat_window(LAST, LAST + timedelta(days=days_later)) is inside


def test_an_area_can_use_a_different_window() -> None:
    assert within_repeat_window(LAST, LAST + timedelta(days=200), window_days=182) is False
    assert within_repeat_window(LAST, LAST + timedelta(days=182), window_days=182) is True

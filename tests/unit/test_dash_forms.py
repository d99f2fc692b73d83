"""Each form's numbering lands on the right one of the 24 stored questions, and the read-back
names the questions as the referrer's own form numbers them."""

from __future__ import annotations

import pytest

from bot.referrals.dash import DASH_QUESTIONS, Answer
from bot.referrals.dash_forms import (
    ACPO_2009_FORM,
    SAFELIVES_FORM,
    DashForm,
    decode,
    encode,
    number_on_form,
    parse_form_entry,
    questions_of,
    read_back_form,
    to_safelives,
)
from bot.referrals.validation import InputError


def test_the_safelives_form_is_the_24_questions_as_they_are() -> None:
    assert len(SAFELIVES_FORM) == 24
    assert all(q.number == q.safelives for q in SAFELIVES_FORM)


def test_the_acpo_form_has_27_questions_and_every_safelives_question_once() -> None:
    assert len(ACPO_2009_FORM) == 27
    assert [q.number for q in ACPO_2009_FORM] == list(range(1, 28))
    mapped = [q.safelives for q in ACPO_2009_FORM if q.safelives is not None]
    assert sorted(mapped) == list(range(1, 25))


@pytest.mark.parametrize(
    ("acpo", "safelives"),
    [
        (1, 1),  # injury
        (8, 8),  # stalking and harassment
        (9, 9),  # pregnant or a baby in the past 18 months: the last one numbered alike
        (13, 10),  # abuse happening more often
        (16, 13),  # weapons
        (17, 14),  # threats to kill
        (18, 15),  # strangle, choke, suffocate, drown
        (19, 16),  # sexual abuse
        (27, 24),  # criminal history
    ],
)
def test_acpo_question_lands_on_the_same_safelives_question(acpo: int, safelives: int) -> None:
    answers = parse_form_entry(DashForm.ACPO_2009, f"yes {acpo}")
    mapped, extra = to_safelives(DashForm.ACPO_2009, answers)
    assert [n for n, a in mapped.items() if a is Answer.YES] == [safelives]
    assert all(a is Answer.NO for a in extra.values())
    assert number_on_form(DashForm.ACPO_2009, safelives) == acpo


def test_the_children_and_dependants_questions_are_kept_beside_the_24_not_counted() -> None:
    answers = parse_form_entry(DashForm.ACPO_2009, "yes 10 11, not known 12")
    mapped, extra = to_safelives(DashForm.ACPO_2009, answers)
    assert extra == {10: Answer.YES, 11: Answer.YES, 12: Answer.NOT_KNOWN}
    assert all(a is Answer.NO for a in mapped.values()) and len(mapped) == 24
    topics = {q.number: q.topic for q in ACPO_2009_FORM}
    assert "dependants" in topics[10] and "hurt the children" in topics[11]
    assert "threatened to hurt or kill the children" in topics[12]


def test_a_number_copied_from_the_police_form_is_not_read_as_the_safelives_one() -> None:
    # ACPO 18 is strangulation; on the SafeLives form 18 is "has hurt others".
    acpo, _ = to_safelives(DashForm.ACPO_2009, parse_form_entry(DashForm.ACPO_2009, "yes 18"))
    own, _ = to_safelives(DashForm.SAFELIVES, parse_form_entry(DashForm.SAFELIVES, "yes 18"))
    assert acpo[15] is Answer.YES and acpo[18] is Answer.NO
    assert own[18] is Answer.YES and own[15] is Answer.NO


def test_question_25_to_27_exist_only_on_the_police_form() -> None:
    parse_form_entry(DashForm.ACPO_2009, "yes 25-27")
    with pytest.raises(InputError, match="24 questions"):
        parse_form_entry(DashForm.SAFELIVES, "yes 25")
    with pytest.raises(InputError, match="27 questions"):
        parse_form_entry(DashForm.ACPO_2009, "yes 28")


def test_dara_is_not_entered_as_numbers() -> None:
    with pytest.raises(ValueError):
        questions_of(DashForm.DARA)


def test_the_read_back_names_the_questions_as_on_the_police_form() -> None:
    answers = parse_form_entry(DashForm.ACPO_2009, "yes 1 11 18, not known 27")
    text = read_back_form(DashForm.ACPO_2009, answers)
    assert text.startswith("Police ACPO DASH 2009 (27 questions), as numbered on that form:")
    assert "18. Strangled, choked, suffocated or drowned" in text
    assert "27. Person causing harm: criminal history" in text
    assert "11. Person causing harm has hurt the children or dependants: yes" in text
    assert "MARAC score (the 24 SafeLives questions): 2 yes" in text


def test_the_read_back_of_the_safelives_form_uses_its_own_numbers() -> None:
    text = read_back_form(DashForm.SAFELIVES, parse_form_entry(DashForm.SAFELIVES, "yes 15"))
    assert f"15. {DASH_QUESTIONS[14].topic}" in text
    assert "Not among the 24" not in text
    assert text.endswith("1 yes")


def test_answers_travel_in_a_button_as_one_number() -> None:
    answers = parse_form_entry(DashForm.ACPO_2009, "yes 1-9 27, not known 12 13")
    code = encode(answers, 27)
    assert len(str(code)) <= 18
    assert decode(code, 27) == answers
    with pytest.raises(ValueError):
        decode(3**27, 27)

"""The children of a referral, one per line: what a referrer types and what is kept."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from bot import texts
from bot.referrals import flow
from bot.referrals.children import Child, parse_children_list
from bot.referrals.criteria import Thresholds
from bot.referrals.validation import InputError

TODAY = date(2026, 12, 7)
THRESHOLDS = Thresholds(dash=14, escalation=3)


def refusal(text: str) -> str:
    with pytest.raises(InputError) as caught:
        parse_children_list(text, TODAY)
    return caught.value.message


def test_a_child_with_everything_known() -> None:
    (mia,) = parse_children_list(
        "Mia Smith, 03/04/2019, Oak Primary, lives with victim, CSC involved", TODAY
    )
    assert mia == Child("Mia Smith", date(2019, 4, 3), 7, "Oak Primary", True, True)
    assert mia.as_payload()["dob"] == "2019-04-03"


def test_two_children_on_two_lines_in_any_order_and_with_parts_left_out() -> None:
    mia, leo = parse_children_list(
        "Mia Smith, CSC involved, age 7, school: St Mary's 2\n"
        "  - Leo Smith, 18 months, lives elsewhere, no CSC\n",
        TODAY,
    )
    assert (mia.age, mia.school, mia.csc_involved, mia.lives_with_victim) == (
        7,
        "St Mary's 2",
        True,
        None,
    )
    assert (leo.name, leo.age, leo.date_of_birth, leo.school) == ("Leo Smith", 1, None, None)
    assert (leo.lives_with_victim, leo.csc_involved) == (False, False)


@pytest.mark.parametrize(
    ("part", "lives", "csc"),
    [
        ("lives with the victim", True, None),
        ("with victim", True, None),
        ("does not live with victim", False, None),
        ("doesn't live with victim", False, None),
        ("not known to CSC", None, False),
        ("CSC not involved", None, False),
        ("CSC unknown", None, None),
        ("social worker allocated", None, True),
        ("child protection plan", None, True),
    ],
)
def test_living_and_social_care_in_the_words_people_use(
    part: str, lives: bool | None, csc: bool | None
) -> None:
    (child,) = parse_children_list(f"Ava Jones, age 3, {part}", TODAY)
    assert (child.lives_with_victim, child.csc_involved) == (lives, csc)


def test_unknown_names_and_ages_are_honest_answers() -> None:
    first, second, third = parse_children_list(
        "unknown, age 4; Sam Lee, unknown; Baby, 6 weeks", TODAY
    )
    assert (first.name, first.age) == (None, 4)
    assert (second.name, second.age, second.date_of_birth) == ("Sam Lee", None, None)
    assert (third.name, third.age) == (None, 0)


@pytest.mark.parametrize("typed", ["none", "None", "0", "no children", "no", "nil"])
def test_none_means_no_children(typed: str) -> None:
    assert parse_children_list(typed, TODAY) == []


def test_many_children_up_to_twenty() -> None:
    lines = "\n".join(f"Child Number{chr(65 + i)}, age {i % 18}" for i in range(20))
    children = parse_children_list(lines, TODAY)
    assert len(children) == 20 and children[19].age == 19 % 18
    assert "up to 20 children" in refusal(lines + "\nOne More, age 2")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("Mia Smith, 03/13/2019", "Child 1: 03/13/2019 is not a real date."),
        ("Mia Smith, 31/02/2019", "Child 1: 31/02/2019 is not a real date."),
        ("Mia Smith, 2019", "Child 1: please type the date of birth as day/month/year"),
        ("Ava, age 3\nMia Smith, 99/99/99", "Child 2: 99/99/99 is not a real date"),
    ],
)
def test_malformed_dates_are_refused_with_the_child_named_by_place(
    typed: str, message: str
) -> None:
    assert message in refusal(typed)


def test_a_date_of_birth_in_the_future_is_refused() -> None:
    tomorrow = (TODAY + timedelta(days=1)).strftime("%d/%m/%Y")
    assert refusal(f"Mia Smith, {tomorrow}") == (
        "Child 1: that date of birth is in the future. Please check the year."
    )


def test_an_adult_is_not_listed_as_a_child() -> None:
    assert "Child 1: that makes them 18" in refusal("Tom Smith, 01/01/2008")
    assert "Child 1: that makes them 19" in refusal("Tom Smith, age 19")


@pytest.mark.parametrize(
    "typed", ["03/04/2019, Oak Primary", ", 03/04/2019", "Mia Smith, age 7\n7, Oak Primary"]
)
def test_a_missing_name_is_refused(typed: str) -> None:
    message = refusal(typed)
    assert message.startswith("Child ") and texts.CHILD_NAME_FIRST in message


@pytest.mark.parametrize("typed", ["2", "2: 4, 7", "3 children"])
def test_a_count_alone_asks_for_the_children_as_people(typed: str) -> None:
    assert refusal(typed) == texts.CHILDREN_COUNT_ONLY


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", texts.CHILDREN_HELP),
        ("Mia, lives with dad", texts.child_problem(1, texts.CHILD_LIVES_HELP)),
        ("Mia, age 7, 03/04/2019", texts.child_problem(1, texts.CHILD_AGE_TWICE)),
        ("Mia, Oak Primary, Elm Nursery", texts.child_problem(1, texts.CHILD_PART_UNCLEAR)),
        ("Mia 2nd, age 7", texts.child_problem(1, texts.CHILD_NAME_FIRST)),
    ],
)
def test_other_refusals_say_what_to_type(typed: str, message: str) -> None:
    assert refusal(typed) == message


def test_a_refusal_never_repeats_a_name() -> None:
    assert "Zebedee" not in refusal("Zebedee Quinn, 03/04/2099")


# --- the referral step -----------------------------------------------------------------------


def _at_children() -> flow.Payload:
    payload = flow.new_payload()
    payload["step"] = "children"
    payload["history"] = ["relationship"]
    return payload


def test_the_step_keeps_each_child_and_the_coded_count_and_ages() -> None:
    payload = flow.answer(
        _at_children(),
        "Mia Smith, 03/04/2019, Oak Primary\nunknown, unknown, lives with victim",
        today=TODAY,
        thresholds=THRESHOLDS,
    )
    assert payload["step"] == "summary"
    assert payload["children_count"] == 2 and payload["children_ages"] == [7]
    assert [c["name"] for c in payload["children"]] == ["Mia Smith", None]
    # The next question reads the children back, with Back to correct them.
    question = flow.prompt(payload, THRESHOLDS)
    assert question.text.startswith("Children (2):\n• Mia Smith, born 3 Apr 2019, Oak Primary")
    assert texts.CHILDREN_READ_BACK in question.text and question.can_go_back
    # Back at the question, the children it holds are shown to type again; a new answer
    # replaces them.
    again = flow.back(payload)
    assert "• Mia Smith" in flow.prompt(again, THRESHOLDS).text
    replaced = flow.answer(again, "none", today=TODAY, thresholds=THRESHOLDS)
    assert replaced["children"] == [] and replaced["children_count"] == 0


def test_a_refused_answer_changes_nothing() -> None:
    before = _at_children()
    with pytest.raises(InputError):
        flow.answer(before, "Mia Smith, 31/31/2019", today=TODAY, thresholds=THRESHOLDS)
    assert before["step"] == "children" and "children" not in before


def test_the_review_lists_the_children_and_an_old_draft_its_count() -> None:
    payload = flow.answer(
        _at_children(),
        "Mia Smith, 03/04/2019, Oak Primary, lives with victim, CSC involved",
        today=TODAY,
        thresholds=THRESHOLDS,
    )
    review = texts.referral_review(payload, 14, 0)
    assert (
        "Children (1):\n• Mia Smith, born 3 Apr 2019, Oak Primary, lives with the victim, "
        "children's social care involved"
    ) in review
    old = {"children_count": 2, "children_ages": [4, 7]}
    assert "Children: 2 (ages 4, 7)" in texts.referral_review(old, 14, 0)
    assert "Children: none" in texts.referral_review({"children": []}, 14, 0)


def test_cases_from_before_show_what_they_hold() -> None:
    assert texts.child_line({"age": 4, "count_only": True}) == (
        "a child, age 4 at referral (no name or other details recorded)"
    )
    assert texts.children_lines(None, 3) == ["Children: 3 (no details recorded)"]

"""The Dash checklist: the questions, the score, quick entry and the read-back."""

from __future__ import annotations

import re
from collections.abc import Collection

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.referrals.dash import (
    DASH_QUESTIONS,
    STRANGULATION,
    THREATS_TO_KILL,
    Answer,
    DashAnswers,
    count,
    format_quick_entry,
    is_complete,
    parse_quick_entry,
    read_back,
    score,
)
from bot.referrals.validation import InputError

ALL = range(1, 25)
complete_answers = st.fixed_dictionaries({n: st.sampled_from(Answer) for n in ALL})


def answers_with(yes: Collection[int] = (), not_known: Collection[int] = ()) -> DashAnswers:
    return {
        n: Answer.YES if n in yes else Answer.NOT_KNOWN if n in not_known else Answer.NO
        for n in ALL
    }


# --- the questions ---------------------------------------------------------------------------


def test_there_are_24_questions_numbered_in_order() -> None:
    assert [q.number for q in DASH_QUESTIONS] == list(ALL)


def test_topics_are_short_unique_labels_and_questions_are_questions() -> None:
    topics = [q.topic for q in DASH_QUESTIONS]
    assert len(set(topics)) == 24
    for question in DASH_QUESTIONS:
        # Short, but long enough to say whose factor it is ("Person causing harm: ...").
        assert 0 < len(question.topic) <= 52, question.topic
        assert question.question.endswith("?"), question.question


@pytest.mark.parametrize(
    ("number", "word"),
    [
        (1, "injur"),
        (2, "frightened"),
        (4, "isolated"),
        (6, "separat"),
        (9, "pregnant"),
        (12, "jealous"),
        (13, "weapon"),
        (THREATS_TO_KILL, "kill"),
        (STRANGULATION, "strangle"),
        (16, "sexual"),
        (17, "honour"),
        (19, "animal"),
        (20, "financ"),
        (22, "suicide"),
        (23, "bail"),
        (24, "criminal"),
    ],
)
def test_questions_follow_the_safelives_order(number: int, word: str) -> None:
    question = DASH_QUESTIONS[number - 1]
    assert word in (question.topic + " " + question.question).lower()


def test_the_named_questions_are_threats_to_kill_and_strangulation() -> None:
    assert (THREATS_TO_KILL, STRANGULATION) == (14, 15)


# --- scoring ---------------------------------------------------------------------------------


def test_score_counts_only_yes() -> None:
    answers = answers_with(yes={1, 2, 3}, not_known={4, 5})
    assert score(answers) == 3
    assert count(answers, Answer.NOT_KNOWN) == 2
    assert count(answers, Answer.NO) == 19


def test_numbers_outside_the_checklist_never_add_to_the_score() -> None:
    answers: DashAnswers = {0: Answer.YES, 25: Answer.YES, 99: Answer.YES, 1: Answer.YES}
    assert score(answers) == 1


def test_answers_read_back_from_a_saved_draft_as_plain_strings_still_count() -> None:
    assert score({1: "yes", 2: "not_known"}) == 1  # type: ignore[dict-item]


def test_complete_only_when_all_24_are_answered() -> None:
    answers = answers_with()
    assert is_complete(answers)
    del answers[24]
    assert not is_complete(answers)
    assert not is_complete({})


@given(st.dictionaries(st.integers(1, 24), st.sampled_from(Answer)))
def test_score_is_the_number_of_yes_answers(answers: DashAnswers) -> None:
    assert score(answers) == sum(1 for a in answers.values() if a is Answer.YES)
    assert sum(count(answers, a) for a in Answer) == len(answers)


@given(complete_answers, st.integers(1, 24))
def test_not_known_never_counts_as_yes(answers: DashAnswers, number: int) -> None:
    as_not_known = {**answers, number: Answer.NOT_KNOWN}
    as_no = {**answers, number: Answer.NO}
    assert score(as_not_known) == score(as_no)
    assert score(as_not_known) == score(answers) - (answers[number] is Answer.YES)


# --- quick entry -----------------------------------------------------------------------------


def test_the_example_from_the_form() -> None:
    answers = parse_quick_entry("yes 1 3 5-9 14, not known 20")
    assert answers == answers_with(yes={1, 3, 5, 6, 7, 8, 9, 14}, not_known={20})
    assert is_complete(answers)
    assert score(answers) == 8


@pytest.mark.parametrize(
    "text",
    [
        "yes 1 3 5-9 14, not known 20",
        "YES 1,3,5-9,14; NOT KNOWN 20",
        "y 1 3 5–9 14 nk 20",
        "Yes: 1, 3, 5 to 9 and 14. Unknown: 20",
        "yes 14 9 8 7 6 5 3 1 dk 20",
        "yes 1 3 5-9 14, don’t know 20",
        "yes 1 3 5-9 14, don't know 20",
        "yes 1 3 5 - 9 14\nnot known 20",
        "Yes Q1 Q3 Q5-Q9 Q14, n/k Q20",
        "not known 20, yes 1 3 5-9 14",
        "yes 1 3 5-9, yes 14, not known 20",
        "yes 1 3 3 5-9 14, not known 20, all others no",
    ],
)
def test_quick_entry_forgives_how_people_type(text: str) -> None:
    assert parse_quick_entry(text) == answers_with(yes={1, 3, 5, 6, 7, 8, 9, 14}, not_known={20})


@pytest.mark.parametrize("text", ["none", "None", "yes none", "yes: none.", " NONE "])
def test_none_means_every_answer_was_no(text: str) -> None:
    assert parse_quick_entry(text) == answers_with()


def test_only_not_known_answers() -> None:
    assert parse_quick_entry("yes none, not known 2 4") == answers_with(not_known={2, 4})
    assert parse_quick_entry("not known 2 4") == answers_with(not_known={2, 4})


def test_every_question_yes() -> None:
    assert score(parse_quick_entry("yes 1-24")) == 24


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yes 1 25", "There is no question 25: the checklist has 24 questions."),
        ("yes 20-30", "There is no question 30: the checklist has 24 questions."),
        ("not known 0", "There is no question 0: the questions are numbered 1 to 24."),
        ("yes 9-5", "The range 9-5 runs backwards. Did you mean 5-9?"),
        ("yes 1 2 3, not known 3", "Question 3 is listed as both yes and not known."),
        ("yes 1-5, not known 4-6", "Question 4 is listed as both yes and not known."),
        ("yes 1, no 1", "Question 1 is listed as both yes and no."),
        ("yes 1 none", "You typed none and also question numbers after “yes”."),
        ("yes", "Please add the question numbers after “yes”"),
        ("yes 1, not known", "Please add the question numbers after “not known”"),
        ("14", "If 14 is the score, please type the question numbers instead"),
        ("1 3 5-9", "Please put yes or not known before the numbers"),
        ("yes 1 3 maybe 4", "I did not understand “maybe”."),
        ("yes 1 # 3", "I did not understand “#”."),
    ],
)
def test_quick_entry_refusals_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_quick_entry(text)
    assert message in str(caught.value)


@pytest.mark.parametrize("text", ["", "   ", "hello", ",,,"])
def test_nothing_recognisable_gets_an_example(text: str) -> None:
    with pytest.raises(InputError, match=re.escape("yes 1 3 5-9 14, not known 20")):
        parse_quick_entry(text)


def test_a_huge_number_is_refused_politely() -> None:
    with pytest.raises(InputError, match="There is no question"):
        parse_quick_entry("yes " + "9" * 5000)


YES_LABELS = ["yes", "Yes", "YES", "y", "Y", "yes:"]
NOT_KNOWN_LABELS = ["not known", "Not Known", "nk", "NK", "unknown", "dk", "don't know", "n/k"]
SEPARATORS = [" ", ", ", ",", "; ", " and ", "\n"]


def _numbers(numbers: list[int], separator: str, compress: bool) -> str:
    if not compress:
        return separator.join(str(n) for n in numbers)
    parts: list[str] = []
    for n in numbers:
        if parts and parts[-1].split("-")[-1] == str(n - 1):
            parts[-1] = f"{parts[-1].split('-')[0]}-{n}"
        else:
            parts.append(str(n))
    return separator.join(parts)


@given(complete_answers, st.data())
def test_any_answer_set_typed_as_quick_entry_reads_back_the_same(
    answers: DashAnswers, data: st.DataObject
) -> None:
    yes = [n for n in ALL if answers[n] is Answer.YES]
    not_known = [n for n in ALL if answers[n] is Answer.NOT_KNOWN]
    separator = data.draw(st.sampled_from(SEPARATORS))
    compress = data.draw(st.booleans())
    text = data.draw(st.sampled_from(YES_LABELS)) + " "
    text += _numbers(yes, separator, compress) if yes else "none"
    if not_known:
        text += data.draw(st.sampled_from([", ", "; ", " ", "\n"]))
        text += data.draw(st.sampled_from(NOT_KNOWN_LABELS)) + " "
        text += _numbers(not_known, separator, compress)
    assert parse_quick_entry(text) == answers


@given(complete_answers)
def test_format_quick_entry_round_trips(answers: DashAnswers) -> None:
    assert parse_quick_entry(format_quick_entry(answers)) == answers


def test_format_quick_entry_writes_ranges_like_a_person() -> None:
    answers = answers_with(yes={1, 3, 5, 6, 7, 8, 9, 14}, not_known={20, 21})
    assert format_quick_entry(answers) == "yes 1 3 5-9 14, not known 20 21"
    assert format_quick_entry(answers_with()) == "yes none"


@given(st.text(max_size=80))
def test_quick_entry_never_fails_with_anything_but_input_error(text: str) -> None:
    try:
        answers = parse_quick_entry(text)
    except InputError as error:
        assert str(error)
    else:
        assert is_complete(answers)


# --- read-back -------------------------------------------------------------------------------


def test_read_back_lists_yes_and_not_known_topics_and_the_count() -> None:
    text = read_back(parse_quick_entry("yes 1 3 5-9 14, not known 20"))
    lines = text.splitlines()
    assert lines[0] == "Yes (8):"
    assert "14. Threats to kill" in lines
    assert "1. Injury in current incident" in lines
    assert "Not known (1):" in lines
    assert "20. Financial problems or dependence" in lines
    assert "All other questions: no." in lines
    assert lines[-1] == "Yes answers: 8 of 24"
    assert lines.index("Not known (1):") > lines.index("14. Threats to kill")
    assert "2. Victim very frightened" not in text


def test_read_back_with_no_yes_answers() -> None:
    text = read_back(answers_with())
    assert "Yes: none" in text
    assert "Not known: none" in text
    assert "All other questions: no." in text
    assert text.endswith("Yes answers: 0 of 24")


def test_read_back_shows_questions_not_yet_answered() -> None:
    text = read_back({1: Answer.YES, 2: Answer.NO})
    assert "Not answered yet: 3, 4" in text
    assert text.endswith("Yes answers: 1 of 24")


def test_read_back_is_safe_in_any_telegram_parse_mode() -> None:
    text = read_back(answers_with(yes=set(ALL)))
    assert not set(text) & set("<>&*_`[]")

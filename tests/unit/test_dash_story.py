"""What the concerns plainly mention, against the answers: real phrasings, and negations."""

from __future__ import annotations

import pytest

from bot.referrals import dash_story
from bot.referrals.dash import Answer
from bot.referrals.dash_story import Concern, mentions, mismatches

C = Concern


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            "Strangled at the scene last night; he has threatened to take the children.",
            [C.CHILDREN_THREATS, C.STRANGULATION],
        ),
        ("He put his hands round her neck until she nearly passed out", [C.STRANGULATION]),
        ("Choked her in the kitchen", [C.STRANGULATION]),
        ("tried to smother her with a pillow", [C.STRANGULATION]),
        ("He held a knife to her throat", [C.WEAPONS]),
        ("threatened her with a hammer", [C.WEAPONS]),
        ("He said he would kill her if she left", [C.THREATS_TO_KILL]),
        ("Text messages with death threats", [C.THREATS_TO_KILL]),
        ("She is 20 weeks pregnant", [C.PREGNANCY]),
        ("The abuse is escalating since she left", [C.ESCALATION]),
        ("it has been getting worse over the summer", [C.ESCALATION]),
        ("He keeps turning up at her work and follows her home", [C.STALKING]),
        ("constantly texting and calling her", [C.STALKING]),
        ("Disclosed he raped her in March", [C.SEXUAL_ABUSE]),
        ("He threatened to hurt the kids if she calls police", [C.CHILDREN_THREATS]),
    ],
)
def test_real_phrasings_are_found(text: str, found: list[Concern]) -> None:
    assert mentions(text) == found


@pytest.mark.parametrize(
    "text",
    [
        "no weapons were used",
        "denies strangulation",
        "not pregnant",
        "She denies any choking",
        "No threats to kill were made",
        "There was no sexual element",
        "He has never stalked her",
        "Police attended, no injuries",
        "Mobile 07700 900123 after 6pm; her mother must not be told",
        "",
    ],
)
def test_negations_and_plain_text_are_not_mentions(text: str) -> None:
    assert mentions(text) == []


def test_a_negation_reaches_only_its_own_clause() -> None:
    text = "No weapons were used. He strangled her"
    assert mentions(text) == [C.STRANGULATION]
    assert mentions("He never strangled her, but he raped her") == [C.SEXUAL_ABUSE]


def test_only_answers_that_are_not_yes_are_asked_about() -> None:
    text = "Strangled at the scene last night; he has threatened to take the children."
    answers = dict.fromkeys(range(1, 25), Answer.NO)
    answers[7] = Answer.YES
    answers[15] = Answer.NOT_KNOWN
    (found,) = mismatches(text, answers)
    assert (found.concern, found.question, found.answer) == (C.STRANGULATION, 15, Answer.NOT_KNOWN)
    answers[15] = Answer.YES
    assert mismatches(text, answers) == []


def test_each_concern_names_its_question() -> None:
    assert dash_story.QUESTION_OF == {
        C.STRANGULATION: 15,
        C.WEAPONS: 13,
        C.THREATS_TO_KILL: 14,
        C.PREGNANCY: 9,
        C.ESCALATION: 11,
        C.STALKING: 8,
        C.SEXUAL_ABUSE: 16,
        C.CHILDREN_THREATS: 7,
    }


def test_nothing_of_the_text_comes_back() -> None:
    text = "Strangled Jane at 12 Elm Road"
    result = mismatches(text, {})
    assert all(set(vars(m)) == {"concern", "question", "answer"} for m in result)
    assert "Jane" not in repr(result) and "Elm" not in repr(result)

"""The referral's DASH steps: which form, a DARA level, and the concerns against the answers."""

from __future__ import annotations

from datetime import date

import pytest

from bot import texts
from bot.referrals import flow
from bot.referrals.criteria import Thresholds
from bot.referrals.validation import InputError

TODAY = date(2027, 3, 1)
THRESHOLDS = Thresholds()


def step(payload: flow.Payload, raw: str) -> flow.Payload:
    return flow.answer(payload, raw, today=TODAY, thresholds=THRESHOLDS)


def at_form() -> flow.Payload:
    payload = flow.new_payload()
    payload.update(step="dash_mode")
    payload = step(payload, "quick")
    assert payload["step"] == "dash_form"
    return payload


def test_quick_entry_from_the_police_form_is_read_back_as_on_that_form() -> None:
    payload = step(at_form(), "acpo_2009")
    assert payload["step"] == "dash_quick"
    assert "27" in flow.prompt(payload, THRESHOLDS).text
    payload = step(payload, "yes 1-9 13-18, not known 11")
    shown = flow.prompt(payload, THRESHOLDS).text
    assert "18. Strangled, choked, suffocated or drowned" in shown
    assert "11. Person causing harm has hurt the children or dependants: not known" in shown
    payload = step(payload, "confirm")
    assert flow.yes_count(payload) == 15  # 1-9 and 13-18 are SafeLives 1-9 and 10-15
    assert payload["dash"]["15"] == "yes" and payload["dash"]["18"] == "no"
    assert payload["dash_extra"] == {"10": "no", "11": "not_known", "12": "no"}
    assert payload["step"] == "criterion"


def test_a_dara_assessment_is_a_level_and_goes_through_professional_judgement() -> None:
    payload = step(at_form(), "dara")
    assert payload["step"] == "dara_level"
    assert flow.prompt(payload, THRESHOLDS).text == texts.DARA_LEVEL_PROMPT
    payload = step(payload, "high")
    assert payload["dara_level"] == "high" and payload["dash"] == {}
    assert payload["step"] == "criterion"
    offered = [value for value, _ in flow.options_for("criterion", payload, THRESHOLDS)]
    assert "visible_high_risk" not in offered and "professional_judgement" in offered


def test_another_form_forgets_the_answers_given_on_the_first() -> None:
    payload = step(step(at_form(), "acpo_2009"), "yes 18")
    payload = step(payload, "confirm")
    payload = flow.back(flow.back(flow.back(payload)))  # to the form question
    assert payload["step"] == "dash_form"
    payload = step(payload, "safelives")
    assert payload["dash"] == {} and "dash_extra" not in payload


def at_urgent(summary: str, dash: dict[str, str]) -> flow.Payload:
    payload = flow.new_payload()
    payload.update(
        step="urgent", dash_mode="quick", dash_form="safelives", dash=dash, summary=summary
    )
    return payload


SUMMARY = "Strangled at the scene last night; he has threatened to take the children."
ANSWERS = {str(n): ("yes" if n <= 13 or n == 16 else "no") for n in range(1, 25)}


def test_the_strangulation_prompt_comes_before_the_review_and_change_makes_it_yes() -> None:
    payload = step(at_urgent(SUMMARY, ANSWERS), "no")
    assert payload["step"] == "dash_story"
    prompt = flow.prompt(payload, THRESHOLDS)
    assert prompt.text == (
        "Your concerns mention strangulation; question 15 is answered no. Change it, or keep it?"
    )
    assert [label for _, label in prompt.options] == ["Change to yes", "Keep"]
    payload = step(payload, "change")
    assert payload["dash"]["15"] == "yes" and payload["step"] == "review"
    assert flow.story_checks(payload) == [
        {"concern": "strangulation", "question": 15, "was": "no", "choice": "changed"}
    ]
    assert "Strangled" not in repr(flow.story_checks(payload))


def test_keep_leaves_the_answer_and_back_asks_again() -> None:
    payload = step(step(at_urgent(SUMMARY, ANSWERS), "no"), "keep")
    assert payload["dash"]["15"] == "no" and payload["step"] == "review"
    assert flow.story_checks(payload)[0]["choice"] == "kept"
    again = flow.back(payload)
    assert again["step"] == "dash_story" and flow.story_checks(again) == []


def test_back_after_change_undoes_it() -> None:
    payload = step(step(at_urgent(SUMMARY, ANSWERS), "no"), "change")
    again = flow.back(payload)
    assert again["dash"]["15"] == "no" and again["step"] == "dash_story"


def test_each_mention_is_asked_in_turn_and_on_the_police_form_by_its_number() -> None:
    dash = {str(n): "no" for n in range(1, 25)}
    payload = at_urgent("He choked her and threatened her with a knife", dash)
    payload["dash_form"] = "acpo_2009"
    payload = step(payload, "no")
    assert "weapons; question 16 on the ACPO DASH 2009" in flow.prompt(payload, THRESHOLDS).text
    payload = step(payload, "keep")
    assert payload["step"] == "dash_story"
    assert "strangulation; question 18 on the ACPO DASH" in flow.prompt(payload, THRESHOLDS).text
    payload = step(payload, "change")
    assert payload["step"] == "review" and payload["dash"]["15"] == "yes"


def test_the_safety_notes_are_read_too_and_a_plain_story_asks_nothing() -> None:
    payload = at_urgent("Verbal abuse only", ANSWERS)
    payload["safe_details"] = "He has threatened to kill her; call after 6pm"
    assert step(payload, "no")["step"] == "dash_story"
    plain = at_urgent("Verbal abuse only; no weapons were used", ANSWERS)
    assert step(plain, "no")["step"] == "review"


def test_no_prompt_for_a_dara_assessment() -> None:
    payload = at_urgent(SUMMARY, {})
    payload.update(dash_form="dara", dara_level="high")
    assert step(payload, "no")["step"] == "review"


def test_a_stale_story_button_changes_nothing() -> None:
    payload = at_urgent("Verbal abuse only", ANSWERS)
    payload["step"] = "dash_story"
    with pytest.raises(InputError):
        step(payload, "change")

"""The referral's steps: an answer is checked when it is typed, by the rule used at submit."""

from __future__ import annotations

from datetime import date

import pytest

from bot.referrals import flow
from bot.referrals.criteria import Thresholds
from bot.referrals.validation import InputError

TODAY = date(2027, 3, 1)
THRESHOLDS = Thresholds()


def at_judgement_reason() -> flow.Payload:
    payload = flow.new_payload()
    payload.update(step="criterion", dash_mode="one", dash={str(n): "no" for n in range(1, 25)})
    payload = flow.answer(payload, "professional_judgement", today=TODAY, thresholds=THRESHOLDS)
    assert payload["step"] == "judgement_reason"
    return payload


@pytest.mark.parametrize("reason", ["..........", "          x", "!!!! ???? ....", "no reason"])
def test_a_reason_without_enough_words_is_refused_when_typed(reason: str) -> None:
    payload = at_judgement_reason()
    with pytest.raises(InputError, match="say in a sentence why"):
        flow.answer(payload, reason, today=TODAY, thresholds=THRESHOLDS)


def test_a_real_reason_is_kept_and_the_referral_moves_on() -> None:
    payload = flow.answer(
        at_judgement_reason(),
        "Strangled last week; extreme fear; no family nearby.",
        today=TODAY,
        thresholds=THRESHOLDS,
    )
    assert payload["judgement_reason"].startswith("Strangled last week")
    assert payload["step"] == "victim_name"

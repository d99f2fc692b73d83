"""Which of the four SafeLives routes a referral comes by, and whether it needs acting on now.

SafeLives is explicit that professional judgement may raise a case to MARAC but
must never "downgrade" an actuarial risk assessment. So visible high risk is
computed from the Dash score rather than chosen, and every other route must be
justified by the facts that define it. Thresholds are per area (some areas use
a different escalation count), so they are always passed in, never assumed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.referrals.dash import STRANGULATION, THREATS_TO_KILL, Answer, DashAnswers, score
from bot.referrals.validation import InputError
from bot.vocabulary import Criterion

MIN_REASON_CHARACTERS = 10
URGENT_YES_COUNT = 18


@dataclass(frozen=True)
class Thresholds:
    """An area's referral thresholds, as set by its MARAC steering group.

    Checked on construction because a threshold of 0 (or above 24) would make
    every case, or none, visible high risk without anyone noticing.
    """

    dash: int = 14
    escalation: int = 3

    def __post_init__(self) -> None:
        if not 1 <= self.dash <= 24:
            raise ValueError(f"Dash threshold must be 1 to 24, not {self.dash}")
        if self.escalation < 1:
            raise ValueError(f"Escalation threshold must be at least 1, not {self.escalation}")


@dataclass(frozen=True)
class CriterionChoice:
    """What the referrer chose, with the facts that route needs."""

    chosen: Criterion
    judgement_reason: str | None = None
    police_incidents_12m: int | None = None
    repeat_confirmed: bool = False


def _real_characters(text: str | None) -> int:
    """Letters and digits only, so that "..........", or spaces, cannot pass as a reason."""
    return sum(1 for ch in text or "" if ch.isalnum())


def determine_criterion(
    yes_count: int, choice: CriterionChoice, thresholds: Thresholds
) -> Criterion:
    """The criterion to record, refusing any route the facts given do not support.

    At or above the area's Dash threshold the answer is visible high risk
    whatever was chosen: it is what the quarterly dataset counts, and a referrer
    must not be able to record a lower route for a high score.
    """
    if yes_count >= thresholds.dash:
        return Criterion.VISIBLE_HIGH_RISK
    chosen = choice.chosen
    if chosen is Criterion.VISIBLE_HIGH_RISK:
        raise InputError(
            f"Visible high risk needs {thresholds.dash} or more yes answers; "
            f"this checklist has {yes_count}. If you are still worried, "
            "choose professional judgement and say why."
        )
    if chosen is Criterion.PROFESSIONAL_JUDGEMENT:
        if _real_characters(choice.judgement_reason) < MIN_REASON_CHARACTERS:
            raise InputError(
                "Please say in a sentence why you judge the risk to be high, for example: "
                "strangled last week, extreme fear, no family nearby."
            )
        return chosen
    if chosen is Criterion.POTENTIAL_ESCALATION:
        incidents = choice.police_incidents_12m
        if incidents is None:
            raise InputError(
                "Please type the number of police call-outs for domestic abuse "
                "in the last 12 months, for example 3."
            )
        if incidents < thresholds.escalation:
            raise InputError(
                f"Potential escalation in this area needs {thresholds.escalation} or more "
                f"police call-outs in 12 months; you gave {incidents}. If you are still worried, "
                "choose professional judgement and say why."
            )
        return chosen
    if chosen is Criterion.REPEAT:
        if not choice.repeat_confirmed:
            raise InputError(
                "A repeat needs a MARAC referral for this victim in the last 12 months "
                "and a new incident since. Please confirm both, or choose another criterion."
            )
        return chosen
    raise InputError("Please choose one of the criteria on the buttons.")


def available_criteria(yes_count: int, thresholds: Thresholds) -> list[Criterion]:
    """The criteria worth offering as buttons: only those the score leaves open.

    At or above the threshold there is nothing to choose, so only visible high
    risk is offered; below it, visible high risk is not offered at all so that
    nobody picks it by mistake.
    """
    if yes_count >= thresholds.dash:
        return [Criterion.VISIBLE_HIGH_RISK]
    return [Criterion.PROFESSIONAL_JUDGEMENT, Criterion.POTENTIAL_ESCALATION, Criterion.REPEAT]


@dataclass(frozen=True)
class Urgency:
    """Whether a referral should alert the coordinator now rather than wait for triage."""

    urgent: bool
    reasons: tuple[str, ...]


def assess_urgency(answers: DashAnswers, marked_urgent: bool) -> Urgency:
    """Flag referrals that should not wait for the next meeting.

    Threats to kill together with strangulation are among the strongest known
    markers of homicide risk, and a very high score speaks for itself; the
    referrer's own sense of urgency always counts. The reasons are shown to the
    coordinator, so they are short and carry no case detail.
    """
    reasons: list[str] = []
    if marked_urgent:
        reasons.append("marked urgent by the referrer")
    if answers.get(THREATS_TO_KILL) == Answer.YES and answers.get(STRANGULATION) == Answer.YES:
        reasons.append("threats to kill and strangulation")
    if score(answers) >= URGENT_YES_COUNT:
        reasons.append(f"{URGENT_YES_COUNT} or more yes answers")
    return Urgency(urgent=bool(reasons), reasons=tuple(reasons))


def within_repeat_window(
    previous_referral: date, new_referral: date, window_days: int = 365
) -> bool:
    """Whether a new referral falls within 12 months of the last one, and so is a repeat.

    SafeLives counts a further incident within 12 months of the last MARAC
    referral as a repeat, and one after that as a new referral. The day exactly
    365 days later is still inside. A previous date after the new one means the
    dates were mixed up, not that it is a repeat.
    """
    elapsed = (new_referral - previous_referral).days
    return 0 <= elapsed <= window_days

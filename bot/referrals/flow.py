"""The steps of a referral as data, and how each answer moves a draft to the next step.

The draft is a plain JSON-ready dict, sealed by the service after every step, so a
restart, a crash or a person walking away loses nothing. Nothing here touches
Telegram or the database; handlers render ``prompt()`` and pass answers back.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from bot import texts
from bot.referrals.children import children_payload, parse_children_list
from bot.referrals.criteria import (
    CriterionChoice,
    Thresholds,
    available_criteria,
    determine_criterion,
)
from bot.referrals.dash import DASH_QUESTIONS, Answer, score
from bot.referrals.dash_forms import (
    DaraLevel,
    DashForm,
    number_on_form,
    parse_form_entry,
    questions_of,
    read_back_form,
    to_safelives,
)
from bot.referrals.dash_story import Concern, Mismatch, mismatches
from bot.referrals.validation import (
    InputError,
    age_on,
    clean_free_text,
    clean_name,
    parse_count,
    parse_date_of_birth,
    parse_date_or_unknown,
)
from bot.vocabulary import Criterion

Payload = dict[str, Any]
Option = tuple[str, str]  # (value, label)
MIN_VICTIM_AGE = 16
NONE_WORDS = {"none", "no", "n/a", "na", "nothing", "-"}

YES_NO: tuple[Option, ...] = (("yes", "Yes"), ("no", "No"))
YES_NO_UNKNOWN: tuple[Option, ...] = (("yes", "Yes"), ("no", "No"), ("unknown", "Not known"))
DASH_OPTIONS: tuple[Option, ...] = (
    (Answer.YES.value, "Yes"),
    (Answer.NO.value, "No"),
    (Answer.NOT_KNOWN.value, "Not known"),
)
CHOICES: dict[str, tuple[Option, ...]] = {
    "safe_contact": YES_NO,
    "victim_aware": YES_NO,
    "consent": YES_NO,
    "dash_mode": (("one", "Answer one by one"), ("quick", "I have a completed checklist")),
    "dash_form": tuple((form.value, texts.DASH_FORM_NAMES[form.value]) for form in DashForm),
    "dara_level": tuple((level.value, texts.DARA_LEVEL_NAMES[level.value]) for level in DaraLevel),
    "dash_confirm": (("confirm", "That is right"), ("again", "Type it again")),
    "dash_story": (("change", texts.BUTTON_CHANGE_TO_YES), ("keep", texts.BUTTON_KEEP)),
    "victim_gender": (
        ("female", "Female"),
        ("male", "Male"),
        ("other", "Other"),
        ("unknown", "Not known"),
    ),
    "victim_lgbt": YES_NO_UNKNOWN,
    "victim_disabled": YES_NO_UNKNOWN,
    "victim_minoritised": YES_NO_UNKNOWN,
    "relationship": (
        ("partner", "Partner"),
        ("ex_partner", "Ex-partner"),
        ("family", "Family member"),
        ("other", "Other"),
    ),
    "urgent": (("yes", "Yes, urgent"), ("no", "No")),
    "review": (("submit", "Submit referral"), ("discard", "Discard draft")),
}

SAFETY = ["safe_contact", "safe_details", "victim_aware", "consent", "consent_reason"]
DASH = [
    "dash_mode",
    "dash_form",
    "dara_level",
    *[f"dash:{q.number}" for q in DASH_QUESTIONS],
    "dash_quick",
    "dash_confirm",
]
CRITERION = ["criterion", "judgement_reason", "police_incidents"]
WHO = [
    "victim_name",
    "victim_dob",
    "victim_aliases",
    "victim_address",
    "victim_gender",
    "victim_lgbt",
    "victim_disabled",
    "victim_minoritised",
    "perp_name",
    "perp_dob",
    "perp_address",
    "relationship",
    "children",
]
ORDER: list[str] = [*SAFETY, *DASH, *CRITERION, *WHO, "summary", "urgent", "dash_story", "review"]
FIRST_STEP = ORDER[0]


@dataclass(frozen=True)
class Prompt:
    key: str
    number: int
    text: str
    options: tuple[Option, ...]
    can_go_back: bool


def step_number(key: str) -> int:
    return ORDER.index(key)


def new_payload() -> Payload:
    return {"step": FIRST_STEP, "history": [], "dash": {}}


def _applies(key: str, payload: Payload) -> bool:
    if key == "consent_reason":
        return payload.get("consent") is False
    if key.startswith("dash:"):
        return payload.get("dash_mode") == "one"
    if key == "dash_form":
        return payload.get("dash_mode") == "quick"
    if key == "dara_level":
        return payload.get("dash_mode") == "quick" and form_of(payload) is DashForm.DARA
    if key in ("dash_quick", "dash_confirm"):
        return payload.get("dash_mode") == "quick" and form_of(payload) is not DashForm.DARA
    if key == "dash_story":
        return bool(story_pending(payload))
    if key == "judgement_reason":
        return payload.get("criterion") == Criterion.PROFESSIONAL_JUDGEMENT.value
    if key == "police_incidents":
        return payload.get("criterion") == Criterion.POTENTIAL_ESCALATION.value
    return True


def _next_key(key: str, payload: Payload) -> str:
    for candidate in ORDER[ORDER.index(key) + 1 :]:
        if _applies(candidate, payload):
            return candidate
    return "review"


def form_of(payload: Payload) -> DashForm:
    """The form the checklist came from: answered here one by one is the SafeLives one."""
    if payload.get("dash_mode") != "quick":
        return DashForm.SAFELIVES
    return DashForm(payload.get("dash_form") or DashForm.SAFELIVES.value)


def story_text(payload: Payload) -> str:
    """What the referrer wrote about the case: the concerns and the safety notes."""
    return "\n".join(str(payload.get(key) or "") for key in ("summary", "safe_details"))


def story_pending(payload: Payload) -> list[Mismatch]:
    """Mentions in the concerns whose question is not yes and that the referrer has not kept.

    A DARA assessment has no answers to compare. Only the kinds of concern are kept in the
    draft (never the words that matched)."""
    if form_of(payload) is DashForm.DARA:
        return []
    decided = {str(check["concern"]) for check in payload.get("story_checks", [])}
    return [
        found
        for found in mismatches(story_text(payload), dash_answers(payload))
        if found.concern.value not in decided
    ]


def dash_answers(payload: Payload) -> dict[int, Answer]:
    return {int(n): Answer(a) for n, a in payload.get("dash", {}).items()}


def yes_count(payload: Payload) -> int:
    return score(dash_answers(payload))


def options_for(key: str, payload: Payload, thresholds: Thresholds) -> tuple[Option, ...]:
    if key.startswith("dash:"):
        return DASH_OPTIONS
    if key == "criterion":
        return tuple(
            (c.value, texts.CRITERION_NAMES[c.value])
            for c in available_criteria(yes_count(payload), thresholds)
        )
    return CHOICES.get(key, ())


def prompt(payload: Payload, thresholds: Thresholds) -> Prompt:
    key = str(payload["step"])
    if key.startswith("dash:"):
        number = int(key.split(":")[1])
        question = DASH_QUESTIONS[number - 1]
        text = texts.dash_prompt(number, question.question, yes_count(payload))
    elif key == "dash_confirm":
        pending = {int(n): Answer(a) for n, a in payload.get("dash_pending", {}).items()}
        text = texts.DASH_CONFIRM_INTRO + "\n" + read_back_form(form_of(payload), pending)
    elif key == "dash_form":
        text = texts.DASH_FORM_PROMPT
    elif key == "dara_level":
        text = texts.DARA_LEVEL_PROMPT
    elif key == "dash_quick":
        form = form_of(payload)
        text = texts.dash_quick_prompt(form.value, len(questions_of(form)))
    elif key == "dash_story" and story_pending(payload):
        first = story_pending(payload)[0]
        form = form_of(payload)
        shown = "not known" if first.answer is Answer.NOT_KNOWN else "no"
        text = texts.story_prompt(
            first.concern.value, number_on_form(form, first.question), form.value, shown
        )
    elif key == "criterion":
        text = texts.criterion_prompt(yes_count(payload), thresholds.dash)
    elif key == "police_incidents":
        text = texts.police_incidents_prompt(thresholds.escalation)
    elif key == "safe_details":
        text = texts.REFERRAL_PROMPTS[
            "safe_details" if payload.get("safe_to_contact") else "unsafe_details"
        ]
    else:
        text = texts.REFERRAL_PROMPTS.get(key, texts.REFERRAL_PROMPTS["review"])
    children = payload.get("children")
    if key == "children" and isinstance(children, list):
        # Back at this question: what it holds now, to correct and send again.
        text += "\n\n" + "\n".join(texts.children_lines(children))
    elif isinstance(children, list) and (payload.get("history") or [""])[-1] == "children":
        # Just answered: read back as understood, with Back to correct it.
        text = "\n".join([*texts.children_lines(children), texts.CHILDREN_READ_BACK, "", text])
    return Prompt(
        key,
        step_number(key),
        text,
        options_for(key, payload, thresholds),
        bool(payload.get("history")),
    )


def _optional_text(raw: str) -> str | None:
    cleaned = clean_free_text(raw, max_length=500)
    return None if cleaned.strip().lower() in NONE_WORDS else cleaned


def _known_text(raw: str) -> str | None:
    """Free text that may be "unknown": agencies search on what is known, nothing else."""
    cleaned = clean_free_text(raw, max_length=500)
    lowered = cleaned.strip().lower()
    return None if lowered in NONE_WORDS or lowered in {"unknown", "not known"} else cleaned


def _tri(raw: str) -> bool | None:
    return {"yes": True, "no": False}.get(raw)


Parser = Callable[[Payload, str, date, Thresholds], None]


def _store(field: str, convert: Callable[[str], Any]) -> Parser:
    def parse(payload: Payload, raw: str, today: date, thresholds: Thresholds) -> None:
        payload[field] = convert(raw)

    return parse


def _victim_dob(payload: Payload, raw: str, today: date, thresholds: Thresholds) -> None:
    dob = parse_date_of_birth(raw, today)
    if age_on(dob, today) < MIN_VICTIM_AGE:
        raise InputError(texts.VICTIM_UNDER_16)
    payload["victim_dob"] = dob.isoformat()


def _perp_dob(payload: Payload, raw: str, today: date, thresholds: Thresholds) -> None:
    dob = parse_date_or_unknown(raw, today)
    payload["perp_dob"] = dob.isoformat() if dob else None


def _children(payload: Payload, raw: str, today: date, thresholds: Thresholds) -> None:
    """Each child as a person; the count and known ages kept beside them for the coded
    statistics columns and for cases read by older code."""
    children = parse_children_list(raw, today)
    payload["children"] = children_payload(children)
    payload["children_count"] = len(children)
    payload["children_ages"] = [c.age for c in children if c.age is not None]


def _quick(payload: Payload, raw: str, today: date, thresholds: Thresholds) -> None:
    answers = parse_form_entry(form_of(payload), raw)
    payload["dash_pending"] = {str(n): a.value for n, a in answers.items()}


def _perp_name(payload: Payload, raw: str, today: date, thresholds: Thresholds) -> None:
    lowered = raw.strip().lower()
    payload["perp_name"] = None if lowered in {"unknown", "not known"} else clean_name(raw)


def _judgement(payload: Payload, raw: str, today: date, thresholds: Thresholds) -> None:
    """Checked now with the very rule used at submission, so it cannot fail later."""
    reason = clean_free_text(raw)
    determine_criterion(
        0, CriterionChoice(Criterion.PROFESSIONAL_JUDGEMENT, judgement_reason=reason), thresholds
    )
    payload["judgement_reason"] = reason


TEXT_STEPS: dict[str, Parser] = {
    "safe_details": _store("safe_details", _optional_text),
    "consent_reason": _store("consent_reason", lambda raw: clean_free_text(raw, min_length=10)),
    "dash_quick": _quick,
    "judgement_reason": _judgement,
    "police_incidents": _store("police_incidents", lambda raw: parse_count(raw, maximum=200)),
    "victim_name": _store("victim_name", clean_name),
    "victim_dob": _victim_dob,
    "victim_aliases": _store("victim_aliases", _optional_text),
    "victim_address": _store("victim_address", _optional_text),
    "perp_name": _perp_name,
    "perp_dob": _perp_dob,
    "perp_address": _store("perp_address", _known_text),
    "children": _children,
    "summary": _store("summary", clean_free_text),
}

CHOICE_FIELDS: dict[str, tuple[str, Callable[[str], Any]]] = {
    "safe_contact": ("safe_to_contact", lambda v: v == "yes"),
    "victim_aware": ("victim_aware", lambda v: v == "yes"),
    "consent": ("consent", lambda v: v == "yes"),
    "dash_mode": ("dash_mode", str),
    "dash_form": ("dash_form", str),
    "dara_level": ("dara_level", str),
    "criterion": ("criterion", str),
    "victim_gender": ("victim_gender", str),
    "victim_lgbt": ("victim_lgbt", _tri),
    "victim_disabled": ("victim_disabled", _tri),
    "victim_minoritised": ("victim_minoritised", _tri),
    "relationship": ("relationship", str),
    "urgent": ("urgent", lambda v: v == "yes"),
}


def kind_of(key: str) -> Literal["choice", "text"]:
    return "text" if key in TEXT_STEPS else "choice"


def answer(payload: Payload, raw: str, *, today: date, thresholds: Thresholds) -> Payload:
    """Apply the person's answer to the current step; InputError leaves the draft unchanged."""
    updated = copy.deepcopy(payload)
    key = str(updated["step"])
    if key == "review":
        raise InputError(texts.REVIEW_USE_BUTTONS)
    if kind_of(key) == "text":
        TEXT_STEPS[key](updated, raw, today, thresholds)
    else:
        values = [value for value, _ in options_for(key, updated, thresholds)]
        if raw not in values:
            raise InputError(texts.USE_THE_BUTTONS)
        if key.startswith("dash:"):
            updated["dash"][key.split(":")[1]] = raw
        elif key == "dash_confirm":
            if raw == "again":
                updated["step"] = "dash_quick"
                return updated
            pending = {int(n): Answer(a) for n, a in updated.pop("dash_pending", {}).items()}
            mapped, extra = to_safelives(form_of(updated), pending)
            updated["dash"] = {str(n): a.value for n, a in mapped.items()}
            updated["dash_extra"] = {str(n): a.value for n, a in extra.items()}
        elif key == "dash_story":
            _decide_story(updated, raw)
        else:
            field, convert = CHOICE_FIELDS[key]
            updated[field] = convert(raw)
    if key in ("dash_mode", "dash_form"):
        # Another form or way of answering: the earlier answers (and checks of them) go.
        updated["dash"] = {}
        for stale in ("dash_extra", "dash_pending", "dara_level", "story_checks"):
            updated.pop(stale, None)
        if key == "dash_mode" and raw == "one":
            updated.pop("dash_form", None)
    updated["history"] = [*updated.get("history", []), key]
    if key == "dash_story" and story_pending(updated):
        updated["step"] = "dash_story"  # the next mention to review
    else:
        updated["step"] = _next_key(key, updated)
    return updated


def _decide_story(payload: Payload, raw: str) -> None:
    """The referrer's tap on a mention: change the answer to yes, or keep it as it is."""
    pending = story_pending(payload)
    if not pending:
        raise InputError(texts.STALE_QUESTION)
    first = pending[0]
    if raw == "change":
        payload["dash"][str(first.question)] = Answer.YES.value
    payload["story_checks"] = [
        *payload.get("story_checks", []),
        {
            "concern": first.concern.value,
            "question": first.question,
            "was": first.answer.value if first.answer else None,
            "choice": "changed" if raw == "change" else "kept",
        },
    ]


def story_checks(payload: Payload) -> list[dict[str, Any]]:
    """The mentions the referrer reviewed and what they chose: kinds and numbers only."""
    return [
        {
            "concern": Concern(str(check["concern"])).value,
            "question": int(check["question"]),
            "was": check.get("was"),
            "choice": str(check["choice"]),
        }
        for check in payload.get("story_checks", [])
    ]


def back(payload: Payload) -> Payload:
    """Return to the previous question; its answer stays until it is given again."""
    updated = copy.deepcopy(payload)
    history: list[str] = updated.get("history", [])
    if history:
        updated["step"] = history.pop()
        updated["history"] = history
        if updated["step"] == "dash_story" and updated.get("story_checks"):
            # Back to a mention already decided: undo that decision, so it is asked again.
            last = updated["story_checks"].pop()
            if last.get("choice") == "changed":
                if last.get("was") is None:
                    updated["dash"].pop(str(last["question"]), None)
                else:
                    updated["dash"][str(last["question"])] = last["was"]
    return updated


def restart_criterion(payload: Payload) -> Payload:
    """Send the referrer back to choose another criterion (e.g. no earlier referral found)."""
    updated = copy.deepcopy(payload)
    updated["history"] = [*updated.get("history", []), str(updated["step"])]
    updated["step"] = "criterion"
    return updated

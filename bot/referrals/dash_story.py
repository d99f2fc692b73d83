"""The referrer's own words against the checklist: what the concerns plainly mention.

"Optimistic reliance on accounts rather than robust assessment of risk" lets a referral
through with "strangled last night" in the concerns and the strangulation question answered
no. Before submitting, the concerns and the safety notes are read for a few things the
checklist asks about directly; for each one mentioned whose question is not answered yes,
the referrer is asked to look again. Nothing is changed here: the referrer decides.

The word lists are deliberately plain (stems of the words people write in referrals) and
a mention that is negated in its own clause ("no weapons were used", "denies
strangulation", "not pregnant") is not a mention. Only the kind of concern leaves this
module, never the words that matched: the text is the victim's story and stays sealed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from bot.referrals.dash import Answer, DashAnswers


class Concern(StrEnum):
    STRANGULATION = "strangulation"
    WEAPONS = "weapons"
    THREATS_TO_KILL = "threats_to_kill"
    PREGNANCY = "pregnancy"
    ESCALATION = "escalation"
    STALKING = "stalking"
    SEXUAL_ABUSE = "sexual_abuse"
    CHILDREN_THREATS = "children_threats"


@dataclass(frozen=True)
class Check:
    concern: Concern
    question: int  # the SafeLives question (1 to 24) that asks about it
    patterns: tuple[re.Pattern[str], ...]


def _words(*patterns: str) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p) for p in patterns)


_CHILD = r"(?:child|children|kids?|son|daughter|baby|babies|toddler)"

CHECKS: tuple[Check, ...] = (
    Check(
        Concern.STRANGULATION,
        15,
        _words(
            r"\bstrangl\w*",
            r"\bchok(?:e|ed|es|ing)\b",
            r"\bsuffocat\w*",
            r"\bsmother\w*",
            r"\bthrottl\w*",
            r"\bdrown\w*",
            r"\bhands?\s+(?:a)?round\s+(?:her|his|their|my|the)\s+(?:neck|throat)",
            r"\bgrabbed\s+(?:her|him|them|me)\s+by\s+the\s+(?:neck|throat)",
        ),
    ),
    Check(
        Concern.WEAPONS,
        13,
        _words(
            r"\bweapons?\b",
            r"\bknife\b",
            r"\bknives\b",
            r"\bblade\w*",
            r"\bstabb?(?:ed|ing|s)?\b",
            r"\bguns?\b",
            r"\bfirearms?\b",
            r"\bmachete\w*",
            r"\bhammer\w*",
            r"\bbaseball\s+bat\b",
        ),
    ),
    Check(
        Concern.THREATS_TO_KILL,
        14,
        _words(
            r"\bthreat\w*\s+(?:\w+\s+){0,3}(?:kill|murder)\w*",
            r"\bdeath\s+threats?\b",
            r"\b(?:would|will|'ll|going\s+to|gonna)\s+(?:\w+\s+)?(?:kill|murder)\b",
        ),
    ),
    Check(
        Concern.PREGNANCY,
        9,
        _words(
            r"\bpregnan\w*",
            r"\bexpecting\s+(?:a\s+)?(?:baby|child)\b",
            r"\bnew[\s-]?born\b",
            r"\bgave\s+birth\b",
        ),
    ),
    Check(
        Concern.ESCALATION,
        11,
        _words(
            r"\bescalat\w*",
            r"\bgetting\s+worse\b",
            r"\bworse\s+(?:and\s+worse|than\s+before)\b",
            r"\bmore\s+(?:often|frequent|violent|serious|severe)\b",
        ),
    ),
    Check(
        Concern.STALKING,
        8,
        _words(
            r"\bstalk\w*",
            r"\bharass\w*",
            r"\bfollow(?:s|ed|ing)\s+(?:her|him|them|me)\b",
            r"\bturn(?:s|ed|ing)?\s+up\s+at\b",
            r"\btrack(?:ing|er|ed)\b",
            r"\b(?:keeps|constantly)\s+(?:calling|texting|messaging|ringing|contacting)\b",
        ),
    ),
    Check(
        Concern.SEXUAL_ABUSE,
        16,
        _words(
            r"\brap(?:e|ed|es|ing)\b",
            r"\bsexual\w*",
            r"\bforced\s+(?:her|him|them|me)\s+to\s+have\s+sex\b",
        ),
    ),
    Check(
        Concern.CHILDREN_THREATS,
        # SafeLives question 7 (conflict over child contact), where threats to take or keep
        # the children are asked about; the form's read-back names it, so the referrer judges.
        7,
        _words(
            rf"\bthreat\w*\s+(?:\w+\s+){{0,4}}{_CHILD}\b",
            rf"\b(?:take|snatch|keep)\s+(?:the\s+|her\s+|my\s+)?{_CHILD}\b",
            rf"\b(?:hurt|harm|kill)\s+(?:the\s+|her\s+|my\s+)?{_CHILD}\b",
        ),
    ),
)

QUESTION_OF: dict[Concern, int] = {check.concern: check.question for check in CHECKS}

# A clause ends at these; a negation only reaches within its own clause.
_CLAUSES = re.compile(r"[.;:!?\n]|,\s*(?:but|and|then)\b|\bbut\b|\bhowever\b")
_NEGATION = re.compile(
    r"\b(?:no|not|never|nor|without|denies|denied|deny|denying|none|nothing|"
    r"isn't|wasn't|weren't|didn't|doesn't|don't|hasn't|haven't|hadn't|"
    r"isnt|wasnt|werent|didnt|doesnt|dont|hasnt|havent|hadnt)\b"
)
_NEGATION_REACH = 5  # words before the mention a negation still covers
_NORMALISE = str.maketrans({"’": "'", "‘": "'"})


def _negated(clause: str, start: int) -> bool:
    before = clause[:start].split()[-_NEGATION_REACH:]
    return any(_NEGATION.fullmatch(word.strip(",()\"'")) for word in before)


def mentions(text: str) -> list[Concern]:
    """The concerns ``text`` plainly mentions (not negated), in the checklist's order."""
    lowered = text.translate(_NORMALISE).lower()
    clauses = _CLAUSES.split(lowered)
    found: list[Concern] = []
    for check in CHECKS:
        if any(
            not _negated(clause, match.start())
            for clause in clauses
            for pattern in check.patterns
            for match in pattern.finditer(clause)
        ):
            found.append(check.concern)
    return sorted(found, key=lambda concern: QUESTION_OF[concern])


@dataclass(frozen=True)
class Mismatch:
    concern: Concern
    question: int  # the SafeLives question
    answer: Answer | None  # no, not known, or unanswered


def mismatches(text: str, answers: DashAnswers) -> list[Mismatch]:
    """Each concern the text mentions whose question is not answered yes."""
    return [
        Mismatch(concern, QUESTION_OF[concern], answers.get(QUESTION_OF[concern]))
        for concern in mentions(text)
        if answers.get(QUESTION_OF[concern]) is not Answer.YES
    ]

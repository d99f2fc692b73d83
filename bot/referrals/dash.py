"""The SafeLives Dash risk identification checklist: its 24 questions, scoring and quick entry.

The score is a plain count of "yes" answers; "not known" never counts, because
SafeLives' visible-high-risk route rests on what is known, and an unknown must
prompt further enquiry rather than quietly raise or lower the risk. The question
wording is the project's own paraphrase of the published topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias

from bot.referrals.validation import InputError


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    NOT_KNOWN = "not_known"


@dataclass(frozen=True)
class DashQuestion:
    """One checklist question; ``topic`` is the short label used in read-backs and case cards."""

    number: int
    topic: str
    question: str


DASH_QUESTIONS: tuple[DashQuestion, ...] = tuple(
    DashQuestion(number, topic, question)
    for number, (topic, question) in enumerate(
        [
            (
                "Injury in current incident",
                "Has the current incident resulted in injury to the victim?",
            ),
            ("Victim very frightened", "Is the victim very frightened?"),
            (
                "What the victim fears",
                "Is the victim afraid of further injury or violence, of being killed, "
                "or of harm to the children or others?",
            ),
            (
                "Isolated from family or friends",
                "Is the victim isolated from family or friends, for example "
                "because the person causing harm stops them seeing people?",
            ),
            (
                "Depression or suicidal thoughts",
                "Is the victim feeling depressed or having suicidal thoughts?",
            ),
            (
                "Separation in the past year",
                "Has the victim separated, or tried to separate, from the person causing harm "
                "in the past year?",
            ),
            ("Conflict over child contact", "Is there conflict over contact with the children?"),
            (
                "Constant contact, stalking, harassment",
                "Does the person causing harm constantly text, call, contact, follow, stalk "
                "or harass the victim?",
            ),
            (
                "Pregnant or baby under 18 months",
                "Is the victim pregnant, or have they had a baby in the past 18 months?",
            ),
            ("Abuse happening more often", "Is the abuse happening more often?"),
            ("Abuse getting worse", "Is the abuse getting worse?"),
            (
                "Controlling or very jealous",
                "Does the person causing harm try to control everything the victim does, "
                "or are they excessively jealous?",
            ),
            (
                "Weapons or objects used to hurt",
                "Has the person causing harm used weapons or objects to hurt the victim?",
            ),
            (
                "Threats to kill",
                "Has the person causing harm threatened to kill the victim or someone else, "
                "and does the victim believe them?",
            ),
            (
                "Strangled, choked, suffocated or drowned",
                "Has the person causing harm ever tried to strangle, choke, suffocate or drown "
                "the victim?",
            ),
            ("Sexual abuse", "Does the abuse include sexual abuse or sexually degrading acts?"),
            (
                "Threats from others, honour-based abuse",
                "Is anyone else threatening the victim, or is the victim afraid of someone "
                "else, for example family members or in honour-based abuse?",
            ),
            (
                "Person causing harm has hurt others",
                "Has the person causing harm hurt anyone else, such as children, relatives, "
                "previous partners or strangers?",
            ),
            (
                "Harm to animals or pets",
                "Has the person causing harm hurt or mistreated an animal or the family pet?",
            ),
            (
                "Financial problems or dependence",
                "Are there financial problems, or is the victim financially dependent "
                "on the person causing harm?",
            ),
            (
                "Person causing harm: drugs, alcohol, mental health",
                "In the past year, has the person causing harm had problems with drugs, alcohol "
                "or mental health?",
            ),
            (
                "Person causing harm: suicide threats or attempts",
                "Has the person causing harm ever threatened or attempted suicide?",
            ),
            (
                "Breached bail, injunction or agreement",
                "Has the person causing harm broken bail conditions, an injunction, or an "
                "agreement about contact?",
            ),
            (
                "Person causing harm: criminal history",
                "Does the person causing harm have a criminal history, or have they been in "
                "trouble with the police?",
            ),
        ],
        start=1,
    )
)

QUESTION_COUNT = len(DASH_QUESTIONS)
QUESTION_NUMBERS = range(1, QUESTION_COUNT + 1)
THREATS_TO_KILL = 14
STRANGULATION = 15

DashAnswers: TypeAlias = dict[int, Answer]
"""Question number (1 to 24) to answer; a number that is missing has not been answered."""


def count(answers: DashAnswers, answer: Answer) -> int:
    """How many questions have this answer.

    Only real question numbers are counted, so a stray key (say, from an old
    draft) can never push a score over a threshold.
    """
    return sum(1 for number in QUESTION_NUMBERS if answers.get(number) == answer)


def score(answers: DashAnswers) -> int:
    """The Dash score: the number of "yes" answers, which is what the MARAC threshold counts."""
    return count(answers, Answer.YES)


def is_complete(answers: DashAnswers) -> bool:
    """Whether every question has an answer, so that a score can be trusted."""
    return all(answers.get(number) in set(Answer) for number in QUESTION_NUMBERS)


# --- quick entry -----------------------------------------------------------------------------

_EXAMPLE = "for example: yes 1 3 5-9 14, not known 20"
_HELP = (
    f"Please type the question numbers answered yes, then those not known, {_EXAMPLE}. "
    "Type none if every answer was no."
)
_YES_WORDS = frozenset({"yes", "y", "yeses"})
_NOT_KNOWN_WORDS = frozenset({"nk", "unknown", "dk", "unsure", "notknown"})
_NO_WORDS = frozenset({"no", "nos"})
_NONE_WORDS = frozenset({"none", "nil"})
_FILLER_WORDS = frozenset(
    [
        "and",
        "q",
        "qs",
        "question",
        "questions",
        "to",
        "answered",
        "answers",
        "all",
        "other",
        "others",
        "rest",
        "remaining",
        "are",
        "were",
        "the",
    ]
)
_IGNORED_PUNCTUATION = frozenset(",;:.=&+/()[]?!")
_PHRASES = [
    (re.compile(r"\bnot\s+known\b"), " nk "),
    (re.compile(r"\bnot\s+sure\b"), " nk "),
    (re.compile(r"\b(?:do\s+not|don'?t|dont)\s+know\b"), " nk "),
    (re.compile(r"\b[nd]\s*/\s*k\b"), " nk "),
]
_TOKEN = re.compile(r"([0-9]+)\s*(?:-|to)\s*q?([0-9]+)|([0-9]+)|([a-z']+)|(\S)")
_NORMALISE = str.maketrans(
    {"’": "'", "‘": "'", "ʼ": "'", "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-"}
)


_LABELS = {Answer.YES: "yes", Answer.NOT_KNOWN: "not known", Answer.NO: "no"}


def _question_number(digits: str, question_count: int = QUESTION_COUNT) -> int:
    if len(digits) > 3 or int(digits) > question_count:
        shown = digits if len(digits) <= 6 else digits[:6] + "…"
        raise InputError(
            f"There is no question {shown}: the checklist has {question_count} questions."
        )
    number = int(digits)
    if number < 1:
        raise InputError(
            f"There is no question {number}: the questions are numbered 1 to {question_count}."
        )
    return number


def parse_quick_entry(text: str, question_count: int = QUESTION_COUNT) -> DashAnswers:
    """Read a whole checklist from one line such as ``yes 1 3 5-9 14, not known 20``.

    Referrers usually arrive with the checklist already completed on paper or in
    their own system; asking 24 questions one by one wastes their time. Listing
    only the yes and not-known numbers is the least typing, and every question
    not listed is no. Unlabelled numbers are refused rather than taken as yes,
    because a lone "14" is far more likely to be the score than question 14.
    The result is always complete and should be read back before it is saved.
    ``question_count`` is the length of the form the numbers come from (the
    police ACPO DASH has 27); ``bot.referrals.dash_forms`` maps them onto the 24.
    """
    normalised = text.translate(_NORMALISE).lower()
    for pattern, replacement in _PHRASES:
        normalised = pattern.sub(replacement, normalised)

    listed: dict[Answer, set[int]] = {answer: set() for answer in Answer}
    said_none: set[Answer] = set()
    current: Answer | None = None
    section_used = False  # whether the current label has been followed by anything
    empty_labels: list[Answer] = []
    stray_numbers: list[str] = []

    def close_section() -> None:
        if current is not None and not section_used and current is not Answer.NO:
            empty_labels.append(current)

    for match in _TOKEN.finditer(normalised):
        start, end, single, word, symbol = match.groups()
        if start is not None or single is not None:
            if current is None:
                stray_numbers.append(single or f"{start}-{end}")
                continue
            if current in said_none:
                raise _none_and_numbers(current)
            if single is not None:
                listed[current].add(_question_number(single, question_count))
            else:
                first = _question_number(start, question_count)
                last = _question_number(end, question_count)
                if first > last:
                    raise InputError(
                        f"The range {first}-{last} runs backwards. Did you mean {last}-{first}?"
                    )
                listed[current].update(range(first, last + 1))
            section_used = True
        elif word is not None:
            label = _label(word)
            if label is not None:
                close_section()
                current, section_used = label, False
            elif word in _NONE_WORDS:
                if current is None:
                    current = Answer.YES
                if listed[current]:
                    raise _none_and_numbers(current)
                said_none.add(current)
                section_used = True
            elif word not in _FILLER_WORDS:
                shown = word if len(word) <= 20 else word[:20] + "…"
                raise InputError(f"I did not understand “{shown}”. {_HELP}")
        elif symbol not in _IGNORED_PUNCTUATION:
            raise InputError(f"I did not understand “{symbol}”. {_HELP}")
    close_section()

    if stray_numbers:
        if len(stray_numbers) == 1 and current is None and stray_numbers[0].isdigit():
            raise InputError(
                f"If {stray_numbers[0]} is the score, please type the question numbers instead, "
                f"{_EXAMPLE}."
            )
        raise InputError(f"Please put yes or not known before the numbers, {_EXAMPLE}.")
    if current is None:
        raise InputError(_HELP)
    if empty_labels:
        raise InputError(
            f"Please add the question numbers after “{_LABELS[empty_labels[0]]}”, {_EXAMPLE}. "
            "Type none if every answer was no."
        )
    for one, other in (
        (Answer.YES, Answer.NOT_KNOWN),
        (Answer.YES, Answer.NO),
        (Answer.NOT_KNOWN, Answer.NO),
    ):
        both = sorted(listed[one] & listed[other])
        if both:
            raise InputError(
                f"Question {both[0]} is listed as both {_LABELS[one]} and {_LABELS[other]}. "
                "Please put it in one list only."
            )

    answers: DashAnswers = dict.fromkeys(range(1, question_count + 1), Answer.NO)
    for answer in (Answer.YES, Answer.NOT_KNOWN):
        for number in listed[answer]:
            answers[number] = answer
    return answers


def _label(word: str) -> Answer | None:
    if word in _YES_WORDS:
        return Answer.YES
    if word in _NOT_KNOWN_WORDS:
        return Answer.NOT_KNOWN
    if word in _NO_WORDS:
        return Answer.NO
    return None


def _none_and_numbers(answer: Answer) -> InputError:
    return InputError(
        f"You typed none and also question numbers after “{_LABELS[answer]}”. "
        "Please type one or the other."
    )


def _ranges(numbers: list[int]) -> str:
    """Compress 5 6 7 8 9 into 5-9, as a referrer would write it."""
    parts: list[str] = []
    index = 0
    while index < len(numbers):
        end = index
        while end + 1 < len(numbers) and numbers[end + 1] == numbers[end] + 1:
            end += 1
        if end - index >= 2:
            parts.append(f"{numbers[index]}-{numbers[end]}")
        else:
            parts.extend(str(n) for n in numbers[index : end + 1])
        index = end + 1
    return " ".join(parts)


def format_quick_entry(answers: DashAnswers) -> str:
    """The quick-entry line for these answers, so a referrer can copy, correct and resend it.

    Unanswered questions are left out, which quick entry reads as no; use it on
    complete answers.
    """
    yes = [n for n in QUESTION_NUMBERS if answers.get(n) == Answer.YES]
    not_known = [n for n in QUESTION_NUMBERS if answers.get(n) == Answer.NOT_KNOWN]
    text = f"yes {_ranges(yes)}" if yes else "yes none"
    if not_known:
        text += f", not known {_ranges(not_known)}"
    return text


def read_back(answers: DashAnswers) -> str:
    """The answers as a short list to confirm before scoring.

    A mistyped number changes a score silently, so the referrer sees the topics
    (not just numbers) that were taken as yes and not known before anything is
    saved. Plain text only, so it is safe in any Telegram parse mode.
    """
    yes = [q for q in DASH_QUESTIONS if answers.get(q.number) == Answer.YES]
    not_known = [q for q in DASH_QUESTIONS if answers.get(q.number) == Answer.NOT_KNOWN]
    unanswered = [q.number for q in DASH_QUESTIONS if answers.get(q.number) not in set(Answer)]
    lines: list[str] = []
    if yes:
        lines.append(f"Yes ({len(yes)}):")
        lines.extend(f"{q.number}. {q.topic}" for q in yes)
    else:
        lines.append("Yes: none")
    if not_known:
        lines.append(f"Not known ({len(not_known)}):")
        lines.extend(f"{q.number}. {q.topic}" for q in not_known)
    else:
        lines.append("Not known: none")
    if unanswered:
        lines.append("Not answered yet: " + ", ".join(str(n) for n in unanswered))
    if count(answers, Answer.NO):
        lines.append("All other questions: no.")
    lines.append(f"Yes answers: {score(answers)} of {QUESTION_COUNT}")
    return "\n".join(lines)

"""The children of a referral, as people: one child per line, read from what a referrer types.

Children who see, hear or experience domestic abuse are victims in their own right
(Domestic Abuse Act 2021), so a referral records each of them: name, date of birth (or
age, since referrers often do not know the date), school or nursery, whether the child
lives with the victim, and whether children's social care is already involved.

A line reads ``Mia Smith, 3 Apr 2019, Oak Primary, lives with victim, CSC involved``. The
name comes first; the other parts may come in any order and any of them may be left out.
A refusal names the child by its place in the list ("Child 2: ..."), never by what was
typed, and says what to type instead. Pure functions: ``today`` is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from bot import texts
from bot.referrals.validation import (
    CHILD_MAX_AGE,
    MAX_CHILDREN,
    InputError,
    age_on,
    clean_free_text,
    clean_name,
    parse_date_or_unknown,
)

MAX_SCHOOL = 120

_NONE = frozenset(
    {"none", "no", "0", "nil", "no children", "no child", "n/a", "na", "nobody", "zero", "-"}
)
_UNKNOWN = frozenset({"unknown", "not known", "nk", "n/k", "don't know", "dont know", "unsure"})
_NAME_UNKNOWN = _UNKNOWN | {"name unknown", "name not known", "unnamed", "baby"}
_AGE_UNKNOWN = frozenset(
    {
        *_UNKNOWN,
        "dob unknown",
        "dob not known",
        "age unknown",
        "age not known",
        "date of birth unknown",
        "date of birth not known",
    }
)
_YEARS = re.compile(
    r"(?:aged?\s*)?([0-9]{1,3})\s*(?:years?|yrs?|y|yo|y/o)?(?:\s*old)?", re.IGNORECASE
)
_MONTHS = re.compile(
    r"(?:aged?\s*)?([0-9]{1,3})\s*(months?|mths?|mos?|m|weeks?|wks?|w|days?|d)(?:\s*old)?",
    re.IGNORECASE,
)
_BULLET = re.compile(r"^\s*(?:[-•*·]|[0-9]{1,2}[.)])\s+")
_SCHOOL_PREFIX = re.compile(r"^(school|nursery|college|setting)\s*[:\-]\s*", re.IGNORECASE)
_SCHOOL_UNKNOWN = frozenset(
    {
        "no school",
        "not at school",
        "no nursery",
        "not in school",
        "not in nursery",
        "school unknown",
        "school not known",
        "nursery unknown",
        "nursery not known",
    }
)
_CSC_WORDS = (
    "csc",
    "social care",
    "social worker",
    "social services",
    "children's services",
    "childrens services",
    "child protection",
    "cp plan",
    "cin plan",
    "child in need",
)
_LIVES_WITH = re.compile(
    r"(?:lives|living|resides|stays)?\s*(?:mainly\s+|full\s+time\s+)?with\s+(?:the\s+)?victim"
)
_LIVES_ELSEWHERE = re.compile(
    r"(?:lives|living)\s+(?:elsewhere|away|apart)|not\s+(?:living\s+)?with\s+(?:the\s+)?victim"
    r"|does\s*n[o']?t\s+live\s+with\s+(?:the\s+)?victim"
)


@dataclass(frozen=True)
class Child:
    """One child as the referral gives them; None wherever the referrer did not say."""

    name: str | None = None
    date_of_birth: date | None = None
    age: int | None = None  # in whole years at the referral (worked out from the date of birth)
    school: str | None = None
    lives_with_victim: bool | None = None
    csc_involved: bool | None = None

    def as_payload(self) -> dict[str, Any]:
        """JSON-ready, as it is sealed in the draft and the case."""
        return {
            "name": self.name,
            "dob": self.date_of_birth.isoformat() if self.date_of_birth else None,
            "age": self.age,
            "school": self.school,
            "lives_with_victim": self.lives_with_victim,
            "csc_involved": self.csc_involved,
        }


def _words(text: str) -> str:
    return " ".join(text.replace("’", "'").lower().split()).rstrip(".!")


def _age(field: str, today: date) -> tuple[date | None, int | None] | None:
    """(date of birth, age) if the part is a date of birth or an age; None if it is neither."""
    lowered = _words(field)
    if lowered in _AGE_UNKNOWN:
        return None, None
    if match := _MONTHS.fullmatch(lowered):
        number, unit = int(match[1]), match[2]
        years = number // 12 if unit.startswith("m") else 0
        return None, years
    if match := _YEARS.fullmatch(lowered):
        return None, int(match[1])
    if any(ch.isdigit() for ch in lowered):
        born = parse_date_or_unknown(field, today)
        return born, age_on(born, today) if born else None
    return None


def _csc(lowered: str) -> bool | None:
    if any(word in lowered for word in ("unknown", "not sure", "unsure")) or lowered.endswith(
        ("not known", "?")
    ):
        return None
    negative = (
        lowered.startswith(("no ", "not ", "none"))
        or "not involved" in lowered
        or "not known to" in lowered
        or lowered.endswith((" no", " none"))
    )
    return not negative


def _child(line: str, number: int, today: date) -> Child:
    def refuse(problem: str) -> InputError:
        return InputError(texts.child_problem(number, problem))

    fields = [part.strip() for part in line.split(",")]
    first, rest = fields[0], [part for part in fields[1:] if part]
    if not first or any(ch.isdigit() for ch in first):
        raise refuse(texts.CHILD_NAME_FIRST)
    name: str | None = None
    if _words(first) not in _NAME_UNKNOWN:
        try:
            name = clean_name(first)
        except InputError as problem:
            raise refuse(_lower_first(problem.message)) from None
    born: date | None = None
    age: int | None = None
    aged = False
    school: str | None = None
    schooled = False
    lives: bool | None = None
    csc: bool | None = None
    for part in rest:
        lowered = _words(part)
        explicit_school = _SCHOOL_PREFIX.match(part)
        if explicit_school:
            school = clean_free_text(part[explicit_school.end() :], max_length=MAX_SCHOOL)
            schooled = True
            continue
        if lowered in _SCHOOL_UNKNOWN:
            schooled = True
            continue
        if any(word in lowered for word in _CSC_WORDS):
            csc = _csc(lowered)
            continue
        if _LIVES_ELSEWHERE.fullmatch(lowered):
            lives = False
            continue
        if _LIVES_WITH.fullmatch(lowered):
            lives = True
            continue
        if lowered.startswith(("lives", "living")):
            raise refuse(texts.CHILD_LIVES_HELP)
        try:
            found = _age(part, today)
        except InputError as problem:
            raise refuse(_lower_first(problem.message)) from None
        if found is not None:
            if aged:
                raise refuse(texts.CHILD_AGE_TWICE)
            born, age = found
            aged = True
            if age is not None and age > CHILD_MAX_AGE:
                raise refuse(texts.child_too_old(age))
            continue
        if schooled:
            raise refuse(texts.CHILD_PART_UNCLEAR)
        school = clean_free_text(part, max_length=MAX_SCHOOL)
        schooled = True
    return Child(name, born, age, school, lives, csc)


def _lower_first(message: str) -> str:
    return message[:1].lower() + message[1:] if message[:2] != "I " else message


def parse_children_list(text: str, today: date) -> list[Child]:
    """Every child in the list, in the order given; an empty list for "none" or "0".

    Anything that cannot be used refuses the whole answer, so nothing half-read is stored;
    the typed message stays in the chat (for the sensitive-message time) to be corrected.
    """
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not cleaned:
        raise InputError(texts.CHILDREN_HELP)
    if _words(cleaned) in _NONE:
        return []
    lines = [
        _BULLET.sub("", line).strip()
        for chunk in cleaned.split("\n")
        for line in chunk.split(";")
        if line.strip()
    ]
    if len(lines) > MAX_CHILDREN:
        raise InputError(texts.too_many_children(len(lines), MAX_CHILDREN))
    if len(lines) == 1 and re.match(r"[0-9]+\s*(?:$|[:(]|children|child|kids)", lines[0].lower()):
        raise InputError(texts.CHILDREN_COUNT_ONLY)
    return [_child(line, number, today) for number, line in enumerate(lines, start=1)]


def children_payload(children: list[Child]) -> list[dict[str, Any]]:
    return [child.as_payload() for child in children]

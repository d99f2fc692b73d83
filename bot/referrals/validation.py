"""Checks on what a referrer types, each refusal saying exactly what to type instead.

Referrers fill these forms between visits and calls, often on a phone. A refusal
that only says "invalid" costs them a guess and a second attempt, so every
``InputError`` here names the problem and shows a form that will be accepted.
Messages never repeat a whole answer back (it may identify someone): they echo
at most the one character, short word or date that could not be used.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

from bot.dates import MONTHS

MAX_TEXT = 3000
MAX_NAME = 100
MAX_CHILDREN = 20
OLDEST_AGE = 110
CHILD_MAX_AGE = 17


class InputError(ValueError):
    """Something a person typed that cannot be used; ``str()`` is the polite correction.

    A subclass of ``ValueError`` so that generic handling still treats it as bad
    input, while handlers can show ``message`` to the person as it is.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


NUMBER_WORDS: dict[str, int] = {
    word: value
    for value, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
            "thirteen",
            "fourteen",
            "fifteen",
            "sixteen",
            "seventeen",
            "eighteen",
            "nineteen",
            "twenty",
        ]
    )
}


_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})
_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-"})


def _plural(count: int, singular: str, plural: str | None = None) -> str:
    return f"{count} {singular if count == 1 else (plural or singular + 's')}"


# --- names -----------------------------------------------------------------------------------

# Punctuation that really occurs in names: hyphens, apostrophes (straight, curly, modifier),
# full stops for initials, and the middle dots of Catalan and Japanese transliterations.
_NAME_PUNCTUATION = frozenset("-‐‑'’‘ʼ.·・")
# Zero-width joiners shape Persian, Indic and other scripts, so they must survive.
_NAME_JOINERS = frozenset("\u200c\u200d")


def clean_name(text: str) -> str:
    """Tidy a typed name so that the same person typed twice compares equal.

    NFC normalisation matters because the same accented letter can arrive as one
    code point or two depending on the keyboard, and repeat-victim matching
    compares names. Invisible formatting marks pasted from other apps (direction
    marks, zero-width spaces) are dropped rather than refused, since the person
    cannot see them to remove them.
    """
    normalised = unicodedata.normalize("NFC", text)
    visible = "".join(
        ch for ch in normalised if unicodedata.category(ch) != "Cf" or ch in _NAME_JOINERS
    )
    name = " ".join(visible.split())
    if not name:
        raise InputError("Please type the name.")
    if not any(ch.isalpha() for ch in name):
        raise InputError("Please type the name in letters.")
    for ch in name:
        if ch == " " or ch in _NAME_PUNCTUATION or ch in _NAME_JOINERS:
            continue
        category = unicodedata.category(ch)
        if category.startswith("L") or category.startswith("M"):
            continue
        if category == "Nd" or ch.isdigit():
            raise InputError("Please type the name without numbers.")
        raise InputError(
            f"A name cannot contain “{ch}”. "
            "Please use only letters, spaces, hyphens and apostrophes."
        )
    if len(name) > MAX_NAME:
        raise InputError(
            f"That name is {len(name):,} characters; the limit is {MAX_NAME}. Please shorten it."
        )
    return name


# --- dates -----------------------------------------------------------------------------------

_SEP = r"(?:\s*[/.\-]\s*|\s+)"
_DMY = re.compile(rf"([0-9]{{1,2}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{4}}|[0-9]{{2}})")
_YMD = re.compile(rf"([0-9]{{4}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})")
_D_MONTH_Y = re.compile(
    r"([0-9]{1,2})(?:st|nd|rd|th)?[\s/.\-]*(?:of\s+)?([a-z]+)\.?[\s/.\-]*([0-9]{4}|[0-9]{2})"
)
_MONTH_D_Y = re.compile(r"([a-z]+)\.?\s*([0-9]{1,2})(?:st|nd|rd|th)?\s+([0-9]{4})")

_UNKNOWN_DATE = frozenset(
    {"unknown", "not known", "nk", "n/k", "don't know", "dont know", "do not know", "dk"}
)


def _full_year(two_digits: int, today: date) -> int:
    """Read a two-digit year as the most recent year that is not in the future."""
    century = today.year // 100 * 100
    if two_digits <= today.year % 100:
        return century + two_digits
    return century - 100 + two_digits


def _format_help(allow_unknown: bool) -> str:
    also = " If you do not know it, type unknown." if allow_unknown else ""
    return f"Please type the date of birth as day/month/year, for example 31/12/1990.{also}"


def _read_date(text: str, today: date, *, allow_unknown: bool) -> date:
    cleaned = " ".join(text.translate(_DASHES).lower().replace(",", " ").split()).rstrip(".")
    if len(cleaned) > 40:
        raise InputError(_format_help(allow_unknown))
    shown = cleaned
    if match := _YMD.fullmatch(cleaned):
        year, month, day = (int(part) for part in match.groups())
    elif match := _DMY.fullmatch(cleaned):
        day, month, year_text = int(match[1]), int(match[2]), match[3]
        year = _full_year(int(year_text), today) if len(year_text) == 2 else int(year_text)
    elif (match := _D_MONTH_Y.fullmatch(cleaned)) or (match := _MONTH_D_Y.fullmatch(cleaned)):
        if match.re is _D_MONTH_Y:
            day_text, word, year_text = match.groups()
        else:
            word, day_text, year_text = match.groups()
        if word not in MONTHS:
            raise InputError(
                f"I did not recognise the month “{word[:15]}”. "
                "Please type the date like 31/12/1990 or 31 Dec 1990."
            )
        day, month = int(day_text), MONTHS[word]
        year = _full_year(int(year_text), today) if len(year_text) == 2 else int(year_text)
    else:
        raise InputError(_format_help(allow_unknown))
    try:
        born = date(year, month, day)
    except ValueError:
        if 1 <= day <= 12 < month <= 31 and year >= 1:
            raise InputError(
                f"{shown} is not a real date. Dates go day first: "
                f"did you mean {month:02d}/{day:02d}/{year}?"
            ) from None
        raise InputError(f"{shown} is not a real date. Please check the day and month.") from None
    if born > today:
        raise InputError("That date of birth is in the future. Please check the year.")
    age = age_on(born, today)
    if age > OLDEST_AGE:
        raise InputError(
            f"That date of birth would make them {age} years old. Please check the year."
        )
    return born


def parse_date_of_birth(text: str, today: date) -> date:
    """Read a date of birth typed the UK way (day first), in the forms people actually use.

    Two-digit years are read as the latest year that is not in the future, which
    is right for everyone under 100 and is what people mean when they type "90".
    Age limits for a victim or perpetrator belong to the caller, which knows who
    the date is for; only dates that cannot be anyone's birth are refused here.
    """
    return _read_date(text, today, allow_unknown=False)


def parse_date_or_unknown(text: str, today: date) -> date | None:
    """Like ``parse_date_of_birth``, but "unknown" is an honest answer, not an error.

    A perpetrator's or child's date of birth is often not known to the referrer,
    and a made-up date would be worse than none.
    """
    phrase = " ".join(text.translate(_APOSTROPHES).lower().split()).rstrip(".!")
    if phrase in _UNKNOWN_DATE:
        return None
    return _read_date(text, today, allow_unknown=True)


def age_on(dob: date, on: date) -> int:
    """Age in whole years, as the law counts it.

    Someone born on 29 February becomes a year older on 1 March in a common
    year, which is what comparing (month, day) pairs gives.
    """
    if on < dob:
        raise ValueError("age_on: the date is before the date of birth")
    return on.year - dob.year - ((on.month, on.day) < (dob.month, dob.day))


# --- free text and counts --------------------------------------------------------------------


def clean_free_text(text: str, *, max_length: int = MAX_TEXT, min_length: int = 1) -> str:
    """Trim a typed answer and hold it to a length a MARAC meeting can actually read.

    Line breaks inside the text are kept: referrers lay out chronologies as
    lists, and flattening them would make the case summary harder to read.
    """
    cleaned = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not cleaned:
        raise InputError("That was empty. Please type your answer.")
    if len(cleaned) < min_length:
        raise InputError(
            f"That is only {_plural(len(cleaned), 'character')}. "
            f"Please say a little more: at least {min_length:,} characters."
        )
    if len(cleaned) > max_length:
        raise InputError(
            f"That is {len(cleaned):,} characters; the limit is {max_length:,}. Please shorten it."
        )
    return cleaned


def parse_count(text: str, *, maximum: int) -> int:
    """Read a whole number typed as digits, within a sensible upper bound.

    The bound catches slips such as an extra digit, which would otherwise skew
    thresholds (police call-outs) and the quarterly figures.
    """
    cleaned = text.strip().lower().rstrip(".")
    if cleaned in {"none", "no", "nil"}:
        return 0
    if cleaned in NUMBER_WORDS:
        value = NUMBER_WORDS[cleaned]
        raise InputError(
            f"Please type the number in digits, for example {value} rather than {cleaned}."
        )
    if not re.fullmatch(r"[0-9]+", cleaned):
        raise InputError(f"Please type a whole number from 0 to {maximum:,}, for example 3.")
    if len(cleaned) > 9 or int(cleaned) > maximum:
        raise InputError(
            f"That number seems too high: the most I can take is {maximum:,}. "
            "Please check it and type it again."
        )
    return int(cleaned)

"""Reading dates people type, the UK way, with a specific correction when it fails."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


class DateInputError(ValueError):
    """The text is not a real date; the message says how to write one."""


def _two_digit_year(year: int) -> int:
    return 2000 + year if year < 100 else year


def example_date(today: date, days: int = 14) -> str:
    """A date for a "for example" hint, ``days`` from today (before it when negative).

    Examples are worked out from the day they are shown, so a hint never suggests a date
    that has passed or that the bot would then refuse.
    """
    return (today + timedelta(days=days)).strftime("%d/%m/%Y")


def parse_uk_date(text: str, today: date | None = None) -> date:
    """Accept day/month/year with /, - or . and a 2- or 4-digit year, ISO (year-month-day),
    or the day, the month's name and the year ("31 Dec" and the year).

    ``today`` is only used for the example in the correction, when there is one to give.
    """
    cleaned = text.strip().lower().replace(",", " ")
    numeric = re.fullmatch(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})", cleaned)
    iso = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", cleaned)
    words = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\s+(\d{2}|\d{4})", cleaned)
    if iso:
        year, month, day = (int(part) for part in iso.groups())
    elif numeric:
        day, month, year = (int(part) for part in numeric.groups())
        year = _two_digit_year(year)
    elif words and words.group(2) in MONTHS:
        day, month, year = int(words.group(1)), MONTHS[words.group(2)], int(words.group(3))
        year = _two_digit_year(year)
    else:
        example = f", for example {example_date(today)}" if today is not None else ""
        raise DateInputError(f"Please write the date as day/month/year{example}.")
    try:
        return date(year, month, day)
    except ValueError:
        raise DateInputError(
            f"{text.strip()} is not a date in the calendar. Please check the day and month."
        ) from None


def format_uk_date(value: date | datetime) -> str:
    return value.strftime("%d %b %Y").lstrip("0")


def format_local(moment: datetime, timezone: str) -> str:
    """A moment on the area's clock, the way a UK reader scans it: "Thu 10 Dec 2026 10:00".

    The weekday and month are English words from strftime in the C locale, capitalised.
    """
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}"

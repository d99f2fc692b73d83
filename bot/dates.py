"""Reading dates people type, the UK way, with a specific correction when it fails."""

from __future__ import annotations

import re
from datetime import date, datetime
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


def parse_uk_date(text: str) -> date:
    """Accept 31/12/2026, 31-12-26, 31.12.2026, 2026-12-31 or 31 Dec 2026."""
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
        raise DateInputError("Please write the date as day/month/year, for example 31/03/2027.")
    try:
        return date(year, month, day)
    except ValueError:
        raise DateInputError(
            f"{text.strip()} is not a date in the calendar. Please check the day and month."
        ) from None


def format_uk_date(value: date | datetime) -> str:
    return value.strftime("%d %b %Y").lstrip("0")


def format_local(moment: datetime, timezone: str) -> str:
    """A moment on the area's clock, the way a UK reader scans it: "Thu 10 Dec 2026 10:00"."""
    local = moment.astimezone(ZoneInfo(timezone))
    return f"{local:%a} {local.day} {local:%b %Y %H:%M}"

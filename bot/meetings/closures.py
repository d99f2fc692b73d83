"""Reading the closure days a coordinator types: one day or a range, and what it is.

A date and a note ("24/12" with its year, then "Christmas Eve"), or the first and last
day with "to" or "-" between them, then the note. The dates are read with the
meeting-date rules (day first, the year required, today onwards, at most two years
ahead). A range is at most 31 days: a longer one is almost certainly a typing slip, and
would silently stop every deadline and reminder for weeks.

Pure functions only: today is passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from bot.meetings.recurrence import MeetingInputError, format_day, parse_meeting_date

MAX_CLOSURE_DAYS = 31
MAX_NOTE = 80
_DATE = r"(?:\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2})"
_CLOSURE = re.compile(
    rf"^\s*(?P<first>{_DATE})(?:\s*(?:to|until|till|–|-)\s*(?P<last>{_DATE}))?(?P<note>.*)$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ClosureInput:
    first: date
    last: date
    note: str | None

    @property
    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]


def parse_closure(text: str, today: date, example: str) -> ClosureInput:
    """One closure as typed; ``MeetingInputError`` says what to type instead.

    ``example`` is a date written the way the bot asks for it, for the corrections.
    """
    match = _CLOSURE.match(text or "")
    if match is None:
        raise MeetingInputError(
            f"Please start with the date, for example {example} Christmas Eve. For several "
            "days, give the first and the last with 'to' between them."
        )
    first = parse_meeting_date(match["first"], today)
    last = parse_meeting_date(match["last"], today) if match["last"] else first
    if last < first:
        raise MeetingInputError(
            f"The last day ({format_day(last)}) is before the first ({format_day(first)}). "
            "Please give the first day first."
        )
    if (last - first).days + 1 > MAX_CLOSURE_DAYS:
        raise MeetingInputError(
            f"That is more than {MAX_CLOSURE_DAYS} days. Please add a long closure in parts, "
            "so that no deadline is stopped by mistake."
        )
    note = " ".join(match["note"].strip(" ,;:-–").split())
    if len(note) > MAX_NOTE:
        raise MeetingInputError(f"Please keep the note under {MAX_NOTE} characters.")
    return ClosureInput(first, last, note or None)

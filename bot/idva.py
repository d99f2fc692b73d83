"""The IDVA service's rules: when a case's first contact with the victim is overdue.

Every victim referred to MARAC is referred to the IDVA service too, which should have a named
IDVA contact her within about two working days. A case is overdue for the coordinator's
attention once more than ``CONTACT_WORKING_DAYS`` working days (the area's calendar: weekends,
bank holidays and its closure days do not count) have passed since the referral and no IDVA
holds it, or the IDVA who does has not yet reached the victim (an attempt that did not reach
her is recorded but does not settle it).

Pure functions only: the time and the calendar are passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from bot.meetings.workdays import AreaCalendar
from bot.vocabulary import ContactOutcome

CONTACT_WORKING_DAYS = 2
# Outcomes that settle the first contact: the victim was reached (and took up or declined
# support). "Could not contact" is an attempt, and the case still waits.
REACHED = frozenset({ContactOutcome.CONTACTED, ContactOutcome.DECLINED_SUPPORT})


def working_days_waiting(referred_at: datetime, now: datetime, calendar: AreaCalendar) -> int:
    """Working days since the referral, on the area's calendar (0 on the day itself)."""
    return max(
        0, calendar.working_days_between(calendar.local_date(referred_at), calendar.local_date(now))
    )


def reached(outcomes: Iterable[ContactOutcome]) -> bool:
    """Whether any recorded attempt reached the victim."""
    return any(outcome in REACHED for outcome in outcomes)


def contact_overdue(
    referred_at: datetime,
    now: datetime,
    calendar: AreaCalendar,
    *,
    allocated: bool,
    outcomes: Iterable[ContactOutcome] = (),
) -> bool:
    """No IDVA holds the case, or she has not reached the victim, more than two working days
    after the referral."""
    if allocated and reached(outcomes):
        return False
    return working_days_waiting(referred_at, now, calendar) > CONTACT_WORKING_DAYS

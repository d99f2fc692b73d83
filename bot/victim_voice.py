"""The victim's voice at the meeting: when the IDVA is chased to say the victim was told.

SafeLives' second principle of an effective MARAC: the victim's views and needs are
represented at the meeting by the IDVA, and the victim is told the outcome afterwards. The
IDVA is asked to confirm that as soon as the meeting is closed, and chased once if the
confirmation has not come within two working days of the meeting (weekends, bank holidays
and the area's closure days not counted), as an agency is chased to accept an action.

Pure functions only: no clock, no database, no Telegram.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

from bot.meetings.workdays import NO_CLOSURES, add_working_days, is_working_day
from bot.vocabulary import Engagement, OutcomeTold

OUTCOME_CHASE_WORKING_DAYS = 2
OUTCOME_CHASE_HOUR = time(9, 0)


def outcome_chase_due(
    meeting_day: date, closed_day: date, extra_closures: frozenset[date] = NO_CLOSURES
) -> date:
    """The day the IDVA is chased (from 09:00) if the victim has not been confirmed told.

    Counted from the meeting; a meeting closed later than its day gives the IDVA the same
    two working days from the close, so the chase never comes before the question has had
    time to be answered.
    """
    start = max(meeting_day, closed_day)
    return add_working_days(start, OUTCOME_CHASE_WORKING_DAYS, extra_closures)


def outcome_chase_is_due(
    meeting_day: date,
    closed_day: date,
    local_now: datetime,
    extra_closures: frozenset[date] = NO_CLOSURES,
) -> bool:
    """Whether, at ``local_now`` on the area's clock, the chase may go: on or after its day,
    from 09:00, and only on a working day."""
    today = local_now.date()
    if not is_working_day(today, extra_closures) or local_now.time() < OUTCOME_CHASE_HOUR:
        return False
    return today >= outcome_chase_due(meeting_day, closed_day, extra_closures)


@dataclass(frozen=True)
class VoiceStatus:
    """What an agenda line says of the victim's voice: whether views are recorded, the
    latest engagement, and, once the meeting is closed, whether the victim was told the
    outcome. Never the views themselves."""

    views_recorded: bool
    engagement: Engagement | None
    meeting_closed: bool = False
    told: OutcomeTold | None = None

"""When a non-urgent message may be sent: never in the recipient's quiet hours.

Professionals read these reminders on their own phones; a 23:00 nudge about an
action plan does not make it happen sooner, it just wakes someone. Quiet hours
are judged on the area's wall clock, not UTC, so they stay 20:00-07:00 local
through both UK daylight-saving changes.

Reminders and chases also wait for a working day (``working_days_only``): a
Saturday "your action is overdue" reaches someone who cannot act on it until
Monday, and trains people to ignore the bot. Urgent alerts go at any hour.

Pure functions only: no clock, no database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bot.meetings.workdays import NO_CLOSURES, add_working_days, is_working_day

QUIET_START = time(20)
QUIET_END = time(7)


def in_quiet_hours(
    local: time, quiet_start: time = QUIET_START, quiet_end: time = QUIET_END
) -> bool:
    """Whether a wall-clock time is quiet; the window may wrap midnight (20:00-07:00 does)."""
    if quiet_start == quiet_end:
        return False
    if quiet_start < quiet_end:
        return quiet_start <= local < quiet_end
    return local >= quiet_start or local < quiet_end


def _wall_time_at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    """The first real instant at or after ``moment`` on ``day`` in ``zone``, in UTC.

    A wall time can be ambiguous (the autumn hour happens twice: take the first)
    or missing (the spring gap: take the end of the gap, the first moment the
    clocks show a later time), so naive ``datetime.combine`` is not enough.
    """
    naive = datetime.combine(day, moment)
    first = naive.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # In a gap: fold=1 reads it with the offset after the change, which lands before the
    # gap; step forward from there to the instant the clocks jump.
    candidate = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while candidate.astimezone(zone).replace(tzinfo=None) < naive:
        candidate += timedelta(minutes=1)
    return candidate


def next_sendable(
    due: datetime,
    timezone: str,
    *,
    urgent: bool,
    working_days_only: bool = False,
    closures: frozenset[date] = NO_CLOSURES,
    quiet_start: time = QUIET_START,
    quiet_end: time = QUIET_END,
) -> datetime:
    """The earliest moment at or after ``due`` that a message may go out, in UTC.

    Urgent messages (a risk-to-life alert, an urgent referral) ignore quiet hours:
    waking someone is the point. Everything else due inside the quiet window waits
    for its end on the same or the next local morning; with ``working_days_only``
    it also waits for the morning of the next working day (weekends, English bank
    holidays and the area's ``closures`` are not).
    """
    if due.tzinfo is None:
        raise ValueError("next_sendable needs a timezone-aware time")
    due = due.astimezone(UTC)
    if urgent:
        return due
    zone = ZoneInfo(timezone)
    sendable = _after_quiet_hours(due, zone, quiet_start, quiet_end)
    day = sendable.astimezone(zone).date()
    if not working_days_only or is_working_day(day, closures):
        return sendable
    return max(_wall_time_at(add_working_days(day, 1, closures), quiet_end, zone), due)


def _after_quiet_hours(
    due: datetime, zone: ZoneInfo, quiet_start: time, quiet_end: time
) -> datetime:
    local = due.astimezone(zone)
    if not in_quiet_hours(local.time(), quiet_start, quiet_end):
        return due
    day = local.date()
    if quiet_start > quiet_end and local.time() >= quiet_start:
        day += timedelta(days=1)  # the evening part of a window that wraps midnight
    return max(_wall_time_at(day, quiet_end, zone), due)


# Outbox kinds that are reminders or chases: they wait for a working day as well as for
# the morning. Notices of something a person has just done (a referral, a triage decision,
# an invitation, an action passed on) go on any day, outside quiet hours; urgent alerts at
# any time. Kept with the rule, so a new reminder is added here rather than at its caller.
WORKING_DAY_KINDS: Final = frozenset(
    {
        "research_due",
        "attendance_chase",
        "meeting_reminder_days",
        "digest",
        "action_accept_chase",
        "action_overdue",
        "action_escalated",
        "perpetrator_chase",
        "perpetrator_stale",
        "isa_review",
        "access_review",
        "leavers_reminder",
        "victim_outcome_chase",
        "victim_outcome_no_idva_chase",
    }
)

# Of those, the ones that lead up to something (a meeting, a research deadline): when their day
# turns out not to be a working day they come a working day earlier, not later, like the
# "2 days before" reminder itself. The others (chases) simply wait for the next working day.
AHEAD_OF_TIME_KINDS: Final = frozenset(
    {"meeting_reminder_days", "research_due", "attendance_chase"}
)

"""When a non-urgent message may be sent: never in the recipient's quiet hours.

Professionals read these reminders on their own phones; a 23:00 nudge about an
action plan does not make it happen sooner, it just wakes someone. Quiet hours
are judged on the area's wall clock, not UTC, so they stay 20:00-07:00 local
through both UK daylight-saving changes.

Pure functions only: no clock, no database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

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
    quiet_start: time = QUIET_START,
    quiet_end: time = QUIET_END,
) -> datetime:
    """The earliest moment at or after ``due`` that a message may go out, in UTC.

    Urgent messages (a risk-to-life alert, an urgent referral) ignore quiet hours:
    waking someone is the point. Everything else due inside the quiet window waits
    for its end on the same or the next local morning.
    """
    if due.tzinfo is None:
        raise ValueError("next_sendable needs a timezone-aware time")
    due = due.astimezone(UTC)
    if urgent:
        return due
    zone = ZoneInfo(timezone)
    local = due.astimezone(zone)
    if not in_quiet_hours(local.time(), quiet_start, quiet_end):
        return due
    day = local.date()
    if quiet_start > quiet_end and local.time() >= quiet_start:
        day += timedelta(days=1)  # the evening part of a window that wraps midnight
    return max(_wall_time_at(day, quiet_end, zone), due)

"""Which meeting an accepted case goes to, and the deadlines that come with a meeting.

The cut-off exists so that agencies get the agenda in time to research every case
before the meeting; a case accepted after it goes to the next meeting rather than
arriving unresearched. Deadlines fall at the end of a working day on the area's wall
clock (17:00 local), counted back in working days from the meeting's local date, so a
bank holiday weekend moves them earlier and daylight saving does not move them at all.

Pure functions only: ``now`` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.meetings.recurrence import local_to_utc, zone_for
from bot.meetings.workdays import NO_CLOSURES, AreaCalendar, subtract_working_days

END_OF_WORKING_DAY = time(17, 0)
DEFAULT_CUTOFF_DAYS = 5
DEFAULT_RESEARCH_DAYS = 2


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _end_of_day_before(
    starts_at: datetime, timezone: str, working_days: int, extra_closures: frozenset[date]
) -> datetime:
    _require_aware(starts_at, "starts_at")
    meeting_day = starts_at.astimezone(zone_for(timezone)).date()
    deadline_day = subtract_working_days(meeting_day, working_days, extra_closures)
    return local_to_utc(deadline_day, END_OF_WORKING_DAY, timezone)


def cutoff(
    starts_at: datetime,
    timezone: str,
    working_days: int = DEFAULT_CUTOFF_DAYS,
    extra_closures: frozenset[date] = NO_CLOSURES,
) -> datetime:
    """The last moment a case can join this meeting's agenda, as aware UTC.

    17:00 local, ``working_days`` working days before the meeting's local date.
    """
    return _end_of_day_before(starts_at, timezone, working_days, extra_closures)


def research_deadline(
    starts_at: datetime,
    timezone: str,
    working_days: int = DEFAULT_RESEARCH_DAYS,
    extra_closures: frozenset[date] = NO_CLOSURES,
) -> datetime:
    """When agencies' research must be back, as aware UTC: 17:00 local, two working days before.

    Two working days leave the coordinator and chair time to read it before the meeting.
    """
    return _end_of_day_before(starts_at, timezone, working_days, extra_closures)


DEFAULT_RESEARCH_OPEN_DAYS_AFTER = 5


def research_closes(
    starts_at: datetime,
    calendar: AreaCalendar,
    working_days: int = DEFAULT_RESEARCH_OPEN_DAYS_AFTER,
) -> datetime:
    """When invited agencies stop seeing a listed case's research identifiers, as aware UTC.

    17:00 local on the ``working_days``-th working day after the meeting: long enough to
    finish the actions agreed at it, short enough that identifiers are not open for good.
    """
    _require_aware(starts_at, "starts_at")
    meeting_day = calendar.local_date(starts_at)
    return local_to_utc(
        calendar.add_working_days(meeting_day, working_days), END_OF_WORKING_DAY, calendar.timezone
    )


def days_before_reminder(starts_at: datetime, days: int, calendar: AreaCalendar) -> datetime:
    """When the "meeting in N days" reminder goes, as aware UTC.

    At the meeting's own local start time, ``days`` calendar days before it; when that
    day is a weekend, a bank holiday or a closure day, on the working day before, so a
    Monday meeting's "2 days before" reaches people on Friday rather than on Saturday.
    """
    _require_aware(starts_at, "starts_at")
    if days < 0:
        raise ValueError("days must not be negative")
    local = starts_at.astimezone(zone_for(calendar.timezone))
    day = calendar.on_or_before(local.date() - timedelta(days=days))
    return local_to_utc(day, local.time().replace(tzinfo=None), calendar.timezone)


@dataclass(frozen=True)
class MeetingSlot:
    """A scheduled meeting as placement sees it: when, where on the clock, how full."""

    meeting_id: int
    starts_at: datetime
    timezone: str
    capacity: int
    listed: int

    def __post_init__(self) -> None:
        _require_aware(self.starts_at, "starts_at")
        if self.capacity < 0 or self.listed < 0:
            raise ValueError("capacity and listed must not be negative")

    @property
    def has_room(self) -> bool:
        return self.listed < self.capacity


@dataclass(frozen=True)
class Placement:
    """Where a case goes. ``meeting_id`` is None when no meeting is open to new cases.

    ``over_capacity`` warns the coordinator; ``suggestion`` is the next open meeting
    with room, if any, for them to move the case to if they choose.
    """

    meeting_id: int | None
    over_capacity: bool
    suggestion: int | None


def _is_open(slot: MeetingSlot, now: datetime, cutoff_days: int, closures: frozenset[date]) -> bool:
    # The start matters too: with a cut-off of 0 days the deadline is 17:00 on the day,
    # after a morning meeting has already happened.
    deadline = cutoff(slot.starts_at, slot.timezone, cutoff_days, closures)
    return now < min(deadline, slot.starts_at)


def place_case(
    slots: list[MeetingSlot],
    now: datetime,
    *,
    cutoff_days: int = DEFAULT_CUTOFF_DAYS,
    extra_closures: frozenset[date] = NO_CLOSURES,
) -> Placement:
    """The meeting an accepted case should be heard at.

    The earliest meeting whose cut-off is still ahead, even when it is full: a high-risk
    case waiting a month for room is a decision for the coordinator, not for a rule, so
    the case is placed there, flagged, and the next open meeting with room is suggested.
    A cut-off passes at the moment itself (17:00:00 is already too late).
    """
    _require_aware(now, "now")
    now = now.astimezone(UTC)
    ordered = sorted(slots, key=lambda slot: (slot.starts_at, slot.meeting_id))
    open_slots = [slot for slot in ordered if _is_open(slot, now, cutoff_days, extra_closures)]
    if not open_slots:
        return Placement(meeting_id=None, over_capacity=False, suggestion=None)
    first, later = open_slots[0], open_slots[1:]
    if first.has_room:
        return Placement(meeting_id=first.meeting_id, over_capacity=False, suggestion=None)
    roomy = next((slot.meeting_id for slot in later if slot.has_room), None)
    return Placement(meeting_id=first.meeting_id, over_capacity=True, suggestion=roomy)


def reorder(ids: list[int], moved: int, new_position: int) -> list[int]:
    """The agenda with ``moved`` taken out and put back at ``new_position`` (0-based).

    The position is clamped to the list rather than refused, and negative positions mean
    "the top", not Python's count-from-the-end: an "up" button pressed on the first
    case should simply leave it first. Returns a new list; the input is not changed.
    """
    if len(set(ids)) != len(ids):
        raise ValueError("an agenda lists each case once")
    if moved not in ids:
        raise ValueError("that case is not on this agenda")
    remaining = [case_id for case_id in ids if case_id != moved]
    position = min(max(new_position, 0), len(remaining))
    return [*remaining[:position], moved, *remaining[position:]]

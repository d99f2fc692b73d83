"""An .ics invitation for a MARAC, so the meeting lands in each attendee's own calendar.

Calendar programs recognise a moved or cancelled meeting as the same event by its UID
and take the version with the highest SEQUENCE, so the caller keeps the UID for the
life of a meeting and increments SEQUENCE on every change (a move, a cancellation).

Times are written as the area's wall clock with a TZID and a VTIMEZONE built here from
the zone database. We build the VTIMEZONE ourselves because RFC 5545 wants each
transition's DTSTART in the local time *before* the change (01:00 for London's spring
change, when 01:00 GMT becomes 02:00 BST), and icalendar's ``Timezone.from_tzid``
(7.x) writes 02:00; a client that trusts the embedded rules would then misplace that
hour. It is built generically, so any IANA zone works.

Attendees read these on their own devices: the caller passes meeting references only,
never a victim's or perpetrator's name. Pure: ``now`` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, TimezoneDaylight, TimezoneStandard, vCalAddress

from bot.meetings.recurrence import local_to_utc, zone_for

PRODUCT_ID = "-//marac-bot//MARAC meetings//EN"
# RFC 5546 wants an ORGANIZER address on a REQUEST. Replies are not collected by e-mail
# (attendance is confirmed in the bot), so this is a reserved, undeliverable domain
# (RFC 2606) rather than anybody's real address.
ORGANISER_ADDRESS = "mailto:noreply@marac-bot.invalid"
_SCAN_STEP = timedelta(hours=6)


@dataclass(frozen=True)
class _Observance:
    """One period of a zone's rules: from ``starts`` (UTC) the clocks read ``offset``."""

    starts: datetime
    offset_from: timedelta
    offset_to: timedelta
    name: str
    daylight: bool


def _reading(moment: datetime, zone: ZoneInfo) -> tuple[timedelta, str, bool]:
    local = moment.astimezone(zone)
    offset = local.utcoffset()
    dst = local.dst()
    assert offset is not None
    return offset, local.tzname() or "", bool(dst)


@lru_cache(maxsize=32)
def _observances(timezone: str, first_year: int, last_year: int) -> tuple[_Observance, ...]:
    """The zone's rules from 1 January of ``first_year`` to the end of ``last_year``.

    zoneinfo has no public list of transitions, so we sample every six hours and search
    each change out to the second. Cached because a zone's past and planned rules for a
    given span of years do not change while the process runs.
    """
    zone = zone_for(timezone)
    start = local_to_utc(date(first_year, 1, 1), time(0), timezone)
    end = local_to_utc(date(last_year + 1, 1, 1), time(0), timezone)
    offset, name, daylight = _reading(start, zone)
    found = [_Observance(start, offset, offset, name, daylight)]
    here = start
    while here < end:
        there = min(here + _SCAN_STEP, end)
        if _reading(there, zone) != _reading(here, zone):
            low, high = int(here.timestamp()), int(there.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if _reading(datetime.fromtimestamp(middle, UTC), zone) == _reading(here, zone):
                    low = middle
                else:
                    high = middle
            change = datetime.fromtimestamp(high, UTC)
            before = _reading(here, zone)[0]
            offset, name, daylight = _reading(change, zone)
            found.append(_Observance(change, before, offset, name, daylight))
        here = there
    return tuple(found)


def _vtimezone(timezone: str, first_year: int, last_year: int) -> Timezone:
    component = Timezone()
    component.add("tzid", timezone)
    for observance in _observances(timezone, first_year, last_year):
        part = TimezoneDaylight() if observance.daylight else TimezoneStandard()
        # RFC 5545 3.6.5: the onset is the local time in force just before it starts.
        part.add("dtstart", (observance.starts + observance.offset_from).replace(tzinfo=None))
        part.add("tzoffsetfrom", observance.offset_from)
        part.add("tzoffsetto", observance.offset_to)
        if observance.name:
            part.add("tzname", observance.name)
        component.add_component(part)
    return component


def _wall_clock(moment: datetime, timezone: str) -> datetime:
    """``moment`` as the area's wall clock if that reading is unambiguous, else in UTC.

    A local time in the repeated autumn hour means its first occurrence to every
    calendar program; if the meeting is really in the second, only UTC says so.
    """
    local = moment.astimezone(zone_for(timezone))
    if local_to_utc(local.date(), local.time(), timezone) == moment:
        return local.replace(fold=0)
    return moment.astimezone(UTC)


def meeting_ics(
    *,
    uid: str,
    sequence: int,
    starts_at: datetime,
    duration: timedelta,
    timezone: str,
    summary: str,
    location: str | None,
    description: str,
    organiser_name: str = "MARAC coordinator",
    cancelled: bool = False,
    now: datetime,
) -> bytes:
    """An RFC 5545 calendar file inviting to (or cancelling) one meeting.

    METHOD:REQUEST adds or updates the event in the reader's calendar; METHOD:CANCEL with
    STATUS:CANCELLED removes it. Either only works if ``uid`` is the meeting's lasting
    id and ``sequence`` is higher than in any file sent for it before.
    """
    for name, moment in (("starts_at", starts_at), ("now", now)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware")
    if not uid.strip() or any(character in uid for character in "\r\n"):
        raise ValueError("uid must be a non-empty single line")
    if sequence < 0:
        raise ValueError("sequence must not be negative")
    if duration <= timedelta(0):
        raise ValueError("duration must be positive")

    # The end is found on the UTC line and only then read on the wall clock: adding a
    # duration to a local time is wall-clock arithmetic in Python, wrong across a change.
    start_utc = starts_at.astimezone(UTC)
    end_utc = start_utc + duration
    start_local = _wall_clock(start_utc, timezone)
    end_local = _wall_clock(end_utc, timezone)
    zone = zone_for(timezone)

    calendar = Calendar()
    calendar.add("prodid", PRODUCT_ID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "CANCEL" if cancelled else "REQUEST")
    calendar.add_component(
        _vtimezone(
            timezone,
            start_utc.astimezone(zone).year,
            end_utc.astimezone(zone).year,
        )
    )

    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", now.astimezone(UTC))
    event.add("dtstart", start_local)
    event.add("dtend", end_local)
    event.add("summary", summary)
    if location:
        event.add("location", location)
    event.add("description", description)
    organiser = vCalAddress(ORGANISER_ADDRESS)
    organiser.params["cn"] = organiser_name
    event.add("organizer", organiser)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    calendar.add_component(event)
    document: bytes = calendar.to_ical()
    return document

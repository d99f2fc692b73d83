"""The .ics file: parses, says the right local time, updates and cancels by UID/SEQUENCE."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar, Component

from bot.meetings.calendar_file import meeting_ics

LONDON = "Europe/London"
ZONE = ZoneInfo(LONDON)
NOW = datetime(2027, 6, 1, 8, 15, tzinfo=UTC)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def ics(**overrides: Any) -> bytes:
    fields: dict[str, Any] = {
        "uid": "meeting-42@area-3.marac-bot",
        "sequence": 0,
        "starts_at": utc(2027, 7, 13, 9),  # 10:00 BST
        "duration": timedelta(hours=3),
        "timezone": LONDON,
        "summary": "MARAC North: meeting M-42",
        "location": "Room 2, Civic Centre",
        "description": "Agenda: cases C-101, C-102.\nResearch due by 17:00 on 9 July.",
        "now": NOW,
    }
    fields.update(overrides)
    return meeting_ics(**fields)


def parse(document: bytes) -> tuple[Calendar, Component]:
    calendar = Calendar.from_ical(document)
    events = calendar.walk("VEVENT")
    assert len(events) == 1
    return calendar, events[0]


def test_parses_as_a_request_with_the_local_start_and_a_tzid() -> None:
    document = ics()
    calendar, event = parse(document)
    assert calendar["METHOD"] == "REQUEST"
    assert calendar["VERSION"] == "2.0"
    assert b"DTSTART;TZID=Europe/London:20270713T100000\r\n" in document
    assert b"DTEND;TZID=Europe/London:20270713T130000\r\n" in document
    assert event["DTSTART"].params["TZID"] == LONDON
    assert event.decoded("DTSTART") == utc(2027, 7, 13, 9)
    assert event.decoded("DTSTART").replace(tzinfo=None) == datetime(2027, 7, 13, 10)
    assert event.decoded("DTEND") == utc(2027, 7, 13, 12)
    assert event["STATUS"] == "CONFIRMED"
    assert event["SEQUENCE"] == 0
    assert [zone["TZID"] for zone in calendar.walk("VTIMEZONE")] == [LONDON]


def test_winter_meeting_is_the_same_wall_clock_and_a_different_utc_hour() -> None:
    document = ics(starts_at=utc(2027, 1, 12, 10))  # 10:00 GMT
    assert b"DTSTART;TZID=Europe/London:20270112T100000\r\n" in document


def test_dtstamp_is_now_in_utc_and_the_text_survives_escaping() -> None:
    _, event = parse(ics(now=datetime(2027, 6, 1, 9, 15, tzinfo=ZONE)))
    assert event.decoded("DTSTAMP") == NOW
    assert b"DTSTAMP:20270601T081500Z" in ics()
    assert str(event["SUMMARY"]) == "MARAC North: meeting M-42"
    assert str(event["DESCRIPTION"]) == (
        "Agenda: cases C-101, C-102.\nResearch due by 17:00 on 9 July."
    )
    assert str(event["LOCATION"]) == "Room 2, Civic Centre"
    assert event["ORGANIZER"].params["CN"] == "MARAC coordinator"


def test_no_location_line_without_a_location() -> None:
    _, event = parse(ics(location=None))
    assert "LOCATION" not in event


def test_a_moved_meeting_keeps_its_uid_with_a_higher_sequence() -> None:
    _, original = parse(ics())
    _, moved = parse(ics(sequence=1, starts_at=utc(2027, 7, 20, 9)))
    assert moved["UID"] == original["UID"]
    assert moved.decoded("SEQUENCE") > original.decoded("SEQUENCE")
    assert moved.decoded("DTSTART") == utc(2027, 7, 20, 9)


def test_a_cancellation() -> None:
    calendar, event = parse(ics(sequence=2, cancelled=True))
    assert calendar["METHOD"] == "CANCEL"
    assert event["STATUS"] == "CANCELLED"
    assert event["UID"] == "meeting-42@area-3.marac-bot"
    assert event["SEQUENCE"] == 2


def test_the_end_is_worked_out_on_the_utc_line_across_a_clock_change() -> None:
    # 00:30 GMT plus two hours, across the spring change, is 03:30 BST (not 02:30).
    document = ics(starts_at=utc(2027, 3, 28, 0, 30), duration=timedelta(hours=2))
    assert b"DTSTART;TZID=Europe/London:20270328T003000\r\n" in document
    assert b"DTEND;TZID=Europe/London:20270328T033000\r\n" in document


def test_a_start_in_the_second_of_two_autumn_hours_is_written_in_utc() -> None:
    # 01:30 happens twice on 31 October 2027; a local 01:30 would mean the first.
    first = ics(starts_at=utc(2027, 10, 31, 0, 30), duration=timedelta(hours=1))
    second = ics(starts_at=utc(2027, 10, 31, 1, 30), duration=timedelta(hours=1))
    assert b"DTSTART;TZID=Europe/London:20271031T013000\r\n" in first
    assert b"DTSTART:20271031T013000Z\r\n" in second
    assert parse(second)[1].decoded("DTSTART") == utc(2027, 10, 31, 1, 30)


def test_vtimezone_follows_rfc_5545_onsets_for_london() -> None:
    calendar, _ = parse(ics())
    (zone,) = calendar.walk("VTIMEZONE")
    rules = [
        (
            part.name,
            part.decoded("DTSTART"),
            part.decoded("TZOFFSETFROM"),
            part.decoded("TZOFFSETTO"),
            str(part["TZNAME"]),
        )
        for part in zone.subcomponents
    ]
    hour = timedelta(hours=1)
    assert rules == [
        ("STANDARD", datetime(2027, 1, 1), timedelta(0), timedelta(0), "GMT"),
        # Onsets are in the time before the change: 01:00 GMT, then 02:00 BST.
        ("DAYLIGHT", datetime(2027, 3, 28, 1), timedelta(0), hour, "BST"),
        ("STANDARD", datetime(2027, 10, 31, 2), hour, timedelta(0), "GMT"),
    ]


def test_lines_are_crlf_and_folded() -> None:
    document = ics(description="C-1 " * 60)
    assert document.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in document.replace(b"\r\n", b"")
    assert all(len(line) <= 75 for line in document.split(b"\r\n"))


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"starts_at": datetime(2027, 7, 13, 10)}, "starts_at must be timezone-aware"),
        ({"now": datetime(2027, 6, 1)}, "now must be timezone-aware"),
        ({"duration": timedelta(0)}, "duration"),
        ({"sequence": -1}, "sequence"),
        ({"uid": " "}, "uid"),
        ({"uid": "a\r\nb"}, "uid"),
    ],
)
def test_bad_arguments(overrides: dict[str, Any], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        ics(**overrides)


ZONES = [LONDON, "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kolkata"]


def rfc_onsets(zone: Component) -> list[tuple[datetime, timedelta]]:
    """Read a VTIMEZONE the way RFC 5545 says a client must: onsets in TZOFFSETFROM time."""
    return sorted(
        (
            part.decoded("DTSTART").replace(tzinfo=UTC) - part.decoded("TZOFFSETFROM"),
            part.decoded("TZOFFSETTO"),
        )
        for part in zone.subcomponents
    )


@pytest.mark.parametrize("timezone", ZONES)
def test_the_embedded_zone_agrees_with_the_zone_database_all_year(timezone: str) -> None:
    """Every half hour of 2027 (Lord Howe changes by 30 minutes), transitions included."""
    zone_info = ZoneInfo(timezone)
    calendar, _ = parse(ics(starts_at=utc(2027, 7, 13, 9), timezone=timezone))
    (zone,) = calendar.walk("VTIMEZONE")
    assert zone["TZID"] == timezone
    onsets = rfc_onsets(zone)
    probe = datetime(2027, 1, 1, tzinfo=zone_info).astimezone(UTC)
    assert onsets[0][0] == probe
    year_end = datetime(2028, 1, 1, tzinfo=zone_info).astimezone(UTC)
    checked = 0
    while probe < year_end:
        for moment in (probe, probe - timedelta(seconds=1)):
            if moment >= onsets[0][0]:
                expected = moment.astimezone(zone_info).utcoffset()
                assert [offset for onset, offset in onsets if onset <= moment][-1] == expected
                checked += 1
        probe += timedelta(minutes=30)
    assert checked > 17_000


@given(
    st.sampled_from(ZONES),
    st.dates(date(2026, 1, 1), date(2029, 12, 31)),
    st.builds(time, st.integers(7, 19), st.sampled_from([0, 15, 30, 45])),
)
def test_any_meeting_reads_back_at_its_local_time(timezone: str, day: date, at: time) -> None:
    starts_at = datetime.combine(day, at, tzinfo=ZoneInfo(timezone)).astimezone(UTC)
    document = ics(starts_at=starts_at, timezone=timezone)
    _, event = parse(document)
    assert event.decoded("DTSTART") == starts_at
    assert event["DTSTART"].params["TZID"] == timezone
    wall = datetime.combine(day, at).strftime("%Y%m%dT%H%M%S")
    assert f"DTSTART;TZID={timezone}:{wall}\r\n".encode() in document

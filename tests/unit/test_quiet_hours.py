"""Quiet hours on the area's wall clock, including both UK daylight-saving change nights.

2026 changes: clocks go forward at 01:00 GMT on Sunday 29 March (to 02:00 BST), and
back at 02:00 BST on Sunday 25 October (to 01:00 GMT).
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.quiet_hours import in_quiet_hours, next_sendable

LONDON = "Europe/London"
ZONE = ZoneInfo(LONDON)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(
    year: int, month: int, day: int, hour: int, minute: int = 0, *, fold: int = 0
) -> datetime:
    """A London wall time as a UTC instant.

    Converted at once because Python compares and subtracts same-zone times by wall
    clock, ignoring ``fold``, and never finds an ambiguous time equal to another zone's.
    """
    return datetime(year, month, day, hour, minute, tzinfo=ZONE, fold=fold).astimezone(UTC)


@pytest.mark.parametrize(
    ("due", "expected"),
    [
        # Winter (GMT = UTC).
        (utc(2026, 1, 14, 10, 0), utc(2026, 1, 14, 10, 0)),
        (utc(2026, 1, 14, 19, 59, 59), utc(2026, 1, 14, 19, 59, 59)),
        (utc(2026, 1, 14, 20, 0), utc(2026, 1, 15, 7, 0)),  # the start is quiet
        (utc(2026, 1, 14, 23, 30), utc(2026, 1, 15, 7, 0)),
        (utc(2026, 1, 15, 3, 0), utc(2026, 1, 15, 7, 0)),  # after midnight: the same morning
        (utc(2026, 1, 15, 7, 0), utc(2026, 1, 15, 7, 0)),  # the end is not quiet
        # Summer (BST = UTC+1): quiet hours follow the wall clock, not UTC.
        (utc(2026, 7, 1, 19, 30), utc(2026, 7, 2, 6, 0)),  # 20:30 BST
        (utc(2026, 7, 1, 18, 59), utc(2026, 7, 1, 18, 59)),  # 19:59 BST
        (utc(2026, 7, 2, 5, 30), utc(2026, 7, 2, 6, 0)),  # 06:30 BST
        (utc(2026, 7, 2, 6, 0), utc(2026, 7, 2, 6, 0)),  # 07:00 BST
        # New Year's Eve: the next morning is in the next year.
        (utc(2026, 12, 31, 22, 0), utc(2027, 1, 1, 7, 0)),
    ],
)
def test_non_urgent_waits_for_the_local_morning(due: datetime, expected: datetime) -> None:
    assert next_sendable(due, LONDON, urgent=False) == expected


def test_urgent_goes_at_once_even_at_night() -> None:
    due = utc(2026, 1, 14, 23, 30)
    assert next_sendable(due, LONDON, urgent=True) == due


def test_spring_forward_night() -> None:
    """29 March 2026: 20:00 GMT on Saturday to 07:00 BST on Sunday is an hour shorter."""
    evening = next_sendable(local(2026, 3, 28, 21, 0), LONDON, urgent=False)
    assert evening == local(2026, 3, 29, 7, 0) == utc(2026, 3, 29, 6, 0)
    # 00:30 GMT, before the change: waits for 07:00 BST the same morning.
    assert next_sendable(utc(2026, 3, 29, 0, 30), LONDON, urgent=False) == utc(2026, 3, 29, 6, 0)
    # 03:00 BST, after the change.
    assert next_sendable(utc(2026, 3, 29, 2, 0), LONDON, urgent=False) == utc(2026, 3, 29, 6, 0)
    # The evening after the change is ordinary BST: 20:00 BST is 19:00 UTC.
    assert next_sendable(utc(2026, 3, 29, 18, 59), LONDON, urgent=False) == utc(2026, 3, 29, 18, 59)
    assert next_sendable(utc(2026, 3, 29, 19, 0), LONDON, urgent=False) == utc(2026, 3, 30, 6, 0)


def test_fall_back_night() -> None:
    """25 October 2026: 20:00 BST on Saturday to 07:00 GMT on Sunday is an hour longer."""
    # 19:30 UTC is 20:30 BST: quiet, although it is before 20:00 in UTC.
    assert next_sendable(utc(2026, 10, 24, 19, 30), LONDON, urgent=False) == utc(2026, 10, 25, 7, 0)
    # Both passes through 01:30 (BST, then GMT) are quiet and wait for 07:00 GMT.
    first = local(2026, 10, 25, 1, 30, fold=0)
    second = local(2026, 10, 25, 1, 30, fold=1)
    assert second - first == timedelta(hours=1)
    assert next_sendable(first, LONDON, urgent=False) == utc(2026, 10, 25, 7, 0)
    assert next_sendable(second, LONDON, urgent=False) == utc(2026, 10, 25, 7, 0)
    # The evening after the change is ordinary GMT: 19:30 UTC is 19:30 local and may go.
    assert next_sendable(utc(2026, 10, 25, 19, 30), LONDON, urgent=False) == utc(
        2026, 10, 25, 19, 30
    )


def test_end_of_quiet_in_the_spring_gap_goes_when_the_clocks_jump() -> None:
    """01:30 does not exist on 29 March; the first moment after it is 02:00 BST (01:00 UTC)."""
    result = next_sendable(
        utc(2026, 3, 29, 0, 15), LONDON, urgent=False, quiet_start=time(0), quiet_end=time(1, 30)
    )
    assert result == utc(2026, 3, 29, 1, 0)
    assert result.astimezone(ZONE).time() == time(2, 0)


def test_end_of_quiet_in_the_repeated_autumn_hour_takes_the_first() -> None:
    result = next_sendable(
        utc(2026, 10, 24, 23, 30), LONDON, urgent=False, quiet_start=time(0), quiet_end=time(1, 30)
    )
    assert result == local(2026, 10, 25, 1, 30, fold=0) == utc(2026, 10, 25, 0, 30)


def test_other_time_zones_and_windows() -> None:
    # 21:00 in New York (EST, UTC-5) waits for 07:00 there.
    assert next_sendable(utc(2026, 1, 15, 2, 0), "America/New_York", urgent=False) == utc(
        2026, 1, 15, 12, 0
    )
    # A window that does not wrap midnight.
    lunch = {"quiet_start": time(12), "quiet_end": time(13)}
    assert next_sendable(utc(2026, 1, 15, 12, 30), "UTC", urgent=False, **lunch) == utc(
        2026, 1, 15, 13, 0
    )
    assert next_sendable(utc(2026, 1, 15, 13, 0), "UTC", urgent=False, **lunch) == utc(
        2026, 1, 15, 13, 0
    )
    # An empty window means no quiet hours.
    same = {"quiet_start": time(7), "quiet_end": time(7)}
    assert next_sendable(utc(2026, 1, 15, 3, 0), "UTC", urgent=False, **same) == utc(
        2026, 1, 15, 3, 0
    )


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        next_sendable(datetime(2026, 1, 1, 12, 0), LONDON, urgent=False)


def test_result_is_utc_whatever_zone_due_was_given_in() -> None:
    result = next_sendable(local(2026, 7, 1, 12, 0), LONDON, urgent=False)
    assert result.tzinfo is UTC and result == utc(2026, 7, 1, 11, 0)


@given(
    st.datetimes(
        min_value=datetime(2020, 1, 1),
        max_value=datetime(2035, 12, 31),
        timezones=st.just(UTC),
    ),
    st.sampled_from([LONDON, "Europe/Paris", "America/New_York", "Australia/Sydney", "UTC"]),
)
def test_never_sends_early_or_into_quiet_hours_and_waits_no_longer_than_needed(
    due: datetime, timezone: str
) -> None:
    zone = ZoneInfo(timezone)
    result = next_sendable(due, timezone, urgent=False)
    assert result >= due
    assert not in_quiet_hours(result.astimezone(zone).time())
    if not in_quiet_hours(due.astimezone(zone).time()):
        assert result == due
    else:
        # Exactly the end of quiet hours, at most one night (11 hours, ±1 for a change) later.
        assert result.astimezone(zone).time() == time(7)
        assert result - due <= timedelta(hours=12)
        # Nothing earlier would do: a minute before is still quiet.
        assert in_quiet_hours((result - timedelta(minutes=1)).astimezone(zone).time())

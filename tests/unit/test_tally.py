"""Counting a flood: at most one record as it happens and one summary per window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot import tally as tally_module
from bot.tally import Tally

START = datetime.now(UTC)  # any moment: only the time since the first event counts
HOUR = timedelta(hours=1)


def test_a_flood_in_one_window_is_one_record_then_one_summary() -> None:
    tally = Tally(HOUR)
    decisions = [
        tally.note(START + timedelta(seconds=n), "message", source=n % 7) for n in range(1000)
    ]
    assert [first for first, _ in decisions].count(True) == 1
    assert all(summary is None for _, summary in decisions)
    first, summary = tally.note(START + HOUR + timedelta(seconds=1), "message", source=1)
    assert first is True  # a new window opens with a record of its own
    assert summary is not None
    assert (summary.count, summary.sources, summary.kinds) == (1000, 7, (("message", 1000),))
    assert (summary.since, summary.until) == (START, START + HOUR)


def test_a_lone_event_needs_no_summary_and_closing_early_is_possible() -> None:
    tally = Tally(HOUR)
    assert tally.note(START, "message") == (True, None)
    assert tally.close(START + 2 * HOUR) is None
    tally.note(START, "message")
    tally.note(START, "button press")
    summary = tally.close(START + timedelta(minutes=5), force=True)
    assert summary is not None and summary.kinds_text() == "message: 1; button press: 1"
    assert summary.until == START + timedelta(minutes=5)


def test_memory_does_not_grow_with_the_number_of_sources_or_kinds() -> None:
    tally = Tally(HOUR)
    sources = tally_module.MAX_SOURCES + 500
    for n in range(sources):
        tally.note(START, f"kind {n % 50}", source=n)
    summary = tally.close(START, force=True)
    assert summary is not None
    assert summary.count == sources
    assert (summary.sources, summary.sources_capped) == (tally_module.MAX_SOURCES, True)
    assert len(summary.kinds) == tally_module.MAX_KINDS + 1  # the rest as "other"
    assert dict(summary.kinds)[tally_module.OTHER_KIND] > 0

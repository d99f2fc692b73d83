"""When the IDVA is chased to confirm the victim was told the outcome: two working days after
the meeting (or after a late close), from 09:00, on working days only."""

from __future__ import annotations

from datetime import date, datetime

from bot.victim_voice import outcome_chase_due, outcome_chase_is_due

THURSDAY = date(2026, 12, 10)


def test_two_working_days_after_a_thursday_meeting_is_the_monday() -> None:
    assert outcome_chase_due(THURSDAY, THURSDAY) == date(2026, 12, 14)


def test_bank_holidays_are_not_counted() -> None:
    # Christmas Eve 2026 is a Thursday: Christmas Day, the weekend and the Boxing Day
    # substitute (Monday 28th) are not working days.
    christmas_eve = date(2026, 12, 24)
    assert outcome_chase_due(christmas_eve, christmas_eve) == date(2026, 12, 30)


def test_the_area_closure_days_are_not_counted() -> None:
    closed = frozenset({date(2026, 12, 11)})
    assert outcome_chase_due(THURSDAY, THURSDAY, closed) == date(2026, 12, 15)


def test_a_late_close_gives_the_idva_two_working_days_from_the_close() -> None:
    assert outcome_chase_due(THURSDAY, date(2026, 12, 14)) == date(2026, 12, 16)
    # Closed before its day (as a test world does): counted from the meeting.
    assert outcome_chase_due(THURSDAY, date(2026, 11, 26)) == date(2026, 12, 14)


def test_not_before_the_day_nor_before_nine_nor_at_the_weekend() -> None:
    def due(*moment: int) -> bool:
        return outcome_chase_is_due(THURSDAY, THURSDAY, datetime(*moment))

    assert not due(2026, 12, 11, 12, 0)  # Friday: one working day
    assert not due(2026, 12, 12, 12, 0)  # Saturday
    assert not due(2026, 12, 13, 12, 0)  # Sunday
    assert not due(2026, 12, 14, 8, 59)  # Monday, before nine
    assert due(2026, 12, 14, 9, 0)
    assert due(2026, 12, 15, 14, 0)  # still due later (the outbox key keeps it to once)
    assert not due(2026, 12, 19, 10, 0)  # a Saturday later on: never at the weekend


def test_a_bank_holiday_is_skipped_even_once_due() -> None:
    christmas_eve = date(2026, 12, 24)
    assert not outcome_chase_is_due(christmas_eve, christmas_eve, datetime(2026, 12, 28, 10))
    assert not outcome_chase_is_due(christmas_eve, christmas_eve, datetime(2026, 12, 29, 10))
    assert outcome_chase_is_due(christmas_eve, christmas_eve, datetime(2026, 12, 30, 9))

"""When a case's first contact with the victim is overdue: more than two working days after the
referral, on the area's calendar (weekends, bank holidays and closure days do not count)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from bot.idva import contact_overdue, reached, working_days_waiting
from bot.meetings.workdays import AreaCalendar
from bot.vocabulary import ContactOutcome

CALENDAR = AreaCalendar()
# Thursday 24 December 2026, 10:00 in London: Christmas Day (Friday), the weekend and the
# Boxing Day bank holiday (Monday 28th) follow.
REFERRED = datetime(2026, 12, 24, 10, 0, tzinfo=UTC)


def at(day: int, month: int = 12, hour: int = 9) -> datetime:
    return datetime(2026 if month == 12 else 2027, month, day, hour, 0, tzinfo=UTC)


def test_working_days_skip_the_weekend_and_bank_holidays() -> None:
    assert working_days_waiting(REFERRED, REFERRED, CALENDAR) == 0
    assert working_days_waiting(REFERRED, at(28), CALENDAR) == 0  # Boxing Day (substitute)
    assert working_days_waiting(REFERRED, at(29), CALENDAR) == 1
    assert working_days_waiting(REFERRED, at(31), CALENDAR) == 3


def test_an_unallocated_case_is_overdue_after_two_working_days_not_before() -> None:
    for day in (24, 25, 26, 27, 28, 29, 30):
        assert not contact_overdue(REFERRED, at(day), CALENDAR, allocated=False), day
    assert contact_overdue(REFERRED, at(31), CALENDAR, allocated=False)


def test_an_allocated_case_waits_until_the_victim_is_reached() -> None:
    late = at(31)
    assert contact_overdue(REFERRED, late, CALENDAR, allocated=True)
    assert contact_overdue(
        REFERRED, late, CALENDAR, allocated=True, outcomes=[ContactOutcome.NOT_REACHED]
    )
    for outcome in (ContactOutcome.CONTACTED, ContactOutcome.DECLINED_SUPPORT):
        assert not contact_overdue(REFERRED, late, CALENDAR, allocated=True, outcomes=[outcome])
    # Reached, but nobody holds the case (she was moved off it): still for the coordinator.
    assert contact_overdue(
        REFERRED, late, CALENDAR, allocated=False, outcomes=[ContactOutcome.CONTACTED]
    )


def test_the_areas_closure_days_do_not_count() -> None:
    closed = AreaCalendar(closures={date(2026, 12, 29): "Council shutdown"})
    assert not contact_overdue(REFERRED, at(31), closed, allocated=False)
    assert contact_overdue(REFERRED, at(4, 1), closed, allocated=False)


def test_reached_means_contacted_or_declined_support() -> None:
    assert not reached([])
    assert not reached([ContactOutcome.NOT_REACHED, ContactOutcome.NOT_REACHED])
    assert reached([ContactOutcome.NOT_REACHED, ContactOutcome.CONTACTED])

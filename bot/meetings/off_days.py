"""Meetings that fall on a day nobody is at work: warn, and move them if the area says so.

A fortnightly Thursday series meets on Christmas Eve one year and on a closure day the
next; a coordinator typing a date may not notice it is a bank holiday. The bot never
moves a meeting silently: a single date is offered the working day before or after (or
kept), and a series asks once what to do with such days and remembers the answer
(``OffDayRule``), so the meetings it adds later follow it too. Everything it moved or
kept is listed for the coordinator.

Pure functions only: the area's calendar is passed in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from bot.meetings.workdays import AreaCalendar, NotWorking


class OffDayRule(StrEnum):
    """What a series does with a meeting on a non-working day; the values are stored."""

    BEFORE = "before"  # the working day before
    AFTER = "after"  # the working day after
    KEEP = "keep"  # on the day itself, as the coordinator chose


@dataclass(frozen=True)
class DayChoice:
    """A typed meeting date that is not a working day, with the working days either side."""

    off: NotWorking
    before: date
    after: date


@dataclass(frozen=True)
class PlannedDay:
    """One meeting of a series: the series' own date and the day it is held."""

    series_day: date
    day: date
    off: NotWorking | None  # why ``series_day`` is not a working day; None when it is

    @property
    def moved(self) -> bool:
        return self.day != self.series_day

    @property
    def kept_off_day(self) -> bool:
        return self.off is not None and not self.moved


def day_choice(day: date, calendar: AreaCalendar, *, earliest: date) -> DayChoice | None:
    """None for a working day; otherwise why not, and the working days either side of it.

    The day before is never earlier than ``earliest`` (today): a meeting cannot be moved
    into the past, so then "before" is the day itself and only "after" is a real choice.
    """
    off = calendar.not_working(day)
    if off is None:
        return None
    before = calendar.subtract_working_days(day, 1)
    return DayChoice(off, before if before >= earliest else day, calendar.add_working_days(day, 1))


def plan_day(
    series_day: date, calendar: AreaCalendar, rule: OffDayRule, *, earliest: date
) -> PlannedDay:
    """Where a series meeting is held under the series' rule."""
    off = calendar.not_working(series_day)
    if off is None or rule is OffDayRule.KEEP:
        return PlannedDay(series_day, series_day, off)
    if rule is OffDayRule.BEFORE:
        before = calendar.subtract_working_days(series_day, 1)
        if before >= earliest:
            return PlannedDay(series_day, before, off)
    return PlannedDay(series_day, calendar.add_working_days(series_day, 1), off)


def plan_days(
    days: Iterable[date], calendar: AreaCalendar, rule: OffDayRule, *, earliest: date
) -> list[PlannedDay]:
    return [plan_day(day, calendar, rule, earliest=earliest) for day in days]


def off_days(days: Iterable[date], calendar: AreaCalendar) -> list[NotWorking]:
    """The series dates that are not working days, to ask the coordinator about once."""
    return [off for off in (calendar.not_working(day) for day in days) if off is not None]

"""A trustworthy calendar, end to end: meetings off working days, series, closure days.

Every date is worked out from the test's injected clock (the next Good Friday, the next
late summer bank holiday, three weeks from "today"), never written in.
"""

from __future__ import annotations

from datetime import date, timedelta

import holidays

from bot.clock import ManualClock
from bot.meetings.recurrence import format_day
from bot.meetings.workdays import AreaCalendar
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, add_agency


def today(clock: ManualClock) -> date:
    return clock.now().date()


def next_holiday(after: date, name: str) -> date:
    """The next English bank holiday of that name after ``after``."""
    for year in (after.year, after.year + 1):
        for day, holiday in sorted(
            holidays.country_holidays("GB", subdiv="ENG", years=year).items()
        ):
            if holiday == name and day > after:
                return day
    raise AssertionError(f"no {name} found")


def next_weekday(after: date, weekday: int, weeks_later: int = 0) -> date:
    return after + timedelta(days=(weekday - after.weekday()) % 7 or 7, weeks=weeks_later)


def typed(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def buttons(message: object) -> list[str]:
    return [button.text for row in message.buttons for button in row]  # type: ignore[attr-defined]


async def start_new_meeting(priya: SimulatedUser) -> None:
    await priya.send_and_wait("/meetings")
    await priya.press_and_wait("New meeting", expect_edit=True)


async def test_a_meeting_typed_on_a_bank_holiday_is_moved_with_one_tap(
    app: object, area: Area, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    good_friday = next_holiday(today(clock), "Good Friday")
    thursday, tuesday = good_friday - timedelta(days=1), good_friday + timedelta(days=4)
    await start_new_meeting(priya)
    (warning,) = await priya.send_and_wait(typed(good_friday))
    assert (warning.text or "").startswith(
        f"{format_day(good_friday)} is Good Friday, a bank holiday"
    ), warning.text
    # Easter Monday is a bank holiday too: the working day after is the Tuesday.
    assert buttons(warning) == [
        format_day(thursday),
        format_day(tuesday),
        f"Keep {format_day(good_friday)}",
    ]
    chosen = await priya.press_and_wait(format_day(thursday), expect_edit=True)
    assert (chosen.message.text or "").startswith(f"{format_day(thursday)}. What time")
    await priya.send_and_wait("10:00")
    await priya.press_and_wait("Once only", expect_edit=True)
    scheduled, listing = await priya.send_and_wait("Room 2, County Hall", count=2)
    assert f"the first on {format_day(thursday)} 10:00" in (scheduled.text or ""), scheduled.text
    assert format_day(good_friday) not in (listing.text or "")


async def test_a_series_asks_once_and_lists_the_meetings_it_moves(
    app: object, area: Area, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    holiday = next_holiday(today(clock), "Late Summer Bank Holiday")  # always a Monday
    first = holiday - timedelta(days=14)
    await start_new_meeting(priya)
    await priya.send_and_wait(typed(first))
    await priya.send_and_wait("10:00")
    asked = await priya.press_and_wait("Every 2 weeks", expect_edit=True)
    question = asked.message.text or ""
    # The weekday keeps its capital letter (str.capitalize used to lower-case it).
    assert question.startswith("Every 2 weeks on Monday at 10:00."), question
    assert f"• {format_day(holiday)}: Late Summer Bank Holiday, a bank holiday" in question
    assert buttons(asked.message) == [
        "Move each to the working day before",
        "Move each to the working day after",
        "Keep them on those days",
    ]
    await priya.press_and_wait("Move each to the working day after", expect_edit=True)
    scheduled, listing = await priya.send_and_wait("Room 2, County Hall", count=2)
    tuesday = holiday + timedelta(days=1)
    assert (
        f"• {format_day(holiday)} (Late Summer Bank Holiday, a bank holiday) moved to "
        f"{format_day(tuesday)}"
    ) in (scheduled.text or ""), scheduled.text
    assert f"{format_day(tuesday)} 10:00" in (listing.text or "")
    assert f"{format_day(holiday)} 10:00" not in (listing.text or "")


async def test_a_closure_day_moves_a_meeting_with_one_tap_and_can_be_removed(
    app: object, area: Area, runtime: Runtime, driver: Driver, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    police = await add_agency(
        runtime, area.area_id, "Northamptonshire Police", AgencyKind.POLICE, clock.now()
    )
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    thursday = next_weekday(today(clock), 3, weeks_later=3)
    await start_new_meeting(priya)
    await priya.send_and_wait(typed(thursday))
    await priya.send_and_wait("10:00")
    await priya.press_and_wait("Once only", expect_edit=True)
    await priya.send_and_wait("none", count=2)

    listing = await priya.send_and_wait("/closures")
    assert "No closure days are set" in (listing[-1].text or "")
    await priya.press_and_wait("Add closure days", expect_edit=True)
    added, warning = await priya.send_and_wait(f"{typed(thursday)} Training day", count=2)
    assert f"Closure days added: {format_day(thursday)}." in (added.text or ""), added.text
    assert (warning.text or "").startswith(
        f"The MARAC meeting on {format_day(thursday)} 10:00 now falls on a closure day"
    ), warning.text
    # The working days either side, on England's calendar (Christmas may be one of them).
    before = AreaCalendar().subtract_working_days(thursday, 1)
    after = AreaCalendar().add_working_days(thursday, 1)
    assert buttons(warning) == [
        f"Move to {format_day(before)}",
        f"Move to {format_day(after)}",
        "Keep it",
    ]
    moved = await priya.press_and_wait(f"Move to {format_day(before)}", expect_edit=True)
    assert f"now on {format_day(before)} 10:00" in (moved.message.text or "")
    await driver.wait_for(
        lambda: any(
            f"has moved to {format_day(before)} 10:00" in (m.text or "") for m in sam.bot_messages()
        ),
        description="the invitee told of the move",
    )

    (listing,) = await priya.send_and_wait("/closures")
    assert f"• {format_day(thursday)}: Training day" in (listing.text or ""), listing.text
    removed = await priya.press_and_wait(
        f"Remove {format_day(thursday)}", count=1, expect_edit=True
    )
    (said,) = removed.new_messages
    assert f"{format_day(thursday)} is a working day again" in (said.text or ""), said.text
    assert "No closure days are set" in (removed.message.text or "")


async def test_moving_a_meeting_onto_a_weekend_warns_and_can_keep_it(
    app: object, area: Area, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    thursday = next_weekday(today(clock), 3, weeks_later=2)
    await start_new_meeting(priya)
    await priya.send_and_wait(typed(thursday))
    await priya.send_and_wait("10:00")
    await priya.press_and_wait("Once only", expect_edit=True)
    await priya.send_and_wait("none", count=2)
    listing = await priya.send_and_wait("/meetings")
    opened = await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)
    await priya.press_and_wait("Move meeting", message=opened.new_messages[-1], expect_edit=True)
    saturday = thursday + timedelta(days=2)
    (warning,) = await priya.send_and_wait(typed(saturday))
    assert (warning.text or "").startswith(f"{format_day(saturday)} is a Saturday")
    await priya.press_and_wait(f"Keep {format_day(saturday)}", expect_edit=True)
    (done,) = await priya.send_and_wait("11:00")
    assert f"now on {format_day(saturday)} 11:00" in (done.text or ""), done.text

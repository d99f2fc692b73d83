"""The area's calendar in the services: zones, working days and closure days decide sending.

Every date is worked out from the injected clock; the outbox rows are read as the
dispatcher would find them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
from sqlalchemy import select

from bot.adapter.context import MaracContext
from bot.adapter.jobs import housekeeping
from bot.adapter.local import running_bot
from bot.clock import ManualClock
from bot.meetings.closures import ClosureInput
from bot.meetings.off_days import OffDayRule
from bot.meetings.recurrence import Repeat
from bot.meetings.workdays import AreaCalendar
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn
from bot.services.outbox import enqueue
from storage.models import OutboxMessage
from tests.support.service_scenarios import cast, refer

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")


def at(day: date, hour: int, zone: ZoneInfo = LONDON, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), zone).astimezone(UTC)


def next_weekday(after: date, weekday: int, weeks_later: int = 0) -> date:
    return after + timedelta(days=(weekday - after.weekday()) % 7 or 7, weeks=weeks_later)


async def outbox(runtime: Runtime, kind: str) -> list[OutboxMessage]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


# --- quiet hours in the area's own zone -----------------------------------------------------


async def test_a_new_referral_notice_waits_for_the_areas_morning_not_londons(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime, "Hudson Valley", "America/New_York")
    # 10:00 in London, 05:00 in New York: the area's coordinators are asleep.
    day = next_weekday(clock.now().date(), 2)
    clock.set(at(day, 10, LONDON))
    submitted = await refer(runtime, who.sam)
    (notice,) = await outbox(runtime, "triage")
    assert notice.due_at == at(day, 7, NEW_YORK), notice.due_at

    # The coordinator triages at 21:00 New York time: the referrer hears in the morning.
    clock.set(at(day, 21, NEW_YORK))
    await runtime.services.cases.accept(who.priya, submitted.case_id)
    (outcome,) = await outbox(runtime, "triage_accepted")
    assert outcome.due_at == at(day + timedelta(days=1), 7, NEW_YORK), outcome.due_at


# --- reminders on working days ------------------------------------------------------------


async def test_two_days_before_a_monday_meeting_is_the_friday(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    monday = next_weekday(clock.now().date(), 0, weeks_later=3)
    monday = AreaCalendar().on_or_after(monday)  # a bank holiday Monday becomes the Tuesday
    (meeting,) = (
        await runtime.services.meetings.create(
            who.priya, first_date=monday, start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    await runtime.services.meetings.publish(who.priya, meeting.id, who.area_id)
    reminders = await outbox(runtime, "meeting_reminder_days")
    assert reminders, "no meeting reminders were queued"
    expected_day = AreaCalendar().on_or_before(monday - timedelta(days=2))
    assert {row.due_at for row in reminders} == {at(expected_day, 10)}
    assert all(AreaCalendar().is_working_day(row.due_at.date()) for row in reminders)


async def test_a_chase_due_on_saturday_waits_for_monday(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    saturday = next_weekday(clock.now().date(), 5)
    clock.set(at(saturday - timedelta(days=1), 12))
    async with runtime.sessions.begin() as session:
        for kind in ("action_overdue", "triage"):
            await enqueue(
                session,
                dedupe_key=f"weekend:{kind}",
                chat_id=who.priya.telegram_user_id,
                kind=kind,
                text="A reminder",
                now=clock.now(),
                due_at=at(saturday, 10),
                area_id=who.area_id,
                person_id=who.priya.person_id,
            )
    (chase,) = await outbox(runtime, "action_overdue")
    (notice,) = await outbox(runtime, "triage")
    monday = AreaCalendar().on_or_after(saturday)
    assert chase.due_at == at(monday, 7)
    assert notice.due_at == at(saturday, 10)  # not a reminder: it goes on the day


# --- closure days -----------------------------------------------------------------------------


async def test_a_closure_day_moves_deadlines_queued_reminders_chases_and_the_digest(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    calendar = AreaCalendar()
    thursday = next_weekday(clock.now().date(), 3, weeks_later=3)
    meeting_day = calendar.on_or_after(thursday)
    (meeting,) = (
        await runtime.services.meetings.create(
            who.priya, first_date=meeting_day, start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    await runtime.services.meetings.publish(who.priya, meeting.id, who.area_id)
    (reminder, *_) = await outbox(runtime, "meeting_reminder_days")
    reminder_day = reminder.due_at.astimezone(LONDON).date()

    added = await runtime.services.closures.add(
        who.priya, ClosureInput(reminder_day, reminder_day, "Training day")
    )
    assert added.added == [reminder_day] and added.reminders_moved >= 1
    moved = {row.due_at for row in await outbox(runtime, "meeting_reminder_days")}
    closed = AreaCalendar(closures={reminder_day: "Training day"})
    assert moved == {at(closed.on_or_before(reminder_day), 10)}

    # Deadlines worked out from now on skip the closure day too.
    (view,) = await runtime.services.meetings.upcoming(who.priya)
    deadline_day = view.research_deadline.astimezone(LONDON).date()
    assert deadline_day == closed.subtract_working_days(meeting_day, 2)

    # On the closure day itself neither the digest nor the daily chase goes out.
    clock.set(at(reminder_day, 9, minute=30))
    assert await runtime.services.meetings.queue_morning_digests() == 0
    clock.set(at(closed.on_or_after(reminder_day), 9, minute=30))
    assert await runtime.services.meetings.queue_morning_digests() == 1


async def test_removing_a_closure_day_makes_it_a_working_day_again(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    tuesday = AreaCalendar().on_or_after(next_weekday(clock.now().date(), 1, weeks_later=1))
    await runtime.services.closures.add(who.priya, ClosureInput(tuesday, tuesday, None))
    assert [c.day for c in await runtime.services.closures.upcoming(who.priya)] == [tuesday]
    assert await runtime.services.meetings.check_day(who.priya, tuesday) is not None
    await runtime.services.closures.remove(who.priya, tuesday)
    assert await runtime.services.closures.upcoming(who.priya) == []
    assert await runtime.services.meetings.check_day(who.priya, tuesday) is None


# --- a series goes on, following its rule -----------------------------------------------------


def next_holiday(after: date, name: str) -> date:
    for year in (after.year, after.year + 1, after.year + 2):
        for day, holiday in sorted(
            holidays.country_holidays("GB", subdiv="ENG", years=year).items()
        ):
            if holiday == name and day > after:
                return day
    raise AssertionError(name)


async def test_a_series_adds_meetings_as_it_goes_and_moves_them_off_bank_holidays(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    # Fortnightly Mondays whose seventh meeting (the first one added later) is a bank holiday.
    holiday = next_holiday(clock.now().date() + timedelta(days=90), "Late Summer Bank Holiday")
    first = holiday - timedelta(weeks=12)
    schedule = await runtime.services.meetings.create(
        who.priya,
        first_date=first,
        start=time(10),
        repeat=Repeat.FORTNIGHTLY,
        off_day_rule=OffDayRule.AFTER,
    )
    assert len(schedule.meetings) == 6 and schedule.notable == []
    assert await runtime.services.meetings.extend_series() == 0  # six ahead already

    clock.set(at(first, 14))  # the first meeting is over
    assert await runtime.services.meetings.extend_series() == 1
    upcoming = await runtime.services.meetings.upcoming(who.priya)
    days = [m.starts_at.astimezone(LONDON).date() for m in upcoming if m.starts_at > clock.now()]
    assert len(days) == 6
    assert holiday not in days and holiday + timedelta(days=1) in days
    (told,) = await outbox(runtime, "series_off_days")
    assert "Late Summer Bank Holiday" in told.text and "moved to" in told.text
    assert told.person_id == who.priya.person_id


async def test_the_housekeeping_tick_keeps_a_series_six_meetings_ahead(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    first = next_weekday(clock.now().date() + timedelta(days=14), 1)  # a Tuesday
    await runtime.services.meetings.create(
        who.priya, first_date=first, start=time(10), repeat=Repeat.FORTNIGHTLY
    )
    clock.set(at(first + timedelta(weeks=4), 14))  # three meetings are over
    async with BotApiStandIn() as server, running_bot(runtime, server) as application:
        assert application.job_queue is not None
        application.job_queue.scheduler.pause()  # the test runs the tick itself
        await housekeeping(MaracContext(application))
    upcoming = await runtime.services.meetings.upcoming(who.priya)
    ahead = [m for m in upcoming if m.starts_at > clock.now()]
    assert len(ahead) == 6

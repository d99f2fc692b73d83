"""The quarterly access review, through the real bot as the clock crosses quarter starts.

On the first working day of each quarter, in the morning, every coordinator is told who can
use the bot and opens the review (everyone by agency, role, last active; those not seen for
90 days marked; Remove beside each); each agency's representatives are asked to report
leavers. Once per quarter, whatever restarts or second processes; dates come from the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from bot import texts
from bot.access_reviews import REVIEW_TIME
from bot.clock import ManualClock
from bot.meetings.workdays import AreaCalendar
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.records import RecordedMessage
from bot.services.access_review import AccessReviewService
from bot.vocabulary import AgencyKind, Role
from config import Settings
from storage.models import OutboxMessage, Person
from tests.support.e2e import Area, add_agency, wait_for_text
from tests.support.service_scenarios import enrol

LONDON = ZoneInfo("Europe/London")


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        key_file=tmp_path / "keys.json",
        job_interval_seconds=0.1,
        morning_digest=False,
        access_review=True,  # what this module is about
    )


def next_quarter_start(day: date) -> date:
    """The first day of the calendar quarter after the one ``day`` is in."""
    month = 3 * ((day.month - 1) // 3) + 4
    return date(day.year + (month > 12), (month - 1) % 12 + 1, 1)


def review_moment(after: date) -> datetime:
    """The next quarter's first working day at the review's time, in UTC."""
    day = AreaCalendar().on_or_after(next_quarter_start(after))
    return datetime.combine(day, REVIEW_TIME, tzinfo=LONDON).astimezone(UTC)


def messages_with(user: SimulatedUser, fragment: str) -> list[RecordedMessage]:
    return [m for m in user.bot_messages() if fragment in (m.text or "")]


async def review_rows(runtime: Runtime, kind: str) -> int:
    async with runtime.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == kind)
        )
    return int(count or 0)


async def test_each_quarter_the_coordinators_review_who_can_use_the_bot(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    police = await add_agency(runtime, area.area_id, "Police", AgencyKind.POLICE, clock.now())
    health = await add_agency(runtime, area.area_id, "Health", AgencyKind.HEALTH, clock.now())
    priya = await area.enrol(501, "Priya", "Shah")
    cora = await area.enrol(502, "Cora", "Ord")
    nia = await area.enrol(601, "Nia", "Brown", Role.AGENCY_REP, police)
    kim = await area.enrol(602, "Kim", "Lee", Role.AGENCY_REP, health)
    enrolled_on = clock.now()

    # Just before the next quarter's review moment: nothing (and nothing for this quarter,
    # whose review went out before any of them joined).
    first = review_moment(clock.now().date())
    clock.set(first - timedelta(minutes=1))
    assert await runtime.services.access_reviews.queue_quarterly() == 0
    assert await review_rows(runtime, "access_review") == 0

    clock.set(first + timedelta(seconds=1))
    summary = await wait_for_text(driver, priya, "Quarterly access review for Northamptonshire")
    await wait_for_text(driver, cora, "Quarterly access review for Northamptonshire")
    assert "4 people can use the bot, 0 not active for 90 days" in summary
    await wait_for_text(driver, nia, "if anyone from Police who uses this bot has left")
    await wait_for_text(driver, kim, "if anyone from Health who uses this bot has left")

    # Once a quarter: a restart (a fresh service), a second process and the rest of the
    # quarter's ticks queue nothing more.
    for later in (timedelta(hours=2), timedelta(days=1), timedelta(days=30)):
        clock.set(first + later)
        assert await AccessReviewService(runtime.deps).queue_quarterly() == 0
        assert await runtime.services.access_reviews.queue_quarterly() == 0
    assert await review_rows(runtime, "access_review") == 2  # Priya's and Cora's
    assert await review_rows(runtime, "leavers_reminder") == 2  # Nia's and Kim's
    await priya.send_and_wait("/help")
    assert len(messages_with(priya, "Quarterly access review")) == 1

    # The next quarter: everyone but Kim has used the bot since; Kim is past 90 days.
    second = review_moment(first.date())
    assert second - enrolled_on > timedelta(days=90)
    clock.set(second - timedelta(days=7))
    for user in (priya, cora, nia):
        await user.send_and_wait("/help")
    clock.set(second + timedelta(seconds=1))
    await driver.wait_for(
        lambda: len(messages_with(priya, "Quarterly access review")) == 2,
        description="the second quarter's review",
    )
    latest = messages_with(priya, "Quarterly access review")[-1]
    assert "4 people can use the bot, 1 not active for 90 days" in (latest.text or "")

    opened = await priya.press_and_wait("Open the access review", message=latest, count=1)
    (review,) = opened.new_messages
    assert review.protect_content
    lines = (review.text or "").splitlines()
    assert lines[0].startswith("Access review for Northamptonshire")
    # Area-wide roles under the area, then each agency; last active dates, Kim marked.
    assert lines.index("Northamptonshire") < lines.index("Health") < lines.index("Police")
    kim_line = next(line for line in lines if "Kim Lee" in line)
    assert texts.INACTIVE_MARK in kim_line
    assert enrolled_on.astimezone(LONDON).strftime("%d %b %Y").lstrip("0") in kim_line
    assert not any(texts.INACTIVE_MARK in line for line in lines if "Kim Lee" not in line)
    labels = [b.text for row in review.buttons for b in row]
    assert labels == ["Remove Cora Ord", "Remove Kim Lee", "Remove Nia Brown"]  # not herself

    # Remove, with a second tap so a slip does not remove anyone.
    asked = await priya.press_and_wait("Remove Kim Lee", message=review, expect_edit=True)
    assert asked.message.text == texts.confirm_deactivate("Kim Lee")
    done = await priya.press_and_wait("Yes, deactivate", message=review, expect_edit=True)
    assert done.message.text == texts.deactivated("Kim Lee")
    (refused,) = await kim.send_and_wait("/help")
    assert refused.text == texts.NEUTRAL_UNKNOWN
    async with runtime.sessions() as session:
        kim_row = await session.scalar(select(Person).where(Person.telegram_user_id == kim.id))
    assert kim_row is not None and kim_row.deactivated_at is not None


async def test_a_coordinator_opens_the_review_from_people_at_any_time(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    police = await add_agency(
        runtime, area.area_id, "Police", AgencyKind.POLICE, runtime.clock.now()
    )
    priya = await area.enrol(501, "Priya", "Shah")
    nia = await area.enrol(601, "Nia", "Brown", Role.AGENCY_REP, police)
    (listing,) = await priya.send_and_wait("/people")
    opened = await priya.press_and_wait("Access review", message=listing, count=1)
    (review,) = opened.new_messages
    assert "Nia Brown — agency representative, last active" in (review.text or "")
    assert [b.text for row in review.buttons for b in row] == ["Remove Nia Brown"]
    # Representatives have no such button, and a forged press is refused.
    (theirs,) = await nia.send_and_wait("/people")
    assert not any(b.text == "Access review" for row in theirs.buttons for b in row)
    query = await nia.press_data(theirs.message_id, "ppl:review")
    assert (await driver.wait_for_answer(query)).text == texts.NOT_ALLOWED


async def test_a_large_area_is_reviewed_in_as_many_messages_as_telegram_needs(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    police = await add_agency(
        runtime, area.area_id, "Police", AgencyKind.POLICE, runtime.clock.now()
    )
    priya = await area.enrol(501, "Priya", "Shah")
    names = [f"Officer Number{n:02d}" for n in range(55)]
    for number, name in enumerate(names):
        await enrol(runtime, area.area_id, 1000 + number, name, Role.AGENCY_REP, police)
    (listing,) = await priya.send_and_wait("/people")
    opened = await priya.press_and_wait("Access review", message=listing, count=2)
    parts = opened.new_messages
    assert len(parts) == 2
    assert all(len(m.text or "") <= 4096 and sum(map(len, m.buttons)) <= 40 for m in parts)
    shown = "\n".join(m.text or "" for m in parts)
    assert all(name in shown for name in names)
    labels = [b.text for m in parts for row in m.buttons for b in row]
    assert labels == [f"Remove {name}" for name in names]

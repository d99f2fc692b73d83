"""End-to-end helpers: an area set up as an operator would, referrals, waits for what arrives."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select

from bot.referrals.status import REFERENCE_PATTERN
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.scenarios import make_referral
from bot.services.outbox import enqueue
from bot.vocabulary import AgencyKind, Role
from storage.models import Agency, Person

REFERENCE = re.compile(rf"\b({REFERENCE_PATTERN})\b")


async def agency(runtime: Runtime, area: Area, name: str, kind: AgencyKind) -> int:
    async with runtime.sessions.begin() as session:
        row = Agency(area_id=area.area_id, name=name, kind=kind, created_at=runtime.clock.now())
        session.add(row)
        await session.flush()
        return row.id


async def submit(user: SimulatedUser) -> str:
    result = await user.press_and_wait("Submit referral", expect_edit=True)
    match = REFERENCE.search(result.message.text or "")
    assert match, result.message.text
    return match.group(1)


async def wait_for_text(driver: Driver, user: SimulatedUser, fragment: str) -> str:
    message = await driver.wait_for(
        lambda: next((m for m in user.bot_messages() if fragment in (m.text or "")), None),
        description=f"a message containing {fragment!r} for {user.display_name}",
    )
    return message.text or ""


async def _agency(runtime: Runtime, area: Area, name: str, kind: AgencyKind) -> int:
    async with runtime.sessions.begin() as session:
        row = Agency(area_id=area.area_id, name=name, kind=kind, created_at=runtime.clock.now())
        session.add(row)
        await session.flush()
        return row.id


async def schedule(
    priya: SimulatedUser, day: str = "10/12/2026", repeat: str = "Every 2 weeks"
) -> None:
    await priya.send_and_wait("/meetings")
    await priya.press_and_wait("New meeting", expect_edit=True)
    await priya.send_and_wait(day)
    await priya.send_and_wait("10:00")
    await priya.press_and_wait(repeat, expect_edit=True)
    scheduled, _ = await priya.send_and_wait("Room 2, County Hall", count=2)
    assert "Scheduled" in (scheduled.text or ""), scheduled.text


async def refer_and_accept(
    driver: Driver, priya: SimulatedUser, sam: SimulatedUser
) -> tuple[str, str]:
    await make_referral(sam)
    result = await sam.press_and_wait("Submit referral", expect_edit=True)
    match = REFERENCE.search(result.message.text or "")
    assert match
    reference = match.group(1)
    await wait_for_text(driver, priya, f"New referral {reference}")
    accepted = await priya.press_and_wait("Accept", expect_edit=True)
    return reference, accepted.message.text or ""


async def confirm_enrolment(driver: Driver, coordinator: SimulatedUser, name: str) -> None:
    """Press Confirm on the coordinator's "<name> enrolled as ... Is that right?" question,
    as a coordinator does for everyone who enrols by a coordinator's invite."""
    question = await driver.wait_for(
        lambda: next(
            (
                m
                for m in coordinator.bot_messages()
                if (m.text or "").startswith(f"{name} enrolled as") and m.buttons
            ),
            None,
        ),
        description=f"the question about {name} for {coordinator.display_name}",
    )
    await coordinator.press_and_wait("Confirm", message=question, expect_edit=True)


class Area:
    """Helpers to set an area up the way an operator and coordinator would."""

    def __init__(self, runtime: Runtime, driver: Driver) -> None:
        self.runtime = runtime
        self.driver = driver
        self.area_id = 0

    async def create(self, name: str = "Northamptonshire") -> int:
        self.area_id = (await self.runtime.services.areas.ensure_area(name)).id
        return self.area_id

    async def code(self, role: Role = Role.COORDINATOR, agency_id: int | None = None) -> str:
        issued = await self.runtime.services.invites.issue(
            None, area_id=self.area_id, role=role, agency_id=agency_id
        )
        return issued.code

    async def enrol(
        self,
        user_id: int,
        first_name: str,
        last_name: str,
        role: Role = Role.COORDINATOR,
        agency_id: int | None = None,
    ) -> SimulatedUser:
        user = self.driver.user(user_id, first_name, last_name=last_name, role=role.value)
        code = await self.code(role, agency_id)
        replies = await user.send_and_wait(f"/start {code}", count=2)
        assert "Welcome" in (replies[0].text or ""), replies[0].text
        return user


async def add_agency(
    runtime: Runtime, area_id: int, name: str, kind: AgencyKind, now: datetime
) -> int:
    async with runtime.sessions.begin() as session:
        row = Agency(area_id=area_id, name=name, kind=kind, created_at=now)
        session.add(row)
        await session.flush()
        return row.id


async def queue_reminder(
    runtime: Runtime, user: SimulatedUser, text: str, *, due: datetime, now: datetime, test: str
) -> None:
    """A reminder for ``user`` in the outbox, as a service would queue it (keyed by ``test``
    and the text, so each text is queued once)."""
    async with runtime.sessions.begin() as session:
        person = await session.scalar(select(Person).where(Person.telegram_user_id == user.id))
        assert person is not None
        assert await enqueue(
            session,
            dedupe_key=f"{test}:{text}",
            chat_id=user.chat_id,
            kind="meeting_reminder",
            text=text,
            now=now,
            due_at=due,
            area_id=person.area_id,
            person_id=person.id,
        )

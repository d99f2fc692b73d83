"""End-to-end fixtures: the real Application polls the local Bot API stand-in over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.adapter.application import MaracApplication
from bot.adapter.local import running_bot
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver, SimulatedUser
from bot.services.outbox import enqueue
from bot.vocabulary import AgencyKind, Role
from config import Settings
from storage.models import Agency, Person


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        key_file=tmp_path / "keys.json",
        job_interval_seconds=0.1,  # the injected clock decides what is due; this is just polling
        morning_digest=False,  # on only in the tests about it, so it never interrupts a dialogue
    )


@pytest.fixture
async def server() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def driver(server: BotApiStandIn) -> Driver:
    return server.driver()


@pytest.fixture
async def app(runtime: Runtime, server: BotApiStandIn) -> AsyncIterator[MaracApplication]:
    async with running_bot(runtime, server) as application:
        yield application


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


@pytest.fixture
async def area(runtime: Runtime, driver: Driver) -> Area:
    helper = Area(runtime, driver)
    await helper.create()
    return helper


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

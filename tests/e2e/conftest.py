"""End-to-end fixtures: the real Application polls the local Bot API stand-in over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapter.application import MaracApplication
from bot.adapter.local import running_bot
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver
from config import Settings
from tests.support.e2e import Area


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        key_file=tmp_path / "keys.json",
        job_interval_seconds=0.1,  # the injected clock decides what is due; this is just polling
        morning_digest=False,  # on only in the tests about it, so it never interrupts a dialogue
        access_review=False,  # likewise: on only in the tests about the quarterly review
        audit_checkpoints=False,  # like the digest: only the tests about it get the checkpoint
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


@pytest.fixture
async def area(runtime: Runtime, driver: Driver) -> Area:
    helper = Area(runtime, driver)
    await helper.create()
    return helper

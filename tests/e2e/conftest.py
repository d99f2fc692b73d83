"""End-to-end fixtures: the real Application polls the local Bot API stand-in over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.adapter.application import MaracApplication
from bot.adapter.local import running_bot
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver
from bot.send_lanes import Limits
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


# Telegram's overall budget (30 a second) and the two lanes stay as in production; only a
# chat's own budget refills fast, because the stand-in has no per-chat limit and a scripted
# person reads every reply at once. Per-chat pacing itself is tested on a clock the test moves
# (tests/unit/test_send_lanes.py, tests/unit/test_rate_limiter.py), and `marac-bot demo` runs
# with Telegram's figures. With them, a test that sends 30 reminders to one coordinator
# waits 1 s for each after the first 15.
STAND_IN_LIMITS = Limits(private_rate=50.0, group_rate=50.0)


@pytest.fixture
async def app(runtime: Runtime, server: BotApiStandIn) -> AsyncIterator[MaracApplication]:
    async with running_bot(runtime, server, limits=STAND_IN_LIMITS) as application:
        yield application


@pytest.fixture
async def area(runtime: Runtime, driver: Driver) -> Area:
    helper = Area(runtime, driver)
    await helper.create()
    return helper

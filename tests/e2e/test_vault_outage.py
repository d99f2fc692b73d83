"""The bot with its key-encryption key in Vault (transit), when Vault goes away and comes back.

The real Application polls the Bot API stand-in; the runtime's key source is the real hvac
client talking to the Vault transit stand-in (bot/sandbox/vault_transit.py) over HTTP.
A data key that is not in the bot's cache has to be unwrapped by Vault, so while Vault is
down the person gets the same calm "try again shortly" as during a database outage,
nothing is half-written, and once Vault answers again the same request works without a
restart.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import func, select

from bot import texts
from bot.runtime import Runtime
from bot.sandbox import Driver
from bot.vocabulary import Role
from storage.kek_sources import TransitKeySource
from storage.keyfile import blind_index_key_from_document, new_key_document
from storage.models import DataKey, Person
from tests.support.e2e import Area
from tests.support.keys import TRANSIT_KEY
from tests.support.vault_transit import VaultTransitStandIn

# Real outages, processes, rotations or whole demos: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

KEY = TRANSIT_KEY


@pytest.fixture
async def key_ring(transit: VaultTransitStandIn) -> AsyncIterator[Any]:
    """Overrides the suite's in-memory key ring: this runtime wraps its data keys in Vault."""
    source = TransitKeySource(
        url=transit.url,
        token=transit.token,
        key_name=KEY,
        blind_index_key=blind_index_key_from_document(new_key_document(), "test"),
        timeout=2.0,
    )
    yield source
    source.close()


async def test_vault_down_gets_a_calm_answer_and_the_same_request_works_when_it_is_back(
    app: object, runtime: Runtime, area: Area, driver: Driver, transit: VaultTransitStandIn
) -> None:
    assert isinstance(runtime.vault.key_ring, TransitKeySource)
    priya = await area.enrol(501, "Priya", "Shah")  # her name is sealed under a Vault-wrapped key
    assert transit.requests, "the data key was wrapped by Vault"
    code = await area.code(Role.COORDINATOR)

    async def counts() -> tuple[int, int]:
        async with runtime.sessions() as session:
            people = await session.scalar(select(func.count()).select_from(Person))
            keys = await session.scalar(select(func.count()).select_from(DataKey))
            return int(people or 0), int(keys or 0)

    before = await counts()
    await transit.stop()  # Vault is away: enrolling needs a new data key wrapped by it

    omar = driver.user(502, "Omar", last_name="Ali", role=Role.COORDINATOR.value)
    (reply,) = await omar.send_and_wait(f"/start {code}")
    assert reply.text == texts.SERVICE_BUSY
    assert await counts() == before  # no person, no data key half-written
    (still,) = await priya.send_and_wait("/help")  # nothing sealed needed: the bot still works
    assert still.text != texts.SERVICE_BUSY

    await transit.start()  # same port: Vault is back
    replies = await omar.send_and_wait(f"/start {code}", count=2)
    assert "Welcome, Omar" in (replies[0].text or "")
    assert await counts() == (before[0] + 1, before[1] + 1)

"""A perpetrator service knows whom it is assessing, and nothing of the victim.

Whatever its people's role (a perpetrator-service rep, or an agency rep of that agency), it
is shown the person causing harm's names and date of birth through every path, never the
victim's name or address; and where the two share a home, his address is withheld too,
because it is hers.
"""

from __future__ import annotations

import pytest

from bot import texts
from bot.actor import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.case_identifiers import harm_address_shown
from tests.support.access_world import World, build
from tests.support.case_reads import drive_agency_rep, everything

VICTIM_ADDRESS = "12 Elm Road"


async def _service(runtime: Runtime, world: World, who: str) -> Actor:
    if who.endswith("agency rep"):
        return await drive_agency_rep(runtime, world)
    return world.people["perpetrator service"]


@pytest.mark.parametrize("who", ["perpetrator service", "perpetrator service's agency rep"])
async def test_a_perpetrator_service_sees_the_person_causing_harm_and_not_the_victim(
    runtime: Runtime, clock: ManualClock, who: str
) -> None:
    world = await build(runtime, clock, typed={"perp_address": "3 Birch Lane"})
    seen = await everything(runtime.services, await _service(runtime, world, who), world)
    assert "John Doe" in seen and "3 Birch Lane" in seen, "it must know whom it assesses"
    assert "Jane Doe" not in seen, f"{who} was shown the victim's name"
    assert VICTIM_ADDRESS not in seen, f"{who} was shown the victim's address"
    # The coordinator reading the same paths sees both: the check can fail.
    coordinator = await everything(runtime.services, world.people["coordinator"], world)
    assert "Jane Doe" in coordinator and VICTIM_ADDRESS in coordinator


@pytest.mark.parametrize("who", ["perpetrator service", "perpetrator service's agency rep"])
async def test_a_shared_home_is_withheld_from_the_perpetrator_service(
    runtime: Runtime, clock: ManualClock, who: str
) -> None:
    world = await build(runtime, clock, typed={"perp_address": "12, ELM ROAD"})
    seen = await everything(runtime.services, await _service(runtime, world, who), world)
    assert "John Doe" in seen
    assert "ELM ROAD" not in seen.upper(), f"{who} was shown the shared address"
    assert texts.HARM_ADDRESS_WITHHELD.replace("'", "\\'") in seen or (
        texts.HARM_ADDRESS_WITHHELD in seen
    )
    # An invited agency searching its records still gets his address as given.
    other = await everything(runtime.services, world.people["other agency"], world)
    assert "12, ELM ROAD" in other


def test_the_same_address_however_written_is_withheld() -> None:
    assert harm_address_shown("12 Elm Road", "12, elm road") == texts.HARM_ADDRESS_WITHHELD
    assert harm_address_shown("14 Elm Road", "12 Elm Road") == "14 Elm Road"
    assert harm_address_shown("12 Elm Road", None) == "12 Elm Road"
    assert harm_address_shown(None, "12 Elm Road") is None

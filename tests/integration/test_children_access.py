"""The children's details reach only those the access policy shows the children to.

The world's case lists two children (Mia and Leo Doe, with their school and nursery). An
invited agency reads them while research is open; the coordinator always. A perpetrator
service, whatever its role, never: not on the research sheet, not in the chat's research
message, not on a case card, not in its referrals or actions. Nobody on the must-not-receive
list (and nobody else kept out) gets anything at all.
"""

from __future__ import annotations

import pytest

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.workspace.pages import PageRenderer
from tests.support.access_world import KEPT_OUT, build
from tests.support.case_reads import drive_agency_rep, everything

CHILD_DETAILS = ("Mia Doe", "Leo Doe", "Oak Primary")


async def test_an_invited_agency_and_the_coordinator_read_the_children(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    s = runtime.services
    nia, priya = world.people["other agency"], world.people["coordinator"]
    sheet = await s.meetings.research_sheet(nia, world.meeting_id)
    (case,) = sheet.cases
    assert case.identifiers.children is not None and case.children_count == 2
    assert [c["name"] for c in case.identifiers.children] == ["Mia Doe", "Leo Doe"]
    card = await s.cases.card(priya, world.reference)
    assert card.identifying is not None and card.identifying.children is not None
    assert card.identifying.children[0]["school"] == "Oak Primary"
    assert card.identifying.children[1]["csc_involved"] is False
    # The workspace's pages list them, one child a line.
    pages = PageRenderer("/ws")
    for html in (pages.research(nia, sheet), pages.case(priya, card)):
        assert "<li>Mia Doe, age 7 at referral, Oak Primary, lives with the victim</li>" in html
        assert "<li>Leo Doe, age 4 at referral, no children&#39;s social care</li>" in html
    # The perpetrator service's research sheet has the person causing harm and no child.
    pat = world.people["perpetrator service"]
    html = pages.research(pat, await s.meetings.research_sheet(pat, world.meeting_id))
    assert "John Doe" in html and "Mia Doe" not in html and "Oak Primary" not in html


@pytest.mark.parametrize("who", ["perpetrator service", "perpetrator service's agency rep"])
async def test_a_perpetrator_service_sees_no_child_through_any_path(
    runtime: Runtime, clock: ManualClock, who: str
) -> None:
    world = await build(runtime, clock)
    actor = (
        await drive_agency_rep(runtime, world) if who.endswith("agency rep") else world.people[who]
    )
    seen = await everything(runtime.services, actor, world)
    assert "John Doe" in seen, "the check must reach what the service is shown"
    for detail in CHILD_DETAILS:
        assert detail not in seen, f"{who} was shown {detail}"


@pytest.mark.parametrize("who", KEPT_OUT)
async def test_those_kept_out_see_nothing_of_the_children(
    runtime: Runtime, clock: ManualClock, who: str
) -> None:
    world = await build(runtime, clock)
    seen = await everything(runtime.services, world.people[who], world)
    for detail in (*CHILD_DETAILS, world.reference):
        assert detail not in seen, f"{who} was shown {detail}"

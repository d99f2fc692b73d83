"""A DASH reassessed since the referral shows wherever the case is read for the meeting.

The agenda and the board already show "DASH 14 → 18"; the research sheet (chat and
workspace) and the minutes' "why heard" must too, or an agency researches, and the MARAC
records, a score that is out of date.
"""

from __future__ import annotations

from bot import texts
from bot.clock import ManualClock
from bot.referrals.dash import Answer
from bot.referrals.dash_forms import DashForm, encode
from bot.runtime import Runtime
from bot.workspace.pages import PageRenderer
from tests.integration.test_minutes_copies import text_of
from tests.support.access_world import World, build


async def _reassess(runtime: Runtime, world: World, yes: int) -> int:
    """The coordinator records a SafeLives DASH with ``yes`` yes answers; returns the first."""
    s = runtime.services
    priya = world.people["coordinator"]
    card = await s.cases.card(priya, world.reference)
    answers = {n: (Answer.YES if n <= yes else Answer.NO) for n in range(1, 25)}
    recorded = await s.dash.record(
        priya, world.case_id, DashForm.SAFELIVES, code=encode(answers, 24)
    )
    assert recorded.dash_yes == yes
    return card.dash_yes


async def test_the_research_sheet_shows_the_reassessed_score(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    nia = world.people["other agency"]
    first = await _reassess(runtime, world, 20)
    (case,) = (await runtime.services.meetings.research_sheet(nia, world.meeting_id)).cases
    assert (case.dash_yes, case.dash_latest) == (first, 20)
    html = PageRenderer("/ws").research(
        nia, (await runtime.services.meetings.research_sheet(nia, world.meeting_id))
    )
    assert f"{first} → 20 of 24 yes" in html
    line = texts.research_summary_line("dash", first, 2, "Police", case.dash_latest)
    assert f"DASH {first} → 20 of 24 yes" in line


async def test_the_research_sheet_without_a_reassessment_shows_one_score(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    nia = world.people["other agency"]
    (case,) = (await runtime.services.meetings.research_sheet(nia, world.meeting_id)).cases
    assert case.dash_latest == case.dash_yes
    html = PageRenderer("/ws").research(
        nia, (await runtime.services.meetings.research_sheet(nia, world.meeting_id))
    )
    assert "→" not in html


async def test_the_minutes_say_why_heard_with_the_latest_score(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    first = await _reassess(runtime, world, 19)
    _, content = await runtime.services.actions.minutes(
        world.people["coordinator"], world.meeting_id
    )
    assert f"DASH: {first} → 19 yes answers." in text_of(content)

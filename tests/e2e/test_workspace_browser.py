"""The case workspace in a real headless Chromium, opened the way Telegram opens it.

Each person's link carries launch data signed with the bot's token in its fragment, as a
``web_app`` button's does; the page's own script signs in and fetches the content. What a
person would notice is asserted: the identifiers they research on, the answer they send,
the page refusing those it must, working at phone width, and axe-core finding no serious
accessibility problem. Screenshots are kept in ``test-artifacts/workspace``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.async_api import Page
from sqlalchemy import select

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.vocabulary import AgencyKind, Role
from config import Settings
from storage.models import Agency, ResearchReturn
from tests.support.access_world import World, build
from tests.support.browser import (
    PHONE,
    chromium,
    opened,
    screenshot,
    serious_violations,
    settled,
)
from tests.support.service_scenarios import enrol
from tests.support.workspace import launch_link, serving, with_workspace

NIA, JO, PRIYA, KIM, PAT = 604, 605, 501, 602, 606
ELSEWHERE = 702  # a police rep of another area, enrolled by the test


async def rep_elsewhere(runtime: Runtime, world: World) -> None:
    other = world.people["other area"]
    async with runtime.sessions.begin() as session:
        agency = Agency(
            area_id=other.area_id,
            name="Leicestershire Police",
            kind=AgencyKind.POLICE,
            created_at=runtime.clock.now(),
        )
        session.add(agency)
        await session.flush()
        agency_id = agency.id
    await enrol(runtime, other.area_id, ELSEWHERE, "Ola Else", Role.AGENCY_REP, agency_id)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_workspace(settings)


def link(base: str, page: str, runtime: Runtime, user: int, **shift: float) -> str:
    when = runtime.clock.now() - timedelta(**shift) if shift else runtime.clock.now()
    return launch_link(base, page, runtime, user, "Someone", when)


async def text_of(page: Page) -> str:
    return await page.inner_text("#page")


async def test_an_invited_agency_researches_a_case_and_returns_what_it_knows(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with serving(runtime) as base, chromium() as browser, opened(browser, PHONE) as page:
        await page.goto(link(base, f"research-item/{world.item_id}", runtime, NIA))
        await settled(page)
        shown = await text_of(page)
        for expected in ("Jane Doe", "14 Mar 1990", "12 Elm Road", "John Doe", world.reference):
            assert expected in shown, expected
        assert "tgWebAppData" not in page.url  # the launch data leaves the address bar
        # Phone width: nothing runs off the side of the screen.
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], width
        await screenshot(page, "research-sheet-phone")
        section = page.locator(f"#case-{world.item_id}")
        await section.get_by_label(texts.WS_RESEARCH_INFORMATION).check()
        await section.get_by_label(texts.WS_RESEARCH_NOTE_LABEL).fill(
            "Two A&E attendances in March; GP aware of the injuries."
        )
        await section.get_by_role("button", name=texts.WS_RESEARCH_SEND).click()
        await page.wait_for_selector("#saved")
        assert texts.research_recorded(world.reference, False) in await text_of(page)
        assert "Two A&E attendances in March" in await text_of(page)
        await screenshot(page, "research-sheet-returned")
    async with runtime.sessions() as session:
        (returned,) = (await session.scalars(select(ResearchReturn))).all()
        assert returned.outcome == "information"


async def test_the_same_link_shows_nothing_to_those_kept_out(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    await rep_elsewhere(runtime, world)
    page_path = f"research-item/{world.item_id}"
    async with serving(runtime) as base, chromium() as browser:
        visits = {
            "on the must-not-receive list": (
                link(base, page_path, runtime, KIM),
                texts.WS_NOT_FOUND,
            ),
            "a rep of another area": (
                link(base, page_path, runtime, ELSEWHERE),
                texts.WS_NOT_FOUND,
            ),
            "launch data over an hour old": (
                link(base, page_path, runtime, NIA, hours=2),
                texts.WS_NEEDS_TELEGRAM,
            ),
            "forged launch data": (
                link(base, page_path, runtime, NIA).replace("Someone", "Somebody"),
                texts.WS_NEEDS_TELEGRAM,
            ),
            "no launch data at all": (f"{base}/{page_path}", texts.WS_NEEDS_TELEGRAM),
        }
        for who, (url, message) in visits.items():
            async with opened(browser) as page:
                await page.goto(url)
                await settled(page)
                shown = await text_of(page)
                assert message in shown, who
                assert "Jane Doe" not in shown and world.reference not in shown, who
                await screenshot(page, "refused-" + who.replace(" ", "-"))


async def test_a_session_that_has_run_out_asks_to_open_the_page_again(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with serving(runtime) as base, chromium() as browser, opened(browser) as page:
        await page.goto(link(base, f"research-item/{world.item_id}", runtime, NIA))
        await settled(page)
        assert "Jane Doe" in await text_of(page)
        clock.advance(timedelta(hours=2))  # past the session and the launch data's hour
        await page.reload()
        await page.wait_for_function(
            "(text) => document.querySelector('#page').innerText.includes(text)",
            arg=texts.WS_NEEDS_TELEGRAM,
        )
        assert "Jane Doe" not in await text_of(page)


async def test_every_page_passes_axe_with_no_serious_problem(
    runtime: Runtime, clock: ManualClock
) -> None:
    world: World = await build(runtime, clock)
    pages = [
        (NIA, f"research-item/{world.item_id}", "research-sheet"),
        (PRIYA, f"board/{world.meeting_id}", "meeting-board"),
        (JO, f"case/{world.case_id}", "case-page"),
        (PAT, "actions", "actions-page"),
        (KIM, f"case/{world.case_id}", "not-found"),
    ]
    async with serving(runtime) as base, chromium() as browser:
        for user, path, name in pages:
            for viewport, size in ((PHONE, "phone"), (None, "desktop")):
                async with opened(browser, viewport or {"width": 1280, "height": 800}) as page:
                    await page.goto(link(base, path, runtime, user))
                    await settled(page)
                    problems = await serious_violations(page)
                    await screenshot(page, f"{name}-{size}")
                    assert problems == [], (name, size, [p["id"] for p in problems])
                    if size == "phone":
                        width = await page.evaluate("document.documentElement.scrollWidth")
                        assert width <= PHONE["width"], (name, width)

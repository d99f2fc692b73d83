"""Research from the chat, with and without the case workspace, through the local Bot API.

With ``MARAC_WEBAPP_URL`` set, the research request's buttons open the workspace (Mini App
buttons) and the chat never carries a name. Without it, pressing "Research NOR-…" shows
the identifiers in a protected message that deletes itself, recorded like a page view.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import unquote

import aiohttp
import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.vocabulary import AgencyKind, Role
from config import Settings
from storage.models import AuditEvent
from tests.support.e2e import Area, _agency, refer_and_accept, schedule, wait_for_text
from tests.support.workspace import TEST_WEBAPP_URL, serving, with_workspace


async def cast(runtime: Runtime, area: Area) -> tuple[SimulatedUser, SimulatedUser, SimulatedUser]:
    police = await _agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    health = await _agency(runtime, area, "NGH Hospital", AgencyKind.HEALTH)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    nia = await area.enrol(602, "Nia", "Brown", Role.AGENCY_REP, health)
    return priya, sam, nia


async def published(driver: Driver, priya: SimulatedUser, sam: SimulatedUser) -> str:
    """A case referred by Sam, accepted, on a meeting whose agenda is published."""
    await schedule(priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, priya, sam)
    listing = await priya.send_and_wait("/meetings")
    agenda = (await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages
    await priya.press_and_wait("Publish agenda", message=agenda[-1], expect_edit=True)
    return reference


class TestWithoutAWorkspace:
    async def test_the_identifiers_come_protected_and_are_deleted_after_their_time(
        self,
        app: object,
        runtime: Runtime,
        area: Area,
        driver: Driver,
        clock: ManualClock,
    ) -> None:
        priya, sam, nia = await cast(runtime, area)
        reference = await published(driver, priya, sam)
        request = await wait_for_text(driver, nia, "Research for the MARAC")
        assert "Jane Doe" not in request
        for also in ("Will your agency attend", "You are invited"):  # all that publication sends
            await wait_for_text(driver, nia, also)
        pressed = await nia.press_and_wait(f"Research {reference}", count=1)
        (shown,) = pressed.new_messages
        text = shown.text or ""
        for expected in (
            "Jane Doe",
            "14 Mar 1990",
            "12 Elm Road",
            "John Doe",
            "4 Mill Lane",  # the person causing harm's address, as the referral gave it
            "Mia Doe, age 7 at referral, Oak Primary School",
            "Leo Doe, age 1 at referral, Little Acorns Nursery",
        ):
            assert expected in text, expected
        assert "Call after 6pm only" not in text  # the referral's safety notes stay out
        assert shown.protect_content
        assert [b.text for b in shown.buttons[0]] == ["Nothing known", "Add information"]
        async with runtime.sessions() as session:
            details = await session.scalars(
                select(AuditEvent.details).where(AuditEvent.action == "case.viewed")
            )
            paths = [json.loads(d)["path"] for d in details]
        assert "research identifiers message" in paths
        await nia.send_and_wait("/help")  # updates run in order: the press has finished
        clock.advance(timedelta(minutes=15, seconds=1))
        await driver.wait_for(lambda: shown.deleted, description="the identifiers deleted")


class TestWithAWorkspace:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return with_workspace(settings)

    async def test_the_chat_carries_references_and_buttons_that_open_the_workspace(
        self,
        app: object,
        runtime: Runtime,
        area: Area,
        driver: Driver,
        clock: ManualClock,
    ) -> None:
        priya, sam, nia = await cast(runtime, area)
        reference = await published(driver, priya, sam)
        request = await wait_for_text(driver, nia, "Research for the MARAC")
        assert "Jane Doe" not in request
        message = next(m for m in nia.bot_messages() if "Research for" in (m.text or ""))
        (button,) = message.buttons[0]
        assert button.callback_data is None and button.web_app is not None
        assert button.web_app.startswith(f"{TEST_WEBAPP_URL}/research-item/")
        opened = nia.open_web_app(f"Research {reference}", clock.now(), message=message)
        async with serving(runtime) as base, aiohttp.ClientSession() as http:
            local = opened.replace(TEST_WEBAPP_URL, base)
            shell = await http.get(local.split("#")[0])
            assert shell.status == 200 and "Jane Doe" not in await shell.text()
            launch = local.split("#tgWebAppData=")[1].split("&tgWebAppVersion")[0]
            session = await http.post(f"{base}/api/session", json={"initData": unquote(launch)})
            token = (await session.json())["token"]
            page = local.split("#")[0].replace(base, f"{base}/api/page")
            content = await http.get(page, headers={"Authorization": f"Bearer {token}"})
            assert "Jane Doe" in await content.text()

        await wait_for_text(driver, priya, "You are invited")  # all publication sends her
        (case_message,) = await priya.send_and_wait(f"/case {reference}")
        assert reference in (case_message.text or "")
        assert "Jane Doe" not in (case_message.text or "")
        first = case_message.buttons[0][0]
        assert first.text == "Open the case" and first.web_app is not None
        assert first.web_app.startswith(f"{TEST_WEBAPP_URL}/case/")

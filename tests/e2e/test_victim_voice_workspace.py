"""The victim's views in the case workspace over real HTTP: shown on the case page to the
allocated IDVA and the coordinator, and on the meeting board to the coordinator; never to an
IDVA colleague or another agency (who still read the page at their own level), and nothing
at all to someone on the must-not-receive list."""

from __future__ import annotations

import aiohttp
import pytest
from markupsafe import escape

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.vocabulary import Engagement
from config import Settings
from tests.support.access_world import build
from tests.support.workspace import launch_data, serving, with_workspace

VIEWS = "She wants to stay at home with the locks changed and to hear by text only"
USERS = {
    "coordinator": 501,
    "idva": 605,
    "idva colleague": 610,
    "other agency": 604,
    "excluded colleague": 602,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_workspace(settings)


async def page(
    runtime: Runtime, http: aiohttp.ClientSession, base: str, name: str, path: str
) -> tuple[int, str]:
    data = launch_data(runtime, USERS[name], "X", runtime.clock.now())
    async with http.post(f"{base}/api/session", json={"initData": data}) as signed:
        assert signed.status == 200, await signed.text()
        token = (await signed.json())["token"]
    headers = {"Authorization": f"Bearer {token}"}
    async with http.get(f"{base}/api/page/{path}", headers=headers) as response:
        return response.status, await response.text()


async def test_the_views_are_read_in_the_workspace_by_those_who_hold_the_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    jo = world.people["idva"]
    await runtime.services.victim_voice.record_engagement(jo, world.case_id, Engagement.ENGAGING)
    await runtime.services.victim_voice.record_wishes(jo, world.case_id, VIEWS)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        for name in ("idva", "coordinator"):
            status, html = await page(runtime, http, base, name, f"case/{world.case_id}")
            assert status == 200, name
            assert VIEWS in html and str(escape(texts.WS_VOICE_HEADING)) in html, name
            assert "recorded by Jo Evans" in html
        for name in ("idva colleague", "other agency"):
            status, html = await page(runtime, http, base, name, f"case/{world.case_id}")
            assert status == 200 and world.reference in html, name
            assert VIEWS not in html and str(escape(texts.WS_VOICE_HEADING)) not in html, name
        status, html = await page(
            runtime, http, base, "excluded colleague", f"case/{world.case_id}"
        )
        assert status == 404 and world.reference not in html and VIEWS not in html

        status, board = await page(runtime, http, base, "coordinator", f"board/{world.meeting_id}")
        assert status == 200
        assert VIEWS in board and str(escape(texts.WS_BOARD_VOICE)) in board
        assert texts.WS_NOT_CONFIRMED in board  # the meeting is closed; nobody confirmed yet

"""The case workspace over real HTTP: who gets in, what each person is shown, what is kept.

Everyone arrives as Telegram would send them (launch data signed with the bot's token);
the pages come from the same services as the chat, so the same access policy decides.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Awaitable, Callable
from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import select

from bot.clock import ManualClock
from bot.launch_data import launch_data_for
from bot.runtime import Runtime
from bot.texts import WS_NEEDS_TELEGRAM, WS_NOT_FOUND, WS_SESSION_ENDED
from bot.workspace.app import mount_workspace
from bot.workspace.serving import with_workspace as with_workspace_listener
from bot.workspace.sessions import SESSION_LENGTH
from config import Settings
from storage.models import AuditEvent, ResearchReturn
from tests.support.access_world import World, build
from tests.support.workspace import launch_data, serving, with_workspace

# Who each person is in Telegram (tests.support.access_world enrols them with these ids).
USERS = {
    "coordinator": 501,
    "excluded colleague": 602,
    "deactivated": 603,
    "other agency": 604,
    "idva": 605,
    "perpetrator service": 606,
    "other area": 701,
    "unconfirmed colleague": 609,
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return with_workspace(settings)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Visitor:
    """One person's browser, reduced to what the page's script does."""

    def __init__(self, http: aiohttp.ClientSession, base: str, runtime: Runtime) -> None:
        self.http, self.base, self.runtime = http, base, runtime
        self.token: str | None = None

    async def sign_in(self, user_id: int, launch: str | None = None) -> aiohttp.ClientResponse:
        now = self.runtime.clock.now()
        data = launch if launch is not None else launch_data(self.runtime, user_id, "X", now)
        response = await self.http.post(f"{self.base}/api/session", json={"initData": data})
        if response.status == 200:
            self.token = (await response.json())["token"]
        return response

    async def page(self, path: str) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        async with self.http.get(f"{self.base}/api/page/{path}", headers=headers) as response:
            return response.status, await response.text()

    async def post(self, path: str, form: dict[str, str]) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {self.token}"}
        async with self.http.post(f"{self.base}{path}", data=form, headers=headers) as response:
            return response.status, await response.text()


async def visitor(runtime: Runtime, http: aiohttp.ClientSession, base: str, name: str) -> Visitor:
    person = Visitor(http, base, runtime)
    response = await person.sign_in(USERS[name])
    assert response.status == 200, await response.text()
    return person


async def test_an_invited_agency_researches_from_identifiers_it_can_search_on(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        nia = await visitor(runtime, http, base, "other agency")
        status, html = await nia.page(f"research-item/{world.item_id}")
        assert status == 200
        for shown in ("Jane Doe", "14 Mar 1990", "12 Elm Road", "John Doe", world.reference):
            assert shown in html, shown
        assert "Call after 6pm only" not in html  # the referral's safety notes stay out
        status, html = await nia.post(
            f"/api/research/{world.item_id}",
            {"outcome": "information", "note": "Two A&E visits in March; GP aware."},
        )
        assert status == 200 and "Recorded your information" in html
        assert "Two A&amp;E visits in March" in html  # shown back, escaped
    async with runtime.sessions() as session:
        returned = (await session.scalars(select(ResearchReturn))).all()
        assert [(r.outcome, r.agenda_item_id) for r in returned] == [("information", world.item_id)]
        viewed = (
            await session.scalars(
                select(AuditEvent.details).where(
                    AuditEvent.action == "case.viewed",
                    AuditEvent.actor_person_id == world.people["other agency"].person_id,
                )
            )
        ).all()
        paths = {json.loads(d)["path"] for d in viewed}
        assert "workspace research sheet" in paths
        recorded = await session.scalar(
            select(AuditEvent.id).where(AuditEvent.action == "research.information")
        )
        assert recorded is not None


async def test_a_person_kept_out_gets_exactly_what_a_missing_case_gets(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        for name in ("excluded colleague", "other area"):
            kept_out = await visitor(runtime, http, base, name)
            for page, unknown in (
                (f"research-item/{world.item_id}", "research-item/999999"),
                (f"case/{world.case_id}", "case/999999"),
            ):
                status, html = await kept_out.page(page)
                assert (status, html) == await kept_out.page(unknown), (name, page)
                assert "Jane Doe" not in html and world.reference not in html
            status, html = await kept_out.page(f"case/{world.case_id}")
            assert status == 404 and WS_NOT_FOUND in html
            # The meeting's sheet lists no case for them, and counts none.
            status, html = await kept_out.page(f"research/{world.meeting_id}")
            assert world.reference not in html and "Jane Doe" not in html


async def test_a_colleague_not_yet_confirmed_is_shown_nothing_of_the_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    """A police representative on an invited agency, but no coordinator has confirmed who
    enrolled: every page answers as for a case that does not exist."""
    world = await build(runtime, clock)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        waiting = await visitor(runtime, http, base, "unconfirmed colleague")
        for page, unknown in (
            (f"research-item/{world.item_id}", "research-item/999999"),
            (f"case/{world.case_id}", "case/999999"),
            (f"research/{world.meeting_id}", "research/999999"),
            ("actions", "actions"),
        ):
            status, html = await waiting.page(page)
            assert (status, html) == await waiting.page(unknown), page
            assert status != 200, page
            assert "Jane Doe" not in html and world.reference not in html, page


async def test_a_perpetrator_service_sees_whom_it_assesses_and_never_the_victim(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        pat = await visitor(runtime, http, base, "perpetrator service")
        for page in (f"research-item/{world.item_id}", "actions"):
            status, html = await pat.page(page)
            assert status == 200, page
            assert "John Doe" in html, page
            assert "Jane Doe" not in html and "12 Elm Road" not in html, page
        status, _ = await pat.page(f"case/{world.case_id}")  # no case cards for the role
        assert status == 403


async def test_the_idva_and_the_coordinator_see_the_whole_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        for name in ("idva", "coordinator"):
            person = await visitor(runtime, http, base, name)
            status, html = await person.page(f"case/{world.case_id}")
            assert status == 200 and "Call after 6pm only" in html, name
        priya = await visitor(runtime, http, base, "coordinator")
        status, html = await priya.page(f"board/{world.meeting_id}")
        assert status == 200 and world.reference in html and "Police" in html
        jo = await visitor(runtime, http, base, "idva")
        status, _ = await jo.page(f"board/{world.meeting_id}")
        assert status == 403  # the board runs the meeting: coordinator and chair


async def test_only_telegrams_fresh_launch_data_for_this_bot_signs_anyone_in(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    now = clock.now()
    genuine = launch_data(runtime, USERS["other agency"], "Nia", now)
    fields = dict(parse_qsl(genuine))
    forged = urlencode({**fields, "user": json.dumps({"id": USERS["coordinator"]})})
    other_bot = launch_data_for(USERS["other agency"], "Nia", "999:" + "x" * 35, now)
    stale = launch_data(runtime, USERS["other agency"], "Nia", now - timedelta(hours=2))
    stranger = launch_data(runtime, 999_999, "Eve", now)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        for launch, status, code in (
            (forged, 401, "launch_data"),
            (other_bot, 401, "launch_data"),
            (stale, 401, "launch_data"),
            ("", 401, "launch_data"),
            (stranger, 403, "not_enrolled"),
        ):
            visitor_ = Visitor(http, base, runtime)
            response = await visitor_.sign_in(0, launch)
            body = await response.json()
            assert (response.status, body["error"]) == (status, code)
            if status == 401:
                assert body["message"] == WS_NEEDS_TELEGRAM
            assert "token" not in body
        # No session, a made-up one, or one from before a deactivation: nothing is shown.
        anonymous = Visitor(http, base, runtime)
        assert (await anonymous.page(f"research-item/{world.item_id}"))[0] == 401
        anonymous.token = "eyJwIjo1MDF9.c2lnbmF0dXJl"
        assert (await anonymous.page(f"research-item/{world.item_id}"))[0] == 401


async def test_a_session_ends_after_half_an_hour_and_with_the_persons_access(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        nia = await visitor(runtime, http, base, "other agency")
        assert (await nia.page(f"research-item/{world.item_id}"))[0] == 200
        clock.advance(SESSION_LENGTH + timedelta(seconds=1))
        status, body = await nia.page(f"research-item/{world.item_id}")
        assert status == 401 and json.loads(body)["message"] == WS_SESSION_ENDED
        # Signed in again, then deactivated: the very next request is refused.
        nia = await visitor(runtime, http, base, "other agency")
        priya = world.people["coordinator"]
        await runtime.services.people.deactivate(priya, world.people["other agency"].person_id)
        status, body = await nia.page(f"research-item/{world.item_id}")
        assert status == 401 and "Jane Doe" not in body


async def test_every_answer_is_uncacheable_framed_only_by_telegram_and_small(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        shell = await http.get(f"{base}/research-item/{world.item_id}")
        html = await shell.text()
        assert shell.status == 200 and world.reference not in html and "Jane" not in html
        nia = await visitor(runtime, http, base, "other agency")
        _, page = await nia.page(f"research/{world.meeting_id}")
        sizes = [len(html.encode()), len(page.encode())]
        for asset in ("app.css", "app.js"):
            response = await http.get(f"{base}/static/{asset}")
            sizes.append(len(await response.read()))
        for response in (shell, await http.get(f"{base}/static/app.js")):
            headers = response.headers
            assert headers["Cache-Control"] == "no-store"
            policy = headers["Content-Security-Policy"]
            assert "default-src 'none'" in policy
            assert "script-src 'self' https://telegram.org/js/telegram-web-app.js" in policy
            assert "frame-ancestors https://web.telegram.org" in policy
            assert headers["Referrer-Policy"] == "no-referrer"
        # The page a person waits for: its HTML, style and script together.
        assert sum(sizes) < 60 * 1024, sizes


async def test_a_research_answer_that_needs_more_keeps_what_was_typed(
    runtime: Runtime, clock: ManualClock
) -> None:
    world: World = await build(runtime, clock)
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        nia = await visitor(runtime, http, base, "other agency")
        status, html = await nia.post(
            f"/api/research/{world.item_id}", {"outcome": "information", "note": "ok"}
        )
        assert status == 200 and 'role="alert"' in html and ">ok</textarea>" in html
        status, html = await nia.post(f"/api/research/{world.item_id}", {"note": "<b>x</b>"})
        assert "Please choose" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    async with runtime.sessions() as session:
        assert (await session.scalars(select(ResearchReturn))).all() == []


async def test_the_workspace_shares_the_webhooks_port_and_has_its_own_when_polling(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)

    # Webhook mode: the webhook's app gets the workspace's routes beside its own.
    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    mount_workspace(app, runtime)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        async with aiohttp.ClientSession() as http:
            for path, status in (
                ("/healthz", 200),
                (f"/workspace/research-item/{world.item_id}", 200),
                ("/workspace/static/app.js", 200),
                ("/workspace/nowhere/1", 404),
            ):
                async with http.get(f"http://{host}:{port}{path}") as response:
                    assert response.status == status, path
    finally:
        await runner.cleanup()
    # Long polling: the workspace's own listener opens with the updates and closes with them.
    events: list[str] = []

    async def start_polling(application: object) -> Callable[[], Awaitable[None]]:
        events.append("polling")

        async def stop() -> None:
            events.append("stopped")

        return stop

    settings = runtime.settings.model_copy(update={"workspace_port": free_port()})
    runtime.settings = settings
    start = with_workspace_listener(runtime, start_polling)
    stop = await start(None)  # type: ignore[arg-type]
    async with aiohttp.ClientSession() as http:
        address = f"http://127.0.0.1:{settings.workspace_port}/workspace/static/app.css"
        async with http.get(address) as response:
            assert response.status == 200
        assert stop is not None
        await stop()
        with pytest.raises(aiohttp.ClientConnectionError):
            await http.get(address)
    assert events == ["polling", "stopped"]


def test_a_workspace_path_that_the_webhook_uses_is_refused(runtime: Runtime) -> None:
    clash = runtime.settings.model_copy(update={"webapp_url": "https://host.test/healthz"})
    runtime.settings = clash
    with pytest.raises(ValueError, match="taken"):
        mount_workspace(web.Application(), runtime)


async def test_each_agency_reads_its_own_copy_of_the_minutes_in_the_workspace(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Case content is read here, not sent through the chat: the coordinator's full copy, each
    agency's cut by the policy, nothing of the case for someone on its must-not-receive list."""
    world = await build(runtime, clock)
    views = "She wants him kept away from the school."
    await runtime.services.victim_voice.record_wishes(world.people["idva"], world.case_id, views)
    page = f"minutes/{world.meeting_id}"
    async with serving(runtime) as base, aiohttp.ClientSession() as http:
        priya = await visitor(runtime, http, base, "coordinator")
        status, full = await priya.page(page)
        assert status == 200 and world.reference in full and views in full
        assert "OFFICIAL-SENSITIVE" in full and "Full copy" in full
        nia = await visitor(runtime, http, base, "other agency")
        status, health = await nia.page(page)
        assert status == 200 and "OFFICIAL-SENSITIVE" in health
        assert views not in health and "Jane Doe" not in health
        assert "GP to review the medication" in health  # its own action
        assert "check bail conditions" not in health  # not the police's
        pat = await visitor(runtime, http, base, "perpetrator service")
        status, drive = await pat.page(page)
        assert status == 200 and views not in drive and "Jane Doe" not in drive
        kim = await visitor(runtime, http, base, "excluded colleague")
        status, kept_out = await kim.page(page)
        assert status == 200 and world.reference not in kept_out
    async with runtime.sessions() as session:
        read = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "minutes.read"))
        ).all()
    assert len(read) == 4

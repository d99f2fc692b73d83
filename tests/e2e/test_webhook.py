"""Webhook mode end to end: the real Application behind bot.adapter.webhook, the stand-in as
Telegram.

The stand-in plays Telegram's Bot API (setWebhook, sendMessage, ...); as Telegram would, the
test POSTs update JSON to our webhook endpoint itself and reads the bot's replies from what
the stand-in recorded. The counters come from the real wiring: ``build_application`` times
updates with ``TimedUpdateProcessor`` and ``dispatch_due`` reports each run to bot.adapter.metrics.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import Bot
from telegram.error import BadRequest

import bot.adapter.dispatcher
from bot import texts
from bot.adapter import metrics
from bot.adapter.application import MaracApplication, build_application
from bot.adapter.leader import SingleProcessLease, run_as_leader
from bot.adapter.metrics import Metrics
from bot.adapter.webhook import (
    SECRET_HEADER,
    RunningWebhook,
    WebhookOptions,
    assess_health,
    build_web_app,
    check_webhook_options,
    running_webhook,
    serve_webhook,
    webhook_updates,
)
from bot.clock import ManualClock
from bot.runtime import Runtime, open_runtime
from bot.sandbox import BotApiStandIn, Driver
from bot.services.outbox import enqueue
from config import Settings
from storage.crypto import KeyRing
from tests.support.e2e import Area
from tests.support.webhook import PATH, PUBLIC_URL, SECRET, message_update

# Nothing listens on port 1: connections are refused at once, like a PostgreSQL that is down.
DEAD_POSTGRES_URL = "postgresql+asyncpg://marac@127.0.0.1:1/marac"


@pytest.fixture
async def webhook(runtime: Runtime, server: BotApiStandIn) -> AsyncIterator[RunningWebhook]:
    application = build_application(runtime, token=server.token, base_url=server.url)
    async with running_webhook(
        application,
        runtime,
        listen="127.0.0.1",
        port=0,
        path=PATH,
        public_url=PUBLIC_URL,
        secret_token=SECRET,
    ) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session


async def post_update(
    http: aiohttp.ClientSession,
    running: RunningWebhook,
    update: dict[str, Any] | None = None,
    *,
    secret: str | None = SECRET,
    body: bytes | None = None,
) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[SECRET_HEADER] = secret
    data = body if body is not None else aiohttp.JsonPayload(update)
    async with http.post(running.url + PATH, data=data, headers=headers) as response:
        return response.status


async def get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, Any]]:
    async with http.get(url) as response:
        return response.status, await response.json()


async def get_text(http: aiohttp.ClientSession, url: str) -> tuple[int, str, str]:
    async with http.get(url) as response:
        return response.status, response.headers["Content-Type"], await response.text()


def sample(exposition: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", exposition, re.MULTILINE)
    assert found, f"{name} not in /metrics output"
    return float(found.group(1))


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


# -- webhook registration and updates ---------------------------------------------------------


async def test_registers_the_webhook_with_the_secret(
    webhook: RunningWebhook, server: BotApiStandIn
) -> None:
    (call,) = server.calls_of("setWebhook")
    assert call["url"] == PUBLIC_URL + PATH == webhook.webhook_url
    assert call["secret_token"] == SECRET
    assert call.get("drop_pending_updates") in (False, None)
    assert "message" in call["allowed_updates"] and "callback_query" in call["allowed_updates"]
    assert server.webhook_url == PUBLIC_URL + PATH
    # post_init ran as with polling: strangers' command menu is set.
    assert server.call_count("setMyCommands") >= 1
    assert server.call_count("getUpdates") == 0


async def test_start_from_a_stranger_is_answered(
    webhook: RunningWebhook, http: aiohttp.ClientSession, driver: Driver
) -> None:
    driver.user(901, "Curious")
    assert await post_update(http, webhook, message_update(901, "Curious", "/start")) == 200
    (reply,) = await driver.wait_for_bot_messages(901, after=0)
    assert reply.text == texts.NEUTRAL_UNKNOWN


async def test_enrolment_over_the_webhook(
    webhook: RunningWebhook, http: aiohttp.ClientSession, driver: Driver, area: Area
) -> None:
    driver.user(501, "Priya", last_name="Shah")
    code = await area.code()
    assert await post_update(http, webhook, message_update(501, "Priya", f"/start {code}")) == 200
    welcome, home = await driver.wait_for_bot_messages(501, count=2, after=0)
    assert "Welcome" in (welcome.text or "")
    assert home.find_button("Agencies") is not None


async def test_wrong_or_missing_secret_is_refused_and_not_processed(
    webhook: RunningWebhook, http: aiohttp.ClientSession, driver: Driver
) -> None:
    driver.user(902, "Mallory")
    before = metrics.METRICS.sample("marac_updates_total")
    assert await post_update(http, webhook, message_update(902, "M", "/start"), secret=None) == 403
    assert await post_update(http, webhook, message_update(902, "M", "/start"), secret="x") == 403
    almost = SECRET[:-1] + ("A" if SECRET[-1] != "A" else "B")
    assert await post_update(http, webhook, message_update(902, "M", "/start"), secret=almost) == (
        403
    )
    # A good update afterwards is the only one answered: the refused ones never reached the bot.
    assert await post_update(http, webhook, message_update(902, "M", "/help")) == 200
    replies = await driver.wait_for_bot_messages(902, after=0)

    async def handled() -> bool:
        return metrics.METRICS.sample("marac_updates_total") >= before + 1

    await eventually(handled)
    await asyncio.sleep(0.2)
    assert len(driver.bot_messages(902)) == len(replies) == 1
    assert metrics.METRICS.sample("marac_updates_total") == before + 1
    assert metrics.METRICS.sample("marac_webhook_requests_total", outcome="forbidden") >= 3


async def test_malformed_bodies_get_400(
    webhook: RunningWebhook, http: aiohttp.ClientSession, driver: Driver
) -> None:
    before = metrics.METRICS.sample("marac_updates_total")
    for body in (b"{not json", b"[1, 2, 3]", b'{"message": {}}', b'{"update_id": "7"}', b""):
        assert await post_update(http, webhook, body=body) == 400, body
    # The secret is checked first: a stranger learns nothing about what we would accept.
    assert await post_update(http, webhook, body=b"{not json", secret=None) == 403
    async with http.get(webhook.url + PATH) as response:
        assert response.status == 405
    await asyncio.sleep(0.1)
    assert metrics.METRICS.sample("marac_updates_total") == before


async def test_a_flood_of_refused_posts_logs_a_few_lines_with_the_count(
    runtime: Runtime,
    server: BotApiStandIn,
    http: aiohttp.ClientSession,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Anyone can post to the webhook: 300 refused posts must not write 300 warnings."""
    caplog.set_level(logging.WARNING, logger="marac.webhook")
    application = build_application(runtime, token=server.token, base_url=server.url)
    moment = [datetime.now(UTC)]
    web_app = build_web_app(
        application,
        runtime,
        path=PATH,
        secret_token=SECRET,
        metrics=Metrics(),
        now=lambda: moment[0],
    )
    runner = web.AppRunner(web_app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        running = RunningWebhook(web_app, f"http://{host}:{port}", PUBLIC_URL + PATH)
        for n in range(250):
            assert await post_update(http, running, secret=None if n % 2 else "wrong") == 403
        for _ in range(50):
            assert await post_update(http, running, body=b"{not json") == 400
        moment[0] += timedelta(seconds=61)  # the minute is over; one more of each kind
        assert await post_update(http, running, secret=None) == 403
    finally:
        await runner.cleanup()
    lines = [r.getMessage() for r in caplog.records if r.name == "marac.webhook"]
    assert lines == [
        "webhook: refused a request without the right secret token",
        "webhook: refused a malformed update (JSONDecodeError)",
        AnyLine("webhook: refused 250 request(s) without the right secret token between "),
        AnyLine("webhook: refused 50 malformed update(s) between "),
        "webhook: refused a request without the right secret token",
    ], lines


class AnyLine(str):
    """Equal to any line starting with it (the summary names the times it covers)."""

    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, str) and other.startswith(str(self))


async def test_a_redelivered_update_is_handled_once(
    webhook: RunningWebhook, http: aiohttp.ClientSession, driver: Driver
) -> None:
    driver.user(903, "Twice")
    update = message_update(903, "Twice", "/start")
    assert await post_update(http, webhook, update) == 200
    assert await post_update(http, webhook, update) == 200
    await driver.wait_for_bot_messages(903, after=0)
    await asyncio.sleep(0.2)
    assert len(driver.bot_messages(903)) == 1


# -- /healthz and /metrics --------------------------------------------------------------------


async def test_healthz_reports_database_and_dispatcher(
    webhook: RunningWebhook, http: aiohttp.ClientSession
) -> None:
    started = datetime.now(UTC)

    async def dispatcher_ran() -> bool:
        last = metrics.METRICS.dispatcher_last_run
        return last is not None and last >= started

    await eventually(dispatcher_ran)  # the housekeeping job runs every 0.1 s in these tests
    status, body = await get_json(http, webhook.url + "/healthz")
    assert status == 200, body
    assert body["database"] == "ok" and body["status"] == "ok"
    assert datetime.fromisoformat(body["dispatcher_last_run"]) >= started
    assert 0 <= body["dispatcher_age_seconds"] < 5


async def test_metrics_count_handled_updates(
    webhook: RunningWebhook, http: aiohttp.ClientSession, driver: Driver
) -> None:
    status, content_type, before = await get_text(http, webhook.url + "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    assert sample(before, "marac_outbox_pending") >= 0
    assert sample(before, "marac_database_up") == 1
    driver.user(904, "Counted")
    assert await post_update(http, webhook, message_update(904, "Counted", "/start")) == 200
    await driver.wait_for_bot_messages(904, after=0)

    async def counted() -> bool:
        _, _, after = await get_text(http, webhook.url + "/metrics")
        return sample(after, "marac_updates_total") == sample(before, "marac_updates_total") + 1

    await eventually(counted)
    _, _, after = await get_text(http, webhook.url + "/metrics")
    assert sample(after, "marac_handler_seconds_count") > sample(
        before, "marac_handler_seconds_count"
    )
    assert sample(after, 'marac_webhook_requests_total{outcome="accepted"}') > sample(
        before, 'marac_webhook_requests_total{outcome="accepted"}'
    )
    assert sample(after, "marac_dispatcher_last_run_timestamp") > 0
    assert "Curious" not in after and "/start" not in after


async def test_healthz_503_when_the_database_is_unreachable(
    tmp_path: Path, key_ring: KeyRing, server: BotApiStandIn, http: aiohttp.ClientSession
) -> None:
    """A runtime pointed at a PostgreSQL that refuses connections, as when the server is down.

    The Application is built but not started (starting it loads persistence from the
    database, which is the point of failure); the web app answers on its own.
    """
    dead = open_runtime(
        Settings(database_url=DEAD_POSTGRES_URL, key_file=tmp_path / "keys.json"),
        key_ring=key_ring,
    )
    application = build_application(dead, token=server.token, base_url=server.url)
    fresh = Metrics()
    runner = web.AppRunner(
        build_web_app(application, dead, path=PATH, secret_token=SECRET, metrics=fresh)
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}"
        status, body = await get_json(http, url + "/healthz")
        assert status == 503
        assert body == {
            "database": "unreachable",
            "dispatcher_last_run": None,
            "dispatcher_age_seconds": None,
            "status": "degraded",
        }
        status, _, exposition = await get_text(http, url + "/metrics")
        assert status == 200
        assert sample(exposition, "marac_database_up") == 0
        assert math.isnan(sample(exposition, "marac_outbox_pending"))  # unknown, not stale
        # Not running: an update is refused with 503, so Telegram keeps it and retries later.
        async with http.post(
            url + PATH, json=message_update(905, "Early", "/start"), headers={SECRET_HEADER: SECRET}
        ) as response:
            assert response.status == 503
    finally:
        await runner.cleanup()
        await dead.close()


async def test_healthz_503_when_the_dispatcher_has_stopped(
    runtime: Runtime, server: BotApiStandIn, http: aiohttp.ClientSession
) -> None:
    application = build_application(runtime, token=server.token, base_url=server.url)
    fresh = Metrics()
    moment = [datetime.now(UTC)]
    web_app = build_web_app(
        application, runtime, path=PATH, secret_token=SECRET, metrics=fresh, now=lambda: moment[0]
    )
    runner = web.AppRunner(web_app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        url = f"http://{host}:{port}/healthz"
        interval = runtime.settings.job_interval_seconds
        status, body = await get_json(http, url)  # just started, no run yet: fine
        assert (status, body["status"], body["dispatcher_last_run"]) == (200, "ok", None)
        fresh.mark_dispatcher_run(moment[0])
        moment[0] += timedelta(seconds=5 * interval + 1)
        status, body = await get_json(http, url)
        assert status == 503
        assert body["database"] == "ok" and body["status"] == "degraded"
        assert body["dispatcher_age_seconds"] == pytest.approx(5 * interval + 1)
    finally:
        await runner.cleanup()


async def test_reminder_lateness_is_measured(
    runtime: Runtime, server: BotApiStandIn, driver: Driver, clock: ManualClock
) -> None:
    driver.user(941, "Late")
    now = clock.now()
    area_id = (await runtime.services.areas.ensure_area("Northamptonshire")).id
    async with runtime.sessions.begin() as session:
        assert await enqueue(
            session,
            dedupe_key="lateness-probe",
            chat_id=941,
            kind="reminder",
            text="due half a minute from now",
            now=now,
            due_at=now + timedelta(seconds=30),
            area_id=area_id,
        )

    def late() -> tuple[float, float]:
        return (
            metrics.METRICS.sample("marac_reminders_late_seconds_count"),
            metrics.METRICS.sample("marac_reminders_late_seconds_sum"),
        )

    count, total = late()
    clock.advance(timedelta(seconds=120))
    async with Bot(server.token, base_url=server.base_url) as telegram:
        assert (
            await bot.adapter.dispatcher.dispatch_due(telegram, runtime.services.outbox)
        ).sent == 1
    assert (late()[0] - count, late()[1] - total) == (1, 90)


# -- serve_webhook, the ``run --webhook`` entry point -------------------------------------------


async def test_serve_webhook_runs_until_stopped(runtime: Runtime, server: BotApiStandIn) -> None:
    application = build_application(runtime, token=server.token, base_url=server.url)
    stop = asyncio.Event()
    task = asyncio.create_task(
        serve_webhook(
            application,
            runtime,
            listen="127.0.0.1",
            port=0,
            path=PATH,
            public_url=PUBLIC_URL,
            secret_token=SECRET,
            stop=stop,
        )
    )

    async def registered() -> bool:
        # (the stand-in's wait_until wakes on chat changes only, not on API calls)
        return server.call_count("setWebhook") == 1 and application.running

    await eventually(registered)
    stop.set()
    await asyncio.wait_for(task, 10)
    assert not application.running
    assert server.webhook_url == PUBLIC_URL + PATH  # kept: Telegram holds updates meanwhile


async def test_under_the_lease_the_port_is_open_only_while_active(
    runtime: Runtime, server: BotApiStandIn, http: aiohttp.ClientSession, driver: Driver
) -> None:
    """``marac-bot run --webhook``'s way in: run_as_leader opens the port once active (here the
    one process on its own), registers the webhook, and closes the port again on stopping."""
    opened: list[RunningWebhook] = []
    options = WebhookOptions(
        listen="127.0.0.1", port=0, path=PATH, public_url=PUBLIC_URL, secret_token=SECRET
    )
    stop = asyncio.Event()

    async def make_app() -> MaracApplication:
        return build_application(runtime, token=server.token, base_url=server.url)

    task = asyncio.create_task(
        run_as_leader(
            make_app,
            SingleProcessLease(),
            stop=stop,
            start_updates=webhook_updates(runtime, options, on_open=opened.append),
        )
    )
    try:

        async def open_() -> bool:
            assert not task.done(), task
            return bool(opened)

        await eventually(open_)
        assert server.call_count("setWebhook") == 1 and server.webhook_url == PUBLIC_URL + PATH
        driver.user(921, "Leader")
        assert await post_update(http, opened[0], message_update(921, "Leader", "/start")) == 200
        (reply,) = await driver.wait_for_bot_messages(921, after=0)
        assert reply.text == texts.NEUTRAL_UNKNOWN
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
    with pytest.raises(aiohttp.ClientConnectorError):
        await post_update(http, opened[0], message_update(921, "Leader", "/help"))
    assert server.webhook_url == PUBLIC_URL + PATH  # kept: Telegram holds updates meanwhile


async def test_updates_already_accepted_are_finished_on_stop(
    runtime: Runtime, server: BotApiStandIn, http: aiohttp.ClientSession, driver: Driver
) -> None:
    users = range(931, 936)
    for user_id in users:
        driver.user(user_id, "Queued")
    application = build_application(runtime, token=server.token, base_url=server.url)
    async with running_webhook(
        application,
        runtime,
        listen="127.0.0.1",
        port=0,
        path=PATH,
        public_url=PUBLIC_URL,
        secret_token=SECRET,
    ) as running:
        for user_id in users:
            assert await post_update(http, running, message_update(user_id, "Q", "/start")) == 200
        # leave at once: the five updates are accepted but (mostly) not yet handled
    for user_id in users:
        assert [m.text for m in driver.bot_messages(user_id)] == [texts.NEUTRAL_UNKNOWN]


async def test_registration_is_retried_while_telegram_is_unreachable(
    runtime: Runtime, server: BotApiStandIn
) -> None:
    server.inject_failure("setWebhook", status=502, times=2)  # PTB: NetworkError
    application = build_application(runtime, token=server.token, base_url=server.url)
    async with running_webhook(
        application,
        runtime,
        listen="127.0.0.1",
        port=0,
        path=PATH,
        public_url=PUBLIC_URL,
        secret_token=SECRET,
    ):
        assert server.call_count("setWebhook") == 3
        assert server.webhook_url == PUBLIC_URL + PATH


async def test_a_refused_registration_stops_the_bot_cleanly(
    runtime: Runtime, server: BotApiStandIn
) -> None:
    server.inject_failure("setWebhook", status=400, description="Bad Request: bad webhook")
    application = build_application(runtime, token=server.token, base_url=server.url)
    with pytest.raises(BadRequest):
        async with running_webhook(
            application,
            runtime,
            listen="127.0.0.1",
            port=0,
            path=PATH,
            public_url=PUBLIC_URL,
            secret_token=SECRET,
        ):
            pytest.fail("should not get here")
    assert server.call_count("setWebhook") == 1
    assert not application.running


# -- pure parts ---------------------------------------------------------------------------------


def test_health_rule() -> None:
    now = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    fresh = assess_health(
        database_ok=True,
        last_run=None,
        now=now,
        started_at=now - timedelta(seconds=100),
        job_interval_seconds=30,
    )
    assert fresh.ok and fresh.dispatcher_age_seconds is None
    never_ran = assess_health(
        database_ok=True,
        last_run=None,
        now=now,
        started_at=now - timedelta(seconds=151),
        job_interval_seconds=30,
    )
    assert not never_ran.ok and never_ran.as_json()["status"] == "degraded"
    recent = assess_health(
        database_ok=True,
        last_run=now - timedelta(seconds=149),
        now=now,
        started_at=now - timedelta(days=1),
        job_interval_seconds=30,
    )
    assert recent.ok and recent.as_json()["dispatcher_last_run"] == "2026-11-26T08:57:31Z"
    no_database = assess_health(
        database_ok=False, last_run=now, now=now, started_at=now, job_interval_seconds=30
    )
    assert not no_database.ok and no_database.as_json()["database"] == "unreachable"


@pytest.mark.parametrize(
    ("path", "public_url", "secret"),
    [
        (PATH, "http://marac.example.test", SECRET),
        ("/healthz", PUBLIC_URL, SECRET),
        ("/", PUBLIC_URL, SECRET),
        ("no-slash", PUBLIC_URL, SECRET),
        (PATH, PUBLIC_URL, ""),
        (PATH, PUBLIC_URL, "has space"),
        (PATH, PUBLIC_URL, "x" * 257),
    ],
)
def test_bad_webhook_options_are_refused_without_echoing_the_secret(
    path: str, public_url: str, secret: str
) -> None:
    with pytest.raises(ValueError) as refused:
        check_webhook_options(path=path, public_url=public_url, secret_token=secret)
    if secret:
        assert secret not in str(refused.value)

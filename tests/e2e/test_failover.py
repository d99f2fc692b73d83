"""Failover end to end: two bot instances on one PostgreSQL database and one Bot API stand-in.

Only the instance holding the leader lease answers. When it dies (a real process, SIGKILLed
mid-referral) the standby takes over, carries the half-done referral on at the next question,
and sends the reminders still pending, each exactly once overall. When an instance only loses
its lease connection, it stops polling and goes back to standby while the other takes over.

Webhook mode fails over the same way: two real ``marac-bot run --webhook`` processes, each with
a port of its own, behind a stand-in for nginx that tries the primary and falls back to the
``backup`` only when the primary refuses the connection. Only the active process has its port
open; when it is killed, the standby opens its own port, registers the webhook again, and the
next post Telegram makes through the proxy is handled there.

Failover is PostgreSQL only by nature (advisory locks), so those tests use
``postgres_database`` directly; with MARAC_REQUIRE_POSTGRES=1 an unreachable server fails them
rather than skipping. On SQLite the one process is simply active, checked last.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import aiohttp
import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import select

from bot import texts
from bot.adapter.leader import lease_key, serve
from bot.clock import ManualClock, SystemClock
from bot.runtime import Runtime, open_runtime
from bot.sandbox import BotApiStandIn, Driver, SimulatedUser
from bot.sandbox.scenarios import press, say
from bot.services.outbox import OutboxService
from bot.vocabulary import AgencyKind, Role
from config import Settings
from storage.keyfile import create_key_file, key_ring_from_document, new_key_document
from storage.migrate import upgrade
from storage.models import OutboxMessage
from tests.support.e2e import Area, add_agency, queue_reminder
from tests.support.failover import POLL, TAKEOVER_LIMIT, Instance, eventually, finish_referral
from tests.support.webhook import PATH, PUBLIC_URL, SECRET, message_update

START = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # a Thursday morning: no quiet hours
PROMPT = 10.0  # what is asserted: one 0.2 s poll plus slack for a loaded 2-core machine
ROOT = Path(__file__).resolve().parents[2]

# Real outages, processes, rotations or whole demos: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

# `marac-bot run` as a real process: the same serve() the CLI calls, with the test's clock.
BOT_PROCESS = """
import asyncio, sys
from datetime import datetime
from bot.clock import ManualClock, SystemClock
from bot.adapter.leader import serve
from bot.logging_setup import configure_logging
from config import load_settings

configure_logging("INFO")
clock = ManualClock(datetime.fromisoformat(sys.argv[1]))
asyncio.run(serve(load_settings(), clock=clock, poll_seconds=0.2, check_seconds=0.2))
"""


# `marac-bot run --webhook` exactly as systemd starts it (the settings come from MARAC_*).
WEBHOOK_PROCESS = """
import sys
from bot.cli import main

sys.exit(main(["run", "--webhook"]))
"""


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@pytest.fixture
async def pg_url(postgres_database: str) -> str:
    connection = await asyncpg.connect(plain(postgres_database))
    try:
        await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    finally:
        await connection.close()
    return postgres_database


@pytest.fixture
def keys() -> dict[str, Any]:
    return new_key_document()


@pytest.fixture
def bot_settings(pg_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=pg_url,
        key_file=tmp_path / "unused-keys.json",
        job_interval_seconds=0.1,
        morning_digest=False,
        audit_checkpoints=False,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def make_runtime(
    bot_settings: Settings, keys: dict[str, Any], clock: ManualClock
) -> AsyncIterator[Callable[[], Runtime]]:
    """Runtimes with engines of their own, as separate processes would have."""
    opened: list[Runtime] = []

    def make() -> Runtime:
        runtime = open_runtime(
            bot_settings, clock=clock, key_ring=key_ring_from_document(keys, "t")
        )
        opened.append(runtime)
        return runtime

    yield make
    for runtime in opened:
        await runtime.close()


@pytest.fixture
def process_log(tmp_path: Path) -> Iterator[tuple[Path, IO[bytes]]]:
    path = tmp_path / "bot-process.log"
    with path.open("wb") as handle:
        yield path, handle


async def lease_holder(url: str) -> tuple[int, str] | None:
    """The backend pid and application name holding the bot's lease, if any."""
    unsigned = lease_key(url.rsplit("/", 1)[1]) & 0xFFFF_FFFF_FFFF_FFFF
    connection = await asyncpg.connect(plain(url))
    try:
        row = await connection.fetchrow(
            "SELECT l.pid, a.application_name FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2"
            " AND l.objsubid = 1",
            unsigned >> 32,
            unsigned & 0xFFFF_FFFF,
        )
    finally:
        await connection.close()
    return None if row is None else (int(row["pid"]), str(row["application_name"]))


def received(user: SimulatedUser, text: str) -> int:
    return sum(1 for m in user.bot_messages(include_deleted=True) if m.text == text)


async def arrives(driver: Driver, user: SimulatedUser, text: str) -> None:
    await driver.wait_for(
        lambda: received(user, text) > 0, timeout=10, description=f"{text!r} for {user}"
    )


@pytest.mark.postgres
async def test_standby_takes_over_when_the_active_process_is_killed(
    pg_url: str,
    keys: dict[str, Any],
    clock: ManualClock,
    make_runtime: Callable[[], Runtime],
    server: BotApiStandIn,
    driver: Driver,
    process_log: tuple[Path, IO[bytes]],
) -> None:
    standby_runtime = make_runtime()
    await upgrade(standby_runtime.engine)
    log_path, log_file = process_log

    def log_tail() -> str:
        return "\n--- bot process log ---\n" + log_path.read_text(errors="replace")[-4000:]

    env = {k: v for k, v in os.environ.items() if not k.startswith("MARAC_")}
    env.update(
        PYTHONPATH=str(ROOT),
        MARAC_DATABASE_URL=pg_url,
        MARAC_KEYS=json.dumps(keys),
        MARAC_KEY_FILE=str(log_path.with_name("unused-keys.json")),
        MARAC_TELEGRAM_TOKEN=server.token,
        MARAC_TELEGRAM_BASE_URL=server.url,
        MARAC_JOB_INTERVAL_SECONDS="0.1",
        MARAC_MORNING_DIGEST="false",
    )
    active = await asyncio.create_subprocess_exec(
        sys.executable, "-c", BOT_PROCESS, START.isoformat(), cwd=ROOT, env=env,
        stdout=log_file, stderr=log_file,
    )  # fmt: skip
    standby = Instance(standby_runtime, server)
    try:
        # 1. The process takes the lease; only then does the in-process instance start.
        deadline = time.monotonic() + 20
        while (holder := await lease_holder(pg_url)) is None or f":{active.pid}" not in holder[1]:
            assert active.returncode is None, "the bot process exited" + log_tail()
            assert time.monotonic() < deadline, "the bot process never took the lease" + log_tail()
            await asyncio.sleep(0.05)
        standby.start()

        # 2. Only the leader answers: the standby has not even built an Application.
        area = Area(standby_runtime, driver)
        await area.create()
        police = await add_agency(
            standby_runtime, area.area_id, "Northamptonshire Police", AgencyKind.POLICE, START
        )
        priya = await area.enrol(501, "Priya", "Shah")
        sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
        (question,) = await sam.send_and_wait("/refer")
        assert question.text == texts.REFERRAL_PROMPTS["safe_contact"]
        await press(sam, "Yes")
        asked = await say(sam, "Only after 6pm")
        assert asked.text == texts.REFERRAL_PROMPTS["victim_aware"]
        await asyncio.sleep(POLL * 3)
        assert standby.activations == [] and not standby.lease.held
        assert [m.text for m in sam.bot_messages()].count(asked.text) == 1

        # 3. Reminders: some due now (the leader sends them), some due later, and one the
        # dying leader has just claimed but will never send.
        for n in (1, 2, 3):
            await queue_reminder(
                standby_runtime,
                priya,
                f"Reminder {n}: due now",
                due=START,
                now=START,
                test="failover-test",
            )
        for n in (1, 2, 3):
            await arrives(driver, priya, f"Reminder {n}: due now")
        later = [f"Reminder {n}: due in an hour" for n in (4, 5)]
        for text in later:
            await queue_reminder(
                standby_runtime,
                priya,
                text,
                due=START + timedelta(hours=1),
                now=START,
                test="failover-test",
            )
        claimed = "Reminder 6: claimed by the process that dies"
        await queue_reminder(
            standby_runtime,
            priya,
            claimed,
            due=START + timedelta(minutes=10),
            now=START,
            test="failover-test",
        )
        dying = OutboxService(
            replace(standby_runtime.deps, clock=ManualClock(START.replace(minute=10)))
        )
        assert [m.text for m in await dying.claim_due()] == [claimed]

        # 4. Kill the active process mid-referral; Sam writes while nobody is active.
        active.kill()
        killed = time.monotonic()
        await active.wait()
        correction, question = await sam.send_and_wait("Anything", count=2, timeout=TAKEOVER_LIMIT)
        answered = time.monotonic()
        await eventually(lambda: standby.activations, "the standby to take over")
        took_lease = standby.activations[0] - killed
        print(
            f"\n[failover] lease taken over {took_lease:.3f} s after SIGKILL; "
            f"first reply from the new leader {answered - killed:.3f} s after SIGKILL"
        )
        assert took_lease < TAKEOVER_LIMIT and answered - killed < TAKEOVER_LIMIT
        assert took_lease < PROMPT

        # 5. The conversation goes on where it was: a typed answer to a button question.
        assert correction.text == texts.USE_THE_BUTTONS
        assert question.text == texts.REFERRAL_PROMPTS["victim_aware"]
        await finish_referral(sam)

        # 6. Pending reminders go out from the new leader once due; nothing is sent twice.
        clock.advance(timedelta(hours=1))
        for text in [*later, claimed]:
            await arrives(driver, priya, text)
        await asyncio.sleep(1.0)  # ten more dispatcher runs
        for text in [f"Reminder {n}: due now" for n in (1, 2, 3)] + [*later, claimed]:
            assert received(priya, text) == 1, text
        async with standby_runtime.sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage).where(OutboxMessage.dedupe_key.like("failover-test:%"))
                )
            ).all()
        assert len(rows) == 6 and all(row.sent_at is not None for row in rows)
    except BaseException:
        print(log_tail())
        raise
    finally:
        if active.returncode is None:
            active.kill()
            await active.wait()
        await standby.close()


@pytest.mark.postgres
async def test_a_leader_that_loses_its_lease_steps_down_and_waits(
    pg_url: str,
    make_runtime: Callable[[], Runtime],
    server: BotApiStandIn,
    driver: Driver,
) -> None:
    first = Instance(make_runtime(), server)
    await upgrade(first.runtime.engine)
    second = Instance(make_runtime(), server)
    try:
        first.start()
        await eventually(lambda: first.polling, "the first instance to become active", 10)
        second.start()
        area = Area(first.runtime, driver)
        await area.create()
        priya = await area.enrol(501, "Priya", "Shah")
        (reply,) = await priya.send_and_wait("/help")
        assert second.activations == []

        # Its lease connection is cut (as by pg_terminate_backend or a database restart).
        pid = first.lease.backend_pid
        admin = await asyncpg.connect(plain(pg_url))
        try:
            cut = time.monotonic()
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await admin.close()
        stepped_down = await eventually(lambda: not first.polling, "the first to stop polling")
        took_over = await eventually(lambda: second.polling, "the second to take over")
        print(
            f"\n[failover] lease connection cut: old leader stopped polling after "
            f"{stepped_down - cut:.3f} s, new leader polling after {took_over - cut:.3f} s"
        )
        assert stepped_down - cut < PROMPT and took_over - cut < PROMPT

        # The new leader answers, once; the old one is back on standby, not stopped.
        replies = await priya.send_and_wait("/help", timeout=5)
        await asyncio.sleep(POLL * 3)
        assert [m.text for m in priya.bot_messages()].count(reply.text) == 2
        assert len(replies) == 1
        assert first.task is not None and not first.task.done()
        assert not first.lease.held and len(first.activations) == 1
        assert first.app is not None and not first.app.running
        assert first.updates_stopped == 1 and second.updates_stopped == 0
    finally:
        await first.close()
        await second.close()


async def test_on_sqlite_the_one_process_is_simply_active(
    tmp_path: Path, server: BotApiStandIn, driver: Driver
) -> None:
    """``serve`` (what ``marac-bot run`` calls) on the default database: no lease to wait for."""
    key_file = tmp_path / "keys.json"
    create_key_file(key_file)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/marac.db",
        key_file=key_file,
        telegram_token=server.token,
        telegram_base_url=server.url,
        job_interval_seconds=0.1,
        morning_digest=False,
        audit_checkpoints=False,
    )
    runtime = open_runtime(settings)
    stop = asyncio.Event()
    try:
        await upgrade(runtime.engine)
        area = Area(runtime, driver)
        await area.create()
        code = await area.code()
        running = asyncio.create_task(serve(settings, stop=stop))
        try:
            priya = driver.user(501, "Priya", last_name="Shah", role=Role.COORDINATOR.value)
            welcome, _ = await priya.send_and_wait(f"/start {code}", count=2, timeout=15)
            assert "Welcome" in (welcome.text or "")
            # Start-up's objects are out of the collector's sight (bot.adapter.heap).
            assert gc.get_freeze_count() > 0
        finally:
            stop.set()
            await asyncio.wait_for(running, 15)
            gc.unfreeze()
    finally:
        await runtime.close()


def free_port() -> int:
    """A port nothing listens on now (the process given it binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class BackupProxy:
    """What nginx does with ``server A; server B backup;`` and ``proxy_next_upstream error``.

    Each post goes to the primary; only if the connection is refused (the port is closed) is
    it passed to the backup. A request that reached a server is never sent to the other one.
    """

    def __init__(self, http: aiohttp.ClientSession, primary: int, backup: int) -> None:
        self.http = http
        self.upstreams = [primary, backup]

    async def post(self, update: dict[str, Any]) -> tuple[int, int]:
        """Telegram's post of ``update``: the status it gets, and which port answered."""
        for port in self.upstreams:
            try:
                async with self.http.post(
                    f"http://127.0.0.1:{port}{PATH}",
                    json=update,
                    headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
                ) as response:
                    return response.status, port
            except aiohttp.ClientConnectorError:
                continue
        return 502, 0  # nginx: no live upstream; Telegram keeps the update and retries


async def port_open(port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


@pytest.mark.postgres
async def test_webhook_standby_opens_its_port_when_the_active_process_is_killed(
    pg_url: str,
    keys: dict[str, Any],
    bot_settings: Settings,
    server: BotApiStandIn,
    driver: Driver,
    tmp_path: Path,
) -> None:
    # The processes are started exactly as systemd starts them, so they read the wall clock:
    # the invite they redeem is issued on the wall clock too, not on the test's fixed clock.
    runtime = open_runtime(
        bot_settings, clock=SystemClock(), key_ring=key_ring_from_document(keys, "t")
    )
    await upgrade(runtime.engine)
    area = Area(runtime, driver)
    await area.create()
    code = await area.code()
    ports = {"first": free_port(), "second": free_port()}
    logs = {name: tmp_path / f"{name}.log" for name in ports}
    processes: dict[str, asyncio.subprocess.Process] = {}

    def log_tail(name: str) -> str:
        return f"\n--- {name} process log ---\n" + logs[name].read_text(errors="replace")[-3000:]

    async def start(name: str) -> asyncio.subprocess.Process:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MARAC_")}
        env.update(
            PYTHONPATH=str(ROOT),
            MARAC_DATABASE_URL=pg_url,
            MARAC_KEYS=json.dumps(keys),
            MARAC_KEY_FILE=str(tmp_path / "unused-keys.json"),
            MARAC_TELEGRAM_TOKEN=server.token,
            MARAC_TELEGRAM_BASE_URL=server.url,
            MARAC_JOB_INTERVAL_SECONDS="0.1",
            MARAC_MORNING_DIGEST="false",
            MARAC_LEADER_POLL_SECONDS=str(POLL),
            MARAC_LEADER_CHECK_SECONDS=str(POLL),
            MARAC_WEBHOOK_PUBLIC_URL=PUBLIC_URL,
            MARAC_WEBHOOK_PATH=PATH,
            MARAC_WEBHOOK_SECRET=SECRET,
            MARAC_WEBHOOK_LISTEN="127.0.0.1",
            MARAC_WEBHOOK_PORT=str(ports[name]),
        )
        with logs[name].open("wb") as log_file:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-c", WEBHOOK_PROCESS, cwd=ROOT, env=env,
                stdout=log_file, stderr=log_file,
            )  # fmt: skip
        processes[name] = process
        return process

    async def until(condition: Callable[[], Any], what: str, name: str) -> float:
        """Wait for a condition (a coroutine function); returns when it held (monotonic)."""
        deadline = time.monotonic() + TAKEOVER_LIMIT
        while not await condition():
            assert processes[name].returncode is None, f"{name} exited" + log_tail(name)
            assert time.monotonic() < deadline, f"timed out waiting for {what}" + log_tail(name)
            await asyncio.sleep(0.05)
        return time.monotonic()

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        proxy = BackupProxy(http, ports["first"], ports["second"])
        try:
            # 1. The first process takes the lease, opens its port and registers the webhook.
            first = await start("first")

            async def first_serving() -> bool:
                holder = await lease_holder(pg_url)
                return (
                    holder is not None
                    and f":{first.pid}" in holder[1]
                    and server.call_count("setWebhook") == 1
                    and await port_open(ports["first"])
                )

            await until(first_serving, "the first process to serve the webhook", "first")
            assert server.webhook_url == PUBLIC_URL + PATH

            # 2. The second waits on standby, its port closed: posts reach the first only.
            await start("second")

            async def second_on_standby() -> bool:
                return "standby: another process holds the leader lease" in logs[
                    "second"
                ].read_text(errors="replace")

            await until(second_on_standby, "the second process to wait on standby", "second")
            assert not await port_open(ports["second"])
            priya = driver.user(501, "Priya", last_name="Shah", role=Role.COORDINATOR.value)
            status, port = await proxy.post(message_update(501, "Priya", f"/start {code}"))
            assert (status, port) == (200, ports["first"])
            welcome, _ = await driver.wait_for_bot_messages(priya.chat_id, count=2, after=0)
            assert "Welcome" in (welcome.text or "")
            assert server.call_count("setWebhook") == 1  # the standby registered nothing

            # 3. The active process dies; the standby opens its port and registers again.
            first.kill()
            killed = time.monotonic()
            await first.wait()
            assert not await port_open(ports["first"])

            async def second_serving() -> bool:
                return server.call_count("setWebhook") == 2 and await port_open(ports["second"])

            serving = await until(second_serving, "the standby to serve the webhook", "second")
            print(
                f"\n[failover] webhook served by the standby {serving - killed:.3f} s after SIGKILL"
            )
            assert server.webhook_url == PUBLIC_URL + PATH

            # 4. Telegram's next post goes through the proxy to the new leader and is handled,
            # with what the first process wrote (Priya's enrolment) carried over.
            latest = server.messages(priya.chat_id)[-1].message_id
            status, port = await proxy.post(message_update(501, "Priya", "/help"))
            assert (status, port) == (200, ports["second"])
            (reply,) = await driver.wait_for_bot_messages(priya.chat_id, after=latest)
            assert "/invite" in (reply.text or ""), reply.text

            # 5. SIGTERM: the new leader closes its port and exits cleanly.
            second = processes["second"]
            second.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(second.wait(), 30) == 0, log_tail("second")
            assert not await port_open(ports["second"])
        except BaseException:
            for name in processes:
                print(log_tail(name))
            raise
        finally:
            for process in processes.values():
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await runtime.close()

"""The leader lease on PostgreSQL: exactly one holder, takeover when the holder dies or is cut
off, and the holder told when its lease is gone.

These use the ``postgres_database`` fixture directly: an advisory lock is PostgreSQL's, so there
is no SQLite variant (on SQLite the lease is trivially granted, checked at the end). With
MARAC_REQUIRE_POSTGRES=1 an unreachable server fails them instead of skipping.

Crashes are real where it matters: a child process holding the lease is SIGKILLed, or frozen
with SIGSTOP to stand for a holder cut off from the database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest

from bot.adapter.leader import (
    LEASE_NAMESPACE,
    LeaderLease,
    SingleProcessLease,
    StopUpdates,
    lease_key,
    run_as_leader,
)
from bot.sandbox import BotApiStandIn, application_builder

POLL = 0.2  # the standby's poll interval in these tests (5 s in production)
TAKEOVER_LIMIT = 30.0  # what the issue promises
# What the tests assert: one 0.2 s poll plus ample slack for a loaded CI machine; still far
# inside the promise. The measured times are printed (run with -s to see them).
PROMPT = 10.0  # well inside the 30 s promised, with slack for a loaded 2-core machine
ROOT = Path(__file__).resolve().parents[2]

# Real outages, processes, rotations or whole demos: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

# A process that takes the lease, says so, and reports when it finds the lease gone.
HOLDER = """
import asyncio, sys
from bot.adapter.leader import LeaderLease

async def main() -> None:
    lease = LeaderLease(sys.argv[1], session_timeout=float(sys.argv[2]), check_timeout=0.3)
    await lease.acquire(0.1)
    print("held", lease.backend_pid, flush=True)

    async def lost() -> None:
        print("lost", flush=True)

    await lease.watch(lost, 0.2)
    await lease.release()

asyncio.run(main())
"""


def plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


@asynccontextmanager
async def admin(url: str) -> AsyncIterator[Any]:
    connection = await asyncpg.connect(plain(url))
    try:
        yield connection
    finally:
        await connection.close()


async def terminate_backend(url: str, pid: int | None) -> None:
    assert pid is not None
    async with admin(url) as connection:
        assert await connection.fetchval("SELECT pg_terminate_backend($1)", pid)


@asynccontextmanager
async def leases(url: str, count: int, **options: Any) -> AsyncIterator[list[LeaderLease]]:
    made = [LeaderLease(url, **options) for _ in range(count)]
    try:
        yield made
    finally:
        for lease in made:
            await lease.release()


@asynccontextmanager
async def holder_process(url: str, session_timeout: float) -> AsyncIterator[Any]:
    """A child process holding the lease; yields it once it has said "held"."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        HOLDER,
        url,
        str(session_timeout),
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), 15)
        assert line.startswith(b"held"), line
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def timed_acquire(lease: LeaderLease, since: float, limit: float) -> float:
    await asyncio.wait_for(lease.acquire(POLL), limit)
    return time.monotonic() - since


def report(what: str, seconds: float) -> None:
    print(f"\n[leader] {what}: {seconds:.3f} s")


# -- without a database ----------------------------------------------------------------------


def test_lease_key_is_stable_and_differs_per_database() -> None:
    key = lease_key("marac")
    assert key == lease_key("marac", LEASE_NAMESPACE)
    assert key != lease_key("marac_test")
    assert -(2**63) <= key < 2**63
    assert LeaderLease("postgresql+asyncpg://u:p@db.example:6543/marac").key == key


async def test_sqlite_lease_is_granted_at_once(tmp_path: Path) -> None:
    lease = LeaderLease.for_url(f"sqlite+aiosqlite:///{tmp_path}/marac.db")
    assert isinstance(lease, SingleProcessLease)
    await lease.acquire()
    assert lease.held and await lease.is_held()
    await lease.release()
    assert not await lease.is_held()


def test_checks_must_fit_inside_the_session_timeout() -> None:
    with pytest.raises(ValueError):
        LeaderLease("postgresql+asyncpg://u@h/db", check_timeout=5, session_timeout=5)


async def test_watch_refuses_an_interval_the_server_would_outrun() -> None:
    lease = LeaderLease("postgresql+asyncpg://u@h/db", check_timeout=2, session_timeout=15)

    async def never() -> None:
        raise AssertionError("not reached")

    with pytest.raises(ValueError):
        await lease.watch(never, interval=13)


async def test_standby_keeps_waiting_while_the_database_is_unreachable() -> None:
    lease = LeaderLease("postgresql+asyncpg://postgres@127.0.0.1:1/nothing", connect_timeout=0.5)
    stop = asyncio.Event()
    waiting = asyncio.create_task(lease.acquire(0.05, stop))
    await asyncio.sleep(0.3)
    assert not waiting.done()
    stop.set()
    await asyncio.wait_for(waiting, 2)
    assert not lease.held


# -- on PostgreSQL ---------------------------------------------------------------------------


async def test_only_one_of_two_acquires(postgres_database: str) -> None:
    async with leases(postgres_database, 2) as (first, second):
        await asyncio.wait_for(first.acquire(POLL), 5)
        stop = asyncio.Event()
        standby = asyncio.create_task(second.acquire(POLL, stop))
        await asyncio.sleep(POLL * 4)
        assert not standby.done() and not second.held
        assert await first.is_held()
        assert not await second.is_held()
        stop.set()
        await standby
        assert not second.held


async def test_released_lease_passes_to_the_standby(postgres_database: str) -> None:
    async with leases(postgres_database, 2) as (first, second):
        await first.acquire(POLL)
        standby = asyncio.create_task(second.acquire(POLL))
        await asyncio.sleep(POLL * 1.5)
        since = time.monotonic()
        await first.release()
        await asyncio.wait_for(standby, 5)
        report("takeover after a clean release", time.monotonic() - since)
        assert await second.is_held() and not await first.is_held()


async def test_standby_takes_over_when_the_holder_process_is_killed(
    postgres_database: str,
) -> None:
    async with (
        holder_process(postgres_database, session_timeout=15) as holder,
        leases(postgres_database, 1) as (standby,),
    ):
        stop = asyncio.Event()
        waiting = asyncio.create_task(standby.acquire(POLL, stop))
        await asyncio.sleep(POLL * 3)
        assert not waiting.done(), "the standby got the lease while the holder was alive"
        stop.set()
        await waiting
        holder.kill()  # SIGKILL: no cleanup, PostgreSQL just sees the socket close
        since = time.monotonic()
        took = await timed_acquire(standby, since, TAKEOVER_LIMIT)
        report("takeover after SIGKILL of the holder process", took)
        assert took < PROMPT < TAKEOVER_LIMIT
        assert await standby.is_held()


async def test_standby_takes_over_when_the_holder_backend_is_terminated(
    postgres_database: str,
) -> None:
    async with leases(postgres_database, 2) as (first, second):
        await first.acquire(POLL)
        standby = asyncio.create_task(second.acquire(POLL))
        await asyncio.sleep(POLL * 2)
        assert not standby.done()
        since = time.monotonic()
        await terminate_backend(postgres_database, first.backend_pid)
        await asyncio.wait_for(standby, TAKEOVER_LIMIT)
        took = time.monotonic() - since
        report("takeover after pg_terminate_backend of the holder", took)
        assert took < PROMPT
        assert await second.is_held()
        assert not await first.is_held()


async def test_watch_fires_when_the_holder_backend_is_terminated(postgres_database: str) -> None:
    async with leases(postgres_database, 1) as (lease,):
        await lease.acquire(POLL)
        lost = asyncio.Event()

        async def on_lost() -> None:
            lost.set()

        # A long interval: the closed socket itself must wake the watch, not the next check.
        watching = asyncio.create_task(lease.watch(on_lost, interval=10))
        await asyncio.sleep(0.1)
        assert not lost.is_set()
        since = time.monotonic()
        await terminate_backend(postgres_database, lease.backend_pid)
        await asyncio.wait_for(lost.wait(), 5)
        report("watch noticed a terminated lease connection", time.monotonic() - since)
        await asyncio.wait_for(watching, 1)  # returns after reporting
        assert not lease.held and not await lease.is_held()
        # Once lost, the same lease can go back to standby and win again.
        await asyncio.wait_for(lease.acquire(POLL), 5)
        assert await lease.is_held()


async def test_watch_keeps_quiet_while_the_lease_is_held(postgres_database: str) -> None:
    async with leases(postgres_database, 1) as (lease,):
        await lease.acquire(POLL)

        async def on_lost() -> None:
            raise AssertionError("the lease was not lost")

        watching = asyncio.create_task(lease.watch(on_lost, interval=0.05))
        await asyncio.sleep(0.5)
        assert not watching.done()
        watching.cancel()
        with pytest.raises(asyncio.CancelledError):
            await watching
        assert await lease.is_held()


async def test_a_frozen_holder_loses_the_lease_and_finds_out_when_it_wakes(
    postgres_database: str,
) -> None:
    """SIGSTOP stands for a holder cut off from the database: its TCP connection stays up.

    The server's idle_session_timeout ends the silent session and frees the lock; the holder,
    once running again, sees its lease gone and reports it rather than carrying on.
    """
    async with admin(postgres_database) as connection:
        if connection.get_server_version().major < 14:
            pytest.skip("idle_session_timeout needs PostgreSQL 14 or later")
    session_timeout = 1.5
    async with (
        holder_process(postgres_database, session_timeout) as holder,
        leases(postgres_database, 1) as (standby,),
    ):
        holder.send_signal(signal.SIGSTOP)
        since = time.monotonic()
        try:
            took = await timed_acquire(standby, since, TAKEOVER_LIMIT)
        finally:
            holder.send_signal(signal.SIGCONT)
        report(f"takeover from a frozen holder (session timeout {session_timeout} s)", took)
        assert session_timeout - 0.5 < took < session_timeout + PROMPT
        line = await asyncio.wait_for(holder.stdout.readline(), 5)
        assert line.strip() == b"lost"
        assert await standby.is_held()


async def test_a_database_failure_while_active_means_standby_not_exit() -> None:
    """The database failing as the Application loads its state (just after an outage, say)
    sends the process back to standby to try again; it does not end ``marac-bot run``."""
    lease = SingleProcessLease()
    stop = asyncio.Event()
    built: list[str] = []
    async with BotApiStandIn() as server:

        async def make_app() -> Any:
            if not built:
                built.append("refused")
                raise ConnectionRefusedError("the database is still coming back")
            built.append("application")
            return application_builder(server).updater(None).build()

        async def start_updates(application: Any) -> StopUpdates | None:
            stop.set()  # active and running: that is all this test needs to see
            return None

        await asyncio.wait_for(
            run_as_leader(
                make_app, lease, stop=stop, poll_seconds=0.01, start_updates=start_updates
            ),
            10,
        )
    assert built == ["refused", "application"]
    assert not lease.held


async def test_any_other_failure_while_active_ends_the_run_and_frees_the_lease() -> None:
    lease = SingleProcessLease()

    async def make_app() -> Any:
        raise ValueError("a bug, not an outage")

    with pytest.raises(ValueError):
        await asyncio.wait_for(run_as_leader(make_app, lease, poll_seconds=0.01), 10)
    assert not lease.held


class _ConnectionMidOperation:
    """What asyncpg leaves when the server ends the session as a check is being sent."""

    def __init__(self) -> None:
        self.terminated = False

    def is_closed(self) -> bool:
        return self.terminated

    async def fetchval(self, *args: Any, **kwargs: Any) -> Any:
        raise asyncpg.InternalClientError("cannot switch to state 11; another operation")

    def terminate(self) -> None:
        self.terminated = True


async def test_a_connection_left_mid_operation_means_the_lease_is_lost() -> None:
    """Seen once under load after pg_terminate_backend: the check must answer, not raise."""
    lease = LeaderLease("postgresql://nobody@127.0.0.1:1/none")
    connection = _ConnectionMidOperation()
    lease._connection = connection  # type: ignore[assignment]
    lease._held = True
    assert await lease.is_held() is False
    assert connection.terminated

"""Quick SQLite statements run on the event loop's thread; slow ones and those that meet a
lock go to aiosqlite's worker thread, so the loop stays free (storage.sqlite_inline).

What a person would notice if this went wrong: a reply that waits behind another process's
write, or everyone's replies stalled behind one long report. Each test keeps a ticker
running on the loop and checks it kept ticking while the database worked or waited."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from storage.db import OneTripConnection, create_engine
from storage.sqlite_inline import InlineStatements

# Counting to this many in a recursive query takes far longer than the inline budget.
SLOW_READ = (
    "SELECT count(*), thread_ident() FROM (WITH RECURSIVE c(x) AS "
    "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000000) SELECT x FROM c)"
)


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    made = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'inline.db'}")
    async with made.begin() as connection:
        await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
    yield made
    await made.dispose()


async def _driver(connection: AsyncConnection) -> OneTripConnection:
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert isinstance(driver, OneTripConnection)
    # Tells which thread evaluated a statement.
    driver.raw._conn.create_function("thread_ident", 0, threading.get_ident)
    return driver


class Ticker:
    """Ticks on the event loop; the longest gap between ticks is how long the loop was held."""

    def __init__(self) -> None:
        self.longest = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.002)
            now = time.perf_counter()
            self.longest = max(self.longest, now - last)
            last = now

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_a_quick_statement_runs_on_the_loops_own_thread(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await _driver(connection)
        ran_on = (await connection.execute(text("SELECT thread_ident()"))).scalar_one()
    assert ran_on == threading.get_ident()


async def test_a_long_read_moves_to_the_worker_thread_and_the_loop_stays_free(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        driver = await _driver(connection)
        with Ticker() as ticker:
            started = time.perf_counter()
            count, ran_on = (await connection.execute(text(SLOW_READ))).one()
            took = time.perf_counter() - started
        assert count == 2_000_000
        assert ran_on != threading.get_ident()  # finished in the worker thread
        assert ticker.longest < took / 3, (ticker.longest, took)
        # Remembered: next time it goes straight to the worker thread.
        assert isinstance(driver.inline, InlineStatements)
        assert not driver.inline.allows(SLOW_READ)


async def test_a_write_waits_for_another_writers_lock_without_holding_the_loop(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "inline.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO notes (body) VALUES ('written by another process')")

    async def write() -> None:
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO notes (body) VALUES ('ours')"))

    with Ticker() as ticker:
        ours = asyncio.create_task(write())
        await asyncio.sleep(0.3)
        assert not ours.done()  # waiting for the other writer, in the worker thread
        other.execute("COMMIT")
        await asyncio.wait_for(ours, timeout=30)
    other.close()
    assert ticker.longest < 0.25, ticker.longest
    async with engine.connect() as connection:
        bodies = (await connection.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
        assert list(bodies) == ["written by another process", "ours"]


async def test_an_interrupted_read_leaves_the_transaction_open(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await _driver(connection)
        await connection.execute(text("INSERT INTO notes (body) VALUES ('kept')"))
        count, _ = (await connection.execute(text(SLOW_READ))).one()
        assert count == 2_000_000
        await connection.execute(text("INSERT INTO notes (body) VALUES ('kept too')"))
    async with engine.connect() as connection:
        bodies = (await connection.execute(text("SELECT body FROM notes ORDER BY id"))).scalars()
        assert list(bodies) == ["kept", "kept too"]


async def test_a_long_write_is_remembered_and_errors_are_as_before(engine: AsyncEngine) -> None:
    bulk = (
        "INSERT INTO notes (body) WITH RECURSIVE c(x) AS "
        "(SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT 'n' || x FROM c"
    )
    async with engine.begin() as connection:
        driver = await _driver(connection)
        await connection.execute(text(bulk))
        assert driver.inline is not None and not driver.inline.allows(bulk)
    async with engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM notes"))).scalar() == 200_000
    with pytest.raises(IntegrityError):
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO notes (id, body) VALUES (1, 'again')"))

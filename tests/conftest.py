"""Shared fixtures: every storage and end-to-end test runs on SQLite and on PostgreSQL.

PostgreSQL is used whenever it answers at MARAC_TEST_POSTGRES_URL (default: the
local server). When MARAC_REQUIRE_POSTGRES=1 (as in CI) an unreachable server
fails the run instead of skipping those tests.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import ManualClock
from bot.runtime import Runtime, open_runtime
from config import Settings
from storage.crypto import KeyRing
from storage.keyfile import key_ring_from_document, new_key_document
from storage.migrate import upgrade
from tests.support.keys import TRANSIT_KEY
from tests.support.vault_transit import VaultTransitStandIn

ADMIN_URL = os.environ.get("MARAC_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
T = TypeVar("T")
TEST_DATABASE = f"marac_test_{os.getpid()}"
_pg_state: dict[str, bool] = {}
_pg_snapshot: dict[str, str] = {}


def _run_outside_loop(coroutine: Coroutine[Any, Any, T]) -> T:
    """Session fixtures may be set up while a test's event loop runs; use a thread of our own."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def _postgres_reachable() -> bool:
    if "ok" not in _pg_state:

        async def probe() -> bool:
            try:
                connection = await asyncpg.connect(ADMIN_URL, timeout=3)
            except (OSError, asyncpg.PostgresError, TimeoutError):
                return False
            await connection.close()
            return True

        _pg_state["ok"] = _run_outside_loop(probe())
    return _pg_state["ok"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "sqlite_only: storage detail that only exists on SQLite")


@pytest.fixture(scope="session")
def postgres_database() -> str:
    """A throwaway database for this test run, dropped at the end."""
    if not _postgres_reachable():
        if os.environ.get("MARAC_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required but not reachable at {ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable; set MARAC_REQUIRE_POSTGRES=1 to make this fail")

    async def create() -> None:
        connection = await asyncpg.connect(ADMIN_URL)
        await connection.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}"')
        await connection.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
        await connection.close()

    _run_outside_loop(create())
    base = ADMIN_URL.rsplit("/", 1)[0]
    return f"{base}/{TEST_DATABASE}".replace("postgresql://", "postgresql+asyncpg://", 1)


async def _reset_postgres(url: str) -> None:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    await connection.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
    await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/marac.db"
    url = str(request.getfixturevalue("postgres_database"))
    await _reset_postgres(url)
    return url


@pytest.fixture
def key_ring() -> KeyRing:
    return key_ring_from_document(new_key_document(), "test")


@pytest.fixture
def key_document() -> dict[str, Any]:
    """A fresh key file's contents, for tests that write or rotate key files."""
    return new_key_document()


@pytest.fixture
async def transit() -> AsyncIterator[VaultTransitStandIn]:
    """The Vault transit stand-in with the bot's key already made."""
    async with VaultTransitStandIn() as server:
        server.create_key(TRANSIT_KEY)
        yield server


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 26, 9, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        key_file=tmp_path / "keys.json",
        telegram_token="123456:TEST-standin-token-abcdefghijklmnopqrstuv",  # type: ignore[arg-type]
    )


async def migrate_for_test(engine: AsyncEngine, url: str) -> None:
    """The schema the migrations make, for one test.

    On PostgreSQL the first test of the run applies the real migrations and the result is
    dumped (schema plus the rows the migrations seed) with pg_dump; later tests load that
    dump in one round trip instead of replaying every migration (about 0.3 s each, which
    over several hundred tests was half the suite). Migrations themselves are still tested
    for real (tests/integration/test_storage.py, test_cli.py). Without pg_dump they run
    every time. On SQLite the first test migrates a template database file and every later
    test starts from a copy of it, before its engine first connects.
    """
    if engine.dialect.name != "postgresql":
        await _sqlite_from_template(engine, url)
        return
    if "schema" not in _pg_snapshot:
        await upgrade(engine)
        _pg_snapshot["schema"] = await _dump_schema(url)
        return
    if not _pg_snapshot["schema"]:
        await upgrade(engine)
        return
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        await connection.execute(_pg_snapshot["schema"])
    finally:
        await connection.close()


_sqlite_template: dict[str, Path] = {}


def _copy_template(target: Path) -> bool:
    """Start ``target`` as a copy of the migrated template; False when there is none yet."""
    template = _sqlite_template.get("path")
    if template is None or target.exists():
        return False
    shutil.copyfile(template, target)
    return True


def _keep_template(migrated: Path) -> None:
    made = Path(tempfile.mkdtemp(prefix="marac-template-")) / "migrated.db"
    shutil.copyfile(migrated, made)
    _sqlite_template["path"] = made


async def _sqlite_from_template(engine: AsyncEngine, url: str) -> None:
    target = Path(url.split("///", 1)[1])
    if _copy_template(target):
        return
    await upgrade(engine)
    if "path" not in _sqlite_template:
        await engine.dispose()  # every page in the main file, nothing left in the WAL
        _keep_template(target)


async def _dump_schema(url: str) -> str:
    """pg_dump of the freshly migrated database as plain INSERTs, or "" if it cannot run."""
    plain = url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        process = await asyncio.create_subprocess_exec(
            "pg_dump",
            "--no-owner",
            "--no-privileges",
            "--inserts",
            "--dbname",
            plain,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return ""
    out, _ = await process.communicate()
    if process.returncode != 0:
        return ""
    # psql meta-commands (recent pg_dump writes backslash-restrict lines) are for psql only;
    # the dump empties search_path for its own session, and its names are schema-qualified.
    lines = out.decode().splitlines()
    return "\n".join(line for line in lines if not line.startswith("\\"))


@pytest.fixture
async def runtime(
    settings: Settings, key_ring: KeyRing, clock: ManualClock
) -> AsyncIterator[Runtime]:
    rt = open_runtime(settings, clock=clock, key_ring=key_ring)
    await migrate_for_test(rt.engine, settings.database_url)
    try:
        yield rt
    finally:
        await rt.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not _pg_state.get("ok"):
        return

    async def drop() -> None:
        try:
            connection = await asyncpg.connect(ADMIN_URL)
            await connection.execute(f'DROP DATABASE IF EXISTS "{TEST_DATABASE}" WITH (FORCE)')
            await connection.close()
        except (OSError, asyncpg.PostgresError):
            pass

    _run_outside_loop(drop())

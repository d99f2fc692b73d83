"""An erased case leaves nothing in the database's files that the database could still remove.

SQLite: deleted content is overwritten (``secure_delete``, asked for on every connection, not
left to how SQLite was built) and the write-ahead log is cut back after an erasure, so the
case's wrapped data key and sealed values are in no file. PostgreSQL: the tables an erasure
touched are vacuumed straight after it, so its rows do not linger as dead tuples.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.retention import RetentionService
from storage.models import Case, DataKey
from tests.support.retention import build_world
from tests.support.sqlite_builds import files_holding, use_build_without_secure_delete
from tests.support.waiting import eventually

ERASED_TABLES = ("cases", "case_events", "actions", "research_returns", "data_keys")


@pytest.fixture
def build_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_build_without_secure_delete(monkeypatch)
    yield


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_the_bots_sqlite_connections_overwrite_deleted_content(
    build_without_secure_delete: None, runtime: Runtime
) -> None:
    async with runtime.engine.connect() as connection:
        assert await connection.scalar(text("PRAGMA secure_delete")) == 1
    async with runtime.sessions() as session:
        assert await session.scalar(text("PRAGMA secure_delete")) == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_an_erased_case_is_in_no_sqlite_file(
    build_without_secure_delete: None, runtime: Runtime, clock: ManualClock, tmp_path: Path
) -> None:
    world = await build_world(runtime, clock)
    async with runtime.sessions() as session:
        case = await session.get(Case, world.full)
        assert case is not None and case.data_key_id and case.victim_sealed
        key = await session.get(DataKey, case.data_key_id)
        assert key is not None
        secrets = (bytes(key.wrapped), bytes(case.victim_sealed))
    async with runtime.engine.connect() as connection:  # everything written to the files
        await connection.exec_driver_sql("PRAGMA wal_checkpoint(FULL)")
    assert files_holding(tmp_path, *secrets)  # the check can see them before

    erased = await RetentionService(runtime.deps).erase_due(date(2032, 12, 11))
    assert world.full in [item.case_id for item in erased]

    assert files_holding(tmp_path, *secrets) == []


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_postgresql_vacuums_what_a_retention_run_erased(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    assert await vacuumed(runtime, ERASED_TABLES) == {}  # only autovacuum so far, if anything

    erased = await RetentionService(runtime.deps).erase_due(date(2032, 12, 11))
    assert world.full in [item.case_id for item in erased]

    await wait_until_vacuumed(runtime, ERASED_TABLES)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_postgresql_vacuums_after_expired_drafts_are_erased(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    await runtime.services.referrals.start(world.police_rep)
    clock.advance(timedelta(days=30))  # long past the 7 days a draft is kept
    assert await runtime.services.referrals.erase_expired_drafts() == 1
    await wait_until_vacuumed(runtime, ("referral_drafts", "data_keys"))


async def vacuumed(runtime: Runtime, tables: tuple[str, ...]) -> dict[str, int]:
    """Dead rows left, per table a manual VACUUM has run on (autovacuum does not count)."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(text("relname"), text("n_dead_tup"))
            .select_from(text("pg_stat_user_tables"))
            .where(text("relname = ANY(:tables)"), text("last_vacuum IS NOT NULL"))
            .params(tables=list(tables))
        )
        return {str(name): int(dead) for name, dead in rows.all()}


async def wait_until_vacuumed(runtime: Runtime, tables: tuple[str, ...]) -> None:
    """PostgreSQL publishes a VACUUM's statistics when it ends; poll for them, with a limit."""

    async def done() -> bool:
        return await vacuumed(runtime, tables) == dict.fromkeys(tables, 0)

    await eventually(done, f"VACUUM of {', '.join(tables)} with no dead rows left")

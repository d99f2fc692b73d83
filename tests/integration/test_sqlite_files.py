"""The SQLite database on disk: readable by its owner only, and erased pages overwritten."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.db import create_engine
from storage.migrate import upgrade


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask a login shell or a container usually has, which leaves files world-readable."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


async def test_a_new_database_and_its_wal_files_are_readable_by_the_owner_only(
    tmp_path: Path, usual_umask: None
) -> None:
    database = tmp_path / "marac.db"
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        await upgrade(engine)  # as `marac-bot init` or `migrate` makes it
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE scratch (value TEXT)"))
            await connection.execute(text("INSERT INTO scratch VALUES ('x')"))
            wal = Path(f"{database}-wal")
            shm = Path(f"{database}-shm")
            modes = {path.name: oct(mode(path)) for path in (database, wal, shm)}
            assert modes == {"marac.db": "0o600", "marac.db-wal": "0o600", "marac.db-shm": "0o600"}
    finally:
        await engine.dispose()
    assert mode(database) == 0o600


async def test_an_existing_database_keeps_the_mode_its_operator_gave_it(
    tmp_path: Path, usual_umask: None
) -> None:
    database = tmp_path / "marac.db"
    database.touch(mode=0o640)
    database.chmod(0o640)
    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert mode(database) == 0o640

"""Creating and upgrading the schema, only ever through Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.migration_keys import KEYS_ATTRIBUTE, KeySourceFactory

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


async def upgrade(
    engine: AsyncEngine, revision: str = "head", *, keys: KeySourceFactory | None = None
) -> None:
    """Upgrades the schema; on PostgreSQL on a connection of its own with no statement time-out,
    since a backfill over a large table may take far longer than any handler's statement.

    ``keys`` builds the key source for a migration that must seal or open values
    (``storage.migration_keys``); it is called only if one has rows to work on.
    """
    config = alembic_config()

    def _run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        config.attributes[KEYS_ATTRIBUTE] = keys
        command.upgrade(config, revision)

    if engine.dialect.name != "postgresql":
        async with engine.begin() as connection:
            # Python's sqlite3 opens a transaction only before INSERT/UPDATE/DELETE, so every
            # CREATE, ALTER and DROP would commit at once: a migration that stops half-way
            # (one that needs the keys and was given none) would leave its own and the earlier
            # migrations' changes behind. BEGIN first, and the whole upgrade is one transaction,
            # committed or rolled back as one, as on PostgreSQL.
            await connection.exec_driver_sql("BEGIN")
            await connection.run_sync(_run)
        return
    from storage.db import create_engine

    unlimited = create_engine(
        engine.url.render_as_string(hide_password=False), command_timeout=None
    )
    try:
        async with unlimited.begin() as connection:
            await connection.run_sync(_run)
    finally:
        await unlimited.dispose()


async def current_revision(engine: AsyncEngine) -> str | None:
    def _read(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with engine.connect() as connection:
        return await connection.run_sync(_read)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()

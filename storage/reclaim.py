"""Leaving as little as possible of erased rows in the database's files.

Erasure destroys a record's data key and deletes its rows (crypto-shredding), but a deleted
row is not gone from disk at once:

* **PostgreSQL** keeps a deleted row as a dead tuple, sealed values and the wrapped data key
  included, until a VACUUM removes it; autovacuum may not come for hours on a quiet table.
  :func:`reclaim_erased` runs ``VACUUM`` on the tables an erasure touched, straight after it.
  VACUUM cannot run inside a transaction, so it runs on an AUTOCOMMIT connection of its own,
  with no statement time-out (a large table may take longer than any handler's statement).
  Plain VACUUM takes no lock that stops the bot reading or writing; VACUUM FULL would rewrite
  the table under an exclusive lock, so it is left to the operator. What plain VACUUM cannot
  promise: it frees the dead tuples, but the bytes of one at the edge of a page's free space
  may stay on that page until the space is reused. That, the write-ahead log and backups are
  why erasure is crypto-shredding first and a key-encryption key rotation after
  (``storage.rotation.rotate_after_erasure``): a leftover copy holds nothing anyone can open.
* **SQLite** overwrites deleted content with zeros (``PRAGMA secure_delete``, set on every
  connection by ``storage.db``), but the write-ahead log still holds earlier versions of the
  changed pages until it is checkpointed and cut back: ``wal_checkpoint(TRUNCATE)`` does both.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from storage.db import create_engine

log = logging.getLogger("marac.storage")

# The tables erasing a case or a referral draft deletes from (bot.services.retention).
ERASURE_TABLES: Final = (
    "cases",
    "case_events",
    "case_exclusions",
    "agenda_items",
    "research_returns",
    "actions",
    "action_steps",
    "perpetrator_referrals",
    "perpetrator_steps",
    "victim_voice_entries",
    "victim_outcome_replies",
    "case_risk_summaries",
    "dash_assessments",
    "case_transfers",
    "handover_notes",
    "outbox",
    "referral_drafts",
    "data_keys",
)


# VACUUM again, after 0.2, 0.4, 0.8 s, the tables whose erased rows a running transaction could
# still see the first time.
VACUUM_ATTEMPTS: Final = 4
RETRY_DELAY_SECONDS: Final = 0.2


def engine_of(sessions: async_sessionmaker[AsyncSession]) -> AsyncEngine:
    bind = sessions.kw.get("bind")
    if not isinstance(bind, AsyncEngine):
        raise TypeError("the session factory is not bound to an engine")
    return bind


async def reclaim_erased(
    sessions: async_sessionmaker[AsyncSession], tables: Sequence[str] = ERASURE_TABLES
) -> None:
    """VACUUM ``tables`` (PostgreSQL) or checkpoint and truncate the WAL (SQLite).

    Call it after the erasing transaction has committed. Only names from this codebase are
    passed (never user input); each is quoted all the same.
    """
    engine = engine_of(sessions)
    if engine.dialect.name == "postgresql":
        await _vacuum(engine, tables)
    elif engine.dialect.name == "sqlite":
        async with engine.connect() as connection:
            await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


async def _vacuum(engine: AsyncEngine, tables: Sequence[str]) -> None:
    """VACUUM, then again (after a short wait) the tables PostgreSQL says still hold dead rows.

    VACUUM cannot remove a row that a transaction begun before the erasure committed may still
    see: one of the bot's own short transactions running at that moment is enough. Such rows
    are counted as dead in ``pg_stat_user_tables`` after the VACUUM, and a moment later they
    can go. A table that keeps changing (the outbox) may never reach zero: after
    :data:`VACUUM_ATTEMPTS` the rest is left to autovacuum.
    """
    pending = list(tables)
    unlimited = create_engine(
        engine.url.render_as_string(hide_password=False), command_timeout=None
    )
    try:
        async with unlimited.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            for attempt in range(VACUUM_ATTEMPTS):
                if attempt:
                    await asyncio.sleep(RETRY_DELAY_SECONDS * 2 ** (attempt - 1))
                preparer = engine.dialect.identifier_preparer
                names = ", ".join(preparer.quote(name) for name in pending)
                await autocommit.exec_driver_sql(f"VACUUM {names}")
                pending = await _still_dead(autocommit, pending)
                if not pending:
                    break
    finally:
        await unlimited.dispose()
    if pending:
        log.info("after erasure, dead rows are left for autovacuum in: %s", ", ".join(pending))
    else:
        log.info("vacuumed %d table(s) after erasure", len(tables))


async def _still_dead(connection: AsyncConnection, tables: Sequence[str]) -> list[str]:
    """The tables among ``tables`` whose last VACUUM left dead rows (statistics are read in a
    transaction of their own, so they are the ones that VACUUM just reported)."""
    rows = await connection.execute(
        text(
            "SELECT relname FROM pg_stat_user_tables "
            "WHERE schemaname = current_schema() AND relname = ANY(:tables) AND n_dead_tup > 0"
        ),
        {"tables": list(tables)},
    )
    dead = {str(name) for (name,) in rows.all()}
    return [name for name in tables if name in dead]

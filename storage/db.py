"""Async engine and session factory for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import socket
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool


def create_engine(url: str, *, echo: bool = False) -> AsyncEngine:
    """An engine tuned for the database behind ``url``.

    SQLite gets WAL, foreign keys and a busy timeout on every connection, and a
    single pooled connection: SQLite allows one writer at a time anyway, and
    queueing in the pool avoids "database is locked" failures between the
    bot's own handlers and jobs.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        memory = database in ("", ":memory:")
        options: dict[str, Any] = {"echo": echo, "hide_parameters": True}
        if memory:
            options["poolclass"] = NullPool
        else:
            options.update(pool_size=1, max_overflow=0, pool_timeout=60)
        engine = create_async_engine(url, **options)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_async_engine(
        url, echo=echo, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=5
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether a failure means the database could not be reached (worth "try again shortly")."""
    # ConnectionError covers refused and reset connections, gaierror an unknown host name;
    # plain OSError would also catch unrelated time-outs and file errors.
    if isinstance(error, PoolTimeout | OperationalError | InterfaceError | ConnectionError):
        return True
    if isinstance(error, socket.gaierror):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated

"""Async engine and session factory for SQLite (embedded default) and PostgreSQL.

Every update costs a handful of statements, so the fixed cost of one statement matters more
here than any single query plan:

* **SQLite** runs in aiosqlite's worker thread. SQLAlchemy's adapter makes four trips to that
  thread per SELECT (make a cursor, execute, fetch, close) and three per write, and each trip
  is a thread hand-over (a queue put, the GIL changing hands, a wake-up of the event loop) that
  costs far more than the statement itself. :class:`OneTripConnection` does the whole statement,
  rows included, in one trip, and a quick statement in none: it runs on the event loop's own
  thread, within limits that keep the loop free (``storage.sqlite_inline``: never waiting for
  a lock, a read moved to the worker thread after a few milliseconds). Transactions, errors
  and isolation levels are unchanged: the same ``sqlite3`` connection runs the same statements.
* **PostgreSQL**: ``pool_pre_ping`` sends a round trip before every checkout, and an update
  checks a connection out several times. A connection returned moments ago is pinged for
  nothing, so only connections that sat idle in the pool for :data:`PING_AFTER_IDLE_SECONDS`
  are pinged, which still catches those a database restart or a failover left behind while
  the bot was quiet. A connection cut while in use fails that one statement as before, which
  ``is_database_unavailable`` turns into "try again shortly", and SQLAlchemy then discards the
  whole pool.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections import deque
from collections.abc import Iterable, Mapping
from threading import Thread
from typing import Any, Final

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine.url import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from storage.audit_key import SESSION_INFO_KEY as AUDIT_KEY_INFO
from storage.audit_key import AuditKey
from storage.sqlite_inline import (
    BUSY_TIMEOUT_MS,
    InlineStatements,
    end_inline,
    end_waiting,
    execute,
    execute_waiting,
    try_inline,
)

# A pooled PostgreSQL connection idle for longer than this is pinged before it is used again.
PING_AFTER_IDLE_SECONDS: Final = 5.0
# PostgreSQL time-outs (seconds): opening a connection, one statement, waiting for a free
# pooled connection. A frozen pooled connection costs COMMAND_TIMEOUT (its ping) plus about 2 s.
CONNECT_TIMEOUT: Final = 5.0
COMMAND_TIMEOUT: Final = 8.0
POOL_TIMEOUT: Final = 10.0
_DRIVER_MODULES: Final = ("asyncpg", "sqlalchemy", "aiosqlite")
# sqlite3 keeps this many prepared statements per connection (Python's default is 128); the
# bot has more distinct statements than that, and a re-prepare costs a parse and a plan.
SQLITE_CACHED_STATEMENTS: Final = 512
_RETURNED_AT: Final = "marac_returned_at"

_Description = tuple[tuple[str, None, None, None, None, None, None], ...] | None


class OneTripCursor:
    """The part of aiosqlite's cursor that SQLAlchemy's adapter uses, one thread trip each.

    Rows are fetched with the statement, as SQLAlchemy's (non-streaming) adapter does anyway
    straight after executing; ``fetch*`` and ``close`` then need no trip at all.
    """

    __slots__ = ("_connection", "_rows", "arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._rows: deque[Any] = deque()
        self.arraysize = 1
        self.description: _Description = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def _run(self, sql: str, parameters: Any, many: bool) -> OneTripCursor:
        raw = self._connection.raw
        inline = self._connection.inline
        outcome = None
        if inline is not None and inline.allows(sql):
            outcome = try_inline(raw._conn, inline, sql, parameters, many)
        if outcome is None:
            # aiosqlite's own cursor queues its work the same way; _execute is untyped there.
            outcome = await raw._execute(  # type: ignore[no-untyped-call]
                execute if inline is None else execute_waiting,
                raw._conn,
                sql,
                parameters,
                many,
            )
        description, rowcount, lastrowid, rows = outcome
        self.description, self.rowcount, self.lastrowid = description, rowcount, lastrowid
        self._rows = deque(rows)
        return self

    async def execute(self, sql: str, parameters: Any = None) -> OneTripCursor:
        return await self._run(sql, parameters, False)

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> OneTripCursor:
        return await self._run(sql, parameters, True)

    async def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = min(self.arraysize if size is None else size, len(self._rows))
        return [self._rows.popleft() for _ in range(count)]

    async def fetchall(self) -> list[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows

    async def close(self) -> None:
        self._rows.clear()


class OneTripConnection:
    """An aiosqlite connection whose cursors take one trip per statement.

    ``commit`` and ``rollback`` skip the trip when SQLite has no transaction open, where
    sqlite3's own would do nothing anyway. Everything else is aiosqlite's own connection
    (close, the worker thread, the queue SQLAlchemy uses to set isolation levels), reached
    through ``__getattr__``; only aiosqlite's ``_execute`` and ``_conn`` are used directly, as
    aiosqlite's own cursor does.
    """

    __slots__ = ("inline", "raw")

    def __init__(self, raw: aiosqlite.Connection, inline: InlineStatements | None) -> None:
        self.raw = raw
        # Quick statements on the event loop's thread (storage.sqlite_inline); None: every
        # statement in the worker thread (an in-memory database, tied to that thread).
        self.inline = inline

    async def cursor(self) -> OneTripCursor:
        return OneTripCursor(self)

    async def commit(self) -> None:
        await self._end(commit=True)

    async def rollback(self) -> None:
        await self._end(commit=False)

    async def _end(self, *, commit: bool) -> None:
        if not self._in_transaction():
            return  # as sqlite3's own commit does then: nothing, but without the thread trip
        if self.inline is None:
            await (self.raw.commit() if commit else self.raw.rollback())
        elif not end_inline(self.raw._conn, commit):
            await self.raw._execute(end_waiting, self.raw._conn, commit)  # type: ignore[no-untyped-call]

    def _in_transaction(self) -> bool:
        """Whether SQLite has a transaction open; a read alone (e.g. recognising who wrote)
        opens none, so ending it needs no trip to the worker thread.

        Safe to ask from the event loop: the connection is used by one session at a time and
        every statement on it has finished by the time the session commits or rolls back.
        """
        try:
            return bool(self.raw._conn.in_transaction)
        except sqlite3.ProgrammingError:
            return True  # tied to its own thread (":memory:"): let that thread decide

    def __getattr__(self, name: str) -> Any:
        return getattr(self.raw, name)


def create_private_file(database: str, connect_args: Mapping[str, Any]) -> None:
    """Create a new SQLite database file readable by its owner only (0600), like the key file.

    sqlite3 would create it 0644 (less the umask), readable by every local account. An empty
    file is a valid empty database, so making it here first, with ``O_EXCL`` and mode 0600,
    leaves no moment at which it exists with wider permissions. SQLite gives the ``-wal``,
    ``-shm`` and ``-journal`` files it creates beside a database the database file's own
    permissions, so they are 0600 too. This is preferred to narrowing the umask around the
    connect: the umask is process-wide, and the bot runs other threads (aiosqlite's workers,
    the workspace) that create files meanwhile. An existing file is left as it is; an
    in-memory database or a ``file:`` URI is left to SQLite.
    """
    if database in ("", ":memory:") or connect_args.get("uri") or database.startswith("file:"):
        return
    try:
        descriptor = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    except OSError:
        return  # a missing folder or no permission: sqlite3 reports it in its own words
    os.close(descriptor)


def _sqlite_creator(
    database: str, connect_args: Mapping[str, Any], inline: InlineStatements | None
) -> Any:
    if inline is not None:
        # The loop's thread runs quick statements on the connection the worker thread opened;
        # never both at once (each statement is awaited before the next is sent).
        connect_args = {**connect_args, "check_same_thread": False}

    async def connect() -> OneTripConnection:
        create_private_file(database, connect_args)
        raw = aiosqlite.connect(database, **connect_args)
        # As SQLAlchemy's own aiosqlite connect does: the worker must not keep Python alive.
        thread = getattr(raw, "_thread", raw)
        if isinstance(thread, Thread):
            thread.daemon = True
        return OneTripConnection(await raw, inline)

    return connect


def create_engine(
    url: str,
    *,
    echo: bool = False,
    command_timeout: float | None = COMMAND_TIMEOUT,
    updates_at_once: int = 1,
) -> AsyncEngine:
    """An engine tuned for the database behind ``url``.

    ``updates_at_once`` (PostgreSQL) sizes the pool: an update holds at most one connection at
    a time, so one each, two for the housekeeping and outbox jobs beside them, and five spare.

    ``command_timeout`` (PostgreSQL) is for the bot, whose statements are all short; a
    migration or a bulk load that may legitimately run for minutes passes None.

    SQLite gets WAL, foreign keys, secure delete and a busy timeout on every connection, and a
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
        # The arguments SQLAlchemy would pass to sqlite3.connect for this URL, plus ours.
        args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
        kwargs.setdefault("cached_statements", SQLITE_CACHED_STATEMENTS)
        inline = None if memory else InlineStatements()
        engine = create_async_engine(
            url,
            async_creator=_sqlite_creator(args[0] if args else database, kwargs, inline),
            **options,
        )

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            if not memory:
                cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Deleted content is overwritten with zeros, so an erased case leaves no sealed
            # value or wrapped key in the file's free pages. Debian's SQLite happens to be
            # built with this on; most builds (python.org's, Homebrew's) are not.
            cursor.execute("PRAGMA secure_delete=ON")
            # Statements on the event loop's thread never wait for a lock: those that meet
            # one wait in the worker thread, with BUSY_TIMEOUT_MS (storage.sqlite_inline).
            cursor.execute(f"PRAGMA busy_timeout={0 if inline else BUSY_TIMEOUT_MS}")
            # In WAL mode a commit is durable against a crash of the bot; NORMAL gives up only
            # the last commits on a power cut, and spares an fsync on every commit.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    engine = create_async_engine(
        url,
        echo=echo,
        hide_parameters=True,
        pool_size=max(5, updates_at_once + 2),
        max_overflow=5,
        pool_timeout=POOL_TIMEOUT,
        # A server that stops answering (hung, or cut off without a reset) must fail a handler
        # within seconds, not when TCP gives up many minutes later: updates are handled one at
        # a time, so everyone would wait. asyncpg's own connect default is 60 s, and without
        # command_timeout a statement (or a ping) on a silent connection never returns.
        connect_args={"timeout": CONNECT_TIMEOUT, "command_timeout": command_timeout},
    )
    _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Pre-ping only connections that were idle long enough to have gone stale unnoticed."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "connect")
    def _connected(_dbapi_connection: Any, record: Any) -> None:
        record.info.pop(_RETURNED_AT, None)  # brand new: nothing to check

    @event.listens_for(pool, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        if driver is not None and driver.is_closed():
            # The server closed it (a restart, a failover) and the driver already knows: free
            # to check, and however recently it was returned, it must not be handed out.
            raise DisconnectionError("connection closed by the server")
        returned = record.info.get(_RETURNED_AT)
        if returned is None or time.monotonic() - returned < PING_AFTER_IDLE_SECONDS:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool drops this connection and checks out (or opens) another one.
            raise DisconnectionError("idle connection no longer answers") from error


async def single_statement_session(session: AsyncSession) -> None:
    """Run the session's statements without BEGIN and COMMIT on PostgreSQL.

    For a session that runs one statement, or only reads: each statement is atomic on its own,
    and the two round trips saved are a fair share of a short update's time. SQLite keeps its
    implicit transactions, whose BEGIN costs no trip of its own; commit the session as usual.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def create_session_factory(
    engine: AsyncEngine, *, audit_key: AuditKey | None
) -> async_sessionmaker[AsyncSession]:
    """Sessions that carry the audit key in ``Session.info``, where storage.audit finds it.

    The key rides with the session rather than being passed to every ``append_event``: nearly
    every service records events, and a factory built once with the runtime's key source
    cannot forget it. ``None`` is for tools that only read (``keys status``): recording or
    verifying an event in such a session is refused.
    """
    info = {AUDIT_KEY_INFO: audit_key} if audit_key is not None else {}
    return async_sessionmaker(engine, expire_on_commit=False, info=info)


def is_database_unavailable(error: BaseException) -> bool:
    """Whether a failure means the database could not be reached (worth "try again shortly")."""
    # ConnectionError covers refused and reset connections, gaierror an unknown host name;
    # plain OSError would also catch unrelated time-outs and file errors.
    if isinstance(error, PoolTimeout | OperationalError | InterfaceError | ConnectionError):
        return True
    if isinstance(error, socket.gaierror):
        return True
    if isinstance(error, TimeoutError) and _raised_in_driver(error):
        # asyncpg's connect and command time-outs: a server that stopped answering.
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _raised_in_driver(error: BaseException) -> bool:
    """Whether the traceback passes through the database driver (not only, say, our own
    ``asyncio.timeout``, whose TimeoutError starts in the code that set it)."""
    frame = error.__traceback__
    while frame is not None:
        if str(frame.tb_frame.f_globals.get("__name__", "")).split(".")[0] in _DRIVER_MODULES:
            return True
        frame = frame.tb_next
    return False

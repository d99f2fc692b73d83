"""SQLite statements run on the event loop's own thread when they are quick.

Why: aiosqlite runs every statement in a worker thread so that a slow one never blocks the
event loop. The hand-over costs about 60-80 µs of CPU per statement (a queue, the GIL changing
hands twice, a wake-up of the loop), while the statements on the bot's hot paths — recognising
the person, the access policy's reads, the audit chain, one page of actions — take 3-50 µs
each in SQLite itself. Issue #20's profile of ``/actions`` (13 statements) put the hand-overs
at about a fifth of the bot's whole cost per update.

So a statement is first tried on the loop's thread, within limits that keep the loop as free
as the worker thread did:

* **Never wait for a lock.** The connection's busy timeout is 0 on the loop's thread; a
  statement that finds the database locked (another process writing) goes to the worker
  thread, which waits for the lock with the full busy timeout, as every statement did before.
  A statement that failed with SQLITE_BUSY had no effect, so running it again is safe.
* **Never run long.** A read is interrupted when it has run for :data:`INLINE_BUDGET_SECONDS`
  (SQLite's progress handler) and run again in the worker thread; an interrupted read has no
  effect and leaves the transaction as it was (checked: if SQLite ever rolled it back, that
  is raised, not hidden). Writes are never interrupted (SQLite would roll back the whole
  transaction), so a write is timed instead.
* **Remember.** A statement that needed the worker thread for its length (a report over every
  case, an erasure) goes straight there next time; a lock is a moment's state and is not
  remembered.

PostgreSQL is untouched: asyncpg has no worker thread.
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

# How long a read may hold the event loop before it is moved to the worker thread. A hot-path
# statement takes well under a millisecond; a person's reply waits at most this much longer.
INLINE_BUDGET_SECONDS: Final = 0.004
# SQLite virtual-machine steps between two looks at the clock (a few microseconds of work).
PROGRESS_STEPS: Final = 1_000
# The busy timeout statements in the worker thread wait for a lock with (as before).
BUSY_TIMEOUT_MS: Final = 30_000
# Distinct slow statements remembered (SQL text); the bot has a few hundred statements.
REMEMBERED: Final = 1_024

_SQLITE_BUSY: Final = 5
_SQLITE_INTERRUPT: Final = 9

Outcome = tuple[Any, int, int | None, list[Any]]


class InlineStatements:
    """Which statements go straight to the worker thread: those that were too slow inline."""

    __slots__ = ("_slow", "budget")

    def __init__(self, budget: float = INLINE_BUDGET_SECONDS) -> None:
        self.budget = budget
        self._slow: OrderedDict[str, None] = OrderedDict()

    def allows(self, sql: str) -> bool:
        return sql not in self._slow

    def too_slow(self, sql: str) -> None:
        self._slow[sql] = None
        self._slow.move_to_end(sql)
        while len(self._slow) > REMEMBERED:
            self._slow.popitem(last=False)


def _code(error: sqlite3.Error) -> int:
    return int(getattr(error, "sqlite_errorcode", -1)) & 0xFF


def is_read(sql: str) -> bool:
    """A plain SELECT: the only statements it is safe to interrupt and run again."""
    return sql.lstrip()[:6].upper() == "SELECT"


def execute(connection: sqlite3.Connection, sql: str, parameters: Any, many: bool) -> Outcome:
    """Execute, fetch every row and close, as one piece of work (on whichever thread)."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(sql, parameters)
        else:
            cursor.execute(sql, () if parameters is None else parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def try_inline(
    connection: sqlite3.Connection,
    statements: InlineStatements,
    sql: str,
    parameters: Any,
    many: bool,
) -> Outcome | None:
    """The statement's outcome, or None when it must run in the worker thread instead."""
    read = is_read(sql) and not many
    started = time.perf_counter()
    if read:
        deadline = started + statements.budget
        was_in_transaction = connection.in_transaction
        connection.set_progress_handler(lambda: time.perf_counter() > deadline, PROGRESS_STEPS)
    try:
        outcome = execute(connection, sql, parameters, many)
    except sqlite3.OperationalError as error:
        code = _code(error)
        if code == _SQLITE_BUSY:
            return None
        if read and code == _SQLITE_INTERRUPT:
            if was_in_transaction and not connection.in_transaction:
                raise sqlite3.OperationalError(
                    "an interrupted read rolled back its transaction"
                ) from error
            statements.too_slow(sql)
            return None
        raise
    finally:
        if read:
            connection.set_progress_handler(None, 0)
    if time.perf_counter() - started > statements.budget:
        statements.too_slow(sql)
    return outcome


@contextmanager
def _waiting_for_locks(connection: sqlite3.Connection) -> Iterator[None]:
    """In the worker thread: the full busy timeout for one piece of work, then the loop's 0."""
    connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    try:
        yield
    finally:
        connection.execute("PRAGMA busy_timeout=0")


def _end(connection: sqlite3.Connection, commit: bool) -> None:
    if commit:
        connection.commit()
    else:
        connection.rollback()


def execute_waiting(
    connection: sqlite3.Connection, sql: str, parameters: Any, many: bool
) -> Outcome:
    """In the worker thread: execute, waiting for a lock as long as the busy timeout allows."""
    with _waiting_for_locks(connection):
        return execute(connection, sql, parameters, many)


def end_inline(connection: sqlite3.Connection, commit: bool) -> bool:
    """Commit or roll back on the loop's thread; False when the worker thread must (a lock)."""
    try:
        _end(connection, commit)
    except sqlite3.OperationalError as error:
        if _code(error) == _SQLITE_BUSY:
            return False
        raise
    return True


def end_waiting(connection: sqlite3.Connection, commit: bool) -> None:
    """In the worker thread: commit or roll back, waiting for a lock as for a statement."""
    with _waiting_for_locks(connection):
        _end(connection, commit)

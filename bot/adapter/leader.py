"""Active/standby on PostgreSQL: one bot process acts, the others wait to take over.

Two or more ``marac-bot run`` processes may share one PostgreSQL database. Exactly one of them
is *active* (polls Telegram, or in webhook mode serves the webhook port, and runs the jobs that
send reminders); it is the one holding a session-level advisory lock on a dedicated database
connection of its own. The others are on *standby*: they poll ``pg_try_advisory_lock`` every
few seconds and start the bot as soon as they get the lock. In webhook mode a standby's port is
closed, so a reverse proxy with the instances as primary and ``backup`` upstreams sends
Telegram's posts to whichever is active; a new leader registers the webhook again on takeover.
Everything a new leader needs is already in the database: conversation states (written through
after each update by :mod:`bot.adapter.persistence`), sealed referral drafts, and the outbox, whose
rows are claimed with leases so no reminder goes out twice even if two processes ever dispatch
at once.

How the lock changes hands:

* **The active process dies** (crash, OOM kill, kill -9): its operating system closes the socket,
  PostgreSQL ends the session and with it the lock, and a standby gets the lock at its next
  poll, within ``poll_seconds`` (5 s by default).
* **Its lease connection is ended** (``pg_terminate_backend``, a database restart): asyncpg sees
  the socket close and the active process steps down at once, without waiting for a check.
* **It is cut off or frozen** (network partition, host gone, paused VM): the lease connection
  sets ``idle_session_timeout`` (PostgreSQL 14+) and short TCP keepalives, so the server ends
  the silent session after ``session_timeout`` (15 s) and frees the lock; a standby takes over
  at its next poll (about 20 s worst case). The cut-off process meanwhile sees its checks fail
  (every ``check_seconds``, each allowed ``check_timeout``: 7 s worst case, kept below
  ``session_timeout``) and stops taking updates and running jobs *before* the server lets
  anyone else take over.

The lease needs a direct (or session-pooled) connection: a transaction-pooling proxy such as
PgBouncer in transaction mode would hand the session, and the lock, to someone else.

On SQLite the bot is a single process by construction, so :meth:`LeaderLease.for_url` returns
a lease that is always granted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import signal
import socket
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

# Kept light: the lease itself needs only asyncpg, and a standby should start fast.
if TYPE_CHECKING:
    from aiohttp import web
    from telegram.ext import Application

    from bot.adapter.application import MaracApplication
    from bot.adapter.webhook import WebhookOptions
    from bot.clock import Clock
    from bot.runtime import Runtime
    from config import Settings

    AnyApplication: TypeAlias = Application[Any, Any, Any, Any, Any, Any]

__all__ = [
    "LEASE_NAMESPACE",
    "LeaderLease",
    "Lease",
    "SingleProcessLease",
    "StopUpdates",
    "lease_key",
    "run_as_leader",
    "serve",
    "start_polling",
]

log = logging.getLogger("marac.leader")

# Hashed with the database name into the advisory lock key. Advisory locks are already scoped
# to one database; the name keeps the key distinct from any other application's locks there.
LEASE_NAMESPACE: Final = "marac-bot/leader"
DEFAULT_POLL_SECONDS: Final = 5.0
DEFAULT_CHECK_SECONDS: Final = 5.0
DEFAULT_CHECK_TIMEOUT: Final = 2.0
DEFAULT_SESSION_TIMEOUT: Final = 15.0
DEFAULT_STOP_TIMEOUT: Final = 30.0
# SQLAlchemy's own options in a database URL; asyncpg.connect would reject them.
_DIALECT_ONLY: Final = frozenset(
    {"prepared_statement_cache_size", "prepared_statement_name_func", "async_creator_fn"}
)
_LOCK_HELD_SQL: Final = """
    SELECT EXISTS (
        SELECT 1 FROM pg_locks
        WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND granted
          AND classid = $1 AND objid = $2 AND objsubid = 1
    )
"""
# Anything that means "the database did not answer as it should": the lease is not provable.
# InternalClientError: asyncpg's protocol left mid-operation, as when the server ends the
# session (pg_terminate_backend, a failover) just as a check is sent; the connection is done.
_DATABASE_ERRORS: Final = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)

AppT = TypeVar("AppT", bound="AnyApplication")
# What ``start_updates`` may return: how to stop an update source PTB does not own (say, a
# webhook server of our own), awaited first when the bot stops.
StopUpdates = Callable[[], Awaitable[object]]
StartUpdates = Callable[["MaracApplication"], Awaitable[StopUpdates | None]]
# Faces the CLI adds: routes on the webhook's port, and a wrapper around polling's start.
Mount = Callable[["web.Application", "Runtime"], None]
WrapStart = Callable[["Runtime", StartUpdates], StartUpdates]


def lease_key(database: str, namespace: str = LEASE_NAMESPACE) -> int:
    """The advisory lock key: a stable signed 64-bit hash of the namespace and database name."""
    digest = hashlib.sha256(f"{namespace}:{database}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _lock_ids(key: int) -> tuple[int, int]:
    """How pg_locks shows a bigint advisory key: high and low 32 bits as classid and objid."""
    unsigned = key & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF


async def _sleep_unless(stop: asyncio.Event | None, seconds: float) -> None:
    if stop is None:
        await asyncio.sleep(seconds)
        return
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


class Lease(ABC):
    """Who may act. ``acquire`` waits for it, ``watch`` says when it is gone."""

    @property
    @abstractmethod
    def held(self) -> bool:
        """Whether this process believes it holds the lease (no database round trip)."""

    @abstractmethod
    async def acquire(
        self, poll_seconds: float = DEFAULT_POLL_SECONDS, stop: asyncio.Event | None = None
    ) -> None:
        """Wait on standby until the lease is ours, or until ``stop`` is set (check ``held``)."""

    @abstractmethod
    async def is_held(self) -> bool:
        """Whether the lease is still ours, proved against the database where there is one."""

    @abstractmethod
    async def release(self) -> None:
        """Give the lease up (if held) and close its connection; safe to call at any time."""

    async def _lost_signal(self) -> None:
        """Returns early when the lease is known to be gone without asking; never by default."""
        await asyncio.Event().wait()

    async def watch(
        self,
        on_lost: Callable[[], Awaitable[None]],
        interval: float = DEFAULT_CHECK_SECONDS,
    ) -> None:
        """Check the lease every ``interval`` seconds; once it is gone, call ``on_lost`` and return.

        Runs until then (or until cancelled), so start it as a task next to the work it guards.
        """
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost_signal(), interval)
            if not await self.is_held():
                await on_lost()
                return


class SingleProcessLease(Lease):
    """SQLite: one process by construction, so the lease is simply granted."""

    def __init__(self) -> None:
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    async def acquire(
        self, poll_seconds: float = DEFAULT_POLL_SECONDS, stop: asyncio.Event | None = None
    ) -> None:
        if stop is None or not stop.is_set():
            self._held = True

    async def is_held(self) -> bool:
        return self._held

    async def release(self) -> None:
        self._held = False


class LeaderLease(Lease):
    """A session-level advisory lock held on one dedicated asyncpg connection.

    The lock lives exactly as long as the connection's server session, so it needs no expiry
    and no clock: a dead process's session ends and the lock with it.
    """

    def __init__(
        self,
        url: str,
        *,
        namespace: str = LEASE_NAMESPACE,
        connect_timeout: float = 5.0,
        check_timeout: float = DEFAULT_CHECK_TIMEOUT,
        session_timeout: float | None = DEFAULT_SESSION_TIMEOUT,
    ) -> None:
        parsed = make_url(url)
        if parsed.get_backend_name() != "postgresql":
            raise ValueError("LeaderLease needs a PostgreSQL URL; use LeaderLease.for_url")
        if session_timeout is not None and session_timeout <= check_timeout:
            raise ValueError("session_timeout must be longer than check_timeout")
        # The same arguments SQLAlchemy's asyncpg dialect passes to asyncpg.connect.
        options: dict[str, Any] = parsed.translate_connect_args(
            username="user", database="database"
        )
        options.update(parsed.query)
        self._connect_args = {k: v for k, v in options.items() if k not in _DIALECT_ONLY}
        self.database = parsed.database or ""
        self.key = lease_key(self.database, namespace)
        self.connect_timeout = connect_timeout
        self.check_timeout = check_timeout
        self.session_timeout = session_timeout
        # Shown in pg_stat_activity, so an operator can see which host and process is active.
        self.application_name = f"marac-bot leader lease {socket.gethostname()}:{os.getpid()}"[:63]
        self._connection: Any = None  # asyncpg.Connection; asyncpg ships no type hints
        self._held = False
        self._lost = asyncio.Event()
        # asyncpg allows one operation at a time per connection; watch and release may overlap.
        self._io = asyncio.Lock()

    @staticmethod
    def for_url(url: str, **options: Any) -> Lease:
        """The lease for the bot's database URL: an advisory lock on PostgreSQL, none on SQLite."""
        backend = make_url(url).get_backend_name()
        if backend == "sqlite":
            return SingleProcessLease()
        if backend == "postgresql":
            return LeaderLease(url, **options)
        raise ValueError(f"no leader lease for {backend} databases")

    @property
    def held(self) -> bool:
        return self._held

    @property
    def backend_pid(self) -> int | None:
        """The server process of the lease connection (for pg_stat_activity, or to kill it)."""
        if self._connection is None or self._connection.is_closed():
            return None
        return int(self._connection.get_server_pid())

    # -- connection --------------------------------------------------------------------------

    async def _connect(self) -> Any:
        connection = await asyncpg.connect(
            **self._connect_args,
            timeout=self.connect_timeout,
            server_settings={"application_name": self.application_name},
        )
        try:
            if self.session_timeout is not None:
                await self._bound_session(connection, self.session_timeout)
        except BaseException:
            connection.terminate()
            raise
        connection.add_termination_listener(self._on_terminated)
        return connection

    async def _bound_session(self, connection: Any, seconds: float) -> None:
        """Have the server end this session soon after it stops hearing from us.

        That is what frees the lock of a process cut off from the database: its session would
        otherwise sit idle, holding the lock, until TCP gave up on it hours later.
        """
        keepalive = str(max(1, int(seconds / 4)))
        await connection.fetchval(
            "SELECT set_config('tcp_keepalives_idle', $1, false),"
            " set_config('tcp_keepalives_interval', $1, false),"
            " set_config('tcp_keepalives_count', '3', false)",
            keepalive,
            timeout=self.connect_timeout,
        )
        if connection.get_server_version().major >= 14:
            await connection.fetchval(
                "SELECT set_config('idle_session_timeout', $1, false)",
                str(int(seconds * 1000)),
                timeout=self.connect_timeout,
            )

    def _on_terminated(self, connection: Any) -> None:
        if connection is self._connection:
            self._lost.set()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        self._held = False
        if connection is not None and not connection.is_closed():
            connection.terminate()  # closing the socket ends the session and frees the lock

    # -- the lease ---------------------------------------------------------------------------

    async def _try_lock(self) -> bool:
        async with self._io:
            if self._connection is None or self._connection.is_closed():
                self._connection = None
                self._connection = await self._connect()
                self._lost.clear()
            got = await self._connection.fetchval(
                "SELECT pg_try_advisory_lock($1)", self.key, timeout=self.check_timeout
            )
            return bool(got)

    async def acquire(
        self, poll_seconds: float = DEFAULT_POLL_SECONDS, stop: asyncio.Event | None = None
    ) -> None:
        if self._held:
            return
        announced = False
        unreachable = False
        while stop is None or not stop.is_set():
            try:
                if await self._try_lock():
                    self._held = True
                    log.info(
                        "active: holding the leader lease on database %s (backend pid %s)",
                        self.database,
                        self.backend_pid,
                    )
                    return
                if not announced:
                    log.info("standby: another process holds the leader lease; waiting")
                    announced = True
                unreachable = False
            except asyncio.CancelledError:
                # The lock may have been granted as the request was abandoned: end the session.
                self._drop_connection()
                raise
            except _DATABASE_ERRORS as error:
                async with self._io:
                    self._drop_connection()
                if not unreachable:
                    log.warning(
                        "standby: cannot reach the database for the leader lease (%s); retrying",
                        type(error).__name__,
                    )
                    unreachable = True
            await _sleep_unless(stop, poll_seconds)

    async def is_held(self) -> bool:
        if not self._held:
            return False
        classid, objid = _lock_ids(self.key)
        try:
            async with self._io:
                connection = self._connection
                if connection is None or connection.is_closed():
                    held = False
                else:
                    held = bool(
                        await connection.fetchval(
                            _LOCK_HELD_SQL, classid, objid, timeout=self.check_timeout
                        )
                    )
        except _DATABASE_ERRORS as error:
            log.warning("the leader lease check failed (%s)", type(error).__name__)
            held = False
        if not held and self._held:
            log.warning("lost the leader lease on database %s", self.database)
            # Whatever the server still thinks, we no longer act on it: close the session so a
            # half-alive connection cannot keep the lock from the standby either.
            self._drop_connection()
        return held

    async def _lost_signal(self) -> None:
        await self._lost.wait()

    async def watch(
        self,
        on_lost: Callable[[], Awaitable[None]],
        interval: float = DEFAULT_CHECK_SECONDS,
    ) -> None:
        if (
            self.session_timeout is not None
            and interval + self.check_timeout >= self.session_timeout
        ):
            # Otherwise the server could free the lock before we notice we were cut off.
            raise ValueError("interval + check_timeout must stay below session_timeout")
        await super().watch(on_lost, interval)

    async def release(self) -> None:
        async with self._io:
            connection = self._connection
            was_held = self._held
            self._connection = None
            self._held = False
            if connection is None or connection.is_closed():
                return
            try:
                # The session's end frees the lock; close() says goodbye properly first.
                await connection.close(timeout=self.check_timeout)
            except _DATABASE_ERRORS:
                connection.terminate()
        if was_held:
            log.info("released the leader lease on database %s", self.database)


# -- running the bot as leader -------------------------------------------------------------


async def start_polling(application: AnyApplication) -> StopUpdates | None:
    """The default way in for updates: long polling, keeping what Telegram has queued.

    Returns None: PTB's updater is stopped with the Application anyway.
    """
    if application.updater is None:
        raise RuntimeError("build the Application with an Updater to poll Telegram")
    await application.updater.start_polling(drop_pending_updates=False)
    return None


def _database_unavailable(error: BaseException) -> bool:
    """``storage.db.is_database_unavailable``, imported late to keep a standby's start light."""
    from storage.db import is_database_unavailable

    return is_database_unavailable(error)


def _telegram_unreachable(error: BaseException) -> bool:
    """Telegram (or the Bot API server) did not answer: the network, not this process, is at fault.

    ``InvalidToken`` is not among them: a token Telegram refuses will not start working.
    """
    from telegram.error import InvalidToken, NetworkError

    return isinstance(error, NetworkError) and not isinstance(error, InvalidToken)


def _describe(error: BaseException) -> str:
    from bot.logging_setup import describe

    return describe(error)


async def _stop_application(
    application: AnyApplication, started: bool, stop_updates: StopUpdates | None, within: float
) -> None:
    """PTB's own shutdown order (as in run_polling), bounded so a dead database cannot hang it.

    The update source goes first, so nothing new comes in while the rest winds down.
    """
    try:
        async with asyncio.timeout(within):
            try:
                if stop_updates is not None:
                    await stop_updates()
                if application.updater is not None and application.updater.running:
                    await application.updater.stop()
                if application.running:
                    await application.stop()
                if started and application.post_stop is not None:
                    await application.post_stop(application)
            finally:
                await application.shutdown()
                if application.post_shutdown is not None:
                    await application.post_shutdown(application)
    except TimeoutError:
        log.error("the bot did not stop within %.0f s; leaving it behind", within)


async def _active_term(
    application: AppT,
    lease: Lease,
    stop: asyncio.Event,
    start_updates: Callable[[AppT], Awaitable[StopUpdates | None]],
    check_seconds: float,
    stop_timeout: float,
) -> bool:
    """Run the bot until ``stop`` or until the lease is lost; True if it was lost."""
    lost = asyncio.Event()

    async def on_lost() -> None:
        lost.set()

    started = False
    stop_updates: StopUpdates | None = None
    watcher: asyncio.Task[None] | None = None
    try:
        await application.initialize()
        if application.post_init is not None:
            await application.post_init(application)
        # Startup talks to Telegram and the database and may have been slow: still ours?
        if not await lease.is_held():
            return True
        watcher = asyncio.create_task(lease.watch(on_lost, check_seconds), name="leader-watch")
        started = True
        # Running before updates can arrive: a webhook opened first would answer its first
        # posts "503, try later" (PTB's run_polling starts the other way round; for polling
        # the order makes no difference, the updater only fills the queue).
        await application.start()
        stop_updates = await start_updates(application)
        stopping = asyncio.create_task(stop.wait(), name="leader-stop")
        try:
            await asyncio.wait([stopping, watcher], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if watcher.done() and not lost.is_set():
            watcher.result()  # the watch itself failed: let that surface
    finally:
        if watcher is not None and not watcher.done():
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        if lost.is_set():
            log.warning("stepping down: stopping updates (polling or webhook) and jobs")
        await _stop_application(application, started, stop_updates, stop_timeout)
    return lost.is_set()


def telegram_retry_delay(attempt: int) -> float:
    """2, 4, 8 ... seconds after each failed start-up, at most a minute between tries."""
    return float(min(2 ** max(attempt, 1), 60))


async def run_as_leader(
    make_app: Callable[[], Awaitable[AppT]],
    lease: Lease,
    *,
    stop: asyncio.Event | None = None,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    check_seconds: float = DEFAULT_CHECK_SECONDS,
    start_updates: Callable[[AppT], Awaitable[StopUpdates | None]] = start_polling,
    stop_timeout: float = DEFAULT_STOP_TIMEOUT,
) -> None:
    """Standby until the lease is ours, then run the bot until ``stop`` is set or the lease is lost.

    Each time this process becomes active, ``make_app`` builds a fresh Application, so its
    persistence loads conversation state from the database as it is *now* (never build it
    before the lease is held). ``start_updates`` starts the flow of updates: long polling by
    default; for a webhook pass one that starts it and returns how to stop it (or calls
    ``updater.start_webhook`` and returns None). When the lease is lost the bot is stopped in
    PTB's order (updates first) and this process goes back to standby. Returns once ``stop`` is
    set and the bot has stopped.

    The database failing while active (typically while a fresh Application loads its state
    just after an outage, on a pooled connection the outage left behind) is one more way of
    losing the lease: back to standby, and try again, rather than end the process and wait
    for a supervisor to restart it. Any other error releases the lease and propagates.
    """
    stop = stop if stop is not None else asyncio.Event()
    unreachable = 0  # start-ups in a row that could not reach Telegram
    why = ""
    try:
        while not stop.is_set():
            await lease.acquire(poll_seconds, stop)
            if stop.is_set() or not lease.held:
                break
            try:
                application = await make_app()
                lost = await _active_term(
                    application, lease, stop, start_updates, check_seconds, stop_timeout
                )
                unreachable = 0
            except Exception as error:
                if _telegram_unreachable(error):
                    unreachable, why = unreachable + 1, type(error).__name__
                    lost = False
                elif _database_unavailable(error):
                    log.warning("stepping down: the database failed (%s)", _describe(error))
                    lost = True
                else:
                    raise
            finally:
                await lease.release()
            if unreachable and not stop.is_set():
                wait = telegram_retry_delay(unreachable)
                log.warning(
                    "cannot reach the Telegram Bot API (%s); trying again in %.0f s", why, wait
                )
                await _sleep_unless(stop, wait)
                continue
            if lost and not stop.is_set():
                log.warning("back on standby after losing the leader lease")
                # Whatever cost us the lease may not be over: give the other processes, which
                # have kept their connections, two polls' head start.
                await _sleep_unless(stop, 2 * poll_seconds)
    finally:
        await lease.release()


async def serve(
    settings: Settings,
    *,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    check_seconds: float = DEFAULT_CHECK_SECONDS,
    clock: Clock | None = None,
    stop: asyncio.Event | None = None,
    webhook: WebhookOptions | None = None,
    mount: Mount | None = None,
    wrap_start: WrapStart | None = None,
) -> None:
    """``marac-bot run [--webhook]``: the real bot, active or on standby, until SIGINT or SIGTERM.

    ``mount`` adds routes to the webhook's port (the case workspace, in webhook mode);
    ``wrap_start`` wraps long polling's start (the workspace's own listener, in polling mode).

    Long polling by default. With ``webhook``, the active process opens the webhook port and
    registers the webhook with Telegram each time it takes the lease, and closes the port
    when it loses it; a standby's port stays closed, which is how the reverse proxy knows
    where to send Telegram's posts.
    """
    from bot.adapter.application import build_application
    from bot.adapter.heap import settle_after_start_up
    from bot.runtime import open_runtime

    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError):  # Windows, or not the main thread
            pass
    runtime = open_runtime(settings, clock=clock)
    lease = LeaderLease.for_url(settings.database_url)
    start_updates: Callable[[MaracApplication], Awaitable[StopUpdates | None]] = start_polling
    if webhook is not None:
        from bot.adapter.webhook import webhook_updates

        start_updates = webhook_updates(runtime, webhook, mount=mount)
    elif wrap_start is not None:
        start_updates = wrap_start(runtime, start_updates)

    settled = False

    async def make_app() -> MaracApplication:
        nonlocal settled
        application = build_application(runtime)
        if not settled:
            # Once per process: a later takeover's application is small, and freezing it
            # would keep the one it replaces alive for good.
            settle_after_start_up()
            settled = True
        return application

    try:
        await run_as_leader(
            make_app,
            lease,
            stop=stop,
            poll_seconds=poll_seconds,
            check_seconds=check_seconds,
            start_updates=start_updates,
        )
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)
        await runtime.close()

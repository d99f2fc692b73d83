"""Webhook mode: Telegram POSTs updates to us (through a reverse proxy) instead of us polling.

A small aiohttp app (aiohttp is already a dependency; PTB's own webhook server would need
tornado) with three routes:

``POST {path}``
    Telegram's update. Refused with 403 unless the ``X-Telegram-Bot-Api-Secret-Token``
    header equals the secret given to ``setWebhook`` (compared in constant time); 400 when
    the body is not an update; otherwise the update is put on the Application's update
    queue and answered 200 at once, so Telegram never waits for a handler. An update id seen
    recently is answered 200 and not queued again (Telegram re-sends when a 200 was lost).
    While the bot is stopping the answer is 503, so Telegram keeps the update and retries.
``GET /healthz``
    ``{"database", "dispatcher_last_run", "dispatcher_age_seconds", "status"}``; 200 when
    all is well, 503 when the database does not answer or the outbox dispatcher has not
    finished a run for more than 5 job intervals.
``GET /metrics``
    Prometheus text format (:mod:`bot.adapter.metrics`); the outbox depth is read at each scrape.

``marac-bot run --webhook`` runs this under the leader lease (:mod:`bot.adapter.leader`, through
:func:`webhook_updates`): the port is open only while the process is the active one, and
each new leader registers the webhook again, so a reverse proxy with a primary and a
``backup`` server always reaches whichever process is active.

Nothing here logs a request body, a header or the secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import math
import re
import signal
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from aiohttp import web
from sqlalchemy import text
from telegram import Update
from telegram.error import BadRequest, NetworkError

from bot.adapter.application import MaracApplication
from bot.adapter.metrics import CONTENT_TYPE, METRICS, Metrics
from bot.logging_setup import describe
from bot.runtime import Runtime
from bot.tally import Summary, Tally

log = logging.getLogger("marac.webhook")

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's rule for secret_token: 1-256 characters, A-Z, a-z, 0-9, _ and -.
SECRET_PATTERN: Final = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
PATH_PATTERN: Final = re.compile(r"^/[A-Za-z0-9._~/-]*$")
RESERVED_PATHS: Final = frozenset({"/healthz", "/metrics"})
STALE_AFTER_INTERVALS: Final = 5
DATABASE_TIMEOUT: Final = 3.0
MAX_UPDATE_BYTES: Final = 1024 * 1024  # Telegram's updates are a few kB; files come by file_id
RECENT_UPDATE_IDS: Final = 1000
REGISTER_ATTEMPTS: Final = 6  # 1 + 2 + 4 + 8 + 16 s between them
# Refused posts: at most one warning per kind as they happen, and one summary, per minute.
REFUSAL_LOG_WINDOW: Final = timedelta(minutes=1)
REFUSAL_WHAT: Final = {
    "forbidden": "request(s) without the right secret token",
    "malformed": "malformed update(s)",
}

Now = Callable[[], datetime]
# Adds routes to the webhook's app, e.g. the case workspace (``bot.workspace.app``).
Mount = Callable[[web.Application, Runtime], None]


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class WebhookState:
    path: str
    secret: bytes
    metrics: Metrics
    job_interval_seconds: float
    started_at: datetime
    now: Now
    recent_update_ids: OrderedDict[int, None]
    # Refused posts, counted per kind so a flood logs a few lines, not one per post.
    refusals: dict[str, Tally] = field(default_factory=dict)

    def seen(self, update_id: int) -> bool:
        """Remember ``update_id``; True if it was already among the most recent ones."""
        if update_id in self.recent_update_ids:
            self.recent_update_ids.move_to_end(update_id)
            return True
        self.recent_update_ids[update_id] = None
        while len(self.recent_update_ids) > RECENT_UPDATE_IDS:
            self.recent_update_ids.popitem(last=False)
        return False


APPLICATION_KEY: Final = web.AppKey[MaracApplication]("application")
RUNTIME_KEY: Final = web.AppKey("runtime", Runtime)
STATE_KEY: Final = web.AppKey("webhook_state", WebhookState)


@dataclass(frozen=True)
class Health:
    database_ok: bool
    dispatcher_last_run: datetime | None
    dispatcher_age_seconds: float | None
    dispatcher_stale: bool

    @property
    def ok(self) -> bool:
        return self.database_ok and not self.dispatcher_stale

    def as_json(self) -> dict[str, Any]:
        last = self.dispatcher_last_run
        return {
            "database": "ok" if self.database_ok else "unreachable",
            "dispatcher_last_run": last.isoformat().replace("+00:00", "Z") if last else None,
            "dispatcher_age_seconds": (
                round(self.dispatcher_age_seconds, 3)
                if self.dispatcher_age_seconds is not None
                else None
            ),
            "status": "ok" if self.ok else "degraded",
        }


def assess_health(
    *,
    database_ok: bool,
    last_run: datetime | None,
    now: datetime,
    started_at: datetime,
    job_interval_seconds: float,
) -> Health:
    """Stale means no dispatcher run for more than 5 job intervals.

    Before the first run, the time since start counts instead, so a freshly started bot
    is healthy while the first run is still due, and a bot whose job never runs is not.
    """
    limit = STALE_AFTER_INTERVALS * job_interval_seconds
    age = (now - last_run).total_seconds() if last_run else None
    waited = age if age is not None else (now - started_at).total_seconds()
    return Health(
        database_ok=database_ok,
        dispatcher_last_run=last_run,
        dispatcher_age_seconds=age,
        dispatcher_stale=waited > limit,
    )


async def database_reachable(runtime: Runtime, within: float = DATABASE_TIMEOUT) -> bool:
    try:
        async with asyncio.timeout(within), runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except Exception as error:  # whatever the driver raises, the answer is "unreachable"
        log.warning("health check: database unreachable: %s", describe(error))
        return False
    return True


# -- handlers ---------------------------------------------------------------------------------


def _log_summary(what: str, summary: Summary) -> None:
    log.warning(
        "webhook: refused %d %s between %s and %s (%s); only the first was logged",
        summary.count,
        what,
        summary.since.isoformat(timespec="seconds"),
        summary.until.isoformat(timespec="seconds"),
        summary.kinds_text(),
    )


def _warn_refused(state: WebhookState, kind: str, detail: str, first_line: str) -> None:
    """The first refusal of a kind in a minute is logged as it happens; the rest are counted
    and logged as one line once the minute is over (``webhook_requests`` counts every one)."""
    now = state.now()
    _log_ended_refusals(state, now)
    tally = state.refusals.setdefault(kind, Tally(REFUSAL_LOG_WINDOW))
    first, _ = tally.note(now, detail)
    if first:
        log.warning("webhook: %s", first_line)


def _log_ended_refusals(state: WebhookState, now: datetime, *, force: bool = False) -> None:
    for kind, tally in state.refusals.items():
        summary = tally.close(now, force=force)
        if summary is not None:
            _log_summary(REFUSAL_WHAT[kind], summary)


async def _log_pending_refusals(app: web.Application) -> None:
    """When the port closes, the refusals counted and not yet logged are."""
    state = app[STATE_KEY]
    _log_ended_refusals(state, state.now(), force=True)


async def _receive_update(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    application = request.app[APPLICATION_KEY]
    given = request.headers.get(SECRET_HEADER, "").encode("utf-8", "surrogateescape")
    if not hmac.compare_digest(given, state.secret):
        state.metrics.webhook_requests.labels("forbidden").inc()
        _warn_refused(
            state,
            "forbidden",
            "no or wrong secret",
            "refused a request without the right secret token",
        )
        return web.Response(status=403, text="forbidden")
    _log_ended_refusals(state, state.now())
    try:
        data = json.loads(await request.read())
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            raise ValueError("not an update")
        update = Update.de_json(data, application.bot)
    except Exception as error:  # the body is never logged: it may hold message text
        state.metrics.webhook_requests.labels("malformed").inc()
        name = type(error).__name__
        _warn_refused(state, "malformed", name, f"refused a malformed update ({name})")
        return web.Response(status=400, text="malformed update")
    if not application.running:
        state.metrics.webhook_requests.labels("unavailable").inc()
        return web.Response(status=503, text="stopping", headers={"Retry-After": "5"})
    if state.seen(update.update_id):
        state.metrics.webhook_requests.labels("duplicate").inc()
        return web.Response(status=200)
    await application.update_queue.put(update)
    state.metrics.webhook_requests.labels("accepted").inc()
    return web.Response(status=200)


async def _healthz(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    health = assess_health(
        database_ok=await database_reachable(request.app[RUNTIME_KEY]),
        last_run=state.metrics.dispatcher_last_run,
        now=state.now(),
        started_at=state.started_at,
        job_interval_seconds=state.job_interval_seconds,
    )
    return web.json_response(
        health.as_json(), status=200 if health.ok else 503, headers={"Cache-Control": "no-store"}
    )


async def _metrics(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    runtime = request.app[RUNTIME_KEY]
    pending: int | None
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT):
            pending = await runtime.services.outbox.pending_count()
    except Exception as error:
        log.warning("metrics: outbox depth unavailable: %s", describe(error))
        pending = None
    # Unknown is NaN, not the last value seen: an alert on depth must not read a stale number.
    state.metrics.outbox_pending.set(math.nan if pending is None else pending)
    state.metrics.database_up.set(0 if pending is None else 1)
    return web.Response(
        body=state.metrics.render().encode(),
        headers={"Content-Type": CONTENT_TYPE, "Cache-Control": "no-store"},
    )


# -- the app and its lifecycle ----------------------------------------------------------------


def _check_secret(secret_token: str) -> None:
    if not SECRET_PATTERN.match(secret_token):
        raise ValueError(
            "the webhook secret token must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )


def check_webhook_options(*, path: str, public_url: str, secret_token: str) -> None:
    """Fail early with a message that names the problem and never echoes the secret."""
    _check_secret(secret_token)
    if not PATH_PATTERN.match(path) or path in RESERVED_PATHS or path == "/":
        raise ValueError("the webhook path must start with / and not be /, /healthz or /metrics")
    if not public_url.startswith("https://"):
        raise ValueError("the public webhook URL must start with https:// (Telegram requires it)")


def build_web_app(
    application: MaracApplication,
    runtime: Runtime,
    *,
    path: str,
    secret_token: str,
    metrics: Metrics | None = None,
    now: Now = _utcnow,
    mount: Mount | None = None,
) -> web.Application:
    """The aiohttp app; it feeds ``application`` but does not start or stop it.

    ``mount`` adds other routes to it (the case workspace), served on the same port.
    """
    _check_secret(secret_token)
    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app[APPLICATION_KEY] = application
    app[RUNTIME_KEY] = runtime
    app[STATE_KEY] = WebhookState(
        path=path,
        secret=secret_token.encode(),
        metrics=metrics or METRICS,
        job_interval_seconds=runtime.settings.job_interval_seconds,
        started_at=now(),
        now=now,
        recent_update_ids=OrderedDict(),
    )
    app.router.add_post(path, _receive_update)
    app.on_shutdown.append(_log_pending_refusals)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/metrics", _metrics)
    if mount is not None:
        mount(app, runtime)
    return app


@dataclass(frozen=True)
class RunningWebhook:
    web_app: web.Application
    url: str  # where this process listens, e.g. http://127.0.0.1:8080 (not the public URL)
    webhook_url: str  # what Telegram was told


@dataclass(frozen=True)
class WebhookOptions:
    """Where to listen and what to register with Telegram (see :func:`check_webhook_options`)."""

    listen: str
    port: int
    path: str
    public_url: str
    secret_token: str = field(repr=False)
    allowed_updates: Sequence[str] = tuple(Update.ALL_TYPES)

    @property
    def webhook_url(self) -> str:
        return self.public_url.rstrip("/") + self.path


CloseWebhook = Callable[[], Awaitable[None]]


async def open_webhook(
    application: MaracApplication,
    runtime: Runtime,
    options: WebhookOptions,
    *,
    metrics: Metrics | None = None,
    mount: Mount | None = None,
) -> tuple[RunningWebhook, CloseWebhook]:
    """Open the port for ``application`` (already initialised) and register the webhook.

    Returns the running server and how to close it. If registering fails the port is closed
    again before the error propagates, so a process that cannot serve never looks as if it
    could to the reverse proxy. setWebhook is idempotent: every start (and every takeover of
    the leader lease) registers again, which also puts right a URL or secret changed since.
    """
    check_webhook_options(
        path=options.path, public_url=options.public_url, secret_token=options.secret_token
    )
    runner = web.AppRunner(
        build_web_app(
            application,
            runtime,
            path=options.path,
            secret_token=options.secret_token,
            metrics=metrics,
            mount=mount,
        ),
        access_log=None,
        shutdown_timeout=5.0,
    )
    await runner.setup()
    try:
        site = web.TCPSite(runner, options.listen, options.port)
        await site.start()
        host, bound_port = runner.addresses[0][:2]
        await _register_webhook(
            application, options.webhook_url, options.secret_token, options.allowed_updates
        )
    except BaseException:
        await runner.cleanup()
        raise
    log.info("webhook registered; listening on %s:%s", host, bound_port)
    running = RunningWebhook(
        web_app=runner.app,
        url=f"http://{_host_for_url(str(host))}:{bound_port}",
        webhook_url=options.webhook_url,
    )
    return running, runner.cleanup


def webhook_updates(
    runtime: Runtime,
    options: WebhookOptions,
    *,
    metrics: Metrics | None = None,
    on_open: Callable[[RunningWebhook], object] | None = None,
    mount: Mount | None = None,
) -> Callable[[MaracApplication], Awaitable[CloseWebhook]]:
    """``start_updates`` for :func:`bot.adapter.leader.run_as_leader`: the webhook, while active.

    The port is opened when this process takes the leader lease and closed again when it
    stops or loses it, so a standby's port stays closed and the reverse proxy sends
    Telegram's posts to the active process (its ``backup`` server is tried only when the
    primary refuses the connection). ``on_open`` hears where the server listens.
    """

    async def start(application: MaracApplication) -> CloseWebhook:
        running, close = await open_webhook(
            application, runtime, options, metrics=metrics, mount=mount
        )
        if on_open is not None:
            on_open(running)

        async def stop() -> None:
            log.info("webhook: closing the port (Telegram's posts go to the other process)")
            await close()

        return stop

    return start


@contextlib.asynccontextmanager
async def running_webhook(
    application: MaracApplication,
    runtime: Runtime,
    *,
    listen: str,
    port: int,
    path: str,
    public_url: str,
    secret_token: str,
    metrics: Metrics | None = None,
    allowed_updates: Sequence[str] = Update.ALL_TYPES,
) -> AsyncIterator[RunningWebhook]:
    """Initialise and start the Application (no Updater), serve, register the webhook.

    One process on its own, without the leader lease (``marac-bot run --webhook`` runs
    :func:`webhook_updates` under the lease instead). ``allowed_updates`` defaults to every
    type (``Update.ALL_TYPES``), which is more than long polling asks for: polling leaves it
    unset, so Telegram's default applies, without ``chat_member`` and message reactions.

    On leaving: stop taking requests, let the Application finish the updates already
    accepted, then shut it down (which flushes persistence). The webhook stays registered,
    so Telegram holds updates that arrive meanwhile until the bot is back.
    """
    options = WebhookOptions(
        listen=listen,
        port=port,
        path=path,
        public_url=public_url,
        secret_token=secret_token,
        allowed_updates=tuple(allowed_updates),
    )
    check_webhook_options(path=path, public_url=public_url, secret_token=secret_token)
    async with application:
        if application.post_init:
            await application.post_init(application)
        await application.start()
        try:
            running, close = await open_webhook(application, runtime, options, metrics=metrics)
            try:
                yield running
            finally:
                await close()
        finally:
            if application.running:
                await application.stop()
            if application.post_stop:
                await application.post_stop(application)
    if application.post_shutdown:
        await application.post_shutdown(application)


async def _register_webhook(
    application: MaracApplication,
    webhook_url: str,
    secret_token: str,
    allowed_updates: Sequence[str],
) -> None:
    """setWebhook, retried for a while if Telegram cannot be reached (say, just after boot)."""
    for attempt in range(REGISTER_ATTEMPTS):
        try:
            await application.bot.set_webhook(
                url=webhook_url,
                secret_token=secret_token,
                allowed_updates=list(allowed_updates),
                drop_pending_updates=False,
            )
            return
        except NetworkError as error:  # TimedOut too
            # PTB's BadRequest is a NetworkError, but a refusal will not change by retrying.
            if isinstance(error, BadRequest) or attempt == REGISTER_ATTEMPTS - 1:
                raise
            delay = 2.0**attempt
            log.warning("setWebhook failed (%s), trying again in %.0f s", describe(error), delay)
            await asyncio.sleep(delay)


def _host_for_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def serve_webhook(
    application: MaracApplication,
    runtime: Runtime,
    *,
    listen: str,
    port: int,
    path: str,
    public_url: str,
    secret_token: str,
    stop: asyncio.Event | None = None,
    allowed_updates: Sequence[str] = Update.ALL_TYPES,
) -> None:
    """One process on its own, without the leader lease: serve until SIGTERM or SIGINT (or
    until ``stop`` is set). ``marac-bot run --webhook`` runs :func:`bot.adapter.leader.serve` with
    :class:`WebhookOptions` instead, so that a standby can take over."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
            pass
    try:
        async with running_webhook(
            application,
            runtime,
            listen=listen,
            port=port,
            path=path,
            public_url=public_url,
            secret_token=secret_token,
            allowed_updates=allowed_updates,
        ):
            await stop.wait()
            log.info("stopping: finishing the updates already received")
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)

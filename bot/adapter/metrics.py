"""Prometheus metrics for /metrics, with the maintained ``prometheus-client`` library.

Each :class:`Metrics` has a registry of its own (tests make their own; the process has
:data:`METRICS`), with the process, platform and garbage-collector metrics the library
collects for free. ``render()`` is the text exposition served at ``/metrics`` in webhook
mode. Nothing here carries personal data: only counts and durations.

Hooks for the rest of the bot:

* :class:`TimedUpdateProcessor` (pass it to ``ApplicationBuilder.concurrent_updates``) times
  every update, including those a handler stops early or that fail;
* :func:`record_dispatch` and :func:`mark_dispatcher_run` are called after each outbox run;
* :func:`observe_update` if updates are timed some other way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from telegram.ext import BaseUpdateProcessor

if TYPE_CHECKING:
    from bot.adapter.dispatcher import DispatchReport

HANDLER_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Send time minus due time: a reminder a few seconds late is normal (the job runs every
# MARAC_JOB_INTERVAL_SECONDS); minutes mean the dispatcher was down or Telegram refused us.
LATENESS_BUCKETS: Final = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)
# The 0.0.4 text format every Prometheus version reads (our names need none of 1.0.0's escaping).
CONTENT_TYPE: Final = CONTENT_TYPE_PLAIN_0_0_4


class Metrics:
    """The bot's metrics. One instance per process (:data:`METRICS`); tests may make their own."""

    FAILURE_REASONS: Final = ("refused", "unreachable", "expired")
    WEBHOOK_OUTCOMES: Final = ("accepted", "duplicate", "forbidden", "malformed", "unavailable")

    def __init__(self, *, process_metrics: bool = False) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        if process_metrics:
            for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
                self.registry.register(collector)
        r = self.registry
        self.updates = Counter("marac_updates", "Telegram updates handled.", registry=r)
        self.handler_seconds = Histogram(
            "marac_handler_seconds",
            "Time to handle one update, in seconds.",
            buckets=HANDLER_BUCKETS,
            registry=r,
        )
        self.reminders_sent = Counter(
            "marac_reminders_sent", "Outbox messages (reminders, notices) sent.", registry=r
        )
        self.reminders_failed = Counter(
            "marac_reminders_failed",
            "Outbox messages given up on: refused by Telegram or out of attempts, recipient "
            "unreachable (blocked the bot, left Telegram), or expired before they could be sent.",
            ["reason"],
            registry=r,
        )
        for reason in self.FAILURE_REASONS:
            self.reminders_failed.labels(reason)  # every series shown from the start, at 0
        self.reminders_retried = Counter(
            "marac_reminders_retried",
            "Outbox sends put off for a later run (flood control, network trouble).",
            registry=r,
        )
        self.reminders_late = Histogram(
            "marac_reminders_late_seconds",
            "How long after its due time an outbox message was sent, in seconds.",
            buckets=LATENESS_BUCKETS,
            registry=r,
        )
        self.updates_waiting = Gauge(
            "marac_updates_waiting",
            "Updates received and not yet started: waiting for the same person's earlier update "
            "or for a free slot (MARAC_CONCURRENT_UPDATES).",
            registry=r,
        )
        self.outbox_pending = Gauge(
            "marac_outbox_pending",
            "Outbox messages not yet sent, cancelled or given up on.",
            registry=r,
        )
        self.database_up = Gauge(
            "marac_database_up",
            "1 if the database answered at the last scrape, else 0.",
            registry=r,
        )
        self.dispatcher_last_run_gauge = Gauge(
            "marac_dispatcher_last_run_timestamp",
            "When the outbox dispatcher last finished a run (Unix time; 0 = not yet).",
            registry=r,
        )
        self.webhook_requests = Counter(
            "marac_webhook_requests",
            "Requests to the webhook path, by outcome (forbidden = wrong or missing secret).",
            ["outcome"],
            registry=r,
        )
        for outcome in self.WEBHOOK_OUTCOMES:
            self.webhook_requests.labels(outcome)
        self.typed_messages_left = Counter(
            "marac_typed_messages_left",
            "Messages people typed with case details that Telegram would not let the bot "
            "delete; each person was asked to delete theirs.",
            registry=r,
        )
        self.dispatcher_last_run: datetime | None = None
        # Unknown until a scrape reads the database: NaN rather than a made-up 0.
        self.outbox_pending.set(math.nan)
        self.database_up.set(math.nan)

    def sample(self, name: str, **labels: str) -> float:
        """One sample's current value, 0 when it has none yet (for tests and health checks)."""
        return self.registry.get_sample_value(name, labels) or 0.0

    # -- hooks -------------------------------------------------------------------------------

    def observe_update(self, seconds: float) -> None:
        self.updates.inc()
        self.handler_seconds.observe(max(seconds, 0.0))

    def record_dispatch(self, report: DispatchReport, lateness_seconds: Iterable[float]) -> None:
        self.reminders_sent.inc(report.sent)
        self.reminders_failed.labels("refused").inc(report.failed)
        self.reminders_failed.labels("unreachable").inc(report.unreachable)
        self.reminders_failed.labels("expired").inc(report.expired)
        self.reminders_retried.inc(report.retried)
        for seconds in lateness_seconds:
            self.reminders_late.observe(max(seconds, 0.0))

    def mark_dispatcher_run(self, when: datetime | None = None) -> None:
        """Real (wall-clock) time, not the injected clock: this is about the process being alive."""
        moment = when or datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("mark_dispatcher_run needs a timezone-aware time")
        self.dispatcher_last_run = moment
        self.dispatcher_last_run_gauge.set(moment.timestamp())

    def render(self) -> str:
        return generate_latest(self.registry).decode()


METRICS: Final = Metrics(process_metrics=True)


def observe_update(seconds: float) -> None:
    METRICS.observe_update(seconds)


def record_dispatch(report: DispatchReport, lateness_seconds: Iterable[float] = ()) -> None:
    METRICS.record_dispatch(report, lateness_seconds)


def mark_dispatcher_run(when: datetime | None = None) -> None:
    METRICS.mark_dispatcher_run(when)


def record_typed_messages_left(count: int) -> None:
    METRICS.typed_messages_left.inc(count)


def render() -> str:
    return METRICS.render()


class TimedUpdateProcessor(BaseUpdateProcessor):
    """Times each update (``max_concurrent_updates`` at once; the bot uses its subclass
    ``bot.adapter.update_order.ChatOrderedUpdateProcessor``).

    It wraps PTB's whole ``process_update``, so updates stopped by the guard
    (``ApplicationHandlerStop``) and updates whose handler failed are counted too.
    """

    __slots__ = ("_metrics",)

    def __init__(self, max_concurrent_updates: int = 1, metrics: Metrics | None = None) -> None:
        super().__init__(max_concurrent_updates)
        self._metrics = metrics

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        started = time.perf_counter()
        try:
            await coroutine
        finally:
            (self._metrics or METRICS).observe_update(time.perf_counter() - started)

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release."""

"""Prometheus metrics without a dependency: a few counters, histograms and gauges in memory.

Everything runs on the bot's one event loop, so plain attributes are enough (no locks).
``render()`` writes the Prometheus text exposition format (version 0.0.4) served at
``/metrics`` in webhook mode. Nothing here carries personal data: only counts and durations.

Hooks for the rest of the bot:

* :class:`TimedUpdateProcessor` (pass it to ``ApplicationBuilder.concurrent_updates``) times
  every update, including those a handler stops early or that fail;
* :func:`record_dispatch` and :func:`mark_dispatcher_run` are called after each outbox run;
* :func:`observe_update` if updates are timed some other way.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from telegram.ext import BaseUpdateProcessor

if TYPE_CHECKING:
    from bot.adapter.dispatcher import DispatchReport

HANDLER_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Send time minus due time: a reminder a few seconds late is normal (the job runs every
# MARAC_JOB_INTERVAL_SECONDS); minutes mean the dispatcher was down or Telegram refused us.
LATENESS_BUCKETS: Final = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0)
CONTENT_TYPE: Final = "text/plain; version=0.0.4; charset=utf-8"

Labels = tuple[tuple[str, str], ...]


def format_value(value: float) -> str:
    """Prometheus numbers: integers without a fraction, +Inf/-Inf/NaN spelled its way."""
    value = float(value)  # ints are floats to mypy, but int.is_integer needs Python 3.12
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _label_text(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{name}="{_escape(value)}"' for name, value in labels) + "}"


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


class Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str) -> None:
        self.name = name
        self.help = help_text

    def samples(self) -> Iterable[tuple[str, Labels, float]]:
        raise NotImplementedError

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        lines += [
            f"{name}{_label_text(labels)} {format_value(value)}"
            for name, labels, value in self.samples()
        ]
        return lines


class Counter(Metric):
    """Only goes up. Label values are fixed when the counter is made, so every series shows
    (as 0) from the first scrape, which keeps ``rate()`` and alerts simple."""

    kind = "counter"

    def __init__(
        self,
        name: str,
        help_text: str,
        label: str | None = None,
        values: Sequence[str] = (),
    ) -> None:
        if not name.endswith("_total"):
            raise ValueError("counter names end in _total")
        super().__init__(name, help_text)
        self.label = label
        self._values: dict[str, float] = {value: 0.0 for value in values} if label else {"": 0.0}

    def inc(self, amount: float = 1.0, label_value: str = "") -> None:
        if amount < 0:
            raise ValueError("a counter cannot go down")
        if self.label and label_value not in self._values:
            raise ValueError(f"{self.name} has no {self.label}={label_value!r} series")
        self._values[label_value] += amount

    def value(self, label_value: str = "") -> float:
        return self._values[label_value]

    def samples(self) -> Iterable[tuple[str, Labels, float]]:
        for label_value, value in self._values.items():
            labels: Labels = ((self.label, label_value),) if self.label else ()
            yield self.name, labels, value


class Gauge(Metric):
    """A value that goes up and down; ``None`` means unknown, and no sample is written."""

    kind = "gauge"

    def __init__(self, name: str, help_text: str) -> None:
        super().__init__(name, help_text)
        self.current: float | None = None

    def set(self, value: float | None) -> None:
        self.current = value

    def samples(self) -> Iterable[tuple[str, Labels, float]]:
        if self.current is not None:
            yield self.name, (), self.current


class Histogram(Metric):
    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Sequence[float]) -> None:
        super().__init__(name, help_text)
        if list(buckets) != sorted(set(buckets)):
            raise ValueError("histogram buckets must increase")
        self.buckets = tuple(float(b) for b in buckets)
        self._counts = [0] * len(self.buckets)  # per bucket, not cumulative
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        if math.isnan(value):
            return
        for index, bound in enumerate(self.buckets):
            if value <= bound:
                self._counts[index] += 1
                break
        self.count += 1
        self.sum += value

    def samples(self) -> Iterable[tuple[str, Labels, float]]:
        cumulative = 0
        for bound, count in zip(self.buckets, self._counts, strict=True):
            cumulative += count
            yield f"{self.name}_bucket", (("le", format_value(bound)),), cumulative
        yield f"{self.name}_bucket", (("le", "+Inf"),), self.count
        yield f"{self.name}_sum", (), self.sum
        yield f"{self.name}_count", (), self.count


class Metrics:
    """The bot's metrics. One instance per process (:data:`METRICS`); tests may make their own."""

    FAILURE_REASONS: Final = ("refused", "unreachable", "expired")
    WEBHOOK_OUTCOMES: Final = ("accepted", "duplicate", "forbidden", "malformed", "unavailable")

    def __init__(self) -> None:
        self.updates = Counter("marac_updates_total", "Telegram updates handled.")
        self.handler_seconds = Histogram(
            "marac_handler_seconds", "Time to handle one update, in seconds.", HANDLER_BUCKETS
        )
        self.reminders_sent = Counter(
            "marac_reminders_sent_total", "Outbox messages (reminders, notices) sent."
        )
        self.reminders_failed = Counter(
            "marac_reminders_failed_total",
            "Outbox messages given up on: refused by Telegram or out of attempts, recipient "
            "unreachable (blocked the bot, left Telegram), or expired before they could be sent.",
            label="reason",
            values=self.FAILURE_REASONS,
        )
        self.reminders_retried = Counter(
            "marac_reminders_retried_total",
            "Outbox sends put off for a later run (flood control, network trouble).",
        )
        self.reminders_late = Histogram(
            "marac_reminders_late_seconds",
            "How long after its due time an outbox message was sent, in seconds.",
            LATENESS_BUCKETS,
        )
        self.updates_waiting = Gauge(
            "marac_updates_waiting",
            "Updates received and not yet started: waiting for the same person's earlier update "
            "or for a free slot (MARAC_CONCURRENT_UPDATES).",
        )
        self.updates_waiting.set(0)
        self.outbox_pending = Gauge(
            "marac_outbox_pending", "Outbox messages not yet sent, cancelled or given up on."
        )
        self.database_up = Gauge(
            "marac_database_up", "1 if the database answered at the last scrape, else 0."
        )
        self.dispatcher_last_run_gauge = Gauge(
            "marac_dispatcher_last_run_timestamp",
            "When the outbox dispatcher last finished a run (Unix time; 0 = not yet).",
        )
        self.webhook_requests = Counter(
            "marac_webhook_requests_total",
            "Requests to the webhook path, by outcome (forbidden = wrong or missing secret).",
            label="outcome",
            values=self.WEBHOOK_OUTCOMES,
        )
        self.dispatcher_last_run: datetime | None = None
        self.dispatcher_last_run_gauge.set(0)

    # -- hooks -------------------------------------------------------------------------------

    def observe_update(self, seconds: float) -> None:
        self.updates.inc()
        self.handler_seconds.observe(max(seconds, 0.0))

    def record_dispatch(self, report: DispatchReport, lateness_seconds: Iterable[float]) -> None:
        self.reminders_sent.inc(report.sent)
        self.reminders_failed.inc(report.failed, "refused")
        self.reminders_failed.inc(report.unreachable, "unreachable")
        self.reminders_failed.inc(report.expired, "expired")
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

    # -- exposition --------------------------------------------------------------------------

    def all(self) -> list[Metric]:
        return [
            self.updates,
            self.handler_seconds,
            self.updates_waiting,
            self.reminders_sent,
            self.reminders_failed,
            self.reminders_retried,
            self.reminders_late,
            self.outbox_pending,
            self.dispatcher_last_run_gauge,
            self.database_up,
            self.webhook_requests,
        ]

    def render(self) -> str:
        lines: list[str] = []
        for metric in self.all():
            lines += metric.render()
        return "\n".join(lines) + "\n"


METRICS: Final = Metrics()


def observe_update(seconds: float) -> None:
    METRICS.observe_update(seconds)


def record_dispatch(report: DispatchReport, lateness_seconds: Iterable[float] = ()) -> None:
    METRICS.record_dispatch(report, lateness_seconds)


def mark_dispatcher_run(when: datetime | None = None) -> None:
    METRICS.mark_dispatcher_run(when)


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

"""The bot's metrics on prometheus-client, and their text exposition at /metrics."""

from __future__ import annotations

import asyncio
import math
import re
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.utils import floatToGoString

from bot.adapter import metrics
from bot.adapter.dispatcher import DispatchReport
from bot.adapter.metrics import HANDLER_BUCKETS, Metrics, TimedUpdateProcessor

# name{label="value",...} value  (the subset of the text format we write)
SAMPLE_LINE = re.compile(
    r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    r'(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*\})? '
    r"(-?[0-9.e+-]+|\+Inf|-Inf|NaN)$"
)


def samples(text: str) -> dict[str, float]:
    found = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
    return found


def test_a_fresh_registry_renders_every_metric_with_help_and_type() -> None:
    text = Metrics().render()
    assert text.endswith("\n")
    for name, kind in (
        ("marac_updates_total", "counter"),
        ("marac_handler_seconds", "histogram"),
        ("marac_updates_waiting", "gauge"),
        ("marac_reminders_sent_total", "counter"),
        ("marac_reminders_failed_total", "counter"),
        ("marac_reminders_retried_total", "counter"),
        ("marac_reminders_late_seconds", "histogram"),
        ("marac_outbox_pending", "gauge"),
        ("marac_dispatcher_last_run_timestamp", "gauge"),
        ("marac_database_up", "gauge"),
        ("marac_webhook_requests_total", "counter"),
    ):
        assert f"# TYPE {name} {kind}\n" in text
        assert f"# HELP {name} " in text
    for line in text.splitlines():
        assert line.startswith("# ") or SAMPLE_LINE.match(line), line
    values = samples(text)
    assert values["marac_updates_total"] == 0
    assert values['marac_reminders_failed_total{reason="unreachable"}'] == 0
    assert values['marac_handler_seconds_bucket{le="+Inf"}'] == 0
    assert values["marac_dispatcher_last_run_timestamp"] == 0
    assert values["marac_updates_waiting"] == 0
    # Unknown until a scrape reads the database: NaN rather than a made-up 0.
    assert math.isnan(values["marac_outbox_pending"]) and math.isnan(values["marac_database_up"])


def test_handler_histogram_is_cumulative_with_sum_and_count() -> None:
    registry = Metrics()
    for seconds in (0.003, 0.02, 0.02, 0.3, 4.0):
        registry.observe_update(seconds)
    values = samples(registry.render())
    assert [
        values[f'marac_handler_seconds_bucket{{le="{floatToGoString(b)}"}}']
        for b in HANDLER_BUCKETS
    ] == [
        1,
        1,
        3,
        3,
        3,
        3,
        4,
        4,
        4,
    ]
    assert values['marac_handler_seconds_bucket{le="+Inf"}'] == 5
    assert values["marac_handler_seconds_count"] == 5
    assert values["marac_handler_seconds_sum"] == pytest.approx(4.343)
    assert values["marac_updates_total"] == 5
    assert 'le="0.005"' in registry.render() and 'le="2.5"' in registry.render()


def test_dispatch_reports_feed_the_reminder_metrics() -> None:
    registry = Metrics()
    registry.record_dispatch(
        DispatchReport(sent=3, retried=2, unreachable=1, expired=4, failed=5, skipped=9),
        [0.5, 12.0, 4000.0, -1.0],
    )
    registry.record_dispatch(DispatchReport(sent=1), [])
    values = samples(registry.render())
    assert values["marac_reminders_sent_total"] == 4
    assert values["marac_reminders_retried_total"] == 2
    assert values['marac_reminders_failed_total{reason="refused"}'] == 5
    assert values['marac_reminders_failed_total{reason="unreachable"}'] == 1
    assert values['marac_reminders_failed_total{reason="expired"}'] == 4
    assert values['marac_reminders_late_seconds_bucket{le="1.0"}'] == 2  # -1 counts as on time
    assert values['marac_reminders_late_seconds_bucket{le="15.0"}'] == 3
    assert values['marac_reminders_late_seconds_bucket{le="3600.0"}'] == 3
    assert values['marac_reminders_late_seconds_bucket{le="+Inf"}'] == 4
    assert values["marac_reminders_late_seconds_sum"] == pytest.approx(4012.5)


def test_dispatcher_last_run_is_a_unix_timestamp() -> None:
    registry = Metrics()
    when = datetime(2026, 11, 26, 9, 0, 30, tzinfo=UTC)
    registry.mark_dispatcher_run(when)
    assert registry.dispatcher_last_run == when
    assert samples(registry.render())["marac_dispatcher_last_run_timestamp"] == when.timestamp()
    registry.mark_dispatcher_run()
    assert registry.dispatcher_last_run is not None
    assert datetime.now(UTC) - registry.dispatcher_last_run < timedelta(seconds=5)
    with pytest.raises(ValueError):
        registry.mark_dispatcher_run(datetime(2026, 11, 26, 9, 0))


def test_gauges_read_at_scrape_time() -> None:
    registry = Metrics()
    registry.outbox_pending.set(17)
    registry.database_up.set(1)
    values = samples(registry.render())
    assert values["marac_outbox_pending"] == 17 and values["marac_database_up"] == 1
    registry.outbox_pending.set(math.nan)  # unknown, rather than the last value seen
    assert math.isnan(samples(registry.render())["marac_outbox_pending"])


def test_module_hooks_use_the_process_registry() -> None:
    before = metrics.METRICS.sample("marac_updates_total")
    sent = metrics.METRICS.sample("marac_reminders_sent_total")
    metrics.observe_update(0.01)
    metrics.record_dispatch(DispatchReport(sent=2))
    metrics.mark_dispatcher_run()
    assert metrics.METRICS.sample("marac_updates_total") == before + 1
    assert metrics.METRICS.sample("marac_reminders_sent_total") == sent + 2
    text = metrics.render()
    assert "marac_updates_total" in text
    # The library's own collectors come with the process registry.
    assert "process_resident_memory_bytes" in text or "python_gc_objects_collected_total" in text


async def test_timed_update_processor_times_every_update_even_failing_ones() -> None:
    registry = Metrics()
    processor = TimedUpdateProcessor(metrics=registry)
    assert processor.max_concurrent_updates == 1
    async with processor:

        async def handle() -> None:
            await asyncio.sleep(0.02)

        async def fail() -> None:
            raise RuntimeError("boom")

        await processor.process_update(object(), handle())
        with pytest.raises(RuntimeError):
            await processor.process_update(object(), fail())
    assert registry.sample("marac_updates_total") == 2
    assert registry.sample("marac_handler_seconds_count") == 2
    assert registry.sample("marac_handler_seconds_sum") >= 0.02

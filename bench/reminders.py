"""Reminder storm: many reminders fall due at the same instant. Are they all sent, once, in time?

Run from the project root::

    /work/venv/bin/python -m bench.reminders                     # 10,000 / 2,000 / sqlite / 2
    /work/venv/bin/python -m bench.reminders --reminders 1000 --recipients 200   # quick run
    /work/venv/bin/python -m bench.reminders --database postgresql --dispatchers 4

What the benchmark does
-----------------------
1. A temporary folder holds a fresh SQLite database; with ``--database postgresql`` a throwaway
   database ``marac_bench_<pid>`` is created on the server instead (and dropped afterwards).
   The schema is built by ``storage.migrate.upgrade``, as in production.
2. The local Bot API stand-in (``bot.sandbox.BotApiStandIn``) starts on 127.0.0.1 and every
   recipient is registered with it, so each private chat exists.
3. Every reminder is queued with ``bot.services.outbox.enqueue`` (in transactions of 500),
   round-robin over the recipients (reminder i goes to recipient i mod R), each with its own
   dedupe key and a unique text, not urgent, all due at the same instant.
4. The real Application runs against the stand-in (``bot.adapter.local.running_bot``), so
   every send goes
   through ``application.bot``: PTB's ExtBot with the ``AIORateLimiter`` that
   ``bot.adapter.application`` builds, over real HTTP. ``--dispatchers`` concurrent loops call
   ``bot.adapter.dispatcher.dispatch_due`` until the outbox holds nothing pending.

Choices, and why
----------------
* Time: the runtime's clock is real time shifted to a daytime instant (12:00 Europe/London
  today), so non-urgent reminders are never held for quiet hours (20:00-07:00) whatever hour the
  benchmark is run at. Reminders are queued as due at 13:00 while the clock reads 12:00, and the
  clock jumps to 13:00 the moment the dispatchers start. In production reminders are written
  days ahead and then fall due together; this way lateness measures dispatching alone, not how
  long the benchmark took to queue the rows.
* The housekeeping job also dispatches. ``job_interval_seconds`` is set to 3600 and the job is
  removed once the Application is running, so only this script's loops dispatch: the number of
  concurrent dispatchers is exactly ``--dispatchers``, and the job's other steps add no noise.
  The job calls the same ``dispatch_due`` with the same bot, so ``--dispatchers 1`` is what the
  job itself would achieve.
* Engines: on PostgreSQL each dispatcher gets an engine (a connection pool) of its own, as
  separate bot instances sharing one database would; on SQLite they share the runtime's
  single-connection engine, as the handlers and jobs of one bot process do. ``--engines``
  overrides this.
* All dispatchers share one rate-limited bot, i.e. one process and one limiter. Separate
  processes would each have a limiter of their own and could together exceed Telegram's
  limits; that is outside what this benchmark shows.

What is measured
----------------
* Wall time from the due instant until nothing is pending, and messages per second over it;
  the steady rate between the 10th and 90th percentile deliveries; and the most messages the
  stand-in received in any one-second window.
* Those rates against Telegram's limits as PTB's ``AIORateLimiter`` enforces them
  (``telegram/ext/_aioratelimiter.py``): 30 requests a second overall for every request that
  has a ``chat_id`` (``FloodLimit.MESSAGES_PER_SECOND``, an aiolimiter leaky bucket that lets
  the first 30 through at once), and 20 a minute per *group* (negative chat ids only). It
  enforces nothing per private chat, although Telegram asks bots to avoid more than about one
  message a second in one chat; so the smallest gap between two messages to the same chat, and
  how many chats got two within a second, are reported too. Reminders are queued round-robin,
  so one dispatcher spaces a recipient's reminders R / 30 seconds apart; concurrent dispatchers
  each claim a block of ``--batch`` consecutive rows, so once ``dispatchers * batch`` exceeds R
  two blocks can hold the same recipient and reach them within the same second.
* Exactly once: duplicates (one chat received the same text more than once: must be 0), lost
  (queued but never received: must be 0) and stray (received but never queued for that chat:
  must be 0). Any of these makes the script exit with status 1; timings never do.
* Lateness: when the stand-in received each message (its recorded ``sent_at``) minus the due
  instant, p50 / p99 / max. With a 30/s limiter the last of N messages cannot be earlier than
  about (N - 30) / 30 seconds, so p99 mostly measures the queue, not overhead.
* Peak RSS of the whole process (``resource.getrusage``). The stand-in runs in the same
  process and keeps every message it receives, so this is an upper bound for the bot.
* The database afterwards (sent, failed, still pending, rows needing more than one attempt),
  the summed ``DispatchReport`` counts, and Bot API errors the stand-in answered.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import math
import os
import resource
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as wall_time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Bot
from telegram.constants import FloodLimit
from telegram.warnings import PTBUserWarning

from bench.common import database_url
from bot.adapter.dispatcher import DispatchReport, dispatch_due
from bot.adapter.local import running_bot
from bot.meetings.workdays import is_working_day
from bot.runtime import Runtime, open_runtime
from bot.sandbox import BotApiStandIn
from bot.services.outbox import OutboxService, enqueue
from config import Settings
from storage.db import create_engine, create_session_factory
from storage.keyfile import key_ring_from_document, new_key_document
from storage.migrate import upgrade
from storage.models import OutboxMessage

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
TIMEZONE = "Europe/London"
ENQUEUE_BATCH = 500
FIRST_CHAT_ID = 700_000_001
IDLE_POLL_SECONDS = 0.1
PROGRESS_EVERY_SECONDS = 30.0


class ShiftedClock:
    """Real time moved by a fixed offset, so the run happens at a chosen wall-clock moment."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def jump_to(self, moment: datetime) -> None:
        self._offset = moment - datetime.now(UTC)

    def from_epoch(self, seconds: float) -> float:
        """A ``time.time()`` reading (as the stand-in records) on this clock, in epoch seconds."""
        return seconds + self._offset.total_seconds()


def daytime_start() -> datetime:
    """Noon in London today, or on the next working day (reminders wait for one): far from
    quiet hours for the whole length of a run."""
    day = datetime.now(ZoneInfo(TIMEZONE)).date()
    while not is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, wall_time(12), tzinfo=ZoneInfo(TIMEZONE)).astimezone(UTC)


@dataclass
class Totals:
    """``DispatchReport`` fields summed over every batch of every dispatcher."""

    batches: int = 0  # dispatch_due calls, including ones that found nothing to claim
    counts: Counter[str] = field(default_factory=Counter)

    def add(self, report: DispatchReport) -> None:
        self.batches += 1
        for item in dataclasses.fields(report):
            self.counts[item.name] += getattr(report, item.name)


@dataclass(frozen=True)
class Reminder:
    chat_id: int
    text: str


@dataclass(frozen=True)
class Outcome:
    delivered: int
    duplicates: int
    lost: int
    stray: int
    times: list[float]  # stand-in receipt times, epoch seconds on the shifted clock
    per_chat: dict[int, list[float]]


def reminders_for(count: int, recipients: Sequence[int]) -> list[Reminder]:
    return [
        Reminder(
            recipients[i % len(recipients)],
            f"Reminder {i + 1} of {count}: action plan review for case ref B{i + 1:06d} is due.",
        )
        for i in range(count)
    ]


async def enqueue_all(runtime: Runtime, reminders: Sequence[Reminder], due: datetime) -> None:
    now = runtime.clock.now()
    area_id = (await runtime.services.areas.ensure_area("Benchshire", TIMEZONE)).id
    for start in range(0, len(reminders), ENQUEUE_BATCH):
        async with runtime.sessions.begin() as session:
            for number, reminder in enumerate(reminders[start : start + ENQUEUE_BATCH], start):
                queued = await enqueue(
                    session,
                    dedupe_key=f"bench:reminder:{number}",
                    chat_id=reminder.chat_id,
                    kind="reminder",
                    text=reminder.text,
                    now=now,
                    due_at=due,
                    area_id=area_id,
                )
                if not queued:
                    raise RuntimeError(f"reminder {number} was not queued")


async def dispatch_loop(
    bot: Bot, outbox: OutboxService, totals: Totals, batch: int, deadline: float
) -> None:
    """Dispatch until nothing is pending (or the deadline passes, which counts rows as lost)."""
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        report = await dispatch_due(bot, outbox, batch=batch)
        totals.add(report)
        if report.total or report.skipped:
            continue
        if await outbox.pending_count() == 0:
            return
        # Others hold the last leases, or a retry is not due yet.
        await asyncio.sleep(IDLE_POLL_SECONDS)


async def progress(server: BotApiStandIn, total: int, started: float) -> None:
    while True:
        await asyncio.sleep(PROGRESS_EVERY_SECONDS)
        sent = server.call_count("sendMessage")
        elapsed = time.monotonic() - started
        print(f"  … {elapsed:4.0f} s: {sent}/{total} sendMessage calls", file=sys.stderr)


def outcome(server: BotApiStandIn, reminders: Sequence[Reminder], clock: ShiftedClock) -> Outcome:
    expected = {(r.chat_id, r.text) for r in reminders}
    received: Counter[tuple[int, str | None]] = Counter()
    times: list[float] = []
    per_chat: dict[int, list[float]] = defaultdict(list)
    for chat_id in {r.chat_id for r in reminders}:
        for message in server.messages(chat_id):
            if not message.from_bot:
                continue
            received[(chat_id, message.text)] += 1
            at = clock.from_epoch(message.sent_at)
            times.append(at)
            per_chat[chat_id].append(at)
    return Outcome(
        delivered=sum(received.values()),
        duplicates=sum(n - 1 for n in received.values() if n > 1),
        lost=sum(1 for key in expected if key not in received),
        stray=sum(n for key, n in received.items() if key not in expected),
        times=sorted(times),
        per_chat=per_chat,
    )


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def peak_in_window(ordered: Sequence[float], window: float = 1.0) -> int:
    best, low = 0, 0
    for high, at in enumerate(ordered):
        while at - ordered[low] >= window:
            low += 1
        best = max(best, high - low + 1)
    return best


async def database_state(runtime: Runtime) -> dict[str, int]:
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(
                    func.count().filter(OutboxMessage.sent_at.is_not(None)),
                    func.count().filter(OutboxMessage.failed_at.is_not(None)),
                    func.count().filter(
                        OutboxMessage.sent_at.is_(None),
                        OutboxMessage.failed_at.is_(None),
                        OutboxMessage.cancelled_at.is_(None),
                    ),
                    func.count().filter(OutboxMessage.attempts > 0),
                )
            )
        ).one()
    sent, failed, pending, retried = (int(value) for value in rows)
    return {"sent": sent, "failed": failed, "pending": pending, "retried": retried}


def outboxes(
    runtime: Runtime, url: str, count: int, separate: bool
) -> tuple[list[OutboxService], list[AsyncEngine]]:
    """One OutboxService per dispatcher; with ``separate`` each has an engine of its own."""
    if not separate:
        return [runtime.services.outbox] * count, []
    engines = [create_engine(url) for _ in range(count)]
    audit_key = runtime.vault.key_ring.audit_key()
    services = [
        OutboxService(
            dataclasses.replace(
                runtime.deps, sessions=create_session_factory(engine, audit_key=audit_key)
            )
        )
        for engine in engines
    ]
    return services, engines


def row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<34} {value:>14}  {note}".rstrip()


async def run(args: argparse.Namespace) -> int:
    separate = args.engines == "separate" or (
        args.engines == "auto" and args.database == "postgresql"
    )
    start = daytime_start()
    due = start + timedelta(hours=1)
    clock = ShiftedClock(start)
    recipients = [FIRST_CHAT_ID + k for k in range(args.recipients)]
    reminders = reminders_for(args.reminders, recipients)
    totals = Totals()

    with tempfile.TemporaryDirectory(prefix="marac-bench-") as tmp:
        folder = Path(tmp)
        async with database_url(args.database, folder, args.postgres_url, "bench") as url:
            settings = Settings(
                database_url=url,
                key_file=folder / "keys.json",
                job_interval_seconds=3600,
                morning_digest=False,
                audit_checkpoints=False,
            )
            runtime = open_runtime(
                settings,
                clock=clock,
                key_ring=key_ring_from_document(new_key_document(), "bench"),
            )
            engines: list[AsyncEngine] = []
            try:
                await upgrade(runtime.engine)
                async with BotApiStandIn() as server:
                    driver = server.driver()
                    for number, chat_id in enumerate(recipients, 1):
                        driver.user(chat_id, f"Recipient {number}")

                    queued_at = time.monotonic()
                    await enqueue_all(runtime, reminders, due)
                    enqueue_seconds = time.monotonic() - queued_at

                    async with running_bot(runtime, server) as application:
                        if application.job_queue is not None:
                            for job in application.job_queue.get_jobs_by_name("housekeeping"):
                                job.schedule_removal()
                        services, engines = outboxes(runtime, url, args.dispatchers, separate)
                        clock.jump_to(due)
                        began = time.monotonic()
                        deadline = asyncio.get_running_loop().time() + args.timeout
                        reporter = asyncio.create_task(progress(server, len(reminders), began))
                        try:
                            await asyncio.gather(
                                *(
                                    dispatch_loop(
                                        application.bot, outbox, totals, args.batch, deadline
                                    )
                                    for outbox in services
                                )
                            )
                        finally:
                            reporter.cancel()
                            with contextlib.suppress(asyncio.CancelledError):
                                await reporter
                        wall = time.monotonic() - began

                    state = await database_state(runtime)
                    result = outcome(server, reminders, clock)
                    send_calls = server.call_count("sendMessage")
                    api_errors = Counter(
                        f"{e.status} {e.description}"
                        for e in server.errors
                        if e.method == "sendMessage"
                    )
            finally:
                for engine in engines:
                    await engine.dispose()
                await runtime.close()

    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    report(
        args,
        separate=separate,
        enqueue_seconds=enqueue_seconds,
        wall=wall,
        due=due.timestamp(),
        result=result,
        state=state,
        totals=totals,
        send_calls=send_calls,
        api_errors=api_errors,
        peak_rss_mib=peak_rss_mib,
    )
    return 1 if result.duplicates or result.lost or result.stray else 0


def report(
    args: argparse.Namespace,
    *,
    separate: bool,
    enqueue_seconds: float,
    wall: float,
    due: float,
    result: Outcome,
    state: dict[str, int],
    totals: Totals,
    send_calls: int,
    api_errors: Counter[str],
    peak_rss_mib: float,
) -> None:
    times = result.times
    lateness = [at - due for at in times]
    rate = result.delivered / wall if wall > 0 else float("nan")
    steady = float("nan")
    if len(times) >= 10:
        low, high = percentile(times, 0.10), percentile(times, 0.90)
        if high > low:
            steady = (0.8 * len(times)) / (high - low)
    gaps = [
        later - earlier
        for chat_times in result.per_chat.values()
        for earlier, later in zip(sorted(chat_times), sorted(chat_times)[1:], strict=False)
    ]
    close_chats = sum(
        1
        for chat_times in result.per_chat.values()
        if any(
            b - a < 1.0 for a, b in zip(sorted(chat_times), sorted(chat_times)[1:], strict=False)
        )
    )
    overall_limit = float(FloodLimit.MESSAGES_PER_SECOND)
    engines = "one per dispatcher" if separate else "shared"

    print()
    print(
        f"Reminder storm: {args.reminders} reminders for {args.recipients} recipients, "
        f"{args.database}, {args.dispatchers} dispatcher(s), engines {engines}, "
        f"batch {args.batch}"
    )
    print(
        "Limiter: PTB AIORateLimiter as bot.adapter.application builds it: "
        f"{FloodLimit.MESSAGES_PER_SECOND}/s overall, "
        f"{FloodLimit.MESSAGES_PER_MINUTE_PER_GROUP}/min per group chat, none per private chat"
    )
    print()
    print(row("queueing (not timed against due)", f"{enqueue_seconds:.1f} s"))
    print(row("wall time, due → outbox empty", f"{wall:.1f} s"))
    print(row("delivered", f"{result.delivered}", f"of {args.reminders} queued"))
    print(
        row(
            "messages/s overall",
            f"{rate:.1f}",
            f"{rate / overall_limit:.0%} of the {overall_limit:.0f}/s limit",
        )
    )
    print(row("messages/s steady (p10→p90)", f"{steady:.1f}"))
    print(
        row(
            "peak messages in any 1 s",
            f"{peak_in_window(times)}",
            "leaky bucket: first 30 at once, then 30/s",
        )
    )
    print(
        row(
            "smallest gap, same chat",
            f"{min(gaps):.1f} s" if gaps else "n/a",
            f"{close_chats} chat(s) got 2 within 1 s (Telegram asks ≤ ~1/s)",
        )
    )
    print(row("lateness p50", f"{percentile(lateness, 0.50):.1f} s"))
    print(row("lateness p99", f"{percentile(lateness, 0.99):.1f} s"))
    print(row("lateness max", f"{max(lateness, default=float('nan')):.1f} s"))
    print(row("sent twice", f"{result.duplicates}", "must be 0"))
    print(row("lost", f"{result.lost}", "must be 0"))
    print(row("stray (wrong chat or text)", f"{result.stray}", "must be 0"))
    print(row("sendMessage calls at stand-in", f"{send_calls}"))
    print(
        row(
            "sendMessage errors at stand-in",
            f"{sum(api_errors.values())}",
            "; ".join(f"{n}× {text}" for text, n in api_errors.most_common(3)),
        )
    )
    print(
        row(
            "outbox rows sent/failed/pending",
            f"{state['sent']}/{state['failed']}/{state['pending']}",
            f"{state['retried']} needed a retry",
        )
    )
    counts = totals.counts
    print(
        row(
            "dispatch_due calls (summed)",
            f"{totals.batches}",
            " ".join(f"{name}={counts[name]}" for name in sorted(counts)),
        )
    )
    print(row("peak RSS (bot + stand-in)", f"{peak_rss_mib:.0f} MiB"))
    print()
    verdict = (
        "OK: every reminder delivered exactly once"
        if not (result.duplicates or result.lost or result.stray)
        else "FAILED: duplicated, lost or stray messages"
    )
    print(verdict)


def dispatcher_count(value: str) -> int:
    number = int(value)
    if not 1 <= number <= 4:
        raise argparse.ArgumentTypeError("must be 1 to 4")
    return number


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.reminders",
        description="Many reminders due at once, dispatched through the Bot API stand-in with "
        "the real rate limiter: throughput, exactly-once delivery and lateness.",
    )
    parser.add_argument("--reminders", type=positive, default=10_000)
    parser.add_argument("--recipients", type=positive, default=2_000)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--dispatchers",
        type=dispatcher_count,
        default=2,
        help="concurrent dispatch loops, 1-4 (default 2)",
    )
    parser.add_argument(
        "--engines",
        choices=("auto", "shared", "separate"),
        default="auto",
        help="dispatchers share the runtime's engine, or each has its own "
        "(auto: separate on PostgreSQL, shared on SQLite)",
    )
    parser.add_argument("--batch", type=positive, default=100, help="rows claimed per batch")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MARAC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (default: %(default)s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="give up dispatching after this many seconds; undelivered rows count as lost",
    )
    args = parser.parse_args(argv)
    if args.recipients > args.reminders:
        parser.error("--recipients must not exceed --reminders")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    # Raised while other modules' ConversationHandlers are built; not about dispatching.
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

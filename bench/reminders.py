"""Reminder storm: many reminders fall due at the same instant. Are they all sent, once, in time?

Run from the project root::

    /work/venv/bin/python -m bench.reminders                     # 10,000 / 2,000 / sqlite / 2
    /work/venv/bin/python -m bench.reminders --reminders 1000 --recipients 200   # quick run
    /work/venv/bin/python -m bench.reminders --database postgresql --dispatchers 4
    /work/venv/bin/python -m bench.reminders --people 20          # 20 people pressing buttons
    /work/venv/bin/python -m bench.reminders --quick --people 20  # the same, 1,000 / 200: quick

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
   through ``application.bot``: PTB's ExtBot with the two-lane ``LaneRateLimiter`` that
   ``bot.adapter.application`` builds (``bot.adapter.rate_limiter``), over real HTTP; the
   dispatcher sends in its bulk lane. ``--dispatchers`` concurrent loops call
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
* Those rates against Telegram's limits as ``bot.send_lanes`` keeps them: at most 30 requests
  with a ``chat_id`` in any second (``FloodLimit.MESSAGES_PER_SECOND``), bulk sends spread
  evenly over it; per chat a token bucket (private chats: 20, refilled one a second; groups:
  20 a minute); bulk leaves a busy person 5 of their chat's budget (so one recipient gets at
  most 15 reminders at once, then one a second); a person's own answers in a private chat
  follow their pace (``Limits.pace_private_replies``).
  The smallest gap between two messages to the same chat, and how many chats got two within a
  second, are reported. The peak in any one second is counted at the stand-in, by arrival: on
  a busy machine requests granted a second apart can arrive a little closer together.
* Exactly once: duplicates (one chat received the same text more than once: must be 0), lost
  (queued but never received: must be 0) and stray (received but never queued for that chat:
  must be 0). Any of these makes the script exit with status 1; timings never do.
* Lateness: when the stand-in received each message (its recorded ``sent_at``) minus the due
  instant, p50 / p99 / max. With a 30/s limiter the last of N messages cannot be earlier than
  about (N - 30) / 30 seconds, so p99 mostly measures the queue, not overhead.
* ``--people N`` (say 20): N coordinators are enrolled (``/start`` with an operator's invite
  code) and, one after another, send ``/meetings``, press its *New meeting* button, send
  ``/cancel``, ``/help`` and a line of text, waiting for the bot's first answer to each (a
  message, an edit or the callback answer, as the stand-in records it) and then pausing
  ``--think`` seconds (1-3 by default). First the stand-in's own round trip is measured
  (``getMe`` over HTTP, no bot: the **baseline** the target is measured beyond); then, with the
  reminders queued but not yet due, every person goes through their actions twice: the answer
  time of this bot on this machine with nothing draining. Then the clock jumps, the reminders
  drain, and the people keep going until the outbox is empty. Reported: answer time p50 / p99
  while draining, beyond the stand-in's p50 (the target: p99 under 1 s) and beyond the
  nothing-draining figures; how long calls waited in the limiter, per lane (from asking to
  being let go, so a busy event loop's delay is in it too); the reminders' rate plus the
  people's messages and edits per second
  against the 30/s budget (bulk gets what the people leave); and any action left unanswered
  (which, like a lost or duplicated reminder, makes the exit status 1).
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
import functools
import math
import os
import random
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
from bot import texts
from bot.adapter.dispatcher import DispatchReport, dispatch_due
from bot.adapter.local import running_bot
from bot.adapter.rate_limiter import LaneRateLimiter
from bot.meetings.workdays import is_working_day
from bot.runtime import Runtime, open_runtime
from bot.sandbox import BotApiStandIn, Driver
from bot.sandbox.records import TranscriptEvent
from bot.send_lanes import Lane, Limits
from bot.services.outbox import OutboxService, enqueue
from bot.vocabulary import Role
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
# --people: enrolled coordinators pressing buttons and sending commands while reminders drain.
FIRST_PERSON_ID = 600_000_001
PERSON_ACTIONS: tuple[tuple[str, str], ...] = (
    ("send", "/meetings"),
    ("press", texts.BUTTON_NEW_MEETING),
    ("send", "/cancel"),
    ("send", "/help"),
    ("send", "Thank you"),
)
REPLY_EVENTS = frozenset(
    {"bot_message", "bot_document", "bot_edit", "bot_markup_edit", "callback_answer"}
)
CHAT_EVENTS = REPLY_EVENTS - {"callback_answer"}
REPLY_TIMEOUT = 120.0
BASELINE_ROUNDS = 2  # each person's actions, all of them, with nothing draining
STANDIN_PINGS = 50


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


@dataclass
class Interactions:
    """What people waited for: from their message or press to the bot's first answer to it."""

    latencies: list[float] = field(default_factory=list)  # seconds
    problems: Counter[str] = field(default_factory=Counter)


@dataclass
class PeopleRun:
    """The --people run: the stand-in's own latency, people's waits with nothing draining (the
    baseline) and while the reminders drain, and what the bot sent in those chats meanwhile."""

    count: int
    ping: list[float] = field(default_factory=list)  # seconds, sorted
    baseline: Interactions = field(default_factory=Interactions)
    during: Interactions = field(default_factory=Interactions)
    drain_seconds: float = 0.0
    limiter_waits: dict[Lane, list[float]] = field(default_factory=dict)  # seconds, sorted
    chat_calls: int = 0  # messages and edits in the people's chats during the drain
    peak_all: int = 0  # most messages and edits in any 1 s, reminders and replies together

    @property
    def unanswered(self) -> int:
        return sum(self.baseline.problems.values()) + sum(self.during.problems.values())

    def note_drain(
        self, server: BotApiStandIn, people: set[int], began: float, ended: float
    ) -> None:
        self.drain_seconds = ended - began
        chat_events = [e for e in server.events if e.kind in CHAT_EVENTS and began <= e.at <= ended]
        self.chat_calls = sum(1 for e in chat_events if e.chat_id in people)
        self.peak_all = peak_in_window(sorted(e.at for e in chat_events))


async def enrol_people(runtime: Runtime, driver: Driver, count: int) -> list[int]:
    """``count`` coordinators, enrolled by the operator's invite codes as a person would."""
    area_id = (await runtime.services.areas.ensure_area("Benchshire", TIMEZONE)).id
    people = []
    for number in range(count):
        issued = await runtime.services.invites.issue(None, area_id=area_id, role=Role.COORDINATOR)
        user = driver.user(FIRST_PERSON_ID + number, f"Person {number + 1}", last_name="Bench")
        replies = await user.send_and_wait(f"/start {issued.code}", count=2, timeout=REPLY_TIMEOUT)
        if "Welcome" not in (replies[0].text or ""):
            raise RuntimeError(f"person {number + 1} was not enrolled: {replies[0].text!r}")
        people.append(user.id)
    return people


def first_reply(server: BotApiStandIn, marker: int, chat_id: int) -> TranscriptEvent | None:
    for event in server.events[marker:]:
        if event.chat_id == chat_id and event.kind in REPLY_EVENTS:
            return event
    return None


async def interact(
    server: BotApiStandIn,
    chat_id: int,
    found: Interactions,
    rng: random.Random,
    think: tuple[float, float],
    *,
    rounds: int | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """One person: an action, wait for the bot's first answer to it, think, the next action;
    for ``rounds`` times through PERSON_ACTIONS, or until ``stop`` is set."""
    step = 0
    while (rounds is None or step < rounds * len(PERSON_ACTIONS)) and not (stop and stop.is_set()):
        kind, value = PERSON_ACTIONS[step % len(PERSON_ACTIONS)]
        step += 1
        marker = len(server.events)
        sent_at = time.time()
        if kind == "send":
            server.post_user_message(chat_id, value)
        else:
            shown = next(
                (
                    (m, b)
                    for m in reversed(server.messages(chat_id))
                    if m.from_bot and not m.deleted
                    for b in [m.find_button(value)]
                    if b is not None and b.callback_data
                ),
                None,
            )
            if shown is None:
                found.problems[f"no [{value}] button to press"] += 1
                continue
            message, button = shown
            assert button.callback_data is not None
            sent_at = time.time()
            server.press_callback(chat_id, chat_id, message.message_id, button.callback_data)
        reply = await server.wait_until(
            functools.partial(first_reply, server, marker, chat_id), REPLY_TIMEOUT
        )
        if reply is None:
            found.problems[f"no answer to {value!r}"] += 1
            continue
        found.latencies.append(reply.at - sent_at)
        if reply.text in (texts.SOMETHING_WENT_WRONG, texts.SERVICE_BUSY):
            found.problems["an apology instead of an answer"] += 1
        # Think; the rest of this action's answers arrive meanwhile.
        pause = rng.uniform(*think)
        if stop is None:
            await asyncio.sleep(pause)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)


async def stand_in_latency(server: BotApiStandIn, count: int) -> list[float]:
    """The stand-in's own round trip: ``getMe`` over HTTP, no bot, no limiter."""
    import httpx

    took = []
    async with httpx.AsyncClient() as client:
        for _ in range(count):
            began = time.perf_counter()
            response = await client.post(f"{server.base_url}{server.token}/getMe")
            response.raise_for_status()
            took.append(time.perf_counter() - began)
    return sorted(took)


def row(label: str, value: str, note: str = "") -> str:
    return f"  {label:<38} {value:>17}  {note}".rstrip()


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
    people_run = PeopleRun(args.people)

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
                        people: list[int] = []
                        if args.people:
                            people = await enrol_people(runtime, driver, args.people)
                            ping = await stand_in_latency(server, STANDIN_PINGS)
                            await asyncio.gather(
                                *(
                                    interact(
                                        server,
                                        chat_id,
                                        people_run.baseline,
                                        random.Random(chat_id),
                                        args.think,
                                        rounds=BASELINE_ROUNDS,
                                    )
                                    for chat_id in people
                                )
                            )
                            people_run.ping = ping
                        limiter = application.bot.rate_limiter
                        if isinstance(limiter, LaneRateLimiter):
                            for waits in limiter.waits.values():
                                waits.clear()
                        clock.jump_to(due)
                        began = time.monotonic()
                        began_epoch = time.time()
                        deadline = asyncio.get_running_loop().time() + args.timeout
                        reporter = asyncio.create_task(progress(server, len(reminders), began))
                        stop = asyncio.Event()
                        pressing = [
                            asyncio.create_task(
                                interact(
                                    server,
                                    chat_id,
                                    people_run.during,
                                    random.Random(-chat_id),
                                    args.think,
                                    stop=stop,
                                )
                            )
                            for chat_id in people
                        ]
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
                            ended_epoch = time.time()
                            stop.set()
                            await asyncio.gather(*pressing)
                        people_run.note_drain(server, set(people), began_epoch, ended_epoch)
                        if isinstance(limiter, LaneRateLimiter):
                            people_run.limiter_waits = {
                                lane: sorted(waits) for lane, waits in limiter.waits.items()
                            }

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
    if args.people:
        report_people(people_run, result.delivered / wall if wall > 0 else float("nan"))
    failed = result.duplicates or result.lost or result.stray or people_run.unanswered
    return 1 if failed else 0


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
    limits = Limits()
    print(
        "Limiter: bot.adapter.rate_limiter as bot.adapter.application builds it: "
        f"{limits.overall} in any {limits.overall_period:g} s overall, bulk spaced evenly; "
        f"per private chat a budget of {limits.private_burst}, refilled "
        f"{limits.private_rate:g}/s, of which bulk leaves {limits.bulk_leaves} for the "
        "person's replies"
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
            "at the stand-in (arrival times jitter on a busy machine)",
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


def report_people(run: PeopleRun, reminder_rate: float) -> None:
    baseline = sorted(run.baseline.latencies)
    during = sorted(run.during.latencies)
    limit = float(FloodLimit.MESSAGES_PER_SECOND)
    ping50 = percentile(run.ping, 0.50)
    base50, base99 = percentile(baseline, 0.50), percentile(baseline, 0.99)
    p50, p99 = percentile(during, 0.50), percentile(during, 0.99)
    replies_rate = run.chat_calls / run.drain_seconds if run.drain_seconds > 0 else float("nan")
    print()
    print(
        f"{run.count} people pressing buttons and sending commands "
        f"({', '.join(value for _, value in PERSON_ACTIONS)}), each answer awaited, "
        "then a pause to think"
    )
    print()
    print(
        row(
            "stand-in round trip p50 / p99",
            f"{ms(ping50)} / {ms(percentile(run.ping, 0.99))}",
            "getMe over HTTP, no bot",
        )
    )
    print(
        row(
            "answer, nothing draining p50 / p99",
            f"{ms(base50)} / {ms(base99)}",
            f"baseline, {len(baseline)} actions",
        )
    )
    print(
        row(
            "answer, reminders draining p50 / p99",
            f"{ms(p50)} / {ms(p99)}",
            f"{len(during)} actions",
        )
    )
    print(
        row(
            "beyond the stand-in p50 / p99",
            f"{ms(p50 - ping50)} / {ms(p99 - ping50)}",
            "while draining, less the stand-in's p50; target: p99 under 1 s",
        )
    )
    print(
        row(
            "beyond nothing draining p50 / p99",
            f"{ms(p50 - base50)} / {ms(p99 - base99)}",
            "while draining, less the baseline's same percentile",
        )
    )
    for lane in Lane:
        waits = run.limiter_waits.get(lane, [])
        print(
            row(
                f"waiting in the limiter, {lane} p50 / p99",
                f"{ms(percentile(waits, 0.5))} / {ms(percentile(waits, 0.99))}",
                f"{len(waits)} calls while draining",
            )
        )
    print(
        row(
            "people's messages/edits per s",
            f"{replies_rate:.1f}",
            "in their chats, while draining",
        )
    )
    print(
        row(
            "reminders + replies per s",
            f"{reminder_rate + replies_rate:.1f}",
            f"{(reminder_rate + replies_rate) / limit:.0%} of the {limit:.0f}/s limit",
        )
    )
    print(
        row(
            "peak messages in any 1 s, all",
            f"{run.peak_all}",
            f"arrivals at the stand-in; the limiter grants at most {limit:.0f}",
        )
    )
    problems = run.baseline.problems + run.during.problems
    print(
        row(
            "actions without an answer",
            f"{run.unanswered}",
            "; ".join(f"{n}× {text}" for text, n in problems.most_common(3)) or "must be 0",
        )
    )
    met = p99 - ping50 < 1.0
    print()
    print(
        ("OK" if met else "NOT MET")
        + f": interactive p99 {ms(p99 - ping50)} beyond the stand-in's own latency "
        "(target under 1 s)"
    )


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def think_range(value: str) -> tuple[float, float]:
    low, _, high = value.partition("-")
    try:
        pair = (float(low), float(high or low))
    except ValueError as error:
        raise argparse.ArgumentTypeError("give seconds as LOW-HIGH, e.g. 1-3") from error
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError("need 0 <= LOW <= HIGH")
    return pair


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
    parser.add_argument(
        "--people",
        type=int,
        default=0,
        help="enrol this many coordinators who press buttons and send commands while the "
        "reminders drain, and report how long their answers took (e.g. 20)",
    )
    parser.add_argument(
        "--think",
        type=think_range,
        default=(1.0, 3.0),
        help="seconds each person pauses between actions, LOW-HIGH (default 1-3)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a quick check: 1,000 reminders for 200 recipients (overrides those two)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.reminders, args.recipients = 1_000, 200
    if args.recipients > args.reminders:
        parser.error("--recipients must not exceed --reminders")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    # Raised while other modules' ConversationHandlers are built; not about dispatching.
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

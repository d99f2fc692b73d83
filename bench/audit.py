"""Audit appends: what recording an event costs, as nearly every update records one.

Run from the project root::

    .venv/bin/python -m bench.audit                          # 2,000 appends, sqlite
    .venv/bin/python -m bench.audit --database postgresql
    .venv/bin/python -m bench.audit --events 500 --rounds 3  # quick run

What it does
------------
1. A fresh SQLite file (or a throwaway PostgreSQL database ``marac_audit_<pid>``, dropped
   afterwards) gets the schema from ``storage.migrate.upgrade``; ``open_runtime`` wires it with
   a fresh key ring, as the bot does.
2. ``--events`` transactions each append one event with ``storage.audit.append_event``, the way
   a service records a change (``BEGIN``; take the chain head; ``INSERT``; set the head's hash;
   ``COMMIT``), one after another; then as many transactions append a batch of 20 with
   ``append_events``, as an agenda view records every case it shows. Each transaction is timed
   with ``time.perf_counter``; the median and p95 are reported.
3. ``verify_chain`` then walks everything written, timed once per round.
4. The link alone, outside any database: one event's canonical bytes hashed with SHA-256 (the
   chain before the audit key) and with HMAC-SHA256 (``hmac.digest``, the keyed chain), a
   million times each, so the figure is the primitive's cost and nothing else.

Each database part runs ``--rounds`` times on a fresh database; the best round is reported
(the machine is shared, so the best round is the one least disturbed), with the CPU time this
process spent (``time.process_time``, the SQLite worker thread included), which other load on
the machine disturbs far less than the wall-clock time. The same file runs
against any version of the bot that has ``append_event``, ``append_events`` and
``verify_chain``, which is how the figures before and after the keyed chain were taken.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import secrets
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.common import DEFAULT_POSTGRES_URL, database_url, ms, percentile, row
from bot.runtime import open_runtime
from config import Settings
from storage.audit import NewEvent, append_event, append_events, verify_chain
from storage.keyfile import key_ring_from_document, new_key_document
from storage.migrate import upgrade

BATCH = 20


async def one_round(url: str, folder: Path, events: int) -> dict[str, list[float]]:
    settings = Settings(database_url=url, key_file=folder / "keys.json")
    runtime = open_runtime(settings, key_ring=key_ring_from_document(new_key_document(), "bench"))
    times: dict[str, list[float]] = {"single": [], "batch": [], "verify": [], "cpu": []}
    at = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    try:
        await upgrade(runtime.engine)
        cpu = time.process_time()
        for n in range(events):
            started = time.perf_counter()
            async with runtime.sessions.begin() as session:
                await append_event(
                    session,
                    at=at + timedelta(milliseconds=n),
                    area_id=1,
                    actor_person_id=7,
                    actor_label="person",
                    action="case.viewed",
                    subject="NOR-2026-0001",
                    details={"path": "case card", "level": "full"},
                )
            times["single"].append(time.perf_counter() - started)
        times["cpu"].append((time.process_time() - cpu) / events)
        batch = [
            NewEvent("case.viewed", f"NOR-2026-{k:04d}", {"path": "agenda", "level": "summary"})
            for k in range(BATCH)
        ]
        cpu = time.process_time()
        for n in range(events):
            started = time.perf_counter()
            async with runtime.sessions.begin() as session:
                await append_events(
                    session,
                    batch,
                    at=at + timedelta(seconds=n),
                    area_id=1,
                    actor_person_id=7,
                    actor_label="person",
                )
            times["batch"].append(time.perf_counter() - started)
        times["cpu"].append((time.process_time() - cpu) / events)
        started = time.perf_counter()
        cpu = time.process_time()
        async with runtime.sessions() as session:
            report = await verify_chain(session)
        times["verify"].append(time.perf_counter() - started)
        times["cpu"].append(time.process_time() - cpu)
        if report.first_broken_seq is not None or report.events_checked != events * (1 + BATCH):
            raise RuntimeError(f"the chain written does not verify: {report}")
    finally:
        await runtime.close()
    return times


def links(count: int) -> tuple[float, float]:
    """Seconds per link: plain SHA-256 and HMAC-SHA256 over one event's canonical bytes."""
    content = (
        b'["' + b"0" * 64 + b'",123456,"2026-11-26T09:00:00.000000Z",1,7,"person",'
        b'"case.viewed","NOR-2026-0001","ok","{\\"level\\":\\"full\\",\\"path\\":\\"case card\\"}"]'
    )
    key = secrets.token_bytes(32)
    started = time.perf_counter()
    for _ in range(count):
        hashlib.sha256(content).hexdigest()
    plain = (time.perf_counter() - started) / count
    started = time.perf_counter()
    for _ in range(count):
        hmac.digest(key, content, "sha256").hex()
    keyed = (time.perf_counter() - started) / count
    return plain, keyed


async def run(args: argparse.Namespace) -> int:
    best: dict[str, list[float]] | None = None
    for number in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="marac-bench-audit-") as folder:
            async with database_url(args.database, Path(folder), args.postgres_url, "audit") as url:
                times = await one_round(url, Path(folder), args.events)
        print(
            f"round {number + 1}: single {ms(statistics.median(times['single']))}, "
            f"batch of {BATCH} {ms(statistics.median(times['batch']))}",
            file=sys.stderr,
        )
        if best is None or statistics.median(times["single"]) < statistics.median(best["single"]):
            best = times
    assert best is not None
    plain, keyed = links(args.links)
    single, batch = sorted(best["single"]), sorted(best["batch"])
    walked = args.events * (1 + BATCH)
    print(f"Audit appends on {args.database}, {args.events} transactions each (best round):")
    print(
        row(
            "one event per transaction",
            f"{ms(statistics.median(single))} / {ms(percentile(single, 0.95))}",
            f"median / p95; {len(single) / sum(single):.0f} transactions/s; "
            f"CPU {ms(best['cpu'][0])} each",
        )
    )
    print(
        row(
            f"{BATCH} events per transaction",
            f"{ms(statistics.median(batch))} / {ms(percentile(batch, 0.95))}",
            f"median / p95; CPU {ms(best['cpu'][1])} each",
        )
    )
    print(row("verify_chain", ms(best["verify"][0]), f"{walked} events; CPU {ms(best['cpu'][2])}"))
    print(row("link: SHA-256", f"{plain * 1e6:.2f} µs"))
    print(row("link: HMAC-SHA256", f"{keyed * 1e6:.2f} µs", f"{keyed / plain:.2f}x SHA-256"))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=2000, help="transactions of each kind")
    parser.add_argument("--rounds", type=int, default=3, help="fresh databases; best is shown")
    parser.add_argument("--links", type=int, default=1_000_000, help="links in the hash timing")
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES_URL)
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())

"""One bot of ``bench.throughput``, run in its own process; and the parent's handle on it.

``bench.throughput`` starts this module once per bot, as issue #20 measured: the Bot API
stand-in and the load stay in the parent, so the CPU figures here are the bot's own::

    python -m bench.throughput_bot --url http://127.0.0.1:PORT --token TOKEN --echo
    python -m bench.throughput_bot --url ... --token ... --database-url URL --key-file FILE

The child builds either the echo bot or ours (the real Application, with a runtime opened as
``marac-bot run`` opens it), freezes start-up's objects (``settle_after_start_up``), installs
the two probes, removes the job-queue jobs and polls the stand-in. It speaks JSON lines on
its stdout (anything else printed in the child goes to stderr):

* ``{"event": "ready", "processing": ..., "cpu": s}`` once polling has started;
* ``{"event": "update", "key": [...], "update_id": n, "wall": s, "cpu": s, "statements": n,
  "at": t}`` for every update that has gone through both probes: ``wall`` and ``cpu`` are
  ``perf_counter`` and ``process_time`` (this process only) between the probes, ``statements``
  the SQL statements our engine sent meanwhile, ``at`` the ``time.time()`` of the end probe;
* ``{"event": "reply", "command": ..., "cpu": s, "rss_mib": m}`` for each command read on its
  stdin, one a line: ``cpu`` (just the answer: this process's CPU time so far and peak RSS),
  ``profile-start`` and ``profile-stop`` (cProfile of this process between the two, written to
  ``--profile`` on stop: the parent brackets the timed run with them).

It stops cleanly (updater, then the Application, dropping what PTB still has queued, then
the runtime) when its stdin closes or on SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import signal
import sys
import time
import warnings
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from sqlalchemy import event
from telegram import Update
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bench.common import peak_rss_mib
from bot.adapter.application import build_application
from bot.adapter.heap import settle_after_start_up
from bot.adapter.persistence import WRITE_THROUGH_GROUP
from bot.adapter.update_order import ChatOrderedUpdateProcessor
from bot.runtime import open_runtime
from bot.sandbox import running_application
from config import Settings
from config.settings import bot_api_base_url, bot_api_file_url
from storage.keyfile import key_ring_from_document

BEGIN_GROUP = -1000
END_GROUP = WRITE_THROUGH_GROUP + 1
READY_SECONDS = 120.0
STOP_SECONDS = 30.0

Key = tuple[str, int, int] | tuple[str, str]
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


def key_of(update: Update) -> Key | None:
    if update.callback_query is not None:
        return ("q", str(update.callback_query.id))
    if update.message is not None:
        return ("m", update.message.chat_id, update.message.message_id)
    return None


def key_from_json(value: Sequence[Any]) -> Key:
    if value[0] == "q":
        return ("q", str(value[1]))
    return ("m", int(value[1]), int(value[2]))


# -- the child ----------------------------------------------------------------------------------


class Output:
    """The protocol's JSON lines, on the stdout this process was started with."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def emit(self, line: dict[str, Any]) -> None:
        self.stream.write(json.dumps(line) + "\n")
        self.stream.flush()


class Statements:
    """SQL statements sent by our bot's engine, counted as they go (none for the echo bot)."""

    def __init__(self) -> None:
        self.count = 0

    def note(self, *_args: object) -> None:
        self.count += 1


class Probe:
    """The two TypeHandlers around all processing; each finished update becomes a line."""

    def __init__(self, output: Output, statements: Statements) -> None:
        self.output = output
        self.statements = statements
        self.begun: dict[Key, tuple[float, float, int]] = {}

    async def begin(self, update: Update, context: object) -> None:
        key = key_of(update)
        if key is not None:
            self.begun[key] = (time.perf_counter(), time.process_time(), self.statements.count)

    async def end(self, update: Update, context: object) -> None:
        key = key_of(update)
        if key is None or key not in self.begun:
            return
        wall, cpu, statements = self.begun.pop(key)
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        statements = self.statements.count - statements
        self.output.emit(
            {
                "event": "update",
                "key": list(key),
                "update_id": update.update_id,
                "wall": wall,
                "cpu": cpu,
                "statements": statements,
                "at": time.time(),
            }
        )

    def install(self, application: AnyApplication) -> None:
        application.add_handler(TypeHandler(Update, self.begin), group=BEGIN_GROUP)
        application.add_handler(TypeHandler(Update, self.end), group=END_GROUP)


def echo_application(url: str, token: str, rate_limit: bool, concurrency: int) -> AnyApplication:
    """The smallest PTB bot that answers every update the same way, built like ours."""

    async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.effective_chat is not None and update.message is not None:
            await update.effective_chat.send_message(update.message.text or "")

    async def pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        if update.callback_query is not None:
            await update.callback_query.answer()

    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = ApplicationBuilder()
    builder = (
        builder.token(token)
        .base_url(bot_api_base_url(url))
        .base_file_url(bot_api_file_url(url))
        .concurrent_updates(ChatOrderedUpdateProcessor(concurrency))
    )
    if rate_limit:
        builder = builder.rate_limiter(AIORateLimiter(max_retries=3))
    application = builder.build()
    application.add_handler(MessageHandler(filters.ALL, echo))
    application.add_handler(CallbackQueryHandler(pressed))
    return application


@asynccontextmanager
async def polling(application: AnyApplication) -> AsyncIterator[None]:
    async with running_application(application, poll_timeout=1):
        if application.job_queue is not None:
            for job in application.job_queue.jobs():
                job.schedule_removal()
        try:
            yield
        finally:
            # After --max-seconds, drop what PTB has queued instead of working through it.
            if application.updater is not None and application.updater.running:
                await application.updater.stop()
            queue = application.update_queue
            while not queue.empty():
                queue.get_nowait()
                queue.task_done()


def processing_of(application: AnyApplication) -> str:
    processor = application.update_processor
    at_once = getattr(processor, "handled_at_once", processor.max_concurrent_updates)
    return f"{type(processor).__name__}, {at_once} update(s) at a time"


async def obey(output: Output, profile: Path | None) -> None:
    """Answer the parent's commands until stdin closes or SIGTERM arrives."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    profiler: cProfile.Profile | None = None
    stop_wait = asyncio.create_task(stopping.wait())
    try:
        while True:
            read = asyncio.create_task(reader.readline())
            await asyncio.wait({read, stop_wait}, return_when=asyncio.FIRST_COMPLETED)
            if not read.done():
                read.cancel()
                return
            line = read.result()
            if not line:
                return
            command = line.decode().strip()
            if command == "profile-start" and profile is not None:
                profiler = cProfile.Profile()
                profiler.enable()
            elif command == "profile-stop" and profiler is not None and profile is not None:
                profiler.disable()
                profiler.dump_stats(profile)
                profiler = None
            output.emit(
                {
                    "event": "reply",
                    "command": command,
                    "cpu": time.process_time(),
                    "rss_mib": peak_rss_mib(),
                }
            )
    finally:
        stop_wait.cancel()
        loop.remove_signal_handler(signal.SIGTERM)
        if profiler is not None and profile is not None:
            profiler.disable()
            profiler.dump_stats(profile)


async def run_bot(
    application: AnyApplication, output: Output, statements: Statements, profile: Path | None
) -> None:
    settle_after_start_up()  # as `marac-bot run` does once the bot is built; both bots alike
    Probe(output, statements).install(application)
    async with polling(application):
        output.emit(
            {"event": "ready", "processing": processing_of(application), "cpu": time.process_time()}
        )
        await obey(output, profile)


async def serve(args: argparse.Namespace, output: Output) -> None:
    statements = Statements()
    if args.echo:
        application = echo_application(args.url, args.token, args.rate_limit, args.concurrency)
        await run_bot(application, output, statements, args.profile)
        return
    document = json.loads(args.key_file.read_text())
    settings = Settings(
        database_url=args.database_url,
        key_file=args.key_file,
        job_interval_seconds=3600,
        morning_digest=False,
        audit_checkpoints=False,
        concurrent_updates=args.concurrency,
    )
    runtime = open_runtime(settings, key_ring=key_ring_from_document(document, "bench"))
    try:
        event.listen(runtime.engine.sync_engine, "before_cursor_execute", statements.note)
        application = build_application(
            runtime, token=args.token, base_url=args.url, rate_limit=args.rate_limit
        )
        await run_bot(application, output, statements, args.profile)
    finally:
        await runtime.close()


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput_bot",
        description="One bot of bench.throughput in its own process (started by it).",
    )
    parser.add_argument("--url", required=True, help="the Bot API stand-in's address")
    parser.add_argument("--token", required=True)
    parser.add_argument("--echo", action="store_true", help="the echo bot instead of ours")
    parser.add_argument("--database-url")
    parser.add_argument("--key-file", type=Path)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--rate-limit", action="store_true")
    parser.add_argument(
        "--profile", type=Path, help="cProfile of this process between profile-start and -stop"
    )
    args = parser.parse_args(argv)
    if not args.echo and (args.database_url is None or args.key_file is None):
        parser.error("our bot needs --database-url and --key-file")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    # The protocol owns the stdout this process was started with; whatever else is written to
    # file descriptor 1 from now on (print, logging, C code) goes to stderr.
    sys.stdout.flush()
    protocol = os.dup(1)
    os.dup2(2, 1)
    output = Output(os.fdopen(protocol, "w", encoding="utf-8"))
    asyncio.run(serve(args, output))
    return 0


# -- the parent's side --------------------------------------------------------------------------


@dataclass(frozen=True)
class Finished:
    """What the child reported for one update."""

    wall: float  # perf_counter seconds between the probes
    cpu: float  # the bot process's CPU seconds between the probes
    statements: int  # SQL statements our bot sent between the probes
    at: float  # time.time() of the end probe


class RemoteProbe:
    """The bot in its child process: futures for the updates the load waits on, and commands."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.update_ids: dict[Key, int] = {}
        self.waiters: dict[Key, asyncio.Future[Finished]] = {}
        self.early: dict[Key, Finished] = {}
        self.replies: list[asyncio.Future[dict[str, Any]]] = []
        self.ready: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls,
        *,
        url: str,
        token: str,
        echo: bool,
        concurrency: int,
        rate_limit: bool,
        database_url: str | None = None,
        key_file: Path | None = None,
        profile: Path | None = None,
    ) -> RemoteProbe:
        options = ["--url", url, "--token", token, "--concurrency", str(concurrency)]
        if echo:
            options.append("--echo")
        else:
            assert database_url is not None and key_file is not None
            options += ["--database-url", database_url, "--key-file", str(key_file)]
        if rate_limit:
            options.append("--rate-limit")
        if profile is not None:
            options += ["--profile", str(profile)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.throughput_bot",
            *options,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,
        )
        probe = cls(process)
        try:
            await asyncio.wait_for(asyncio.shield(probe.ready), READY_SECONDS)
        except BaseException:
            await probe.stop()
            raise
        return probe

    @property
    def processing(self) -> str:
        return str(self.ready.result()["processing"])

    def expect(self, key: Key) -> asyncio.Future[Finished]:
        future: asyncio.Future[Finished] = asyncio.get_running_loop().create_future()
        if key in self.early:
            future.set_result(self.early.pop(key))
        else:
            self.waiters[key] = future
        return future

    async def command(self, name: str) -> dict[str, Any]:
        """Send a command; its reply carries the child's CPU time so far and its peak RSS."""
        assert self.process.stdin is not None
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies.append(future)
        self.process.stdin.write(f"{name}\n".encode())
        await self.process.stdin.drain()
        return await future

    async def cpu(self) -> float:
        return float((await self.command("cpu"))["cpu"])

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            async for raw in self.process.stdout:
                line = json.loads(raw)
                kind = line["event"]
                if kind == "update":
                    key = key_from_json(line["key"])
                    self.update_ids[key] = int(line["update_id"])
                    finished = Finished(
                        float(line["wall"]),
                        float(line["cpu"]),
                        int(line["statements"]),
                        float(line["at"]),
                    )
                    future = self.waiters.pop(key, None)
                    if future is None:
                        self.early[key] = finished
                    elif not future.done():
                        future.set_result(finished)
                elif kind == "reply":
                    if self.replies:
                        self.replies.pop(0).set_result(line)
                elif kind == "ready" and not self.ready.done():
                    self.ready.set_result(line)
        finally:
            # The child is gone (or sent garbage): nobody waits for ever.
            gone = RuntimeError("the bot's process ended or broke the protocol")
            everything: list[asyncio.Future[Any]] = [self.ready, *self.waiters.values()]
            for pending in [*everything, *self.replies]:
                if not pending.done():
                    pending.set_exception(gone)
            self.waiters.clear()
            self.replies.clear()

    async def stop(self) -> int:
        """Close the child's stdin (it stops cleanly), terminating it if it takes too long."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            code = await asyncio.wait_for(self.process.wait(), STOP_SECONDS)
        except TimeoutError:
            self.process.terminate()
            try:
                code = await asyncio.wait_for(self.process.wait(), STOP_SECONDS)
            except TimeoutError:
                self.process.kill()
                code = await self.process.wait()
        with suppress(asyncio.CancelledError, RuntimeError, json.JSONDecodeError):
            await self.reader
        if not self.ready.done():
            self.ready.cancel()
        elif not self.ready.cancelled():
            self.ready.exception()  # looked at, so asyncio does not warn of it
        return code


if __name__ == "__main__":
    sys.exit(main())

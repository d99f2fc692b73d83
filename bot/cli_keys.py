"""``marac-bot keys rotate`` and ``marac-bot keys status``.

Rotation order keeps every data key openable at every moment: the new key-encryption
key (KEK) is written to the key file first, next to the old ones; data keys are then
re-wrapped under it in batches, each committed on its own (interrupt at will, then
``keys rotate --resume``); an old KEK leaves the file only once no data key uses it.

A bot that is running keeps the key ring it loaded at start. It must load the new key
file (restart it) before it meets a data key already re-wrapped under the new KEK, and
until it does, the data keys it creates are wrapped under the old KEK. The zero-downtime
sequence is therefore ``keys rotate --add-only``, restart the bot, ``keys rotate
--resume``. Plain ``keys rotate`` does all three steps at once: right for a stopped bot,
and if a running bot does write under the old KEK meanwhile, rotation re-wraps those
data keys too but keeps the old KEK in the file until a ``--resume`` after the restart.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from config import SettingsError, load_settings
from storage.audit import Scalar, append_event
from storage.crypto import CryptoError
from storage.db import create_engine, create_session_factory
from storage.keyfile import (
    KeyFileError,
    add_kek,
    key_ring_from_document,
    read_key_document,
    retire_kek,
    write_key_document,
)
from storage.migrate import current_revision, head_revision
from storage.rotation import (
    AUDIT_ACTOR,
    DEFAULT_BATCH_SIZE,
    Sessions,
    key_usage,
    remaining,
    retirable_key_ids,
    rewrap_all,
    unknown_key_ids,
)

EXIT_USAGE = 2
EXIT_FAILED = 1
BAR_WIDTH = 30


class KeysError(Exception):
    """A problem the operator can fix; the message is the whole report."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``keys rotate`` and ``keys status`` to the ``marac-bot`` command."""
    keys = subparsers.add_parser("keys", help="rotate the key-encryption key, show key usage")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    rotate = keys_sub.add_parser(
        "rotate",
        help="add a new key-encryption key and re-wrap every data key under it",
        description=(
            "Adds a new key-encryption key to the key file (the old ones stay), re-wraps "
            "every data key under it in batches, then removes old keys nothing uses any "
            "more. Safe to interrupt: run again with --resume. With the bot running, use "
            "--add-only, restart the bot, then --resume."
        ),
    )
    rotate.add_argument(
        "--batch-size",
        type=_positive_int,
        default=DEFAULT_BATCH_SIZE,
        help=f"data keys per transaction (default {DEFAULT_BATCH_SIZE})",
    )
    mode = rotate.add_mutually_exclusive_group()
    mode.add_argument(
        "--resume",
        action="store_true",
        help="add no new key; finish re-wrapping under the current active key",
    )
    mode.add_argument(
        "--add-only",
        action="store_true",
        help="only add the new key (restart the bot, then run --resume)",
    )
    rotate.set_defaults(handler=cmd_keys_rotate)
    status = keys_sub.add_parser("status", help="list the keys and how many data keys each wraps")
    status.set_defaults(handler=cmd_keys_status)


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _fail(message: str) -> None:
    print(f"marac-bot: {message}", file=sys.stderr)


def _data_keys(count: int) -> str:
    return f"{count} data key" if count == 1 else f"{count} data keys"


def progress_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[#####-----] 5000/10000 data keys``"""
    filled = width if total <= 0 else min(width, done * width // total)
    return f"[{'#' * filled}{'-' * (width - filled)}] {done}/{total} data keys"


class ProgressPrinter:
    """One redrawn line on a terminal; otherwise a new line each time the bar grows."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.latest = ""
        self.written = ""

    def __call__(self, done: int, total: int) -> None:
        self.latest = progress_bar(done, total)
        if self.tty:
            self.stream.write("\r" + self.latest)
            self.written = self.latest
        elif self.latest.count("#") != self.written.count("#") or not self.written:
            self.stream.write(self.latest + "\n")
            self.written = self.latest
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line, showing the final figures."""
        if self.tty and self.written:
            self.stream.write("\n")
        elif not self.tty and self.latest != self.written:
            self.stream.write(self.latest + "\n")
        self.written = self.latest
        self.stream.flush()


@contextmanager
def _rotation_lock(key_file: Path) -> Iterator[None]:
    """One rotation at a time per key file (two would each rewrite the file)."""
    lock_path = key_file.with_name(key_file.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise KeysError(f"Cannot create the rotation lock {lock_path}: {exc.strerror}.") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise KeysError(
                f"Another key rotation is running (it holds {lock_path}); wait for it to finish."
            ) from None
        yield
    finally:
        os.close(fd)


async def _require_schema(engine: AsyncEngine) -> None:
    if await current_revision(engine) != head_revision():
        raise KeysError(
            "The database schema is not up to date: run 'marac-bot migrate' (or 'marac-bot init')."
        )


async def _record(sessions: Sessions, action: str, details: dict[str, Scalar]) -> None:
    async with sessions() as session, session.begin():
        await append_event(
            session,
            at=datetime.now(UTC),
            action=action,
            actor_label=AUDIT_ACTOR,
            details=details,
        )


async def cmd_keys_rotate(args: argparse.Namespace) -> int:
    try:
        return await _rotate(args)
    except (SettingsError, KeyFileError, KeysError) as exc:
        _fail(str(exc))
        return EXIT_USAGE
    except CryptoError as exc:
        _fail(
            f"{exc}. That batch was rolled back and nothing was lost; restore the missing or "
            "damaged key and run 'marac-bot keys rotate --resume'."
        )
        return EXIT_FAILED


async def _rotate(args: argparse.Namespace) -> int:
    settings = load_settings()
    if os.environ.get("MARAC_KEYS"):
        raise KeysError(
            "Key rotation needs a key file: MARAC_KEYS is set, and keys passed in the "
            "environment cannot be rewritten; unset it and point MARAC_KEY_FILE at the file."
        )
    path = settings.key_file
    with _rotation_lock(path):
        document = read_key_document(path)
        key_ring_from_document(document, str(path))  # refuse a damaged file before changing it
        engine = create_engine(settings.database_url)
        try:
            await _require_schema(engine)
            sessions = create_session_factory(engine)
            return await _rotate_locked(args, path, document, sessions)
        finally:
            await engine.dispose()


async def _rotate_locked(
    args: argparse.Namespace, path: Path, document: dict[str, Any], sessions: Sessions
) -> int:
    # A data key created under an old key after this moment comes from a process still
    # running with the key ring it loaded before the new key existed.
    started = datetime.now(UTC)
    if not args.resume:
        previous = str(document["active"])
        document, new_id = add_kek(document)
        write_key_document(path, document)
        await _record(sessions, "keys.kek_added", {"key": new_id, "previous": previous})
        print(
            f"Added key-encryption key {new_id} to {path}; it is now the active key "
            f"(the old ones stay until nothing uses them)."
        )
        if args.add_only:
            print(
                "Now restart the bot so it loads the new key, then run "
                "'marac-bot keys rotate --resume' to re-wrap the data keys."
            )
            return 0
    ring = key_ring_from_document(document, str(path))
    active = ring.active_key_id
    print(
        f"Re-wrapping data keys under {active} in batches of {args.batch_size}; "
        "safe to interrupt, then run 'marac-bot keys rotate --resume'."
    )
    bar = ProgressPrinter(sys.stdout)
    try:
        report = await rewrap_all(
            sessions,
            ring,
            batch_size=args.batch_size,
            created_after=started,
            progress=bar,
        )
    finally:
        bar.finish()
    print(f"Re-wrapped {_data_keys(report.rewrapped)} in {report.batches} batch(es).")

    usage = await key_usage(sessions)
    exit_code = 0
    for key_id, count in unknown_key_ids(usage, ring.key_ids).items():
        print(
            f"WARNING: {_data_keys(count)} wrapped by {key_id}, which is not in {path}: "
            "they cannot be opened or re-wrapped until that key is restored."
        )
        exit_code = EXIT_FAILED
    if report.created_after:
        print(
            f"Kept the old key(s) in {path}: {_data_keys(report.created_after)} were created "
            "under an old key during the rotation, so a process that loaded the key file "
            "before the new key was added (the bot?) is still running. Restart it, then run "
            "'marac-bot keys rotate --resume' to retire the old key."
        )
        return EXIT_FAILED
    if report.left:
        print(
            f"Kept the old key(s) in {path}: {_data_keys(report.left)} still under an old key. "
            "Run 'marac-bot keys rotate --resume' to finish."
        )
        return EXIT_FAILED
    retired = retirable_key_ids(usage, ring)
    if retired:
        updated = document
        for key_id in retired:
            updated = retire_kek(updated, key_id)
        write_key_document(path, updated)
        # Something may have written under an old key after the count: put it back if so.
        late = await remaining(sessions, ring)
        if late:
            write_key_document(path, document)
            print(
                f"Kept the old key(s) in {path}: {_data_keys(late)} appeared under an old key "
                "during the rotation. Restart the bot, then run 'marac-bot keys rotate --resume'."
            )
            return EXIT_FAILED
        for key_id in retired:
            await _record(sessions, "keys.kek_retired", {"key": key_id, "active": active})
        pronoun = "it" if len(retired) == 1 else "them"
        print(f"Retired {', '.join(retired)} from {path}: no data key uses {pronoun} any more.")
    if exit_code == 0:
        print(f"Key rotation complete: every data key is wrapped by {active}.")
    return exit_code


async def cmd_keys_status(args: argparse.Namespace) -> int:
    try:
        return await _status()
    except (SettingsError, KeyFileError, KeysError) as exc:
        _fail(str(exc))
        return EXIT_USAGE


async def _status() -> int:
    settings = load_settings()
    inline = os.environ.get("MARAC_KEYS")
    if inline:
        origin = "MARAC_KEYS"
        try:
            document = json.loads(inline)
        except json.JSONDecodeError as exc:
            raise KeyFileError("MARAC_KEYS is not valid JSON.") from exc
    else:
        origin = str(settings.key_file)
        document = read_key_document(settings.key_file)
    ring = key_ring_from_document(document, origin)
    engine = create_engine(settings.database_url)
    try:
        await _require_schema(engine)
        usage = await key_usage(create_session_factory(engine))
    finally:
        await engine.dispose()
    print(f"Key-encryption keys in {origin}:")
    width = max(len(key_id) for key_id in ring.key_ids)
    for key_id in ring.key_ids:
        marker = "active" if key_id == ring.active_key_id else "      "
        print(f"  {key_id:<{width}}  {marker}  {_data_keys(usage.get(key_id, 0))}")
    old = sum(usage.get(key_id, 0) for key_id in ring.key_ids if key_id != ring.active_key_id)
    if old:
        print(
            f"{_data_keys(old)} still under an older key: run 'marac-bot keys rotate --resume' "
            "to finish the rotation."
        )
    unknown = unknown_key_ids(usage, ring.key_ids)
    for key_id, count in unknown.items():
        print(
            f"WARNING: {_data_keys(count)} wrapped by {key_id}, which is not in {origin}: "
            "they cannot be opened until that key is restored."
        )
    return EXIT_FAILED if unknown else 0

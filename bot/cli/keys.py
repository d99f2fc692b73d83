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
(A bot built on storage.kek_sources.KeyFileSource re-reads the key file by itself, so it
needs no restart: it wraps under the new KEK as soon as the file has it.)

With ``MARAC_KEK_SOURCE=vault`` the KEK is a transit key in HashiCorp Vault: rotation asks
Vault for a new key version (every process encrypts with it at once, no restart), re-wraps
the data keys through Vault's rewrap endpoint, and retires the old versions by raising the
key's minimum versions and trimming them, which deletes them in Vault.

A completed rotation also covers the erasures recorded before it began (``keys.shredded``
in the audit trail), the same record ``storage.rotation.rotate_after_erasure`` keeps.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.ext.asyncio import AsyncEngine

from config import Settings, SettingsError, load_settings
from storage.crypto import CryptoError, KeySourceError, KeySourceUnavailable
from storage.db import create_engine, create_session_factory
from storage.kek_sources import TransitKeySource, key_source_from_settings
from storage.keyfile import (
    KeyFileError,
    RotationBusy,
    file_lock,
    key_ring_from_document,
    lock_path_for,
    read_key_document,
)
from storage.migrate import current_revision, head_revision
from storage.rotation import (
    DEFAULT_BATCH_SIZE,
    KEK_ADDED,
    SHREDDED,
    Sessions,
    add_key_file_kek,
    kek_added_seq,
    key_usage,
    latest_erasure_seq,
    record,
    retire_transit_versions,
    retire_unused_keks,
    rewrap_all,
    rewrap_transit_all,
    rotation_guard,
    shredded_through,
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
    try:
        with file_lock(lock_path_for(key_file)):
            yield
    except RotationBusy as busy:
        raise KeysError(str(busy)) from None


async def _require_schema(engine: AsyncEngine) -> None:
    if await current_revision(engine) != head_revision():
        raise KeysError(
            "The database schema is not up to date: run 'marac-bot migrate' (or 'marac-bot init')."
        )


async def _record_shredded(sessions: Sessions, active_key_id: str) -> None:
    """A completed rotation covers the erasures recorded before its KEK was added."""
    added = await kek_added_seq(sessions, active_key_id)
    if added is None:
        return
    through = await latest_erasure_seq(sessions, before=added)
    if through > await shredded_through(sessions):
        await record(sessions, SHREDDED, {"through_seq": through, "active": active_key_id})


async def cmd_keys_rotate(args: argparse.Namespace) -> int:
    try:
        return await _rotate(args)
    except (SettingsError, KeyFileError, KeysError) as exc:
        _fail(str(exc))
        return EXIT_USAGE
    except KeySourceUnavailable as exc:
        _fail(f"{exc} Nothing was lost; run 'marac-bot keys rotate --resume' once it is back.")
        return EXIT_FAILED
    except KeySourceError as exc:
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
    if settings.kek_source == "vault":
        return await _rotate_transit(args, settings)
    if os.environ.get("MARAC_KEYS"):
        raise KeysError(
            "Key rotation needs a key file: MARAC_KEYS is set, and keys passed in the "
            "environment cannot be rewritten; unset it and point MARAC_KEY_FILE at the file."
        )
    path = settings.key_file
    with _rotation_lock(path):
        document = read_key_document(path)
        # Refuse a damaged file before changing it.
        audit_key = key_ring_from_document(document, str(path)).audit_key()
        engine = create_engine(settings.database_url)
        try:
            await _require_schema(engine)
            sessions = create_session_factory(engine, audit_key=audit_key)
            async with rotation_guard(sessions, None):
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
        document, new_id = await add_key_file_kek(sessions, path, document)
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
    outcome = await retire_unused_keks(sessions, path, document, ring)
    if outcome.late:
        print(
            f"Kept the old key(s) in {path}: {_data_keys(outcome.late)} appeared under an old "
            "key during the rotation. Restart the bot, then run 'marac-bot keys rotate --resume'."
        )
        return EXIT_FAILED
    if outcome.retired:
        pronoun = "it" if len(outcome.retired) == 1 else "them"
        print(
            f"Retired {', '.join(outcome.retired)} from {path}: no data key uses {pronoun} "
            "any more."
        )
    if exit_code == 0:
        await _record_shredded(sessions, active)
        print(f"Key rotation complete: every data key is wrapped by {active}.")
    return exit_code


async def _rotate_transit(args: argparse.Namespace, settings: Settings) -> int:
    source = key_source_from_settings(settings)
    assert isinstance(source, TransitKeySource)
    engine = create_engine(settings.database_url)
    try:
        await _require_schema(engine)
        sessions = create_session_factory(engine, audit_key=source.audit_key())
        async with rotation_guard(sessions, source.lock_path):
            return await _rotate_transit_locked(args, source, sessions)
    finally:
        source.close()
        await engine.dispose()


async def _rotate_transit_locked(
    args: argparse.Namespace, source: TransitKeySource, sessions: Sessions
) -> int:
    info = await source.key_info()  # the token and the key, checked before anything changes
    if not args.resume:
        previous = source.key_id(info.latest_version)
        info = await source.rotate()
        new_id = source.key_id(info.latest_version)
        await record(sessions, KEK_ADDED, {"key": new_id, "previous": previous})
        print(
            f"Rotated transit key {source.label} in Vault to version {info.latest_version} "
            f"({new_id}): Vault wraps every new data key with it at once, in every process."
        )
        if args.add_only:
            print(
                "Run 'marac-bot keys rotate --resume' to re-wrap the data keys "
                "(the bot needs no restart)."
            )
            return 0
    active = source.key_id(info.latest_version)
    print(
        f"Re-wrapping data keys under {active} in batches of {args.batch_size} (Vault's "
        "rewrap: data keys never leave Vault); safe to interrupt, then run "
        "'marac-bot keys rotate --resume'."
    )
    bar = ProgressPrinter(sys.stdout)
    try:
        report = await rewrap_transit_all(
            sessions, source, batch_size=args.batch_size, progress=bar
        )
    finally:
        bar.finish()
    print(f"Re-wrapped {_data_keys(report.rewrapped)} in {report.batches} batch(es).")
    exit_code = 0
    for key_id, count in _unknown_to_transit(await key_usage(sessions), source).items():
        print(
            f"WARNING: {_data_keys(count)} wrapped by {key_id}, which is neither a version of "
            f"{source.label} nor a key in the key file: they cannot be opened or re-wrapped."
        )
        exit_code = EXIT_FAILED
    if report.left:
        print(
            f"Kept the old versions of {source.label}: {_data_keys(report.left)} still under "
            "one. Run 'marac-bot keys rotate --resume' to finish."
        )
        return EXIT_FAILED
    outcome = await retire_transit_versions(sessions, source)
    if outcome.late:
        print(
            f"Kept the old versions of {source.label}: {_data_keys(outcome.late)} appeared "
            "under one during the rotation. Run 'marac-bot keys rotate --resume'."
        )
        return EXIT_FAILED
    if outcome.retired_below:
        print(
            f"Retired the versions of {source.label} below {outcome.retired_below}: Vault "
            "no longer decrypts them and has deleted them (trimmed)."
        )
    if outcome.legacy_retired:
        print(
            f"Removed {', '.join(outcome.legacy_retired)} from {source.key_file}: every data "
            "key is now wrapped by Vault."
        )
    if outcome.problem:
        print(f"WARNING: {outcome.problem}.")
        exit_code = EXIT_FAILED
    if exit_code == 0:
        await _record_shredded(sessions, active)
        print(f"Key rotation complete: every data key is wrapped by {active}.")
    return exit_code


def _unknown_to_transit(usage: dict[str, int], source: TransitKeySource) -> dict[str, int]:
    legacy = set(source.legacy_ids())
    return {
        key_id: count
        for key_id, count in usage.items()
        if count and not source.owns(key_id) and key_id not in legacy
    }


async def cmd_keys_status(args: argparse.Namespace) -> int:
    try:
        return await _status()
    except (SettingsError, KeyFileError, KeysError, KeySourceError) as exc:
        _fail(str(exc))
        return EXIT_FAILED if isinstance(exc, KeySourceUnavailable) else EXIT_USAGE


async def _status() -> int:
    settings = load_settings()
    if settings.kek_source == "vault":
        return await _status_transit(settings)
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
        usage = await key_usage(create_session_factory(engine, audit_key=None))
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


async def _status_transit(settings: Settings) -> int:
    source = key_source_from_settings(settings)
    assert isinstance(source, TransitKeySource)
    engine = create_engine(settings.database_url)
    try:
        info = await source.key_info()
        await _require_schema(engine)
        usage = await key_usage(create_session_factory(engine, audit_key=None))
    finally:
        source.close()
        await engine.dispose()
    active = source.key_id(info.latest_version)
    print(
        f"Transit key {source.label} in Vault: latest version {info.latest_version}, "
        f"decrypts from version {info.min_decryption_version}"
        + (
            f", versions below {info.min_available_version} destroyed."
            if info.min_available_version > 1
            else "."
        )
    )
    ours = sorted((k for k in usage if source.owns(k)), key=source.version_of)
    listed = sorted({*ours, active}, key=source.version_of) + source.legacy_ids()
    width = max(len(key_id) for key_id in listed)
    for key_id in listed:
        marker = "active" if key_id == active else "      "
        where = "" if source.owns(key_id) else "  (key file)"
        print(f"  {key_id:<{width}}  {marker}  {_data_keys(usage.get(key_id, 0))}{where}")
    old = sum(count for key_id, count in usage.items() if key_id != active and key_id in listed)
    if old:
        print(
            f"{_data_keys(old)} still under an older key: run 'marac-bot keys rotate --resume' "
            "to finish the rotation."
        )
    exit_code = 0
    unreadable = {
        key_id: count
        for key_id, count in usage.items()
        if source.owns(key_id) and source.version_of(key_id) < info.min_decryption_version
    }
    for key_id, count in {**unreadable, **_unknown_to_transit(usage, source)}.items():
        print(
            f"WARNING: {_data_keys(count)} wrapped by {key_id}, which cannot be opened "
            "(a retired version, or a key that is not configured)."
        )
        exit_code = EXIT_FAILED
    return exit_code

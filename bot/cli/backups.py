"""``marac-bot backup`` and ``marac-bot restore``: encrypted, dated backups (storage.backup).

``backup`` writes one to MARAC_BACKUP_DIR (or ``--dir``) and deletes those older than
MARAC_BACKUP_KEEP_DAYS; ``restore FILE`` loads one into the database in MARAC_DATABASE_URL,
which must be empty. Both print one line, never a secret and never case content.
"""

from __future__ import annotations

import argparse
import sqlite3
from pathlib import Path

from bot.cli.errors import CliError
from bot.clock import SystemClock
from config import load_settings
from storage.backup import BackupError, restore_backup, write_backup
from storage.crypto import KeySourceError
from storage.kek_sources import close_key_source, key_source_from_settings
from storage.keyfile import KeyFileError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    backup = subparsers.add_parser(
        "backup",
        help="write an encrypted, dated backup of the database and delete expired ones",
    )
    backup.add_argument(
        "--dir", type=Path, default=None, help="the backup folder (default MARAC_BACKUP_DIR)"
    )
    backup.set_defaults(handler=cmd_backup)
    restore = subparsers.add_parser(
        "restore", help="restore a backup into an empty database (MARAC_DATABASE_URL)"
    )
    restore.add_argument("file", type=Path, help="a marac-backup-....mbk file")
    restore.set_defaults(handler=cmd_restore)


async def cmd_backup(args: argparse.Namespace) -> int:

    settings = load_settings()
    directory = args.dir or settings.backup_dir
    try:
        source = key_source_from_settings(settings)
    except (KeyFileError, KeySourceError) as problem:
        raise CliError(str(problem)) from problem
    try:
        written = await write_backup(
            settings.database_url,
            directory,
            source,
            SystemClock().now(),
            keep_days=settings.backup_keep_days,
        )
    except BackupError as problem:
        raise CliError(f"No backup was made: {problem}") from problem
    except OSError as problem:
        raise CliError(
            f"No backup was made: {directory} cannot be written ({problem.strerror})."
        ) from problem
    finally:
        close_key_source(source)
    size = (
        f"{written.size / 1_000_000:.1f} MB"
        if written.size >= 100_000
        else f"{written.size:,} bytes"
    )
    pruned = (
        f"; deleted {len(written.pruned)} older than {settings.backup_keep_days} days"
        if written.pruned
        else ""
    )
    print(
        f"Backup written: {written.path} ({written.backend}, {size}, encrypted){pruned}. "
        f"It opens only with key-encryption key {written.kek_id} (from the key file or "
        "Vault): back the key file up separately."
    )
    return 0


async def cmd_restore(args: argparse.Namespace) -> int:

    settings = load_settings()
    try:
        source = key_source_from_settings(settings)
    except (KeyFileError, KeySourceError) as problem:
        raise CliError(str(problem)) from problem
    try:
        restored = await restore_backup(args.file, settings.database_url, source)
    except BackupError as problem:
        raise CliError(str(problem)) from problem
    except (OSError, sqlite3.Error) as problem:
        raise CliError(
            f"Nothing was restored: {getattr(problem, 'strerror', None) or problem}."
        ) from problem
    finally:
        close_key_source(source)
    print(
        f"Restored the {restored.backend} backup of {restored.created_at:%d %b %Y %H:%M} UTC. "
        "Next: 'marac-bot migrate' (if this version is newer), then 'marac-bot audit verify'."
    )
    return 0

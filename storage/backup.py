"""Encrypted, dated backups of the database, and restoring one into an empty database.

A backup is the database as the database itself copies it (SQLite's online backup API, or
``pg_dump --format=custom`` for PostgreSQL), encrypted before it is written anywhere it stays:

* Each backup gets a random 256-bit **backup key**, wrapped by the deployment's key source
  (the key file's active key-encryption key, or Vault's transit key) exactly as a case's data
  key is, and stored wrapped in the backup's header. A backup file alone is therefore
  useless: it opens only with the key file (or Vault) that wrapped its key, which is why the
  key file is backed up separately.
* The dump is sealed with AES-256-GCM in 1 MiB chunks (a nonce prefix, a chunk counter and a
  last-chunk flag in each nonce, the header's hash as associated data), so a file that was
  cut short, reordered or altered fails to open instead of restoring part of a database.

File layout: ``MAGIC``, the header's length (4 bytes), the header (JSON), then chunks, each
its ciphertext length (4 bytes) and ciphertext. Names are ``marac-backup-<UTC stamp>.mbk``;
pruning goes by the stamp in the name, not the file's modification time, which a copy
changes.

The plain dump exists only in a private (0700) folder inside the backup folder while it is
being encrypted or restored, and is deleted straight after.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, Final

import asyncpg  # type: ignore[import-untyped]
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine.url import URL, make_url

from storage.crypto import CryptoError, KeySource
from storage.db import create_private_file

MAGIC: Final = b"MARAC-BACKUP\x00\x01"
FORMAT: Final = 1
CHUNK_BYTES: Final = 1 << 20
NONCE_PREFIX_BYTES: Final = 7
SUFFIX: Final = ".mbk"
NAME_PATTERN: Final = re.compile(r"^marac-backup-(\d{8}T\d{6}Z)\.mbk$")
STAMP_FORMAT: Final = "%Y%m%dT%H%M%SZ"
# pg_dump and pg_restore get this long before they are stopped (a large database takes a while).
PG_TOOL_TIMEOUT_SECONDS: Final = 3600.0


class BackupError(Exception):
    """A backup could not be written, read or restored; the message is one safe line."""


@dataclass(frozen=True)
class BackupHeader:
    backend: str
    created_at: datetime
    key_id: str
    kek_id: str
    wrapped: bytes
    nonce_prefix: bytes

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "format": FORMAT,
                "backend": self.backend,
                "created_at": self.created_at.isoformat(),
                "key_id": self.key_id,
                "kek_id": self.kek_id,
                "wrapped": base64.b64encode(self.wrapped).decode("ascii"),
                "nonce_prefix": base64.b64encode(self.nonce_prefix).decode("ascii"),
            },
            sort_keys=True,
        ).encode("utf-8")

    @classmethod
    def from_bytes(cls, raw: bytes, origin: Path) -> BackupHeader:
        try:
            data = json.loads(raw.decode("utf-8"))
            if data["format"] != FORMAT:
                raise BackupError(f"{origin} is a backup of a format this version cannot read.")
            return cls(
                backend=str(data["backend"]),
                created_at=datetime.fromisoformat(data["created_at"]),
                key_id=str(data["key_id"]),
                kek_id=str(data["kek_id"]),
                wrapped=base64.b64decode(data["wrapped"], validate=True),
                nonce_prefix=base64.b64decode(data["nonce_prefix"], validate=True),
            )
        except (KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise BackupError(f"{origin} has a damaged header: it is not a usable backup.") from exc


@dataclass(frozen=True)
class BackupWritten:
    path: Path
    backend: str
    size: int
    pruned: list[Path]
    kek_id: str


@dataclass(frozen=True)
class Restored:
    backend: str
    created_at: datetime


def backend_of(database_url: str) -> str:
    name = make_url(database_url).get_backend_name()
    if name not in {"sqlite", "postgresql"}:
        raise BackupError(f"Backups are made of SQLite or PostgreSQL databases, not {name}.")
    return name


def backup_name(at: datetime) -> str:
    return f"marac-backup-{at.astimezone(UTC).strftime(STAMP_FORMAT)}{SUFFIX}"


def stamp_of(path: Path) -> datetime | None:
    """When the backup named ``path`` was made, from its name; None for any other file."""
    found = NAME_PATTERN.match(path.name)
    if found is None:
        return None
    return datetime.strptime(found.group(1), STAMP_FORMAT).replace(tzinfo=UTC)


def backups_in(directory: Path) -> list[Path]:
    """The backups in ``directory``, oldest first (other files are never touched)."""
    if not directory.is_dir():
        return []
    found = [path for path in directory.iterdir() if stamp_of(path) is not None]
    return sorted(found, key=lambda path: path.name)


def prune(
    directory: Path, keep_days: int, now: datetime, *, keep: Path | None = None
) -> list[Path]:
    """Delete the backups made more than ``keep_days`` days before ``now``; ``keep`` (the one
    just written) is never deleted. Returns what was deleted."""
    cutoff = now - timedelta(days=keep_days)
    removed = []
    for path in backups_in(directory):
        made = stamp_of(path)
        if made is not None and made < cutoff and path != keep:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


# -- encryption -------------------------------------------------------------------------------


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", counter) + (b"\x01" if last else b"\x00")


def _encrypt_file(plain: Path, out: BinaryIO, key: bytes, header: BackupHeader) -> None:
    raw_header = header.to_bytes()
    aad = hashlib.sha256(MAGIC + raw_header).digest()
    aead = AESGCM(key)
    out.write(MAGIC + struct.pack(">I", len(raw_header)) + raw_header)
    with plain.open("rb") as source:
        counter = 0
        chunk = source.read(CHUNK_BYTES)
        while True:
            following = source.read(CHUNK_BYTES)
            last = not following
            sealed = aead.encrypt(_nonce(header.nonce_prefix, counter, last), chunk, aad)
            out.write(struct.pack(">I", len(sealed)) + sealed)
            if last:
                return
            counter += 1
            chunk = following


def _read_exact(source: BinaryIO, size: int, origin: Path) -> bytes:
    data = source.read(size)
    if len(data) != size:
        raise BackupError(f"{origin} is cut short: it is not a complete backup.")
    return data


def read_header(path: Path) -> BackupHeader:
    try:
        with path.open("rb") as source:
            return _read_header(source, path)[0]
    except FileNotFoundError as exc:
        raise BackupError(f"{path} does not exist.") from exc
    except OSError as exc:
        raise BackupError(f"{path} cannot be read: {exc.strerror}.") from exc


def _read_header(source: BinaryIO, origin: Path) -> tuple[BackupHeader, bytes]:
    if source.read(len(MAGIC)) != MAGIC:
        raise BackupError(f"{origin} is not a marac-bot backup.")
    (length,) = struct.unpack(">I", _read_exact(source, 4, origin))
    if length > 1 << 16:
        raise BackupError(f"{origin} has a damaged header: it is not a usable backup.")
    raw = _read_exact(source, length, origin)
    return BackupHeader.from_bytes(raw, origin), raw


def _decrypt_file(path: Path, key: bytes, out: BinaryIO) -> None:
    with path.open("rb") as source:
        header, raw_header = _read_header(source, path)
        aad = hashlib.sha256(MAGIC + raw_header).digest()
        aead = AESGCM(key)
        counter = 0
        while True:
            (length,) = struct.unpack(">I", _read_exact(source, 4, path))
            if length > CHUNK_BYTES + 16:
                raise BackupError(f"{path} is damaged: it is not a usable backup.")
            sealed = _read_exact(source, length, path)
            last = not source.peek(1)
            try:
                out.write(aead.decrypt(_nonce(header.nonce_prefix, counter, last), sealed, aad))
            except InvalidTag as exc:
                raise BackupError(
                    f"{path} failed its integrity check (altered, cut short or damaged): "
                    "nothing was restored from it."
                ) from exc
            if last:
                return
            counter += 1


# -- dumping and loading ------------------------------------------------------------------------


WORK_PREFIX: Final = ".marac-backup-work-"


def remove_stale_work(directory: Path, now: datetime) -> None:
    """A plain dump left behind by a backup that was killed half-way is deleted by the next."""
    if not directory.is_dir():
        return
    cutoff = now.timestamp() - 2 * PG_TOOL_TIMEOUT_SECONDS
    for folder in directory.glob(f"{WORK_PREFIX}*"):
        if folder.is_dir() and folder.stat().st_mtime < cutoff:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def _private_folder(near: Path) -> Iterator[Path]:
    """A 0700 folder beside the backups for the plain dump, deleted with what is in it."""
    near.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=WORK_PREFIX, dir=near))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sqlite_path(url: URL) -> Path:
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        raise BackupError("Only an SQLite database in a file can be backed up or restored.")
    return Path(database)


def _sqlite_copy(source_path: Path, target_path: Path) -> None:
    """SQLite's online backup: a consistent copy while the bot keeps running."""
    source = sqlite3.connect(source_path)
    try:
        target = sqlite3.connect(target_path)
        try:
            source.backup(target)
        finally:
            target.close()
    finally:
        source.close()


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        count = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    finally:
        connection.close()
    return bool(count == 0)


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """The connection string for pg_dump and pg_restore, and an environment with the password
    in PGPASSWORD: never on a command line, where every local account can read it."""
    query = dict(url.query)
    ssl = query.pop("ssl", None)
    if isinstance(ssl, str) and "sslmode" not in query:
        query["sslmode"] = {"true": "require", "false": "disable"}.get(ssl, ssl)
    plain = url.set(drivername="postgresql", password=None, query=query)
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return plain.render_as_string(hide_password=False), env


async def _run_tool(program: str, *args: str, env: dict[str, str]) -> None:
    if shutil.which(program) is None:
        raise BackupError(
            f"{program} is not installed: install the PostgreSQL client tools "
            "(e.g. apt-get install postgresql-client) in the same major version as the server."
        )
    process = await asyncio.create_subprocess_exec(
        program,
        *args,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(PG_TOOL_TIMEOUT_SECONDS):
            _, errors = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise BackupError(f"{program} did not finish within an hour and was stopped.") from None
    if process.returncode != 0:
        lines = [line for line in errors.decode("utf-8", "replace").splitlines() if line.strip()]
        raise BackupError(f"{program} failed: {lines[0] if lines else 'no message'}")


async def _postgres_is_empty(url: URL) -> bool:
    conninfo, env = _libpq(url)
    connection = await asyncpg.connect(conninfo, password=env.get("PGPASSWORD"), timeout=10)
    try:
        count = await connection.fetchval(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        )
    finally:
        await connection.close()
    return bool(count == 0)


# -- the two operations -------------------------------------------------------------------------


def _prepare_folder(directory: Path, now: datetime) -> Path:
    """The backup folder made (0700) and swept of dumps a killed backup left; the new name."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    remove_stale_work(directory, now)
    final = directory / backup_name(now)
    if final.exists():
        raise BackupError(f"{final} already exists: wait a second and try again.")
    return final


def _folder_of(path: Path) -> Path:
    return path.resolve().parent


async def write_backup(
    database_url: str,
    directory: Path,
    source: KeySource,
    now: datetime,
    *,
    keep_days: int,
) -> BackupWritten:
    """Dump the database, encrypt it into ``directory`` under a new backup key, then prune
    backups older than ``keep_days`` (only once the new one is complete)."""
    url = make_url(database_url)
    backend = backend_of(database_url)
    final = _prepare_folder(directory, now)
    key_id = f"backup-{now.astimezone(UTC).strftime(STAMP_FORMAT)}-{secrets.token_hex(4)}"
    backup_key = AESGCM.generate_key(bit_length=256)
    kek_id, wrapped = await source.wrap_data_key(backup_key, key_id)
    header = BackupHeader(
        backend=backend,
        created_at=now.astimezone(UTC),
        key_id=key_id,
        kek_id=kek_id,
        wrapped=wrapped,
        nonce_prefix=secrets.token_bytes(NONCE_PREFIX_BYTES),
    )
    with _private_folder(directory) as work:
        dump = work / "dump"
        if backend == "sqlite":
            database = _sqlite_path(url)
            if not database.exists():
                raise BackupError(f"The database file {database} does not exist.")
            await asyncio.to_thread(_sqlite_copy, database, dump)
        else:
            conninfo, env = _libpq(url)
            await _run_tool(
                "pg_dump",
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={dump}",
                f"--dbname={conninfo}",
                env=env,
            )
        partial = work / final.name
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            await asyncio.to_thread(_encrypt_file, dump, out, backup_key, header)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, final)
    pruned = prune(directory, keep_days, now, keep=final)
    return BackupWritten(final, backend, final.stat().st_size, pruned, kek_id)


async def restore_backup(path: Path, database_url: str, source: KeySource) -> Restored:
    """Restore the backup at ``path`` into the database at ``database_url``, which must be
    empty (a new SQLite file, or a PostgreSQL database with no tables)."""
    header = read_header(path)
    url = make_url(database_url)
    backend = backend_of(database_url)
    if header.backend != backend:
        raise BackupError(
            f"{path} is a backup of a {header.backend} database; MARAC_DATABASE_URL is a "
            f"{backend} database."
        )
    try:
        backup_key = await source.unwrap_data_key(header.kek_id, header.wrapped, header.key_id)
    except CryptoError as exc:
        raise BackupError(
            f"The keys configured do not open {path} (its key is wrapped by key-encryption key "
            f"{header.kek_id}): point MARAC_KEY_FILE at the key file from the time of the "
            "backup, restored from its own backup."
        ) from exc
    if backend == "sqlite":
        target = _sqlite_path(url)
        empty = await asyncio.to_thread(_sqlite_is_empty, target)
    else:
        empty = await _postgres_is_empty(url)
    if not empty:
        raise BackupError(
            "The database in MARAC_DATABASE_URL is not empty: restore only into a new, empty "
            "database (nothing was changed)."
        )
    # SQLite: beside the database being written; PostgreSQL: the system's temporary folder
    # (TMPDIR), as the backup may sit on read-only media.
    work_near = _folder_of(target) if backend == "sqlite" else Path(tempfile.gettempdir())
    with _private_folder(work_near) as work:
        dump = work / "dump"
        fd = os.open(dump, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            await asyncio.to_thread(_decrypt_file, path, backup_key, out)
        if backend == "sqlite":
            create_private_file(str(target), {})
            await asyncio.to_thread(_sqlite_copy, dump, target)
        else:
            conninfo, env = _libpq(url)
            await _run_tool(
                "pg_restore",
                "--no-owner",
                "--no-privileges",
                "--exit-on-error",
                "--single-transaction",
                f"--dbname={conninfo}",
                str(dump),
                env=env,
            )
    return Restored(backend, header.created_at)

"""``marac-bot backup`` and ``marac-bot restore``: encrypted, dated, pruned, restored only
into an empty database, with the audit chain and a case card the same after the round trip."""

from __future__ import annotations

import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.cli import main
from bot.clock import ManualClock
from bot.runtime import open_runtime
from config import load_settings
from storage.backup import backup_name, backups_in, prune
from storage.keyfile import create_key_file
from tests.conftest import ADMIN_URL, TEST_DATABASE
from tests.support.service_scenarios import cast, refer

AREA = "Northamptonshire"


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("MARAC_") and name not in {"MARAC_REQUIRE_POSTGRES"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("MARAC_DATABASE_URL", database_url)
    monkeypatch.setenv("MARAC_KEY_FILE", str(tmp_path / "keys.json"))
    monkeypatch.setenv("MARAC_BACKUP_DIR", str(tmp_path / "backups"))
    monkeypatch.setenv("MARAC_BOT_USERNAME", "northants_marac_bot")
    return tmp_path / "backups"


@pytest.fixture
async def empty_database(backend: str, database_url: str, tmp_path: Path) -> AsyncIterator[str]:
    """A second, empty database of the same kind to restore into (after ``database_url``, which
    skips the PostgreSQL half when no server answers, or fails it under MARAC_REQUIRE_POSTGRES)."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/restored.db"
        return
    name = f"{TEST_DATABASE}_restore"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    yield f"{base}/{name}"
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def _a_case(clock: ManualClock) -> tuple[str, str]:
    """A referred case; its card as the coordinator reads it, and its reference."""
    runtime = open_runtime(load_settings(), clock=clock)
    try:
        people = await cast(runtime, AREA)
        submitted = await refer(runtime, people.sam)
        card = await runtime.services.cases.card(people.priya, submitted.reference)
    finally:
        await runtime.close()
    return repr(card), submitted.reference


async def _card_now(clock: ManualClock, reference: str) -> str:
    runtime = open_runtime(load_settings(), clock=clock)
    try:
        priya = await runtime.services.enrolment.identify(501)
        assert priya is not None
        card = await runtime.services.cases.card(priya, reference)
    finally:
        await runtime.close()
    return repr(card)


def _run(*argv: str) -> int:
    return main(list(argv))


def _only_ciphertext_left(folder: Path, made: Path, reference: str) -> None:
    """The backup is private and holds nothing readable; no plain dump is left beside it."""
    assert stat.S_IMODE(made.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    raw = made.read_bytes()
    assert b"SQLite format 3" not in raw and b"PGDMP" not in raw
    assert b"Northamptonshire" not in raw and reference.encode() not in raw
    assert [p.name for p in folder.iterdir()] == [made.name]


async def test_backup_restores_into_an_empty_database_with_the_chain_and_the_card_intact(
    operator_env: Path,
    empty_database: str,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    assert await asyncio.to_thread(_run, "init", "--area", AREA) == 0
    card_before, reference = await _a_case(clock)
    assert "Jane Doe" in card_before  # the coordinator reads the victim's name
    capsys.readouterr()

    assert await asyncio.to_thread(_run, "backup") == 0
    said = capsys.readouterr().out
    [made] = backups_in(operator_env)
    assert f"Backup written: {made}" in said and "encrypted" in said
    _only_ciphertext_left(operator_env, made, reference)

    monkeypatch.setenv("MARAC_DATABASE_URL", empty_database)
    assert await asyncio.to_thread(_run, "restore", str(made)) == 0
    assert "Restored the" in capsys.readouterr().out

    assert await asyncio.to_thread(_run, "audit", "verify") == 0
    assert "Audit log intact" in capsys.readouterr().out
    assert await _card_now(clock, reference) == card_before

    # The restored database is no longer empty: a second restore changes nothing.
    assert await asyncio.to_thread(_run, "restore", str(made)) == 2
    err = capsys.readouterr().err
    assert "is not empty: restore only into a new, empty database" in err
    assert err.count("\n") == 1


async def test_a_backup_opens_only_with_its_key_file_and_only_whole(
    operator_env: Path,
    empty_database: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    import asyncio

    assert await asyncio.to_thread(_run, "init", "--area", AREA) == 0
    assert await asyncio.to_thread(_run, "backup") == 0
    [made] = backups_in(operator_env)
    capsys.readouterr()
    monkeypatch.setenv("MARAC_DATABASE_URL", empty_database)

    damaged = tmp_path / made.name
    raw = bytearray(made.read_bytes())
    raw[-40] ^= 0x01
    damaged.write_bytes(bytes(raw))
    assert await asyncio.to_thread(_run, "restore", str(damaged)) == 2
    assert "failed its integrity check" in capsys.readouterr().err

    cut = tmp_path / "cut.mbk"
    cut.write_bytes(made.read_bytes()[:-20])
    assert await asyncio.to_thread(_run, "restore", str(cut)) == 2
    assert "cut short" in capsys.readouterr().err

    other_keys = tmp_path / "other-keys.json"
    create_key_file(other_keys)
    monkeypatch.setenv("MARAC_KEY_FILE", str(other_keys))
    assert await asyncio.to_thread(_run, "restore", str(made)) == 2
    err = capsys.readouterr().err
    assert "The keys configured do not open" in err and "key file from the time of" in err

    # Nothing was restored by any of these: the right key file then restores it.
    monkeypatch.setenv("MARAC_KEY_FILE", str(tmp_path / "keys.json"))
    assert await asyncio.to_thread(_run, "restore", str(made)) == 0


def _older_files(folder: Path, now: datetime) -> tuple[Path, Path, Path]:
    folder.mkdir(mode=0o700)
    expired = folder / backup_name(now - timedelta(days=31))
    kept = folder / backup_name(now - timedelta(days=29))
    unrelated = folder / "notes.txt"
    for path in (expired, kept, unrelated):
        path.write_bytes(b"x")
    return expired, kept, unrelated


@pytest.mark.parametrize("backend", ["sqlite"])
async def test_backup_deletes_only_its_own_backups_older_than_the_retention(
    operator_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    monkeypatch.setenv("MARAC_BACKUP_KEEP_DAYS", "30")
    assert await asyncio.to_thread(_run, "init", "--area", AREA) == 0
    expired, kept, unrelated = _older_files(operator_env, datetime.now(UTC))
    capsys.readouterr()
    assert await asyncio.to_thread(_run, "backup") == 0
    assert "deleted 1 older than 30 days" in capsys.readouterr().out
    assert not expired.exists() and kept.exists() and unrelated.exists()
    assert len(backups_in(operator_env)) == 2


def test_prune_goes_by_the_date_in_the_name_and_never_deletes_the_newest(tmp_path: Path) -> None:
    now = datetime(2026, 3, 1, 2, 30, tzinfo=UTC)
    names = [backup_name(now - timedelta(days=days)) for days in (0, 7, 8, 40)]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    just_written = tmp_path / names[0]
    removed = prune(tmp_path, 7, now, keep=just_written)
    assert sorted(p.name for p in removed) == sorted(names[2:])
    assert prune(tmp_path, 1, now + timedelta(days=30), keep=just_written) == [tmp_path / names[1]]
    assert just_written.exists()


@pytest.mark.slow
async def test_after_a_key_rotation_old_backups_open_only_with_the_key_file_from_before(
    operator_env: Path,
    empty_database: str,
    tmp_path: Path,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What the README says of crypto-shredding and old backups: once the key-encryption key a
    backup was made under has left the key file (the rotation after an erasure, or keys rotate),
    the current key file opens it no more; only a copy of the key file from before does."""
    import asyncio
    import shutil

    assert await asyncio.to_thread(_run, "init", "--area", AREA) == 0
    await _a_case(clock)
    assert await asyncio.to_thread(_run, "backup") == 0
    [made] = backups_in(operator_env)
    key_file = tmp_path / "keys.json"
    before = tmp_path / "keys-before-rotation.json"
    await asyncio.to_thread(shutil.copy2, key_file, before)
    assert await asyncio.to_thread(_run, "keys", "rotate") == 0
    capsys.readouterr()

    monkeypatch.setenv("MARAC_DATABASE_URL", empty_database)
    assert await asyncio.to_thread(_run, "restore", str(made)) == 2
    assert "The keys configured do not open" in capsys.readouterr().err
    monkeypatch.setenv("MARAC_KEY_FILE", str(before))
    assert await asyncio.to_thread(_run, "restore", str(made)) == 0
    assert await asyncio.to_thread(_run, "audit", "verify") == 0

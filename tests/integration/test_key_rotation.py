"""Rotating the key-encryption key: re-wrap in batches, resume, under load, CLI.

Runs on SQLite and PostgreSQL. Values are sealed under many data keys with the key
ring the bot started with; after rotation every one must open with a key ring loaded
afresh from the rewritten key file, which no longer holds the old key.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.cli.keys as cli_keys
from bot.runtime import Runtime, open_runtime
from config import Settings
from storage.audit import verify_chain
from storage.crypto import CryptoError, FieldContext, KeyRing
from storage.db import create_engine, create_session_factory
from storage.keyfile import (
    KeyFileError,
    add_kek,
    key_ring_from_document,
    new_key_document,
    read_key_document,
    retire_kek,
    write_key_document,
)
from storage.migrate import upgrade
from storage.models import AuditEvent, DataKey
from storage.rotation import (
    key_usage,
    reload_key_ring,
    remaining,
    retirable_key_ids,
    rewrap_all,
    rewrap_batch,
    rewrap_batch_detailed,
)
from storage.vault import Vault
from tests.support.keys import file_mode, keys

# Real outages, processes, rotations or whole demos: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

Sessions = async_sessionmaker[AsyncSession]
MANY = 1200


@dataclass(frozen=True)
class SealedValue:
    data_key_id: str
    context: FieldContext
    sealed: bytes
    plaintext: str


@pytest.fixture
def key_ring(key_document: dict[str, Any]) -> KeyRing:
    """Overrides conftest: the runtime's ring is the one in ``key_document``."""
    return key_ring_from_document(key_document, "test")


@pytest.fixture
def key_file(settings: Settings, key_document: dict[str, Any]) -> Path:
    write_key_document(settings.key_file, key_document)
    return settings.key_file


@pytest.fixture
async def rotator(settings: Settings, key_ring: KeyRing) -> AsyncIterator[Sessions]:
    """The rotation's own engine and connections, as a separate `marac-bot keys` process has."""
    engine = create_engine(settings.database_url)
    try:
        yield create_session_factory(engine, audit_key=key_ring.audit_key())
    finally:
        await engine.dispose()


async def seal_many(
    sessions: Sessions, vault: Vault, count: int, prefix: str = "v", chunk: int = 200
) -> list[SealedValue]:
    values: list[SealedValue] = []
    while len(values) < count:
        async with sessions() as session, session.begin():
            for _ in range(min(chunk, count - len(values))):
                number = len(values)
                data_key_id = await vault.create_data_key(session, "test")
                context = FieldContext("people", "display_name_sealed", f"{prefix}{number}")
                plaintext = f"Person {prefix}{number} Zoë O’Neil"
                sealed = await vault.seal(session, data_key_id, context, plaintext)
                values.append(SealedValue(data_key_id, context, sealed, plaintext))
    return values


async def open_all(sessions: Sessions, ring: KeyRing, values: list[SealedValue]) -> list[str]:
    """Open every value with a fresh vault, so nothing comes from a cache."""
    vault = Vault(ring)
    opened: list[str] = []
    async with sessions() as session:
        for value in values:
            opened.append(await vault.open(session, value.data_key_id, value.context, value.sealed))
    return opened


async def rewrapped_events(sessions: Sessions) -> list[dict[str, Any]]:
    async with sessions() as session:
        rows = await session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == "keys.rewrapped")
        )
        return [json.loads(details) for details in rows]


def ring_from_file(path: Path) -> KeyRing:
    return key_ring_from_document(read_key_document(path), str(path))


def file_bytes(path: Path) -> bytes:
    return path.read_bytes()


# --- the library: storage.rotation and the key-file steps ---------------------------------


async def test_rotation_rewraps_every_data_key_and_retires_the_old_key(
    runtime: Runtime, rotator: Sessions, key_file: Path, key_document: dict[str, Any]
) -> None:
    values = await seal_many(runtime.sessions, runtime.vault, MANY)
    old_id = key_document["active"]
    async with runtime.sessions() as session:
        sample = await session.get(DataKey, values[7].data_key_id)
        assert sample is not None
        data_key_before = runtime.vault.key_ring.unwrap(old_id, sample.wrapped, sample.id)

    rotated, new_id = add_kek(key_document)
    assert key_document["active"] == old_id and len(key_document["keks"]) == 1  # untouched
    write_key_document(key_file, rotated)
    ring = ring_from_file(key_file)
    assert ring.active_key_id == new_id and set(ring.key_ids) == {old_id, new_id}

    seen: list[tuple[int, int]] = []
    report = await rewrap_all(
        rotator, ring, batch_size=100, progress=lambda done, total: seen.append((done, total))
    )
    assert report.rewrapped == MANY and report.batches == 12 and report.created_after == 0
    assert seen[0] == (0, MANY) and seen[-1] == (MANY, MANY)
    assert await key_usage(rotator) == {new_id: MANY}
    assert await rewrap_batch(rotator, ring) == 0  # nothing left

    usage = await key_usage(rotator)
    assert retirable_key_ids(usage, ring) == [old_id]
    write_key_document(key_file, retire_kek(rotated, old_id))
    fresh = ring_from_file(key_file)
    assert fresh.key_ids == [new_id]
    assert file_mode(key_file) == 0o600

    assert await open_all(rotator, fresh, values) == [value.plaintext for value in values]
    async with rotator() as session:
        row = await session.get(DataKey, values[7].data_key_id)
        assert row is not None and row.kek_id == new_id
        assert fresh.unwrap(row.kek_id, row.wrapped, row.id) == data_key_before  # same data key

    events = await rewrapped_events(rotator)
    assert len(events) == 12 and sum(event["count"] for event in events) == MANY
    assert all(set(event) == {"count", "from", "to"} for event in events)
    assert {(event["from"], event["to"]) for event in events} == {(old_id, new_id)}
    async with rotator() as session:
        assert (await verify_chain(session)).intact


async def test_key_file_steps_refuse_to_retire_the_active_key(
    key_document: dict[str, Any],
) -> None:
    old_id = key_document["active"]
    with pytest.raises(KeyFileError, match="active"):
        retire_kek(key_document, old_id)
    rotated, new_id = add_kek(key_document)
    again, newest = add_kek(rotated)
    assert [entry["id"] for entry in again["keks"]] == [old_id, new_id, newest]
    assert again["active"] == newest and again["blind_index_key"] == key_document["blind_index_key"]
    with pytest.raises(KeyFileError, match="not in the key file"):
        retire_kek(again, "kek-missing")
    assert [entry["id"] for entry in retire_kek(again, new_id)["keks"]] == [old_id, newest]


async def test_interrupted_rotation_changes_nothing_half_way_and_resumes(
    runtime: Runtime, rotator: Sessions, key_file: Path, key_document: dict[str, Any]
) -> None:
    values = await seal_many(runtime.sessions, runtime.vault, MANY)
    old_id = key_document["active"]
    rotated, new_id = add_kek(key_document)
    write_key_document(key_file, rotated)
    ring = ring_from_file(key_file)

    # Stopped after one batch: that batch is committed, the rest untouched.
    assert await rewrap_batch(rotator, ring, batch_size=500) == 500
    assert await key_usage(rotator) == {old_id: 700, new_id: 500}
    # Half-way, everything still opens with the key file as it stands.
    assert await open_all(rotator, ring_from_file(key_file), values) == [
        value.plaintext for value in values
    ]

    # Killed in the middle of a batch: the whole batch rolls back.
    class FailingRing(KeyRing):
        unwraps = 0

        def unwrap(self, key_id: str, wrapped: bytes, data_key_id: str) -> bytes:
            FailingRing.unwraps += 1
            if FailingRing.unwraps == 250:
                raise CryptoError("simulated crash")
            return super().unwrap(key_id, wrapped, data_key_id)

    document = read_key_document(key_file)
    failing = key_ring_from_document(document, "test")
    failing.__class__ = FailingRing
    with pytest.raises(CryptoError, match="simulated crash"):
        await rewrap_batch(rotator, failing, batch_size=500)
    assert await key_usage(rotator) == {old_id: 700, new_id: 500}
    assert len(await rewrapped_events(rotator)) == 1

    # Resume: same key file, no new key, runs to the end.
    report = await rewrap_all(rotator, ring_from_file(key_file), batch_size=300)
    assert report.rewrapped == 700 and report.batches == 3
    assert await key_usage(rotator) == {new_id: MANY}
    write_key_document(key_file, retire_kek(rotated, old_id))
    assert await open_all(rotator, ring_from_file(key_file), values) == [
        value.plaintext for value in values
    ]
    async with rotator() as session:
        assert (await verify_chain(session)).intact


async def test_rotation_under_load_leaves_nothing_under_the_old_key(
    runtime: Runtime, rotator: Sessions, key_file: Path, key_document: dict[str, Any]
) -> None:
    """The bot keeps creating data keys under the old key (its ring predates rotation)."""
    values = await seal_many(runtime.sessions, runtime.vault, 600)
    old_id = key_document["active"]
    rotated, new_id = add_kek(key_document)
    write_key_document(key_file, rotated)
    ring = ring_from_file(key_file)
    stop = asyncio.Event()
    grew = asyncio.Condition()
    written: list[SealedValue] = []

    async def bot_writes() -> None:
        while not stop.is_set():
            written.extend(
                await seal_many(runtime.sessions, runtime.vault, 3, prefix=f"w{len(written)}-")
            )
            async with grew:
                grew.notify_all()
            await asyncio.sleep(0.03)

    async def until(count: int) -> None:
        async with grew:
            await grew.wait_for(lambda: len(written) >= count)

    writer = asyncio.create_task(bot_writes())
    try:
        await asyncio.wait_for(until(15), 30)
        started = len(written)
        rotation_started = datetime.now(UTC)
        report = await rewrap_all(rotator, ring, batch_size=50, created_after=rotation_started)
        assert report.rewrapped >= 600 + 15
        # Keys the bot wrote under the old key while rotation ran were re-wrapped and noticed.
        assert len(written) > started and report.created_after > 0
        # The bot writes on after the loop found nothing left ...
        await asyncio.wait_for(until(len(written) + 15), 30)
    finally:
        stop.set()
        await writer
    # (3 of those 15 may have committed just before the loop's last count)
    stragglers = (await key_usage(rotator)).get(old_id, 0)
    assert stragglers >= 12

    # ... so a final resume (bot restarted with the new key file) picks those up.
    final = await rewrap_all(rotator, ring, batch_size=50)
    assert final.rewrapped == stragglers
    usage = await key_usage(rotator)
    assert usage == {new_id: 600 + len(written)}
    assert retirable_key_ids(usage, ring) == [old_id]
    write_key_document(key_file, retire_kek(rotated, old_id))
    everything = values + written
    assert await open_all(rotator, ring_from_file(key_file), everything) == [
        value.plaintext for value in everything
    ]
    events = await rewrapped_events(rotator)
    assert sum(event["count"] for event in events) == 600 + len(written)
    async with rotator() as session:
        assert (await verify_chain(session)).intact


async def test_two_rotators_never_take_the_same_data_key(
    runtime: Runtime, settings: Settings, key_file: Path, key_document: dict[str, Any]
) -> None:
    values = await seal_many(runtime.sessions, runtime.vault, 1000)
    rotated, new_id = add_kek(key_document)
    write_key_document(key_file, rotated)
    ring = ring_from_file(key_file)
    engines = [create_engine(settings.database_url) for _ in range(2)]
    try:
        first, second = await asyncio.gather(
            *(
                rewrap_all(
                    create_session_factory(e, audit_key=ring.audit_key()), ring, batch_size=40
                )
                for e in engines
            )
        )
    finally:
        for engine in engines:
            await engine.dispose()
    assert first.rewrapped + second.rewrapped == 1000
    assert await key_usage(runtime.sessions) == {new_id: 1000}
    events = await rewrapped_events(runtime.sessions)
    assert sum(event["count"] for event in events) == 1000
    assert await open_all(runtime.sessions, ring, values) == [v.plaintext for v in values]
    async with runtime.sessions() as session:
        assert (await verify_chain(session)).intact


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_postgresql_batches_never_wait_for_the_bot(
    backend: str, runtime: Runtime, rotator: Sessions, key_file: Path, key_document: dict[str, Any]
) -> None:
    """A row the bot is erasing is skipped; a row a foreign key check holds is still taken."""
    values = await seal_many(runtime.sessions, runtime.vault, 20)
    rotated, new_id = add_kek(key_document)
    write_key_document(key_file, rotated)
    ring = ring_from_file(key_file)
    erased, referenced = values[0].data_key_id, values[1].data_key_id

    async with runtime.sessions() as eraser, runtime.sessions() as referrer:
        await eraser.begin()
        await referrer.begin()
        assert await runtime.vault.destroy(eraser, [erased]) == 1  # uncommitted DELETE
        await referrer.execute(  # what an INSERT pointing at a data key takes
            text("SELECT 1 FROM data_keys WHERE id = :id FOR KEY SHARE"), {"id": referenced}
        )
        batch = await asyncio.wait_for(rewrap_batch_detailed(rotator, ring, batch_size=100), 10)
        assert batch.selected == batch.rewrapped == 19
        await referrer.commit()
        await eraser.commit()
    assert await remaining(rotator, ring) == 0
    assert await key_usage(rotator) == {new_id: 19}
    assert await open_all(rotator, ring, values[1:]) == [v.plaintext for v in values[1:]]


async def test_running_bot_needs_the_new_key_file_and_can_reload_it(
    runtime: Runtime, rotator: Sessions, key_file: Path, key_document: dict[str, Any]
) -> None:
    """Cached data keys survive rotation; uncached ones need the new KEK in the bot's ring."""
    values = await seal_many(runtime.sessions, runtime.vault, 10)
    bot_vault = Vault(runtime.vault.key_ring)  # a bot started before rotation, cache cold
    cached = values[0]
    async with runtime.sessions() as session:
        await bot_vault.open(session, cached.data_key_id, cached.context, cached.sealed)
    rotated, new_id = add_kek(key_document)
    write_key_document(key_file, rotated)
    await rewrap_all(rotator, ring_from_file(key_file))

    async with runtime.sessions() as session:
        assert (
            await bot_vault.open(session, cached.data_key_id, cached.context, cached.sealed)
            == cached.plaintext
        )
        with pytest.raises(CryptoError, match="unknown key"):
            await bot_vault.open(
                session, values[1].data_key_id, values[1].context, values[1].sealed
            )
    assert reload_key_ring(bot_vault, key_file) is True
    assert reload_key_ring(bot_vault, key_file) is False
    assert bot_vault.key_ring.active_key_id == new_id
    assert await open_all(runtime.sessions, bot_vault.key_ring, values) == [
        v.plaintext for v in values
    ]


# --- the CLI: bot.cli.keys ----------------------------------------------------------------


@pytest.fixture
def operator_env(settings: Settings, key_file: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("MARAC_") and name != "MARAC_REQUIRE_POSTGRES":
            monkeypatch.delenv(name)
    monkeypatch.setenv("MARAC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MARAC_KEY_FILE", str(key_file))
    return key_file


async def test_cli_rotate_and_status(
    runtime: Runtime,
    operator_env: Path,
    key_document: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = await seal_many(runtime.sessions, runtime.vault, MANY)
    old_id = key_document["active"]

    assert await keys("status") == 0
    out = capsys.readouterr().out
    assert f"{old_id}  active  {MANY} data keys" in out

    assert await keys("rotate", "--batch-size", "250") == 0
    out = capsys.readouterr().out
    new_id = read_key_document(operator_env)["active"]
    assert new_id != old_id
    assert f"Added key-encryption key {new_id}" in out
    assert f"[{'#' * 30}] {MANY}/{MANY} data keys" in out
    assert f"[{'-' * 30}] 0/{MANY} data keys" in out
    assert f"Retired {old_id}" in out and "Key rotation complete" in out
    assert file_mode(operator_env) == 0o600
    fresh = ring_from_file(operator_env)
    assert fresh.key_ids == [new_id]
    assert await open_all(runtime.sessions, fresh, values) == [v.plaintext for v in values]
    assert len(await rewrapped_events(runtime.sessions)) == 5  # 250 x 4 + 200

    assert await keys("status") == 0
    out = capsys.readouterr().out
    assert f"{new_id}  active  {MANY} data keys" in out and old_id not in out


async def test_cli_interrupted_rotation_then_resume(
    runtime: Runtime,
    operator_env: Path,
    key_document: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    values = await seal_many(runtime.sessions, runtime.vault, MANY)
    old_id = key_document["active"]
    real_rewrap_all = cli_keys.rewrap_all

    async def ctrl_c_after_two_batches(*args: Any, **kwargs: Any) -> Any:
        await real_rewrap_all(*args, **{**kwargs, "max_batches": 2})
        raise KeyboardInterrupt

    with monkeypatch.context() as patch, pytest.raises(KeyboardInterrupt):
        patch.setattr(cli_keys, "rewrap_all", ctrl_c_after_two_batches)
        await keys("rotate", "--batch-size", "500")
    document = read_key_document(operator_env)
    new_id = document["active"]
    assert {entry["id"] for entry in document["keks"]} == {old_id, new_id}
    capsys.readouterr()

    assert await keys("status") == 0
    out = capsys.readouterr().out
    assert f"{new_id}  active  1000 data keys" in out
    assert f"{old_id}          200 data keys" in out
    assert "200 data keys still under an older key" in out

    assert await keys("rotate", "--resume", "--batch-size", "64") == 0
    out = capsys.readouterr().out
    assert "Added" not in out and f"Retired {old_id}" in out
    assert "200/200 data keys" in out
    assert read_key_document(operator_env)["keks"][0]["id"] == new_id
    assert await open_all(runtime.sessions, ring_from_file(operator_env), values) == [
        v.plaintext for v in values
    ]


async def test_cli_add_only_then_resume(
    runtime: Runtime,
    operator_env: Path,
    key_document: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    values = await seal_many(runtime.sessions, runtime.vault, 50)
    assert await keys("rotate", "--add-only") == 0
    out = capsys.readouterr().out
    assert "restart the bot" in out
    document = read_key_document(operator_env)
    assert len(document["keks"]) == 2
    assert await key_usage(runtime.sessions) == {key_document["active"]: 50}
    assert await keys("rotate", "--resume") == 0
    assert len(read_key_document(operator_env)["keks"]) == 1
    assert await open_all(runtime.sessions, ring_from_file(operator_env), values) == [
        v.plaintext for v in values
    ]


async def test_cli_rotation_while_a_stale_bot_writes_keeps_the_old_key_until_resumed(
    runtime: Runtime,
    operator_env: Path,
    key_document: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Retiring the key a running bot still wraps with would lose what it writes next."""
    values = await seal_many(runtime.sessions, runtime.vault, MANY)
    old_id = key_document["active"]
    stop = asyncio.Event()
    written: list[SealedValue] = []

    async def bot_writes() -> None:
        while not stop.is_set():
            written.extend(
                await seal_many(runtime.sessions, runtime.vault, 2, prefix=f"w{len(written)}-")
            )
            await asyncio.sleep(0.03)

    writer = asyncio.create_task(bot_writes())
    try:
        code = await keys("rotate", "--batch-size", "50")
    finally:
        stop.set()
        await writer
    out = capsys.readouterr().out
    assert code == 1 and "Kept the old key(s)" in out and "Restart it" in out
    document = read_key_document(operator_env)
    assert old_id in {entry["id"] for entry in document["keks"]}

    # The bot restarts with the new key file; resume finishes and retires the old key.
    assert await keys("rotate", "--resume") == 0
    out = capsys.readouterr().out
    assert f"Retired {old_id}" in out
    fresh = ring_from_file(operator_env)
    assert old_id not in fresh.key_ids
    assert await key_usage(runtime.sessions) == {fresh.active_key_id: MANY + len(written)}
    everything = values + written
    assert await open_all(runtime.sessions, fresh, everything) == [v.plaintext for v in everything]


async def test_cli_refuses_rotation_with_keys_from_the_environment(
    operator_env: Path,
    key_document: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MARAC_KEYS", json.dumps(key_document))
    before = file_bytes(operator_env)
    assert await keys("rotate") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "needs a key file" in err
    assert key_document["keks"][0]["key"] not in err
    assert file_bytes(operator_env) == before


async def test_cli_status_warns_about_a_key_missing_from_the_file(
    runtime: Runtime,
    operator_env: Path,
    key_document: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
) -> None:
    await seal_many(runtime.sessions, runtime.vault, 3)
    write_key_document(operator_env, new_key_document())  # the old key file was lost
    assert await keys("status") == 1
    out = capsys.readouterr().out
    assert f"WARNING: 3 data keys wrapped by {key_document['active']}, which is not in" in out
    # Rotation cannot re-wrap them either, and says so rather than pretending success.
    assert await keys("rotate") == 1
    out = capsys.readouterr().out
    assert f"WARNING: 3 data keys wrapped by {key_document['active']}" in out


async def test_cli_refuses_a_second_rotation_at_the_same_time(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with cli_keys._rotation_lock(operator_env):
        assert await keys("rotate") == 2
    assert "Another key rotation is running" in capsys.readouterr().err


def test_progress_bar_text() -> None:
    assert cli_keys.progress_bar(5000, 10000, width=10) == "[#####-----] 5000/10000 data keys"
    assert cli_keys.progress_bar(0, 0, width=4) == "[####] 0/0 data keys"


def test_marac_bot_main_runs_keys_once_wired(
    settings: Settings,
    key_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli.main import build_parser, main

    build_parser().parse_args(["keys", "status"])  # the keys commands are registered
    capsys.readouterr()
    for name in list(os.environ):
        if name.startswith("MARAC_") and name != "MARAC_REQUIRE_POSTGRES":
            monkeypatch.delenv(name)
    monkeypatch.setenv("MARAC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MARAC_KEY_FILE", str(key_file))

    async def migrate() -> None:
        rt = open_runtime(settings, key_ring=ring_from_file(key_file))
        try:
            await upgrade(rt.engine)
            await seal_many(rt.sessions, rt.vault, 30)
        finally:
            await rt.close()

    asyncio.run(migrate())
    assert main(["keys", "rotate", "--batch-size", "7"]) == 0
    assert main(["keys", "status"]) == 0
    assert "active  30 data keys" in capsys.readouterr().out

"""Crypto-shredding reaches old database copies: the KEK is rotated after erasures.

Runs on SQLite and PostgreSQL, with the key file and with Vault's transit engine (the
local stand-in, driven by the real hvac client). Each test copies the data_keys rows
before a case is erased, as a backup would, erases the case the way coordinators do
(request, then a second coordinator's confirmation), runs ``rotate_after_erasure``, and
then shows the copied wrapped key can no longer be unwrapped by the current key source,
while every live case still opens.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select, text

import storage.rotation as rotation
from bot.actor import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.referrals import case_context
from bot.services.retention import RetentionService
from bot.vocabulary import Role
from config import Settings
from storage.audit import verify_chain
from storage.crypto import CryptoError, KeySource
from storage.db import create_engine, create_session_factory
from storage.kek_sources import KeyFileSource, TransitKeySource
from storage.keyfile import (
    add_kek,
    blind_index_key_from_document,
    key_ring_from_document,
    read_key_document,
    write_key_document,
)
from storage.migrate import upgrade
from storage.models import AuditEvent, Case, DataKey
from storage.rotation import SHREDDED, retire_unused_keks, rotate_after_erasure
from storage.vault import Vault
from tests.support.keys import TRANSIT_KEY
from tests.support.service_scenarios import TYPED, refer
from tests.support.vault_transit import VaultTransitStandIn

# Real outages, processes, rotations or whole demos: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class WrappedCopy:
    """A data_keys row as a backup holds it."""

    id: str
    kek_id: str
    wrapped: bytes


@dataclass(frozen=True)
class World:
    cora: Actor
    colin: Actor
    rep: Actor


def runtime_with(settings: Settings, clock: ManualClock, source: KeySource) -> Runtime:
    engine = create_engine(settings.database_url)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=create_session_factory(engine, audit_key=source.audit_key()),
        vault=Vault(source),
        clock=clock,
    )


def transit_source(
    server: VaultTransitStandIn, key_document: dict[str, Any], **options: Any
) -> TransitKeySource:
    return TransitKeySource(
        url=server.url,
        token=options.pop("token", server.token),
        key_name=TRANSIT_KEY,
        blind_index_key=blind_index_key_from_document(key_document, "test"),
        **options,
    )


@pytest.fixture(params=["key_file", "vault_transit"])
async def shred_runtime(
    request: pytest.FixtureRequest,
    settings: Settings,
    clock: ManualClock,
    key_document: dict[str, Any],
    transit: VaultTransitStandIn,
) -> AsyncIterator[Runtime]:
    """The bot's runtime with its KEK in the key file, or in Vault's transit engine."""
    write_key_document(settings.key_file, key_document)
    if request.param == "key_file":
        source: KeySource = KeyFileSource(settings.key_file)
    else:
        source = transit_source(transit, key_document, key_file=settings.key_file)
    runtime = runtime_with(settings, clock, source)
    await upgrade(runtime.engine)
    try:
        yield runtime
    finally:
        if isinstance(source, TransitKeySource):
            source.close()
        await runtime.close()


async def enrol(
    runtime: Runtime, user_id: int, name: str, area_id: int, role: Role, **kw: Any
) -> Actor:
    issued = await runtime.services.invites.issue(None, area_id=area_id, role=role, **kw)
    result = await runtime.services.enrolment.redeem(user_id, name, issued.code)
    assert result.actor is not None
    return result.actor


async def build_world(runtime: Runtime) -> World:
    from bot.vocabulary import AgencyKind

    services = runtime.services
    area_id = (await services.areas.ensure_area("Northamptonshire")).id
    cora = await enrol(runtime, 1001, "Cora Ordinator", area_id, Role.COORDINATOR)
    colin = await enrol(runtime, 1002, "Colin Second", area_id, Role.COORDINATOR)
    police = await services.agencies.add(cora, "Northants Police", AgencyKind.POLICE)
    rep = await enrol(runtime, 1003, "Pat Police", area_id, Role.AGENCY_REP, agency_id=police.id)
    return World(cora=cora, colin=colin, rep=rep)


async def copy_data_keys(runtime: Runtime) -> dict[str, WrappedCopy]:
    """What a database backup taken now would hold of the data keys."""
    async with runtime.sessions() as session:
        rows = await session.execute(select(DataKey.id, DataKey.kek_id, DataKey.wrapped))
        return {str(i): WrappedCopy(str(i), str(k), bytes(w)) for i, k, w in rows.all()}


async def case_key(runtime: Runtime, case_id: int) -> str:
    async with runtime.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None and case.data_key_id is not None
        return case.data_key_id


async def summary_of(runtime: Runtime, source: KeySource, case_id: int) -> str:
    """A live case's summary, opened by a fresh vault (nothing cached) on ``source``."""
    async with runtime.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None and case.data_key_id is not None
        assert case.summary_sealed is not None
        return await Vault(source).open(
            session, case.data_key_id, case_context(case.id, "summary_sealed"), case.summary_sealed
        )


async def erase_early(runtime: Runtime, world: World, case_id: int) -> None:
    service = RetentionService(runtime.deps)
    await service.request_erasure(world.cora, case_id, "wrong_person")
    await service.confirm_erasure(world.colin, case_id)


def current_source(runtime: Runtime, settings: Settings) -> KeySource:
    """The key source as a process starting now would load it."""
    source = runtime.vault.key_ring
    if isinstance(source, KeyFileSource):
        return KeyFileSource(settings.key_file)
    assert isinstance(source, TransitKeySource)
    return source


async def shredded_events(runtime: Runtime) -> list[dict[str, Any]]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(AuditEvent.details).where(AuditEvent.action == SHREDDED)
        )
        return [json.loads(details) for details in rows]


def crash_before_retiring(patch: pytest.MonkeyPatch) -> None:
    """The process dies after re-wrapping, before the old KEK is destroyed."""

    async def crash(*args: Any, **kwargs: Any) -> Any:
        raise CryptoError("simulated crash")

    patch.setattr(rotation, "retire_unused_keks", crash)
    patch.setattr(rotation, "retire_transit_versions", crash)


async def test_a_backup_taken_before_erasure_cannot_open_the_erased_case_after_rotation(
    shred_runtime: Runtime, settings: Settings
) -> None:
    runtime = shred_runtime
    world = await build_world(runtime)
    erased = await refer(runtime, world.rep, typed={"victim_name": "Wendy Wrong"})
    kept = await refer(runtime, world.rep, typed={"summary": "Kept: threats by text"})
    erased_key = await case_key(runtime, erased.case_id)
    backup = await copy_data_keys(runtime)
    assert erased_key in backup

    await erase_early(runtime, world, erased.case_id)
    # Erasure alone: the live database has no key, but the backup's copy still unwraps.
    async with runtime.sessions() as session:
        assert await session.get(DataKey, erased_key) is None
    copy = backup[erased_key]
    await current_source(runtime, settings).unwrap_data_key(copy.kek_id, copy.wrapped, copy.id)

    report = await rotate_after_erasure(runtime.sessions, runtime.vault)
    assert report.status == "done", report.message
    assert report.rewrapped == len(backup) - 1 and report.retired

    source = current_source(runtime, settings)
    with pytest.raises(CryptoError):
        await source.unwrap_data_key(copy.kek_id, copy.wrapped, copy.id)
    # No wrapped key of the backup opens any more: its KEK is gone.
    for row in backup.values():
        with pytest.raises(CryptoError):
            await source.unwrap_data_key(row.kek_id, row.wrapped, row.id)
    # Every live case still opens, from a process that starts afresh and from this one.
    assert await summary_of(runtime, source, kept.case_id) == "Kept: threats by text"
    assert await summary_of(runtime, runtime.vault.key_ring, kept.case_id) == (
        "Kept: threats by text"
    )
    # The bot goes on working: a new referral is sealed under the new KEK.
    new = await refer(runtime, world.rep, typed={"victim_name": "New Person"})
    assert await summary_of(runtime, source, new.case_id) == TYPED["summary"]

    # Nothing new to cover: a second call does nothing, and says so.
    again = await rotate_after_erasure(runtime.sessions, runtime.vault)
    assert again.status == "not_needed"
    assert len(await shredded_events(runtime)) == 1
    async with runtime.sessions() as session:
        assert (await verify_chain(session)).intact


async def test_the_key_file_keeps_one_key_and_the_same_blind_index(
    settings: Settings, clock: ManualClock, key_document: dict[str, Any]
) -> None:
    """Repeat victims are still matched after rotation: the blind-index key never moves."""
    write_key_document(settings.key_file, key_document)
    file_runtime = runtime_with(settings, clock, KeyFileSource(settings.key_file))
    try:
        await upgrade(file_runtime.engine)
        world = await build_world(file_runtime)
        first = await refer(file_runtime, world.rep, typed={"victim_name": "Zoë O’Neil"})
        erased = await refer(file_runtime, world.rep, typed={"victim_name": "Wendy Wrong"})
        await erase_early(file_runtime, world, erased.case_id)
        report = await rotate_after_erasure(file_runtime.sessions, file_runtime.vault)
        assert report.status == "done", report.message
        document = read_key_document(settings.key_file)
        assert [entry["id"] for entry in document["keks"]] == [report.active_key_id]
        assert document["blind_index_key"] == key_document["blind_index_key"]
        again = await refer(file_runtime, world.rep, typed={"victim_name": "zoe o'neil"})
        assert again.possible_repeat_of == first.reference
    finally:
        await file_runtime.close()


async def test_a_standby_loaded_before_rotation_never_writes_under_the_destroyed_key(
    shred_runtime: Runtime,
    settings: Settings,
    key_document: dict[str, Any],
    transit: VaultTransitStandIn,
) -> None:
    """A second bot process holds the key source it loaded at start; after the active one
    rotates, the standby takes over: it opens re-wrapped keys and wraps under the new KEK."""
    runtime = shred_runtime
    standby_source: KeySource = (
        KeyFileSource(settings.key_file)
        if isinstance(runtime.vault.key_ring, KeyFileSource)
        else transit_source(transit, key_document)
    )
    standby = Vault(standby_source)
    world = await build_world(runtime)
    kept = await refer(runtime, world.rep, typed={"summary": "Kept: standby reads this"})
    erased = await refer(runtime, world.rep, typed={"victim_name": "Wendy Wrong"})
    await erase_early(runtime, world, erased.case_id)
    assert (await rotate_after_erasure(runtime.sessions, runtime.vault)).status == "done"

    async with runtime.sessions() as session, session.begin():
        new_key = await standby.create_data_key(session, "test")
    async with runtime.sessions() as session:
        row = await session.get(DataKey, new_key)
        assert row is not None
        keys_now = {str(k) for k in await session.scalars(select(DataKey.kek_id).distinct())}
    assert keys_now == {row.kek_id}  # the standby wrapped under the one live KEK
    assert await summary_of(runtime, standby_source, kept.case_id) == "Kept: standby reads this"
    # ... and what it wrote opens for a process that starts afresh.
    assert await current_source(runtime, settings).unwrap_data_key(row.kek_id, row.wrapped, row.id)
    if isinstance(standby_source, TransitKeySource):
        standby_source.close()


async def test_an_interrupted_rotation_is_finished_by_the_next_call(
    shred_runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = shred_runtime
    world = await build_world(runtime)
    kept = [await refer(runtime, world.rep, typed={"summary": f"Kept case {n}"}) for n in range(3)]
    erased = await refer(runtime, world.rep, typed={"victim_name": "Wendy Wrong"})
    backup = await copy_data_keys(runtime)
    erased_copy = backup[await case_key(runtime, erased.case_id)]
    await erase_early(runtime, world, erased.case_id)

    with monkeypatch.context() as patch:
        crash_before_retiring(patch)
        stopped = await rotate_after_erasure(runtime.sessions, runtime.vault, batch_size=2)
    assert stopped.status == "incomplete" and "simulated crash" in stopped.message
    # Half-way: re-wrapped, old KEK not destroyed yet, and every case still opens.
    source = current_source(runtime, settings)
    await source.unwrap_data_key(erased_copy.kek_id, erased_copy.wrapped, erased_copy.id)
    for case in kept:
        assert await summary_of(runtime, source, case.case_id) == f"Kept case {kept.index(case)}"

    finished = await rotate_after_erasure(runtime.sessions, runtime.vault, batch_size=2)
    assert finished.status == "done", finished.message
    source = current_source(runtime, settings)
    with pytest.raises(CryptoError):
        await source.unwrap_data_key(erased_copy.kek_id, erased_copy.wrapped, erased_copy.id)
    for number, case in enumerate(kept):
        assert await summary_of(runtime, source, case.case_id) == f"Kept case {number}"
    async with runtime.sessions() as session:
        added = list(
            await session.scalars(
                select(AuditEvent.id).where(AuditEvent.action == rotation.KEK_ADDED)
            )
        )
    assert len(added) == 1  # resumed: no second new KEK


async def test_an_erasure_during_a_pending_rotation_gets_a_fresh_key(
    shred_runtime: Runtime, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rotation begun before an erasure does not cover it: the erased key may already be
    wrapped under that rotation's new KEK, so the next call starts another."""
    runtime = shred_runtime
    world = await build_world(runtime)
    first = await refer(runtime, world.rep, typed={"victim_name": "First Wrong"})
    first_kek = (await copy_data_keys(runtime))[await case_key(runtime, first.case_id)].kek_id
    await erase_early(runtime, world, first.case_id)

    with monkeypatch.context() as patch:
        crash_before_retiring(patch)
        stopped = await rotate_after_erasure(runtime.sessions, runtime.vault)
    assert stopped.status == "incomplete"
    second = await refer(runtime, world.rep, typed={"victim_name": "Second Wrong"})
    backup = await copy_data_keys(runtime)
    second_copy = backup[await case_key(runtime, second.case_id)]
    assert second_copy.kek_id != first_kek  # wrapped by the pending rotation's new KEK
    await erase_early(runtime, world, second.case_id)

    report = await rotate_after_erasure(runtime.sessions, runtime.vault)
    assert report.status == "done", report.message
    assert report.active_key_id not in (first_kek, second_copy.kek_id)
    with pytest.raises(CryptoError):
        await current_source(runtime, settings).unwrap_data_key(
            second_copy.kek_id, second_copy.wrapped, second_copy.id
        )


async def test_keys_from_the_environment_cannot_be_rotated_and_say_so(runtime: Runtime) -> None:
    """MARAC_KEYS (a fixed KeyRing): the report says the erasure is not shredded in backups."""
    world = await build_world(runtime)
    erased = await refer(runtime, world.rep, typed={"victim_name": "Wendy Wrong"})
    await erase_early(runtime, world, erased.case_id)
    report = await rotate_after_erasure(runtime.sessions, runtime.vault)
    assert report.status == "unsupported" and "MARAC_KEYS" in report.message
    assert "\n" not in report.message


async def test_vault_refusing_the_token_stops_the_rotation_with_nothing_changed(
    runtime: Runtime,
    settings: Settings,
    transit: VaultTransitStandIn,
    key_document: dict[str, Any],
) -> None:
    good = transit_source(transit, key_document)
    bot_vault = Vault(good)
    world = await build_world(runtime)
    async with runtime.sessions() as session, session.begin():
        await bot_vault.create_data_key(session, "test")
    erased = await refer(runtime, world.rep, typed={"victim_name": "Wendy Wrong"})
    await erase_early(runtime, world, erased.case_id)
    before = await copy_data_keys(runtime)

    bad = transit_source(transit, key_document, token="hvs.not-the-token")
    report = await rotate_after_erasure(runtime.sessions, Vault(bad))
    good.close()
    bad.close()
    assert report.status == "incomplete"
    assert "refused the token" in report.message and "hvs.not-the-token" not in report.message
    assert transit.key(TRANSIT_KEY).latest_version == 1
    assert await copy_data_keys(runtime) == before
    assert await shredded_events(runtime) == []


async def until_lock_waits(runtime: Runtime, backend: str) -> None:
    """Until the retirement is queued behind the writer (PostgreSQL shows it in pg_locks;
    SQLite's writer lock shows nothing, so the task just gets a head start)."""
    if backend != "postgresql":
        await asyncio.sleep(0.2)
        return
    query = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON l.relation = c.oid "
        "WHERE c.relname = 'data_keys' AND NOT l.granted"
    )
    for _ in range(1000):
        async with runtime.engine.connect() as connection:
            if await connection.scalar(query):
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the retirement never waited for the writer")


async def test_a_data_key_still_being_written_under_the_old_key_keeps_that_key(
    runtime: Runtime, settings: Settings, key_document: dict[str, Any], backend: str
) -> None:
    """A process that wrapped a data key under the old KEK just before the rotation and has
    not committed yet: the retirement waits for it, sees it, and keeps the old KEK."""
    path = settings.key_file
    rotated, _ = add_kek(key_document)
    write_key_document(path, rotated)
    ring = key_ring_from_document(rotated, "test")
    stale = Vault(key_ring_from_document(key_document, "test"))  # loaded before the rotation
    rotator = create_engine(settings.database_url)  # the rotation is another process
    try:
        async with runtime.sessions() as writer:
            async with writer.begin():
                late_key = await stale.create_data_key(writer, "late")  # INSERT, uncommitted
                retiring = asyncio.create_task(
                    retire_unused_keks(
                        create_session_factory(rotator, audit_key=ring.audit_key()),
                        path,
                        rotated,
                        ring,
                    )
                )
                await until_lock_waits(runtime, backend)
            outcome = await retiring
    finally:
        await rotator.dispose()
    assert outcome.late == 1 and outcome.retired == ()
    assert key_document["active"] in {entry["id"] for entry in read_key_document(path)["keks"]}
    async with runtime.sessions() as session:
        row = await session.get(DataKey, late_key)
        assert row is not None
        assert KeyFileSource(path).ring.unwrap(row.kek_id, row.wrapped, row.id)

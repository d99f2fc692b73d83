"""The KEK in HashiCorp Vault's transit engine, through the real hvac client.

Vault is the local stand-in (bot/sandbox/vault_transit.py): real HTTP on 127.0.0.1 with
Vault's wire format, token check, versioned keys and AES-GCM. It runs on the test's own
event loop, so every test here also shows that hvac's blocking calls are made off the
loop: if one ran on it, the stand-in could not answer and the call would time out.
Runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from bot.actor import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.vocabulary import AgencyKind, Role
from config import Settings, load_settings
from storage.crypto import (
    CryptoError,
    FieldContext,
    KeySource,
    KeySourceError,
    KeySourceUnavailable,
)
from storage.db import create_engine, create_session_factory
from storage.kek_sources import TransitKeySource, key_source_from_settings
from storage.keyfile import (
    blind_index_key_from_document,
    key_ring_from_document,
    read_key_document,
    write_key_document,
)
from storage.migrate import upgrade
from storage.models import DataKey, ReferralDraft
from storage.rotation import key_usage, rewrap_transit_all
from storage.vault import Vault
from tests.support.keys import TRANSIT_KEY, file_mode, keys
from tests.support.vault_transit import VaultTransitStandIn

KEY = TRANSIT_KEY
V1 = f"transit:transit/{KEY}:v1"
V2 = f"transit:transit/{KEY}:v2"


@dataclass(frozen=True)
class SealedValue:
    data_key_id: str
    context: FieldContext
    sealed: bytes
    plaintext: str


def make_source(
    server: VaultTransitStandIn, key_document: dict[str, Any], **options: Any
) -> TransitKeySource:
    return TransitKeySource(
        url=server.url,
        token=options.pop("token", server.token),
        key_name=KEY,
        blind_index_key=blind_index_key_from_document(key_document, "test"),
        **options,
    )


@pytest.fixture
async def source(
    transit: VaultTransitStandIn, key_document: dict[str, Any]
) -> AsyncIterator[TransitKeySource]:
    made = make_source(transit, key_document)
    yield made
    made.close()


@pytest.fixture
async def transit_runtime(
    settings: Settings, clock: ManualClock, source: TransitKeySource
) -> AsyncIterator[Runtime]:
    engine = create_engine(settings.database_url)
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=create_session_factory(engine, audit_key=source.audit_key()),
        vault=Vault(source),
        clock=clock,
    )
    await upgrade(runtime.engine)
    try:
        yield runtime
    finally:
        await runtime.close()


async def seal_many(runtime: Runtime, count: int, prefix: str = "v") -> list[SealedValue]:
    values: list[SealedValue] = []
    async with runtime.sessions() as session, session.begin():
        for number in range(count):
            data_key_id = await runtime.vault.create_data_key(session, "test")
            context = FieldContext("people", "display_name_sealed", f"{prefix}{number}")
            plaintext = f"Person {prefix}{number} Zoë O’Neil"
            sealed = await runtime.vault.seal(session, data_key_id, context, plaintext)
            values.append(SealedValue(data_key_id, context, sealed, plaintext))
    return values


async def open_all(runtime: Runtime, key_source: KeySource, values: list[SealedValue]) -> list[str]:
    """Open every value with a fresh vault, so every data key is unwrapped by Vault again."""
    vault = Vault(key_source)
    async with runtime.sessions() as session:
        return [
            await vault.open(session, value.data_key_id, value.context, value.sealed)
            for value in values
        ]


async def data_key_rows(runtime: Runtime) -> dict[str, tuple[str, bytes]]:
    async with runtime.sessions() as session:
        rows = await session.execute(select(DataKey.id, DataKey.kek_id, DataKey.wrapped))
        return {str(i): (str(k), bytes(w)) for i, k, w in rows.all()}


@pytest.fixture
def operator_env(
    settings: Settings,
    transit: VaultTransitStandIn,
    key_document: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    """What an operator sets to run ``marac-bot keys`` against Vault."""
    for name in list(os.environ):
        if (name.startswith("MARAC_") and name != "MARAC_REQUIRE_POSTGRES") or name.startswith(
            "VAULT_"
        ):
            monkeypatch.delenv(name)
    write_key_document(settings.key_file, key_document)
    monkeypatch.setenv("MARAC_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("MARAC_KEY_FILE", str(settings.key_file))
    monkeypatch.setenv("MARAC_KEK_SOURCE", "vault")
    monkeypatch.setenv("MARAC_VAULT_URL", transit.url)
    monkeypatch.setenv("VAULT_TOKEN", transit.token)
    return settings.key_file


async def enrolled_rep(runtime: Runtime) -> Actor:
    services = runtime.services
    area_id = (await services.areas.ensure_area("Northamptonshire")).id
    invite = await services.invites.issue(None, area_id=area_id, role=Role.COORDINATOR)
    cora = (await services.enrolment.redeem(1001, "Cora Ordinator", invite.code)).actor
    assert cora is not None
    police = await services.agencies.add(cora, "Northants Police", AgencyKind.POLICE)
    invite = await services.invites.issue(
        None, area_id=area_id, role=Role.AGENCY_REP, agency_id=police.id
    )
    rep = (await services.enrolment.redeem(1002, "Pat Police", invite.code)).actor
    assert rep is not None
    return rep


# --- wrapping, opening, erasing ------------------------------------------------------------


async def test_data_keys_are_wrapped_by_vault_and_open_for_any_process(
    transit_runtime: Runtime,
    transit: VaultTransitStandIn,
    key_document: dict[str, Any],
) -> None:
    runtime = transit_runtime
    values = await seal_many(runtime, 40)
    rows = await data_key_rows(runtime)
    assert {kek_id for kek_id, _ in rows.values()} == {V1}
    assert all(wrapped.startswith(b"vault:v1:") for _, wrapped in rows.values())
    assert transit.requests[f"POST transit/encrypt/{KEY}"] == 40

    # Another process (its own hvac clients, nothing cached) opens every value through Vault.
    other = make_source(transit, key_document)
    try:
        assert await open_all(runtime, other, values) == [v.plaintext for v in values]
        assert transit.requests[f"POST transit/decrypt/{KEY}"] == 40
    finally:
        other.close()

    # Erasing destroys the data key: the value is gone, for this process and any other.
    erased = values[0]
    async with runtime.sessions() as session, session.begin():
        assert await runtime.vault.destroy(session, [erased.data_key_id]) == 1
    with pytest.raises(CryptoError, match="no longer exists"):
        await open_all(runtime, runtime.vault.key_ring, [erased])


async def test_a_wrapped_key_pasted_into_another_row_does_not_open(
    transit_runtime: Runtime, source: TransitKeySource
) -> None:
    runtime = transit_runtime
    first, second = await seal_many(runtime, 2)
    rows = await data_key_rows(runtime)
    async with runtime.sessions() as session, session.begin():
        await session.execute(
            update(DataKey)
            .where(DataKey.id == second.data_key_id)
            .values(wrapped=rows[first.data_key_id][1])
        )
    assert await open_all(runtime, source, [first]) == [first.plaintext]
    with pytest.raises(CryptoError, match="does not belong to this row"):
        await open_all(runtime, source, [second])


async def test_blind_indexes_do_not_change_when_the_kek_moves_to_vault(
    source: TransitKeySource, key_document: dict[str, Any]
) -> None:
    """Repeat victims found before the switch are still found after it."""
    file_ring = key_ring_from_document(key_document, "test")
    assert source.blind_index(
        "victim", "Zoë O’Neil", "1990-03-14", area_id=1
    ) == file_ring.blind_index("victim", "zoe o'neil", "1990-03-14", area_id=1)


# --- keys rotate / keys status ----------------------------------------------------------------


async def test_cli_rotate_rewraps_through_vault_and_destroys_the_old_version(
    transit_runtime: Runtime,
    transit: VaultTransitStandIn,
    operator_env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = transit_runtime
    values = await seal_many(runtime, 120)
    backup = await data_key_rows(runtime)
    assert await keys("status") == 0
    out = capsys.readouterr().out
    assert "Transit key transit/marac-bot in Vault: latest version 1" in out
    assert f"{V1}  active  120 data keys" in out

    decrypts = transit.requests[f"POST transit/decrypt/{KEY}"]
    assert await keys("rotate", "--batch-size", "50") == 0
    out = capsys.readouterr().out
    assert "Rotated transit key transit/marac-bot in Vault to version 2" in out
    assert f"[{'#' * 30}] 120/120 data keys" in out
    assert "Re-wrapped 120 data keys in 3 batch(es)." in out
    assert "Retired the versions of transit/marac-bot below 2" in out
    assert f"Key rotation complete: every data key is wrapped by {V2}." in out
    # Re-wrapped inside Vault: no data key was decrypted to this process on the way.
    assert transit.requests[f"POST transit/rewrap/{KEY}"] == 3
    assert transit.requests[f"POST transit/decrypt/{KEY}"] == decrypts
    key = transit.key(KEY)
    assert sorted(key.versions) == [2] and key.min_decryption_version == 2
    assert await key_usage(runtime.sessions) == {V2: 120}
    assert await open_all(runtime, runtime.vault.key_ring, values) == [v.plaintext for v in values]

    # A copy of the database from before cannot be opened any more.
    kek_id, wrapped = backup[values[0].data_key_id]
    with pytest.raises(CryptoError, match="retired"):
        await runtime.vault.key_ring.unwrap_data_key(kek_id, wrapped, values[0].data_key_id)

    assert await keys("status") == 0
    out = capsys.readouterr().out
    assert "latest version 2, decrypts from version 2, versions below 2 destroyed." in out
    assert f"{V2}  active  120 data keys" in out and V1 not in out


async def test_cli_add_only_needs_no_restart_then_resume_finishes(
    transit_runtime: Runtime,
    transit: VaultTransitStandIn,
    operator_env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = transit_runtime
    values = await seal_many(runtime, 30)
    assert await keys("rotate", "--add-only") == 0
    assert "needs no restart" in capsys.readouterr().out
    # The running bot wraps under the new version at once, and still opens the old ones.
    newer = await seal_many(runtime, 5, prefix="w")
    assert await key_usage(runtime.sessions) == {V1: 30, V2: 5}
    assert await keys("status") == 0
    assert "30 data keys still under an older key" in capsys.readouterr().out

    assert await keys("rotate", "--resume") == 0
    out = capsys.readouterr().out
    assert "Rotated" not in out and "30/30 data keys" in out
    assert sorted(transit.key(KEY).versions) == [2]
    everything = values + newer
    assert await open_all(runtime, runtime.vault.key_ring, everything) == [
        v.plaintext for v in everything
    ]


async def test_a_wrong_token_is_refused_with_one_clear_line(
    transit_runtime: Runtime,
    transit: VaultTransitStandIn,
    key_document: dict[str, Any],
    operator_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = transit_runtime
    await seal_many(runtime, 3)
    before = await data_key_rows(runtime)
    wrong = "hvs.this-is-not-the-token"
    monkeypatch.setenv("VAULT_TOKEN", wrong)
    for command in (("rotate",), ("status",)):
        assert await keys(*command) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "refused the token" in err and "permission denied" in err
        assert wrong not in err and transit.token not in err
    assert transit.key(KEY).latest_version == 1
    assert await data_key_rows(runtime) == before

    # The bot with a bad token: the referral step that needs a data key fails, nothing saved.
    bad = make_source(transit, key_document, token=wrong)
    async with runtime.sessions() as session:
        with pytest.raises(KeySourceError, match="refused the token"):
            async with session.begin():
                await Vault(bad).create_data_key(session, "test")
    bad.close()
    assert await data_key_rows(runtime) == before
    assert wrong not in repr(bad) and "token" not in repr(bad)


async def test_vault_unreachable_is_a_clear_error_and_nothing_is_half_written(
    transit_runtime: Runtime,
    transit: VaultTransitStandIn,
    operator_env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    runtime = transit_runtime
    rep = await enrolled_rep(runtime)
    values = await seal_many(runtime, 20)
    before = await data_key_rows(runtime)
    await transit.stop()

    # A referral cannot start: a clear error, and no half-made draft is left behind.
    with pytest.raises(KeySourceUnavailable, match="cannot be reached"):
        await runtime.services.referrals.start(rep)
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ReferralDraft)) == 0
    # Rotation refuses at once, in one line, and changes nothing.
    assert await keys("rotate") == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "cannot be reached" in err and "Nothing was lost" in err
    assert await data_key_rows(runtime) == before

    # Vault goes away after rotating, before re-wrapping: the data keys are untouched ...
    await transit.start()
    source = runtime.vault.key_ring
    assert isinstance(source, TransitKeySource)
    await source.rotate()
    await transit.stop()
    with pytest.raises(KeySourceUnavailable):
        await rewrap_transit_all(runtime.sessions, source, batch_size=7)
    assert await data_key_rows(runtime) == before
    # ... and once it is back, a resume finishes the rotation.
    await transit.start()
    assert await keys("rotate", "--resume") == 0
    assert set(await key_usage(runtime.sessions)) == {V2}
    assert await open_all(runtime, source, values) == [v.plaintext for v in values]
    assert (await runtime.services.referrals.start(rep)).payload["step"]


async def test_switching_from_the_key_file_to_vault_moves_every_data_key(
    settings: Settings,
    clock: ManualClock,
    transit: VaultTransitStandIn,
    key_document: dict[str, Any],
    operator_env: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Data keys wrapped by the key file open after the switch, rotation moves them to
    Vault, and the local KEKs then leave the file (the blind-index key stays)."""
    engine = create_engine(settings.database_url)
    file_runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=create_session_factory(
            engine, audit_key=key_ring_from_document(key_document, "file").audit_key()
        ),
        vault=Vault(key_ring_from_document(key_document, "file")),
        clock=clock,
    )
    try:
        await upgrade(file_runtime.engine)
        old = await seal_many(file_runtime, 25, prefix="f")
        backup = await data_key_rows(file_runtime)
        vault_source = key_source_from_settings(load_settings())
        assert isinstance(vault_source, TransitKeySource)
        file_runtime.vault = Vault(vault_source)
        assert await open_all(file_runtime, vault_source, old) == [v.plaintext for v in old]
        new = await seal_many(file_runtime, 5, prefix="n")
        assert (await key_usage(file_runtime.sessions))[V1] == 5

        assert await keys("rotate") == 0
        out = capsys.readouterr().out
        assert f"Removed {key_document['active']} from {operator_env}" in out
        document = read_key_document(operator_env)
        assert (
            document["keks"] == []
            and document["blind_index_key"] == (key_document["blind_index_key"])
        )
        assert file_mode(operator_env) == 0o600
        fresh = key_source_from_settings(load_settings())
        assert await key_usage(file_runtime.sessions) == {V2: 30}
        everything = old + new
        assert await open_all(file_runtime, fresh, everything) == [v.plaintext for v in everything]
        kek_id, wrapped = backup[old[0].data_key_id]
        with pytest.raises(CryptoError, match="unknown key"):
            await fresh.unwrap_data_key(kek_id, wrapped, old[0].data_key_id)
        assert isinstance(fresh, TransitKeySource)
        fresh.close()
        vault_source.close()
    finally:
        await file_runtime.close()


# --- settings -------------------------------------------------------------------------------


def test_the_token_comes_from_a_private_file_or_vault_token(
    tmp_path: Path, key_document: dict[str, Any]
) -> None:
    key_file = tmp_path / "keys.json"
    write_key_document(key_file, key_document)
    base = {
        "MARAC_KEK_SOURCE": "vault",
        "MARAC_VAULT_URL": "https://vault.example.org:8200",
        "MARAC_KEY_FILE": str(key_file),
    }
    with pytest.raises(KeySourceError, match="set VAULT_TOKEN or MARAC_VAULT_TOKEN_FILE"):
        key_source_from_settings(load_settings(base), base)

    from_env = key_source_from_settings(load_settings(base), {**base, "VAULT_TOKEN": "hvs.env"})
    assert isinstance(from_env, TransitKeySource) and "hvs.env" not in repr(from_env)

    token_file = tmp_path / "vault-token"
    token_file.write_text("hvs.from-file\n")
    token_file.chmod(0o644)
    env = {**base, "MARAC_VAULT_TOKEN_FILE": str(token_file), "VAULT_TOKEN": "hvs.env"}
    with pytest.raises(KeySourceError, match="chmod 600") as caught:
        key_source_from_settings(load_settings(env), env)
    assert "hvs.from-file" not in str(caught.value)
    token_file.chmod(0o600)
    from_file = key_source_from_settings(load_settings(env), env)
    assert isinstance(from_file, TransitKeySource) and "hvs.from-file" not in repr(from_file)
    assert "hvs" not in repr(load_settings(env))


async def test_a_missing_transit_key_is_named_with_the_command_that_creates_it(
    transit: VaultTransitStandIn, key_document: dict[str, Any]
) -> None:
    missing = TransitKeySource(
        url=transit.url,
        token=transit.token,
        key_name="not-created",
        blind_index_key=blind_index_key_from_document(key_document, "test"),
    )
    with pytest.raises(KeySourceError, match="vault write -f transit/keys/not-created"):
        await missing.check()
    missing.close()

"""The key file: created once, owner-only, refused when unsafe, overridable by MARAC_KEYS."""

from __future__ import annotations

import base64
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any

import pytest

from storage.crypto import FieldContext, KeyRing, new_data_key, open_sealed, seal
from storage.kek_sources import KeyFileSource
from storage.keyfile import (
    KeyFileError,
    RotationBusy,
    add_kek,
    blind_index_key_from_document,
    create_key_file,
    file_lock,
    key_ring_from_document,
    legacy_ring_from_document,
    load_key_ring,
    lock_path_for,
    new_key_document,
    read_key_document,
    retire_kek,
    without_local_keks,
    write_key_document,
)

NO_ENV: dict[str, str] = {}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def write_private(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    os.chmod(path, 0o600)
    return path


def assert_ring_works(ring: KeyRing) -> None:
    data_key = new_data_key()
    key_id, wrapped = ring.wrap(data_key, "dk-1")
    assert ring.unwrap(key_id, wrapped, "dk-1") == data_key
    context = FieldContext("cases", "victim_name", 1)
    assert open_sealed(data_key, seal(data_key, "Jane", context), context) == "Jane"


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "marac-keys.json"


def test_create_key_file_makes_an_owner_only_file(key_path: Path) -> None:
    assert create_key_file(key_path) is True
    assert key_path.is_file()
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    document = json.loads(key_path.read_text())
    assert document["active"] in [entry["id"] for entry in document["keks"]]


def test_create_key_file_is_owner_only_even_with_a_permissive_umask(key_path: Path) -> None:
    previous = os.umask(0)
    try:
        assert create_key_file(key_path) is True
    finally:
        os.umask(previous)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600


def test_create_key_file_never_overwrites(key_path: Path) -> None:
    assert create_key_file(key_path) is True
    original = key_path.read_bytes()
    assert create_key_file(key_path) is False
    assert key_path.read_bytes() == original


def test_created_key_file_loads_into_a_working_ring(key_path: Path) -> None:
    create_key_file(key_path)
    ring = load_key_ring(key_path, NO_ENV)
    document = json.loads(key_path.read_text())
    assert ring.active_key_id == document["active"]
    assert_ring_works(ring)


def test_loading_twice_gives_the_same_keys(key_path: Path) -> None:
    create_key_file(key_path)
    first = load_key_ring(key_path, NO_ENV)
    second = load_key_ring(key_path, NO_ENV)
    key_id, wrapped = first.wrap(new_data_key(), "dk-1")
    second.unwrap(key_id, wrapped, "dk-1")
    assert first.blind_index("name", "Zoe", area_id=1) == second.blind_index(
        "name", "Zoe", area_id=1
    )


def test_two_fresh_key_files_have_different_keys(tmp_path: Path) -> None:
    create_key_file(tmp_path / "a.json")
    create_key_file(tmp_path / "b.json")
    a = json.loads((tmp_path / "a.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert a["keks"][0]["key"] != b["keks"][0]["key"]
    assert a["blind_index_key"] != b["blind_index_key"]


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660, 0o606, 0o700])
def test_group_or_world_accessible_key_file_is_refused(key_path: Path, mode: int) -> None:
    create_key_file(key_path)
    os.chmod(key_path, mode)
    if mode == 0o700:
        # Owner-only (even if executable) is not readable by others and must load.
        load_key_ring(key_path, NO_ENV)
        return
    with pytest.raises(KeyFileError) as caught:
        load_key_ring(key_path, NO_ENV)
    assert "chmod 600" in str(caught.value)
    assert str(key_path) in str(caught.value)


def test_refused_file_message_does_not_leak_the_keys(key_path: Path) -> None:
    create_key_file(key_path)
    os.chmod(key_path, 0o644)
    document = json.loads(key_path.read_text())
    with pytest.raises(KeyFileError) as caught:
        load_key_ring(key_path, NO_ENV)
    assert document["keks"][0]["key"] not in str(caught.value)
    assert document["blind_index_key"] not in str(caught.value)


def test_missing_key_file_tells_the_operator_to_run_init(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(KeyFileError) as caught:
        load_key_ring(missing, NO_ENV)
    assert "marac-bot init" in str(caught.value)
    assert str(missing) in str(caught.value)


_DELETE = object()


def valid_document() -> dict[str, Any]:
    return new_key_document()


def _without(key: str) -> dict[str, Any]:
    document = valid_document()
    del document[key]
    return document


def _kek_field(field: str, value: Any) -> dict[str, Any]:
    document = valid_document()
    if value is _DELETE:
        del document["keks"][0][field]
    else:
        document["keks"][0][field] = value
    return document


def _with(key: str, value: Any) -> dict[str, Any]:
    document = valid_document()
    document[key] = value
    return document


MALFORMED_CONTENT: dict[str, str | bytes] = {
    "empty": "",
    "not-json": "this is not json",
    "truncated-json": '{"version": 1, "active": ',
    "json-list": "[1, 2, 3]",
    "json-string": '"hello"',
    "json-null": "null",
    "empty-object": "{}",
}

MALFORMED_DOCUMENTS: dict[str, Any] = {
    "no-active": _without("active"),
    "no-keks": _without("keks"),
    "no-blind-index-key": _without("blind_index_key"),
    "active-not-in-keks": _with("active", "kek-unknown"),
    "active-unhashable": _with("active", ["kek"]),
    "keks-empty": _with("keks", []),
    "keks-null": _with("keks", None),
    "keks-number": _with("keks", 5),
    "keks-object": _with("keks", {"id": "x", "key": "y"}),
    "keks-list-of-strings": _with("keks", ["kek-1"]),
    "kek-without-key": _kek_field("key", _DELETE),
    "kek-without-id": _kek_field("id", _DELETE),
    "kek-key-not-base64": _kek_field("key", "!!!not base64!!!"),
    "kek-key-non-ascii": _kek_field("key", "ключ"),
    "kek-key-number": _kek_field("key", 12345),
    "kek-key-too-short": _kek_field("key", b64(secrets.token_bytes(16))),
    "kek-key-too-long": _kek_field("key", b64(secrets.token_bytes(33))),
    "kek-id-unhashable": _kek_field("id", ["x"]),
    "blind-index-key-short": _with("blind_index_key", b64(b"short")),
    "blind-index-key-null": _with("blind_index_key", None),
    "blind-index-key-not-base64": _with("blind_index_key", "%%%"),
}


@pytest.mark.parametrize(
    "content", list(MALFORMED_CONTENT.values()), ids=list(MALFORMED_CONTENT.keys())
)
def test_malformed_key_file_gives_key_file_error(key_path: Path, content: str | bytes) -> None:
    key_path.parent.mkdir(parents=True)
    write_private(key_path, content)
    with pytest.raises(KeyFileError) as caught:
        load_key_ring(key_path, NO_ENV)
    assert str(key_path) in str(caught.value)


@pytest.mark.parametrize(
    "document", list(MALFORMED_DOCUMENTS.values()), ids=list(MALFORMED_DOCUMENTS.keys())
)
def test_incomplete_key_material_gives_key_file_error(key_path: Path, document: Any) -> None:
    key_path.parent.mkdir(parents=True)
    write_private(key_path, json.dumps(document))
    with pytest.raises(KeyFileError) as caught:
        load_key_ring(key_path, NO_ENV)
    message = str(caught.value)
    assert str(key_path) in message
    # Whatever key material the file did hold is not echoed back.
    keks = document.get("keks")
    for entry in keks if isinstance(keks, list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("key"), str):
            assert entry["key"] not in message


@pytest.mark.parametrize(
    "document", list(MALFORMED_DOCUMENTS.values()), ids=list(MALFORMED_DOCUMENTS.keys())
)
def test_incomplete_marac_keys_gives_key_file_error(tmp_path: Path, document: Any) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_key_ring(tmp_path / "unused.json", {"MARAC_KEYS": json.dumps(document)})
    assert "MARAC_KEYS" in str(caught.value)


@pytest.mark.parametrize(
    "inline", ["not json", "[1]", '"x"', "null", "5", "{}"], ids=lambda value: value or "blank"
)
def test_malformed_marac_keys_gives_key_file_error(tmp_path: Path, inline: str) -> None:
    with pytest.raises(KeyFileError) as caught:
        load_key_ring(tmp_path / "unused.json", {"MARAC_KEYS": inline})
    assert "MARAC_KEYS" in str(caught.value)


def test_non_utf8_key_file_gives_key_file_error(key_path: Path) -> None:
    key_path.parent.mkdir(parents=True)
    write_private(key_path, b"\xff\xfe{\x00}\x00")
    with pytest.raises(KeyFileError):
        load_key_ring(key_path, NO_ENV)


def test_marac_keys_takes_precedence_over_the_key_file(key_path: Path) -> None:
    create_key_file(key_path)
    inline = new_key_document()
    ring = load_key_ring(key_path, {"MARAC_KEYS": json.dumps(inline)})
    assert ring.active_key_id == inline["active"]
    from_file = load_key_ring(key_path, NO_ENV)
    assert ring.active_key_id != from_file.active_key_id
    assert ring.blind_index("name", "Zoe", area_id=1) != from_file.blind_index(
        "name", "Zoe", area_id=1
    )


def test_marac_keys_works_without_any_key_file(tmp_path: Path) -> None:
    ring = load_key_ring(tmp_path / "absent.json", {"MARAC_KEYS": json.dumps(new_key_document())})
    assert_ring_works(ring)


def test_marac_keys_overrides_even_an_unsafe_key_file(key_path: Path) -> None:
    create_key_file(key_path)
    os.chmod(key_path, 0o644)
    inline = new_key_document()
    ring = load_key_ring(key_path, {"MARAC_KEYS": json.dumps(inline)})
    assert ring.active_key_id == inline["active"]


def test_empty_marac_keys_falls_back_to_the_file(key_path: Path) -> None:
    create_key_file(key_path)
    document = json.loads(key_path.read_text())
    assert load_key_ring(key_path, {"MARAC_KEYS": ""}).active_key_id == document["active"]


def test_rotated_document_keeps_old_kek_and_stays_owner_only(key_path: Path) -> None:
    create_key_file(key_path)
    old_ring = load_key_ring(key_path, NO_ENV)
    data_key = new_data_key()
    old_id, wrapped = old_ring.wrap(data_key, "dk-1")

    document = json.loads(key_path.read_text())
    document["keks"].append({"id": "kek-new", "key": b64(secrets.token_bytes(32))})
    document["active"] = "kek-new"
    write_key_document(key_path, document)

    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    new_ring = load_key_ring(key_path, NO_ENV)
    assert new_ring.active_key_id == "kek-new"
    assert new_ring.unwrap(old_id, wrapped, "dk-1") == data_key
    assert new_ring.wrap(data_key, "dk-1")[0] == "kek-new"


# --- key material for Vault, the rotation lock, and the self-reloading key file -------------


def test_the_blind_index_key_alone_is_read_and_checked() -> None:
    document = new_key_document()
    assert blind_index_key_from_document(document, "f") == base64.b64decode(
        document["blind_index_key"]
    )
    for broken in (_without("blind_index_key"), _with("blind_index_key", b64(b"short"))):
        with pytest.raises(KeyFileError, match="blind-index key in f"):
            blind_index_key_from_document(broken, "f")


def test_local_keks_kept_for_vault_unwrap_what_they_wrapped() -> None:
    document = new_key_document()
    ring = key_ring_from_document(document, "f")
    data_key = new_data_key()
    key_id, wrapped = ring.wrap(data_key, "dk-1")
    legacy = legacy_ring_from_document(document, "f")
    assert legacy is not None and legacy.unwrap(key_id, wrapped, "dk-1") == data_key
    # Once they are gone only the blind-index key is left, and the file says so when loaded
    # as a key-file source.
    emptied = without_local_keks(document)
    assert legacy_ring_from_document(emptied, "f") is None
    assert emptied["blind_index_key"] == document["blind_index_key"]
    assert emptied["keks"] == [] and "active" not in emptied
    with pytest.raises(KeyFileError):
        key_ring_from_document(emptied, "f")


def test_a_second_rotation_lock_is_refused_at_once(tmp_path: Path) -> None:
    lock = lock_path_for(tmp_path / "keys.json")
    with (
        file_lock(lock),
        pytest.raises(RotationBusy, match="Another key rotation is running") as caught,
        file_lock(lock),
    ):
        pass
    assert str(lock) in str(caught.value)
    with file_lock(lock):  # free again
        pass


async def test_the_key_file_source_follows_the_file(key_path: Path) -> None:
    """A process that loaded the file before a rotation wraps under the new KEK and opens
    data keys wrapped by it, without a restart."""
    create_key_file(key_path)
    before = read_key_document(key_path)
    source = KeyFileSource(key_path)  # e.g. a standby bot, started before the rotation
    rotated, new_id = add_kek(before)
    write_key_document(key_path, rotated)
    elsewhere = KeyFileSource(key_path)
    data_key = new_data_key()
    wrapped_elsewhere = await elsewhere.wrap_data_key(data_key, "dk-1")
    assert wrapped_elsewhere[0] == new_id
    assert await source.unwrap_data_key(*wrapped_elsewhere, "dk-1") == data_key
    key_id, _ = await source.wrap_data_key(data_key, "dk-2")
    assert key_id == new_id

    # The old KEK retired from the file: the source lets go of it too.
    write_key_document(key_path, retire_kek(rotated, before["active"]))
    await source.wrap_data_key(data_key, "dk-3")
    assert source.key_ids == [new_id]

    # A file broken by hand keeps the keys already loaded rather than stopping the bot.
    write_private(key_path, "{not json")
    key_id, _ = await source.wrap_data_key(data_key, "dk-4")
    assert key_id == new_id


def test_the_audit_key_is_the_same_for_every_key_source_and_survives_rotation(
    tmp_path: Path,
) -> None:
    """The audit chain must verify across a KEK rotation and a move of the KEK to Vault: the
    audit key comes from the key file's blind-index key, which neither changes."""
    from storage.kek_sources import TransitKeySource

    document = new_key_document()
    path = tmp_path / "keys.json"
    write_key_document(path, document)
    ring = key_ring_from_document(document, "test")
    rotated, _ = add_kek(document)
    transit = TransitKeySource(
        url="http://127.0.0.1:1",
        token="hvs.unused",
        key_name="marac-bot",
        blind_index_key=blind_index_key_from_document(document, "test"),
    )
    keys = {
        ring.audit_key(),
        KeyFileSource(path).audit_key(),
        key_ring_from_document(rotated, "rotated").audit_key(),
        transit.audit_key(),
    }
    assert len(keys) == 1
    (key,) = keys
    assert key.chain != key.checkpoint
    assert (
        ring.blind_index("victim", "x", area_id=1) != key.chain.hex()
    )  # its own key, not the index's
    other = key_ring_from_document(new_key_document(), "other").audit_key()
    assert other.chain != key.chain
    assert repr(key) == "AuditKey(<hidden>)"

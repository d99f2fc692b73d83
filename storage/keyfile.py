"""Loading and creating the key file that holds the key-encryption keys.

The file is JSON, readable by its owner only (0600): a leaked database without
it reveals nothing sensitive. The same JSON may instead come from the
MARAC_KEYS environment variable (e.g. injected by a secrets manager).

With the key-encryption key in HashiCorp Vault (``MARAC_KEK_SOURCE=vault``) the file
still holds the blind-index key, which must stay the same for repeat victims to be
matched, and any KEKs the data keys were wrapped with before the switch: they only
unwrap those until rotation moves them to Vault, and then leave the file.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import secrets
import stat
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.crypto import KEY_BYTES, CryptoError, KeyEncryptionKey, KeyRing


class KeyFileError(Exception):
    """The key material is missing, unreadable or unsafe; message is safe to print."""


class RotationBusy(KeyFileError):
    """Another key rotation holds the lock; the message says which lock file."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def new_key_id(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%d")
    return f"kek-{stamp}-{secrets.token_hex(3)}"


def new_key_document() -> dict[str, Any]:
    key_id = new_key_id()
    return {
        "version": 1,
        "active": key_id,
        "keks": [{"id": key_id, "key": _b64(secrets.token_bytes(KEY_BYTES))}],
        "blind_index_key": _b64(secrets.token_bytes(KEY_BYTES)),
    }


def create_key_file(path: Path) -> bool:
    """Create a fresh key file if none exists; return whether one was created.

    Never overwrites: losing the old key would make every stored case unreadable.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    document = json.dumps(new_key_document(), indent=2)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(document)
    os.chmod(path, 0o600)
    return True


def write_key_document(path: Path, document: dict[str, Any]) -> None:
    """Replace the key file atomically, keeping it 0600 (used by key rotation)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(json.dumps(document, indent=2))
    os.replace(tmp, path)


def read_key_document(path: Path) -> dict[str, Any]:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError as exc:
        raise KeyFileError(
            f"Key file {path} does not exist: run 'marac-bot init' or set MARAC_KEY_FILE."
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"Key file {path} cannot be read: {exc.strerror}.") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(f"Key file {path} is readable by others: run 'chmod 600 {path}'.")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"Key file {path} cannot be read: {exc.strerror}.") from exc
    try:
        loaded = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise KeyFileError(f"Key file {path} is not valid JSON.") from exc
    if not isinstance(loaded, dict):
        raise KeyFileError(f"Key file {path} is not a JSON object.")
    return loaded


def key_ring_from_document(document: dict[str, Any], origin: str) -> KeyRing:
    try:
        keks = [
            KeyEncryptionKey(entry["id"], base64.b64decode(entry["key"], validate=True))
            for entry in document["keks"]
        ]
        blind = base64.b64decode(document["blind_index_key"], validate=True)
        return KeyRing(keks, document["active"], blind)
    except (KeyError, TypeError, ValueError, CryptoError) as exc:
        raise KeyFileError(f"Key material in {origin} is incomplete or malformed.") from exc


def read_key_material(
    path: Path, environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], str]:
    """The key document and where it came from: MARAC_KEYS when set, otherwise the file."""
    env = os.environ if environ is None else environ
    inline = env.get("MARAC_KEYS")
    if inline:
        try:
            document = json.loads(inline)
        except json.JSONDecodeError as exc:
            raise KeyFileError("MARAC_KEYS is not valid JSON.") from exc
        if not isinstance(document, dict):
            raise KeyFileError("Key material in MARAC_KEYS is incomplete or malformed.")
        return document, "MARAC_KEYS"
    return read_key_document(path), str(path)


def load_key_ring(path: Path, environ: Mapping[str, str] | None = None) -> KeyRing:
    """Keys from MARAC_KEYS when set, otherwise from the key file."""
    document, origin = read_key_material(path, environ)
    return key_ring_from_document(document, origin)


def blind_index_key_from_document(document: dict[str, Any], origin: str) -> bytes:
    """The blind-index key alone (a Vault-backed deployment needs no local KEK)."""
    try:
        key = base64.b64decode(document["blind_index_key"], validate=True)
    except (KeyError, TypeError, ValueError) as exc:
        raise KeyFileError(f"The blind-index key in {origin} is missing or malformed.") from exc
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"The blind-index key in {origin} is missing or malformed.")
    return key


def legacy_ring_from_document(document: dict[str, Any], origin: str) -> KeyRing | None:
    """The local KEKs still in the document, for unwrapping only; None if there are none.

    Used once the KEK lives in Vault: data keys wrapped before the switch keep opening
    until rotation re-wraps them under Vault's transit key.
    """
    entries = document.get("keks") or []
    if not isinstance(entries, list) or not entries:
        return None
    blind = blind_index_key_from_document(document, origin)
    try:
        keks = [
            KeyEncryptionKey(entry["id"], base64.b64decode(entry["key"], validate=True))
            for entry in entries
        ]
        active = document.get("active")
        if active not in {kek.key_id for kek in keks}:
            active = keks[-1].key_id
        return KeyRing(keks, str(active), blind)
    except (KeyError, TypeError, ValueError, CryptoError) as exc:
        raise KeyFileError(f"Key material in {origin} is incomplete or malformed.") from exc


def without_local_keks(document: dict[str, Any]) -> dict[str, Any]:
    """A copy of the document with no KEK left: the blind-index key only (Vault holds the KEK).

    Written once every data key is wrapped by Vault, so an old database copy can no longer
    be opened with a copy of this file.
    """
    updated = {key: value for key, value in document.items() if key not in {"keks", "active"}}
    updated["keks"] = []
    updated["kek_source"] = "vault"
    return updated


@contextmanager
def file_lock(lock_path: Path) -> Iterator[None]:
    """An exclusive, non-waiting lock on ``lock_path``: one key rotation at a time.

    Two rotations would each rewrite the key file (or each rotate the transit key), so
    the second is refused at once rather than queued behind the first.
    """
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise KeyFileError(f"Cannot create the rotation lock {lock_path}: {exc.strerror}.") from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RotationBusy(
                f"Another key rotation is running (it holds {lock_path}); wait for it to finish."
            ) from None
        yield
    finally:
        os.close(fd)


def lock_path_for(key_file: Path) -> Path:
    return key_file.with_name(key_file.name + ".lock")


# Key rotation steps. Each returns a new document and leaves the one given untouched;
# the caller writes it with write_key_document (see storage.rotation and bot.cli.keys).


def _kek_entries(document: dict[str, Any]) -> list[dict[str, Any]]:
    entries = document.get("keks")
    if not isinstance(entries, list) or not all(
        isinstance(entry, dict) and isinstance(entry.get("id"), str) for entry in entries
    ):
        raise KeyFileError("The key file has no valid list of key-encryption keys.")
    return entries


def add_kek(document: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A copy of the document with a new random KEK made active; older KEKs are kept.

    The entry records when it was added ("created_at", for people; loading ignores it).
    """
    entries = _kek_entries(document)
    taken = {entry["id"] for entry in entries}
    key_id = new_key_id()
    while key_id in taken:
        key_id = new_key_id()
    entry = {
        "id": key_id,
        "key": _b64(secrets.token_bytes(KEY_BYTES)),
        "created_at": datetime.now(UTC).isoformat(),
    }
    updated = dict(document)
    updated["keks"] = [dict(existing) for existing in entries] + [entry]
    updated["active"] = key_id
    return updated, key_id


def retire_kek(document: dict[str, Any], key_id: str) -> dict[str, Any]:
    """A copy of the document without the KEK ``key_id``; the active key is never removed."""
    entries = _kek_entries(document)
    if document.get("active") == key_id:
        raise KeyFileError(f"Key {key_id} is the active key-encryption key and cannot be retired.")
    if key_id not in {entry["id"] for entry in entries}:
        raise KeyFileError(f"Key {key_id} is not in the key file.")
    updated = dict(document)
    updated["keks"] = [dict(entry) for entry in entries if entry["id"] != key_id]
    return updated

"""Where the key-encryption key (KEK) lives: the key file, MARAC_KEYS, or Vault transit.

Three sources implement ``storage.crypto.KeySource``:

* ``KeyRing`` (storage.crypto): KEKs from MARAC_KEYS, fixed for the life of the process.
* ``KeyFileSource``: KEKs from the key file, read again whenever the file changes. A bot
  process (the active one, or a standby that takes over later) therefore wraps new data
  keys under the KEK a rotation has just made active, and finds a KEK a rotation added,
  without a restart. That is what lets a rotation retire (destroy) the old KEK while more
  than one process is running: none of them keeps wrapping under it.
* ``TransitKeySource``: data keys are wrapped and unwrapped by HashiCorp Vault's transit
  engine (https://developer.hashicorp.com/vault/api-docs/secret/transit) through the
  ``hvac`` client; the KEK never leaves Vault. The ``data_keys.kek_id`` of a data key is
  ``transit:<mount>/<key>:v<N>``, N being the key version in Vault's ``vault:vN:``
  ciphertext prefix, so ``keys status`` and rotation can tell versions apart. Vault always
  encrypts with the latest version, so no process ever wraps under a retired one.

Binding a wrapped key to its row. The local ring binds a wrapped data key to its
``data_keys`` row with AES-GCM associated data. Vault's rewrap endpoint takes no associated
data, so the transit source puts the binding inside the plaintext Vault encrypts (format
byte, the data key's id, the key): Vault's AES-GCM authenticates it, rewrap carries it
across versions, and a wrapped key pasted into another row unwraps to the wrong id and is
refused.

The blind-index key (HMAC key for matching returning victims) is needed locally by every
source. With Vault it still comes from the key file (or MARAC_KEYS): it must not change
when the KEK moves to Vault, or every existing blind index would stop matching, and the
file is already created 0600 by ``marac-bot init`` and backed up apart from the database.

hvac is synchronous (``requests``): every Vault call runs in a worker thread
(``asyncio.to_thread``) with a client of its own per thread, so a handler waiting on Vault
never blocks the event loop, and ``storage.vault.Vault`` caches unwrapped data keys so a
screen of rows costs one unwrap per record. The token is held in a private attribute,
never in a repr, a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import re
import stat
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar
from urllib.parse import urlsplit, urlunsplit

from storage.audit_key import AuditKey
from storage.crypto import (
    KEY_BYTES,
    CryptoError,
    KeyRing,
    KeySource,
    KeySourceError,
    KeySourceUnavailable,
    area_blind_index,
)
from storage.keyfile import (
    KeyFileError,
    blind_index_key_from_document,
    key_ring_from_document,
    legacy_ring_from_document,
    lock_path_for,
    read_key_document,
    read_key_material,
)

if TYPE_CHECKING:
    from config import Settings

log = logging.getLogger("marac.keys")
T = TypeVar("T")

TRANSIT_PREFIX: Final = "transit:"
KEK_ID_MAX: Final = 64  # data_keys.kek_id is String(64)
BINDING_FORMAT: Final = 1
_CIPHERTEXT = re.compile(r"^vault:v(\d+):[A-Za-z0-9+/]+={0,2}$")


# --- the key file, re-read when it changes ----------------------------------------------------


class KeyFileSource:
    """The key file's KEKs, reloaded whenever the file on disk changes.

    Checking costs one ``stat`` per wrapped data key. Unwrapping under a KEK id the ring
    lacks re-reads the file once before giving up (another process's rotation added it).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp = self._file_stamp()
        self.ring = key_ring_from_document(read_key_document(path), str(path))

    def __repr__(self) -> str:
        return f"KeyFileSource(path={str(self.path)!r}, active={self.ring.active_key_id!r})"

    @property
    def active_key_id(self) -> str:
        return self.ring.active_key_id

    @property
    def key_ids(self) -> list[str]:
        return self.ring.key_ids

    @property
    def lock_path(self) -> Path:
        return lock_path_for(self.path)

    def _file_stamp(self) -> tuple[int, int, int] | None:
        try:
            info = self.path.stat()
        except OSError:
            return None
        return (info.st_mtime_ns, info.st_size, info.st_ino)

    def reload(self) -> bool:
        """Read the key file now; return whether the active key or the set of keys changed."""
        self._stamp = self._file_stamp()
        ring = key_ring_from_document(read_key_document(self.path), str(self.path))
        changed = ring.active_key_id != self.ring.active_key_id or sorted(ring.key_ids) != sorted(
            self.ring.key_ids
        )
        self.ring = ring
        return changed

    def refresh(self) -> bool:
        """Reload if the file changed since it was last read. A file that cannot be read
        right now keeps the keys already loaded (and says so in the log)."""
        if self._file_stamp() == self._stamp:
            return False
        try:
            return self.reload()
        except KeyFileError as error:
            log.warning("key file changed but could not be loaded, keeping the keys: %s", error)
            return False

    async def wrap_data_key(self, data_key: bytes, data_key_id: str) -> tuple[str, bytes]:
        self.refresh()
        return self.ring.wrap(data_key, data_key_id)

    async def unwrap_data_key(self, key_id: str, wrapped: bytes, data_key_id: str) -> bytes:
        if key_id not in self.ring.key_ids:
            self.refresh()
        return self.ring.unwrap(key_id, wrapped, data_key_id)

    def blind_index(self, purpose: str, *parts: str, area_id: int) -> str:
        return self.ring.blind_index(purpose, *parts, area_id=area_id)

    def audit_key(self) -> AuditKey:
        return self.ring.audit_key()


# --- Vault transit ----------------------------------------------------------------------------


@dataclass(frozen=True)
class TransitKeyInfo:
    """What Vault says about the transit key (versions only; never key material)."""

    name: str
    latest_version: int
    min_decryption_version: int
    min_encryption_version: int
    min_available_version: int
    supports_encryption: bool = True


def _one_line(text: str) -> str:
    """Vault reports several errors as one multi-line string; make it one short line."""
    items = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("* ")]
    flat = "; ".join(items) if items else " ".join(text.split())
    return flat[:300]


def _vault_message(error: Exception) -> str:
    """Vault's own error text (hvac keeps it in ``errors``), without hvac's URL suffix."""
    errors = getattr(error, "errors", None)
    if isinstance(errors, list):
        return _one_line("; ".join(str(item) for item in errors))
    first = error.args[0] if error.args else None
    return _one_line(str(first)) if first else ""


def _safe_url(url: str) -> str:
    """The URL without any user:password part, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", "")).rstrip("/")


def _bind(data_key: bytes, data_key_id: str) -> bytes:
    raw_id = data_key_id.encode("utf-8")
    if len(raw_id) > 255 or len(data_key) != KEY_BYTES:
        raise CryptoError("a data key must be 32 bytes with an id of at most 255 bytes")
    return bytes([BINDING_FORMAT, len(raw_id)]) + raw_id + data_key


def _unbind(plaintext: bytes, data_key_id: str) -> bytes:
    raw_id = data_key_id.encode("utf-8")
    expected = 2 + len(raw_id) + KEY_BYTES
    if (
        len(plaintext) != expected
        or plaintext[0] != BINDING_FORMAT
        or plaintext[1] != len(raw_id)
        or plaintext[2 : 2 + len(raw_id)] != raw_id
    ):
        raise CryptoError(f"data key {data_key_id} does not belong to this row (moved or tampered)")
    return plaintext[2 + len(raw_id) :]


class TransitKeySource:
    """Data keys wrapped by a named key of Vault's transit engine, through hvac.

    ``legacy`` holds KEKs from the key file that data keys were wrapped with before the
    switch to Vault: they are used to unwrap only, until rotation re-wraps those data keys
    under transit (``rewrap_many``) and removes them from the key file.
    """

    def __init__(
        self,
        *,
        url: str,
        token: str,
        key_name: str,
        blind_index_key: bytes,
        mount: str = "transit",
        legacy: KeyRing | None = None,
        key_file: Path | None = None,
        timeout: float = 10.0,
        verify: bool | str | None = None,
        namespace: str | None = None,
    ) -> None:
        if not token:
            raise KeySourceError("No Vault token: set VAULT_TOKEN or MARAC_VAULT_TOKEN_FILE.")
        if len(blind_index_key) != KEY_BYTES:
            raise KeySourceError("The blind-index key must be 32 bytes.")
        self.url = url.rstrip("/")
        self.mount = mount.strip("/")
        self.key_name = key_name
        self.legacy = legacy
        self.key_file = key_file
        self._token = token
        self._blind_index_key = blind_index_key
        self._audit_key = AuditKey.derive(blind_index_key)
        self._timeout = timeout
        self._verify = verify
        self._namespace = namespace
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()
        self.id_prefix = f"{TRANSIT_PREFIX}{self.mount}/{self.key_name}:v"
        if len(self.id_prefix) + 10 > KEK_ID_MAX:
            raise KeySourceError(
                f"The transit mount and key name are too long for a key id "
                f"({len(self.id_prefix) + 10} > {KEK_ID_MAX} characters)."
            )

    def __repr__(self) -> str:
        return (
            f"TransitKeySource(url={_safe_url(self.url)!r}, mount={self.mount!r}, "
            f"key={self.key_name!r})"
        )

    @property
    def label(self) -> str:
        """``<mount>/<key>`` for messages: where the KEK is, never what it is."""
        return f"{self.mount}/{self.key_name}"

    @property
    def lock_path(self) -> Path | None:
        return lock_path_for(self.key_file) if self.key_file is not None else None

    # -- key ids --------------------------------------------------------------------------------

    def key_id(self, version: int) -> str:
        return f"{self.id_prefix}{version}"

    def owns(self, key_id: str) -> bool:
        return key_id.startswith(self.id_prefix) and key_id[len(self.id_prefix) :].isdigit()

    def version_of(self, key_id: str) -> int:
        if not self.owns(key_id):
            raise CryptoError(f"key id {key_id} is not a version of transit key {self.label}")
        return int(key_id[len(self.id_prefix) :])

    def legacy_ids(self) -> list[str]:
        return self.legacy.key_ids if self.legacy is not None else []

    def _ciphertext_version(self, ciphertext: str) -> int:
        match = _CIPHERTEXT.match(ciphertext)
        if match is None:
            raise KeySourceError(f"Vault returned a malformed ciphertext for key {self.label}.")
        return int(match.group(1))

    # -- calling Vault ----------------------------------------------------------------------------

    def _client(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            import hvac  # type: ignore[import-untyped]

            client = hvac.Client(
                url=self.url,
                token=self._token,
                timeout=self._timeout,
                verify=self._verify,
                namespace=self._namespace,
            )
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _call(self, doing: str, action: Callable[[Any], T]) -> T:
        """Run ``action(client)`` (in a worker thread); turn failures into one-line errors."""
        from hvac import exceptions

        where = _safe_url(self.url)
        try:
            return action(self._client())
        except OSError as error:  # requests' connection, timeout and TLS errors are OSErrors
            raise KeySourceUnavailable(
                f"Vault at {where} cannot be reached while {doing} "
                f"({type(error).__name__}): check MARAC_VAULT_URL and that Vault is running."
            ) from None
        except (exceptions.Forbidden, exceptions.Unauthorized) as error:
            raise KeySourceError(
                f"Vault at {where} refused the token while {doing} ({_vault_message(error)}): "
                f"check VAULT_TOKEN or MARAC_VAULT_TOKEN_FILE and that the token's policy "
                f"allows transit key {self.label}."
            ) from None
        except exceptions.VaultDown as error:
            raise KeySourceUnavailable(
                f"Vault at {where} is sealed or unavailable while {doing} "
                f"({_vault_message(error)})."
            ) from None
        except exceptions.InvalidPath as error:
            message = _vault_message(error)
            if not message:  # Vault reads a missing key as 404 with no error text
                raise KeySourceError(
                    f"Transit key {self.label} does not exist in Vault at {where}: create it "
                    f"with 'vault write -f {self.mount}/keys/{self.key_name}'."
                ) from None
            raise KeySourceError(
                f"Vault at {where} has no such path while {doing} ({message}): "
                f"is the transit engine mounted at '{self.mount}'?"
            ) from None
        except exceptions.InvalidRequest as error:
            message = _vault_message(error)
            if "key not found" in message or "no existing key" in message:
                raise KeySourceError(
                    f"Transit key {self.label} does not exist in Vault at {where}: create it "
                    f"with 'vault write -f {self.mount}/keys/{self.key_name}'."
                ) from None
            raise _VaultRefused(message) from None
        except exceptions.VaultError as error:
            raise KeySourceUnavailable(
                f"Vault at {where} failed while {doing} ({_vault_message(error)})."
            ) from None

    async def _run(self, doing: str, action: Callable[[Any], T]) -> T:
        return await asyncio.to_thread(self._call, doing, action)

    def close(self) -> None:
        with self._clients_lock:
            clients, self._clients = self._clients, []
        for client in clients:
            adapter = getattr(client, "adapter", None)
            if adapter is not None:
                adapter.close()

    # -- KeySource --------------------------------------------------------------------------

    async def wrap_data_key(self, data_key: bytes, data_key_id: str) -> tuple[str, bytes]:
        plaintext = base64.b64encode(_bind(data_key, data_key_id)).decode("ascii")
        try:
            response = await self._run(
                "wrapping a data key",
                lambda client: client.secrets.transit.encrypt_data(
                    name=self.key_name, plaintext=plaintext, mount_point=self.mount
                ),
            )
        except _VaultRefused as refused:
            raise KeySourceError(
                f"Vault refused to wrap a data key with {self.label}: {refused}."
            ) from None
        ciphertext = str(_data(response).get("ciphertext", ""))
        version = self._ciphertext_version(ciphertext)
        return self.key_id(version), ciphertext.encode("ascii")

    async def unwrap_data_key(self, key_id: str, wrapped: bytes, data_key_id: str) -> bytes:
        if not self.owns(key_id):
            if self.legacy is not None and key_id in self.legacy.key_ids:
                return self.legacy.unwrap(key_id, wrapped, data_key_id)
            raise CryptoError(f"data key {data_key_id} is wrapped by unknown key {key_id}")
        try:
            ciphertext = wrapped.decode("ascii")
        except UnicodeDecodeError:
            raise CryptoError(f"data key {data_key_id} is malformed") from None
        match = _CIPHERTEXT.match(ciphertext)
        if match is None or int(match.group(1)) != self.version_of(key_id):
            raise CryptoError(f"data key {data_key_id} is malformed")
        try:
            response = await self._run(
                "unwrapping a data key",
                lambda client: client.secrets.transit.decrypt_data(
                    name=self.key_name, ciphertext=ciphertext, mount_point=self.mount
                ),
            )
        except _VaultRefused as refused:
            if "too old" in str(refused) or "too new" in str(refused):
                raise CryptoError(
                    f"data key {data_key_id} is wrapped by {key_id}, a version Vault no "
                    "longer decrypts (retired by rotation)"
                ) from None
            raise CryptoError(f"data key {data_key_id} could not be unwrapped") from None
        try:
            plaintext = base64.b64decode(str(_data(response).get("plaintext", "")), validate=True)
        except ValueError:
            raise CryptoError(f"data key {data_key_id} could not be unwrapped") from None
        return _unbind(plaintext, data_key_id)

    def blind_index(self, purpose: str, *parts: str, area_id: int) -> str:
        return area_blind_index(self._blind_index_key, area_id, purpose, *parts)

    def audit_key(self) -> AuditKey:
        """From the key file's blind-index key, like the blind index: never a Vault call, so
        recording an audit event never waits on Vault (storage.audit_key says why)."""
        return self._audit_key

    # -- key management (rotation) -------------------------------------------------------------

    async def key_info(self) -> TransitKeyInfo:
        """The key's versions; also the start-up check that the token and key are good."""
        try:
            response = await self._run(
                f"reading transit key {self.label}",
                lambda client: client.secrets.transit.read_key(
                    name=self.key_name, mount_point=self.mount
                ),
            )
        except _VaultRefused as refused:
            raise KeySourceError(
                f"Vault refused to read transit key {self.label}: {refused}."
            ) from None
        data = _data(response)
        info = TransitKeyInfo(
            name=str(data.get("name", self.key_name)),
            latest_version=int(data.get("latest_version", 0)),
            min_decryption_version=int(data.get("min_decryption_version", 1)),
            min_encryption_version=int(data.get("min_encryption_version", 0)),
            min_available_version=int(data.get("min_available_version", 0)),
            supports_encryption=bool(data.get("supports_encryption", True)),
        )
        if not info.supports_encryption or info.latest_version < 1:
            raise KeySourceError(f"Transit key {self.label} cannot encrypt (wrong key type).")
        return info

    async def check(self) -> TransitKeyInfo:
        """For start-up: fail with one clear line now rather than at the first referral."""
        return await self.key_info()

    async def rotate(self) -> TransitKeyInfo:
        """A new key version; Vault encrypts with it from now on, in every process."""
        await self._manage(
            f"rotating transit key {self.label}",
            lambda client: client.secrets.transit.rotate_key(
                name=self.key_name, mount_point=self.mount
            ),
        )
        return await self.key_info()

    async def set_min_encryption_version(self, version: int) -> None:
        """Refuse to encrypt with an explicitly older version (Vault must have this set
        before it trims). Sent on its own: hvac refuses both minimums at once when equal."""
        await self._manage(
            f"setting the minimum encryption version of {self.label}",
            lambda client: client.secrets.transit.update_key_configuration(
                name=self.key_name, min_encryption_version=version, mount_point=self.mount
            ),
        )

    async def set_min_decryption_version(self, version: int) -> None:
        """Refuse to decrypt older versions: reversible, unlike ``trim``."""
        await self._manage(
            f"setting the minimum decryption version of {self.label}",
            lambda client: client.secrets.transit.update_key_configuration(
                name=self.key_name, min_decryption_version=version, mount_point=self.mount
            ),
        )

    async def trim(self, version: int) -> None:
        """Delete every version below ``version`` in Vault: ciphertext under them, in any
        copy of the database, can never be decrypted again (crypto-shredding at the KEK)."""
        await self._manage(
            f"trimming transit key {self.label}",
            lambda client: client.secrets.transit.trim_key(
                name=self.key_name, min_version=version, mount_point=self.mount
            ),
        )

    async def _manage(self, doing: str, action: Callable[[Any], Any]) -> Any:
        try:
            return await self._run(doing, action)
        except _VaultRefused as refused:
            raise KeySourceError(f"Vault refused {doing}: {refused}.") from None

    async def rewrap_many(self, rows: Sequence[tuple[str, str, bytes]]) -> list[tuple[str, bytes]]:
        """New (kek_id, wrapped) for each (data_key_id, kek_id, wrapped), in order.

        Older transit versions go through Vault's rewrap (the data key never leaves Vault);
        data keys under a legacy key-file KEK are unwrapped here and encrypted by Vault. Any
        item Vault refuses fails the whole call, so the caller's batch rolls back.
        """
        results: dict[int, tuple[str, bytes]] = {}
        transit = [(index, row) for index, row in enumerate(rows) if self.owns(row[1])]
        local = [(index, row) for index, row in enumerate(rows) if not self.owns(row[1])]
        if transit:
            batch = [
                {"ciphertext": row[2].decode("ascii"), "reference": row[0]} for _, row in transit
            ]
            response = await self._batch(
                "re-wrapping data keys",
                lambda client: client.secrets.transit.rewrap_data(
                    name=self.key_name, ciphertext=None, batch_input=batch, mount_point=self.mount
                ),
            )
            for (index, row), item in zip(
                transit, _batch_results(response, len(batch)), strict=True
            ):
                results[index] = self._batch_item(item, row[0])
        if local:
            batch = []
            for _, (data_key_id, kek_id, wrapped) in local:
                if self.legacy is None or kek_id not in self.legacy.key_ids:
                    raise CryptoError(f"data key {data_key_id} is wrapped by unknown key {kek_id}")
                data_key = self.legacy.unwrap(kek_id, wrapped, data_key_id)
                plaintext = base64.b64encode(_bind(data_key, data_key_id)).decode("ascii")
                batch.append({"plaintext": plaintext, "reference": data_key_id})
            response = await self._batch(
                "wrapping data keys",
                lambda client: client.secrets.transit.encrypt_data(
                    name=self.key_name, batch_input=batch, mount_point=self.mount
                ),
            )
            for (index, row), item in zip(local, _batch_results(response, len(batch)), strict=True):
                results[index] = self._batch_item(item, row[0])
        return [results[index] for index in range(len(rows))]

    async def _batch(self, doing: str, action: Callable[[Any], Any]) -> Any:
        try:
            return await self._run(doing, action)
        except _VaultRefused as refused:
            raise CryptoError(f"Vault refused {doing}: {refused}") from None

    def _batch_item(self, item: Mapping[str, Any], data_key_id: str) -> tuple[str, bytes]:
        if item.get("error") or item.get("reference", data_key_id) != data_key_id:
            raise CryptoError(
                f"Vault could not re-wrap data key {data_key_id}: "
                f"{_one_line(str(item.get('error') or 'answer out of order'))}"
            )
        ciphertext = str(item.get("ciphertext", ""))
        return self.key_id(self._ciphertext_version(ciphertext)), ciphertext.encode("ascii")


class _VaultRefused(Exception):
    """Vault answered 400 for this request (its message is the exception text)."""


def _data(response: Any) -> Mapping[str, Any]:
    data = response.get("data") if isinstance(response, dict) else None
    if not isinstance(data, dict):
        raise KeySourceError("Vault answered without the expected data.")
    return data


def _batch_results(response: Any, expected: int) -> list[Mapping[str, Any]]:
    results = _data(response).get("batch_results")
    if not isinstance(results, list) or len(results) != expected:
        raise KeySourceError("Vault answered a batch with the wrong number of results.")
    return [item if isinstance(item, dict) else {"error": "malformed item"} for item in results]


# --- building the source from the settings --------------------------------------------------


def vault_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """MARAC_VAULT_TOKEN_FILE when set (it must be owner-only, like the key file), else
    VAULT_TOKEN. The token is returned to the caller only; nothing here prints it."""
    env = os.environ if environ is None else environ
    path = settings.vault_token_file
    if path is not None:
        try:
            mode = path.stat().st_mode
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise KeySourceError(
                    f"Vault token file {path} is readable by others: run 'chmod 600 {path}'."
                )
            token = path.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise KeySourceError(
                f"Vault token file {path} cannot be read: {error.strerror}."
            ) from None
        except UnicodeDecodeError:
            raise KeySourceError(f"Vault token file {path} is not text.") from None
        if not token:
            raise KeySourceError(f"Vault token file {path} is empty.")
        return token
    token = env.get("VAULT_TOKEN", "").strip()
    if not token:
        raise KeySourceError(
            "MARAC_KEK_SOURCE is vault but no Vault token is set: "
            "set VAULT_TOKEN or MARAC_VAULT_TOKEN_FILE."
        )
    return token


def key_source_from_settings(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> KeySource:
    """The key source the settings ask for; KeyFileError or KeySourceError if unusable.

    ``file`` (the default): MARAC_KEYS when set (fixed), otherwise the key file (reloaded
    when it changes). ``vault``: Vault's transit engine, the blind-index key and any legacy
    KEKs from the key file or MARAC_KEYS. Nothing is asked of Vault here; call
    ``TransitKeySource.check`` at start-up for an early, clear error.
    """
    env = os.environ if environ is None else environ
    if settings.kek_source == "vault":
        document, origin = read_key_material(settings.key_file, env)
        url = settings.vault_url or env.get("VAULT_ADDR", "")
        if not url:
            raise KeySourceError("MARAC_KEK_SOURCE is vault but MARAC_VAULT_URL is not set.")
        verify: bool | str | None = (
            str(settings.vault_ca_cert) if settings.vault_ca_cert is not None else None
        )
        return TransitKeySource(
            url=url,
            token=vault_token(settings, env),
            mount=settings.vault_mount,
            key_name=settings.vault_transit_key,
            blind_index_key=blind_index_key_from_document(document, origin),
            legacy=legacy_ring_from_document(document, origin),
            key_file=None if origin == "MARAC_KEYS" else settings.key_file,
            timeout=settings.vault_timeout_seconds,
            verify=verify,
            namespace=settings.vault_namespace,
        )
    if env.get("MARAC_KEYS"):
        document, origin = read_key_material(settings.key_file, env)
        return key_ring_from_document(document, origin)
    return KeyFileSource(settings.key_file)


async def check_key_source(source: KeySource) -> None:
    """Start-up check: with Vault, the token is accepted and the transit key exists (one
    clear KeySourceError line otherwise); the key file was already read when it was built."""
    if isinstance(source, TransitKeySource):
        await source.check()


def close_key_source(source: KeySource) -> None:
    """Release what a source holds open (Vault's HTTP connections); safe for any source."""
    if isinstance(source, TransitKeySource):
        source.close()

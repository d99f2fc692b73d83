"""Envelope encryption for sensitive fields.

Each record that holds sensitive values owns a random 256-bit data key. Values
are sealed with AES-256-GCM under that data key, with associated data naming
the table, column and row, so a ciphertext pasted into another row or column
fails to open. Data keys are stored only wrapped (AES-256-GCM) by a
key-encryption key (KEK) that lives outside the database and carries an id, so
keys can be rotated by re-wrapping data keys without touching the data, and a
record is erased for good by destroying its data key (crypto-shredding).

Where the KEK lives is a ``KeySource``: the key file or MARAC_KEYS (``KeyRing``, the
default), or HashiCorp Vault's transit engine (storage.kek_sources). Wrapping and
unwrapping are coroutines in that protocol because a remote source answers over the
network, and a bot handler must never wait on it with the event loop blocked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import unicodedata
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from storage.audit_key import AuditKey

FORMAT_VERSION = 1
NONCE_BYTES = 12
KEY_BYTES = 32


class CryptoError(Exception):
    """A value or key could not be opened. Deliberately carries no plaintext."""


class KeySourceError(CryptoError):
    """The key-encryption key source is misconfigured or refused us (e.g. a bad Vault token).

    A CryptoError, so every caller that already copes with an unopenable value copes with
    this too; the message is one line, safe to print, and never holds a token or a key.
    """


class KeySourceUnavailable(KeySourceError):
    """The key source could not be reached (Vault down or unreachable); worth retrying."""


class KeySource(Protocol):
    """Where data keys are wrapped and unwrapped, and the blind-index key lives.

    ``wrap_data_key`` returns the id of the KEK (and, for a versioned source, its version)
    that wrapped the key, which is stored beside the wrapped bytes in ``data_keys.kek_id``.
    """

    async def wrap_data_key(self, data_key: bytes, data_key_id: str) -> tuple[str, bytes]: ...

    async def unwrap_data_key(self, key_id: str, wrapped: bytes, data_key_id: str) -> bytes: ...

    def blind_index(self, purpose: str, *parts: str, area_id: int) -> str: ...

    def audit_key(self) -> AuditKey:
        """The keys of the audit chain and its checkpoints (storage.audit_key)."""
        ...


@dataclass(frozen=True)
class FieldContext:
    """Where a sealed value belongs; bound into the ciphertext as associated data."""

    table: str
    column: str
    row_id: int | str

    def associated_data(self) -> bytes:
        return f"v{FORMAT_VERSION}|{self.table}|{self.column}|{self.row_id}".encode()


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(data_key: bytes, plaintext: str, context: FieldContext) -> bytes:
    """Encrypt one field value; output is version byte, nonce, ciphertext and tag."""
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(data_key).encrypt(nonce, plaintext.encode("utf-8"), context.associated_data())
    return bytes([FORMAT_VERSION]) + nonce + body


def open_sealed(data_key: bytes, sealed: bytes, context: FieldContext) -> str:
    if len(data_key) != KEY_BYTES:
        raise CryptoError("a data key must be 32 bytes")
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != FORMAT_VERSION:
        raise CryptoError(f"sealed value for {context.table}.{context.column} is malformed")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    try:
        plain = AESGCM(data_key).decrypt(nonce, body, context.associated_data())
    except InvalidTag as exc:
        raise CryptoError(
            f"sealed value for {context.table}.{context.column} row {context.row_id} "
            "failed authentication (tampered, moved or wrong key)"
        ) from exc
    return plain.decode("utf-8")


@dataclass(frozen=True)
class KeyEncryptionKey:
    key_id: str
    secret: bytes

    def __post_init__(self) -> None:
        if len(self.secret) != KEY_BYTES:
            raise CryptoError(f"key-encryption key {self.key_id} must be {KEY_BYTES} bytes")

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(key_id={self.key_id!r})"


class KeyRing:
    """The key-encryption keys and the blind-index key, loaded from configuration.

    New data keys are always wrapped under the active KEK; older KEKs stay in
    the ring only to unwrap data keys that rotation has not reached yet.
    """

    def __init__(
        self, keks: list[KeyEncryptionKey], active_key_id: str, blind_index_key: bytes
    ) -> None:
        self._keks = {kek.key_id: kek for kek in keks}
        if active_key_id not in self._keks:
            raise CryptoError(f"active key id {active_key_id} is not in the key ring")
        if len(blind_index_key) != KEY_BYTES:
            raise CryptoError("blind-index key must be 32 bytes")
        self.active_key_id = active_key_id
        self._blind_index_key = blind_index_key
        self._audit_key = AuditKey.derive(blind_index_key)

    @property
    def key_ids(self) -> list[str]:
        return list(self._keks)

    async def wrap_data_key(self, data_key: bytes, data_key_id: str) -> tuple[str, bytes]:
        """KeySource: local AES-GCM is microseconds, so no thread is needed."""
        return self.wrap(data_key, data_key_id)

    async def unwrap_data_key(self, key_id: str, wrapped: bytes, data_key_id: str) -> bytes:
        return self.unwrap(key_id, wrapped, data_key_id)

    def wrap(self, data_key: bytes, data_key_id: str) -> tuple[str, bytes]:
        if len(data_key) != KEY_BYTES:
            raise CryptoError("a data key must be 32 bytes")
        kek = self._keks[self.active_key_id]
        context = FieldContext("data_keys", "wrapped", data_key_id)
        nonce = os.urandom(NONCE_BYTES)
        body = AESGCM(kek.secret).encrypt(nonce, data_key, context.associated_data())
        return kek.key_id, bytes([FORMAT_VERSION]) + nonce + body

    def unwrap(self, key_id: str, wrapped: bytes, data_key_id: str) -> bytes:
        kek = self._keks.get(key_id)
        if kek is None:
            raise CryptoError(f"data key {data_key_id} is wrapped by unknown key {key_id}")
        if len(wrapped) != 1 + NONCE_BYTES + KEY_BYTES + 16 or wrapped[0] != FORMAT_VERSION:
            raise CryptoError(f"data key {data_key_id} is malformed")
        context = FieldContext("data_keys", "wrapped", data_key_id)
        nonce, body = wrapped[1 : 1 + NONCE_BYTES], wrapped[1 + NONCE_BYTES :]
        try:
            return AESGCM(kek.secret).decrypt(nonce, body, context.associated_data())
        except InvalidTag as exc:
            raise CryptoError(f"data key {data_key_id} could not be unwrapped") from exc

    def blind_index(self, purpose: str, *parts: str, area_id: int) -> str:
        """Keyed hash of normalised identifiers, so records can be matched without plaintext,
        within one area only (see :func:`area_blind_index`)."""
        return area_blind_index(self._blind_index_key, area_id, purpose, *parts)

    def audit_key(self) -> AuditKey:
        """Derived from the blind-index key, which every key source holds locally and never
        changes (storage.audit_key says why)."""
        return self._audit_key


def area_blind_index_key(key: bytes, area_id: int) -> bytes:
    """The area's own blind-index key, derived from the deployment's with HKDF-SHA256.

    One key for every area gave the same victim the same index in every area, so anyone with
    the database alone could link cases across areas. Per area, the same victim gets unrelated
    values in different areas; matching across areas (a transfer) must derive both keys on
    purpose. One secret is still all that is kept (in the key file).
    """
    if len(key) != KEY_BYTES:
        raise CryptoError("blind-index key must be 32 bytes")
    return HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=f"marac-bot blind index|area:{area_id}".encode(),
    ).derive(key)


def area_blind_index(key: bytes, area_id: int, purpose: str, *parts: str) -> str:
    """The blind index of ``parts`` in area ``area_id``, from the deployment's key: the same
    for every key source holding that key, so moving the KEK (file to Vault, or a rotation)
    never breaks repeat-victim matching."""
    return blind_index(area_blind_index_key(key, area_id), purpose, *parts)


def blind_index(key: bytes, purpose: str, *parts: str) -> str:
    """HMAC-SHA256 of the normalised ``parts`` under ``key`` (an area's key: see
    :func:`area_blind_index`; used alone only by the migration that replaced the
    deployment-wide index)."""
    if len(key) != KEY_BYTES:
        raise CryptoError("blind-index key must be 32 bytes")
    normalised = "\x1f".join(normalise_identifier(part) for part in parts)
    message = f"{purpose}\x1e{normalised}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


# Letters NFKD does not decompose, and apostrophes phones type instead of "'".
_FOLD = str.maketrans({"ø": "o", "ł": "l", "đ": "d", "æ": "ae", "œ": "oe", "’": "'", "‘": "'"})


def normalise_identifier(value: str) -> str:
    """Case, accents and spacing must not stop a match ("Zoë  O’Neil" == "zoe o'neil")."""
    decomposed = unicodedata.normalize("NFKD", value.casefold().translate(_FOLD))
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(without_marks.casefold().split())

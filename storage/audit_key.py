"""The audit key: what makes the audit chain and its checkpoints impossible to forge from the
database alone.

Each audit event's link is an HMAC-SHA256 under ``AuditKey.chain``, and each daily checkpoint
is signed (HMAC-SHA256) under ``AuditKey.checkpoint``. Neither key is in the database: both are
derived with HKDF-SHA256 (RFC 5869) from the **blind-index key in the key file** (or
MARAC_KEYS), each under an info label of its own. Why that key, and not the KEK:

* It is the one secret every key source holds locally. With ``MARAC_KEK_SOURCE=vault`` the KEK
  never leaves Vault's transit engine, so an HMAC under it would cost a Vault round trip per
  audit event (one on most updates) and stop the bot recording anything while Vault is down;
  the key file still holds the blind-index key (storage.kek_sources), so one derivation works
  for the key file, MARAC_KEYS and Vault alike.
* It never changes. KEKs are rotated (and retired, which destroys them), and an audit chain is
  kept for seven years: a chain keyed by a KEK would stop verifying at the first retirement.
  The blind-index key must stay the same for repeat victims to be matched, so it is kept,
  backed up apart from the database and created 0600 by ``marac-bot init`` already.
* Nothing to migrate in the key file: an existing file (or MARAC_KEYS) gains the audit keys
  with no edit, so upgrading needs no new secret to be distributed to every process.
* HKDF is one-way and the labels differ, so neither derived key reveals the blind-index key
  or the other: a derived key can be used (or handed to an auditor) without exposing the
  key that links victims' records.

Checkpoints are signed with HMAC rather than with an Ed25519 key derived from the same root:
checking a checkpoint means checking the chain up to it, which needs the chain key anyway, so a
public key would let nobody check more than the holder of the key file can; and an Ed25519
signature protects no better against the one attacker who could forge an HMAC (someone holding
the key file can derive the Ed25519 private key just as well). HMAC keeps the checkpoint string
short enough to copy from a chat message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

AUDIT_KEY_BYTES: Final = 32
CHAIN_LABEL: Final = b"marac-bot audit chain v1"
CHECKPOINT_LABEL: Final = b"marac-bot audit checkpoint v1"
SESSION_INFO_KEY: Final = "marac.audit_key"
"""Where a session finds its audit key (``Session.info``; see storage.db.create_session_factory)."""


def _derive(root: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=AUDIT_KEY_BYTES, salt=None, info=label).derive(
        root
    )


@dataclass(frozen=True)
class AuditKey:
    """The two audit keys; the repr never shows them."""

    chain: bytes
    checkpoint: bytes

    def __post_init__(self) -> None:
        if len(self.chain) != AUDIT_KEY_BYTES or len(self.checkpoint) != AUDIT_KEY_BYTES:
            raise ValueError("audit keys must be 32 bytes")

    def __repr__(self) -> str:
        return "AuditKey(<hidden>)"

    @classmethod
    def derive(cls, root: bytes) -> AuditKey:
        """The audit keys of a deployment, from its blind-index key (see the module notes)."""
        if len(root) < AUDIT_KEY_BYTES:
            raise ValueError("the root of the audit key must be at least 32 bytes")
        return cls(_derive(root, CHAIN_LABEL), _derive(root, CHECKPOINT_LABEL))

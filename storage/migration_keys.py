"""Keys for the migrations that must open or seal values (a migration that seals a column that
was plaintext, or recomputes blind indexes from sealed identifiers).

Alembic runs a migration as plain synchronous code, but inside
``AsyncConnection.run_sync`` (``storage.migrate.upgrade``): there, ``await_only`` runs a
coroutine on the event loop that is already running, so a migration can ask the bot's own key
source (the key file, MARAC_KEYS or Vault's transit engine) to wrap and unwrap data keys.

The key source is handed over lazily by whoever runs the upgrade (``marac-bot migrate`` and
``init``): building it may need a key file a fresh database does not, so a migration asks for
it only when it has rows to work on. Without one it stops with :class:`MigrationNeedsKeys`,
and the whole upgrade is rolled back.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.util import await_only

from storage.base import UTCDateTime
from storage.crypto import KeySource, new_data_key

KEYS_ATTRIBUTE: Final = "key_source"
_BUILT_ATTRIBUTE: Final = "key_source_built"  # built once per upgrade, on first need
T = TypeVar("T")
KeySourceFactory = Callable[[], KeySource]

_data_keys = sa.table(
    "data_keys",
    sa.column("id", sa.String),
    sa.column("purpose", sa.String),
    sa.column("kek_id", sa.String),
    sa.column("wrapped", sa.LargeBinary),
    sa.column("created_at", UTCDateTime()),
)


class MigrationNeedsKeys(Exception):
    """A migration has sealed data to work on and was given no keys; safe to print."""


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    """Await ``coroutine`` from a migration (see the module's docstring)."""
    return await_only(coroutine)


def key_source(why: str) -> KeySource:
    """The key source handed to this upgrade; MigrationNeedsKeys, naming ``why``, if none."""
    attributes = context.config.attributes
    built: KeySource | None = attributes.get(_BUILT_ATTRIBUTE)
    if built is not None:
        return built
    factory: KeySourceFactory | None = attributes.get(KEYS_ATTRIBUTE)
    if factory is None:
        raise MigrationNeedsKeys(
            f"This upgrade {why}, which needs the keys: run 'marac-bot migrate' where "
            "MARAC_KEY_FILE (or MARAC_KEYS, or Vault) is available."
        )
    attributes[_BUILT_ATTRIBUTE] = built = factory()
    return built


def unwrap(connection: Connection, source: KeySource, data_key_id: str) -> bytes | None:
    """The data key ``data_key_id`` unwrapped; None if it no longer exists (erased)."""
    row = connection.execute(
        sa.select(_data_keys.c.kek_id, _data_keys.c.wrapped).where(_data_keys.c.id == data_key_id)
    ).first()
    if row is None:
        return None
    return run(source.unwrap_data_key(str(row.kek_id), bytes(row.wrapped), data_key_id))


def create(connection: Connection, source: KeySource, purpose: str) -> tuple[str, bytes]:
    """A new data key, stored wrapped as ``storage.vault.Vault.create_data_key`` does."""
    data_key_id = secrets.token_hex(16)
    data_key = new_data_key()
    kek_id, wrapped = run(source.wrap_data_key(data_key, data_key_id))
    connection.execute(
        _data_keys.insert().values(
            id=data_key_id,
            purpose=purpose,
            kek_id=kek_id,
            wrapped=wrapped,
            created_at=datetime.now(UTC),
        )
    )
    return data_key_id, data_key

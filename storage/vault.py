"""Sealing and opening sensitive fields inside a database session.

Wraps storage.crypto with the data_keys table: creates a record's data key,
unwraps it on demand (with a small cache so a screen of rows does not cost one
unwrap per field), and destroys it to erase a record for good.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.crypto import (
    CryptoError,
    FieldContext,
    KeySource,
    new_data_key,
    open_sealed,
    seal,
)
from storage.models import DataKey

CACHE_SIZE = 512


class Vault:
    def __init__(self, key_ring: KeySource) -> None:
        self.key_ring = key_ring
        self._cache: OrderedDict[str, bytes] = OrderedDict()

    async def create_data_key(self, session: AsyncSession, purpose: str) -> str:
        data_key_id = secrets.token_hex(16)
        data_key = new_data_key()
        kek_id, wrapped = await self.key_ring.wrap_data_key(data_key, data_key_id)
        session.add(
            DataKey(
                id=data_key_id,
                purpose=purpose,
                kek_id=kek_id,
                wrapped=wrapped,
                created_at=datetime.now(UTC),
            )
        )
        # Written at once: rows that point at it may be flushed in any order after this.
        await session.flush()
        self._remember(data_key_id, data_key)
        return data_key_id

    async def _data_key(self, session: AsyncSession, data_key_id: str) -> bytes:
        cached = self._cache.get(data_key_id)
        if cached is not None:
            self._cache.move_to_end(data_key_id)
            return cached
        row = await session.get(DataKey, data_key_id)
        if row is None:
            raise CryptoError(f"data key {data_key_id} no longer exists (erased)")
        data_key = await self.key_ring.unwrap_data_key(row.kek_id, row.wrapped, data_key_id)
        self._remember(data_key_id, data_key)
        return data_key

    async def preload(self, session: AsyncSession, data_key_ids: Iterable[str | None]) -> None:
        """Unwrap, with one query, the keys a screen is about to use that are not cached yet.

        Opening fields one by one fetches each missing key with a query of its own, and a case
        card needs the case's key and one per person named in its history: one round trip
        instead of several. Only the cache of unwrapped keys is filled, never plaintext; a key
        that no longer exists (erased) is left for :meth:`open` to report as before.
        """
        missing = sorted({key for key in data_key_ids if key and key not in self._cache})
        if not missing:
            return
        rows = await session.execute(
            select(DataKey.id, DataKey.kek_id, DataKey.wrapped).where(DataKey.id.in_(missing))
        )
        for data_key_id, kek_id, wrapped in rows.all():
            data_key = await self.key_ring.unwrap_data_key(kek_id, wrapped, data_key_id)
            self._remember(data_key_id, data_key)

    def _remember(self, data_key_id: str, data_key: bytes) -> None:
        self._cache[data_key_id] = data_key
        self._cache.move_to_end(data_key_id)
        while len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    async def seal(
        self, session: AsyncSession, data_key_id: str, context: FieldContext, plaintext: str
    ) -> bytes:
        return seal(await self._data_key(session, data_key_id), plaintext, context)

    async def open(
        self, session: AsyncSession, data_key_id: str, context: FieldContext, sealed: bytes
    ) -> str:
        return open_sealed(await self._data_key(session, data_key_id), sealed, context)

    async def destroy(self, session: AsyncSession, data_key_ids: list[str]) -> int:
        """Crypto-shred: without its data key a sealed value is noise, in backups too."""
        for data_key_id in data_key_ids:
            self._cache.pop(data_key_id, None)
        if not data_key_ids:
            return 0
        existing = await session.scalars(select(DataKey.id).where(DataKey.id.in_(data_key_ids)))
        found = list(existing)
        await session.execute(delete(DataKey).where(DataKey.id.in_(found)))
        return len(found)

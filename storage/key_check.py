"""At start: do the configured key-encryption keys open this database's data keys?

A key file from another deployment, or an old copy from before a rotation, loads without
complaint (it is valid JSON with valid keys) but opens nothing: the bot would start, then fail
on every sealed field, and worse, wrap new records under keys the real file does not hold.
``marac-bot run`` therefore unwraps the newest data key before it starts, and refuses to start
when that fails. A database with no data key yet (just initialised, nobody enrolled) gets a
canary: a data key of its own, wrapped now, that the next start checks the same way.
"""

from __future__ import annotations

from typing import Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.crypto import CryptoError, KeySource, KeySourceError
from storage.models import DataKey
from storage.vault import Vault

CANARY_PURPOSE: Final = "canary"


class KeysDoNotOpen(CryptoError):
    """The keys loaded cannot unwrap the database's data keys; the message names no secret."""

    def __init__(self, kek_id: str) -> None:
        super().__init__(kek_id)
        self.kek_id = kek_id


async def check_keys_open_data(
    sessions: async_sessionmaker[AsyncSession], source: KeySource, *, canary: bool = True
) -> str | None:
    """Unwrap the newest data key with ``source``; KeysDoNotOpen if it cannot.

    Returns the id of the key-encryption key that opened it, or None when the database had no
    data key and a canary was stored instead (``canary=False``, for a check that must change
    nothing: ``marac-bot doctor``, stores none). A key source that cannot be reached or refuses
    us (Vault) raises its own KeySourceError, which says so.
    """
    async with sessions() as session:
        newest = await session.scalar(
            select(DataKey).order_by(DataKey.created_at.desc(), DataKey.id.desc()).limit(1)
        )
    if newest is None:
        if not canary:
            return None
        async with sessions.begin() as session:
            await Vault(source).create_data_key(session, CANARY_PURPOSE)
        return None
    try:
        await source.unwrap_data_key(newest.kek_id, newest.wrapped, newest.id)
    except KeySourceError:
        raise
    except CryptoError as error:
        raise KeysDoNotOpen(newest.kek_id) from error
    return newest.kek_id

"""Keeping track of messages with sensitive content so the bot can delete them later.

Telegram lets a bot delete its own messages for 48 hours, so the time to live
is capped well inside that.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert, select, update

from bot.services.deps import ServiceDeps
from storage.db import single_statement_session
from storage.models import SensitiveMessage

TELEGRAM_DELETE_LIMIT = timedelta(hours=47)


@dataclass(frozen=True)
class DueMessage:
    id: int
    chat_id: int
    message_id: int


class SensitiveMessageService:
    def __init__(self, deps: ServiceDeps, ttl: timedelta) -> None:
        self._deps = deps
        self.ttl = min(ttl, TELEGRAM_DELETE_LIMIT)

    async def record(self, chat_id: int, message_id: int) -> None:
        """One INSERT after every protected message, so it is kept as cheap as a write gets:
        no ORM object to flush, and on PostgreSQL no BEGIN and COMMIT round trips."""
        now = self._deps.clock.now()
        async with self._deps.sessions() as session:
            await single_statement_session(session)
            await session.execute(
                insert(SensitiveMessage).values(
                    chat_id=chat_id,
                    message_id=message_id,
                    sent_at=now,
                    delete_after=now + self.ttl,
                )
            )
            await session.commit()

    async def due(self, limit: int = 200) -> list[DueMessage]:
        now = self._deps.clock.now()
        async with self._deps.sessions() as session:
            rows = await session.scalars(
                select(SensitiveMessage)
                .where(SensitiveMessage.deleted_at.is_(None), SensitiveMessage.delete_after <= now)
                .order_by(SensitiveMessage.delete_after)
                .limit(limit)
            )
            return [DueMessage(r.id, r.chat_id, r.message_id) for r in rows]

    async def mark_deleted(self, ids: list[int]) -> None:
        """Also used when Telegram says the message is already gone: nothing left to delete."""
        if not ids:
            return
        async with self._deps.sessions.begin() as session:
            await session.execute(
                update(SensitiveMessage)
                .where(SensitiveMessage.id.in_(ids))
                .values(deleted_at=self._deps.clock.now())
            )

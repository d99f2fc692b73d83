"""Keeping track of messages with case content so the bot can delete them from the chat.

Two kinds, one table. What the bot sends with case content is deleted after the
sensitive-message time. What a person types (a victim's name, a research note, an action)
is deleted as soon as the bot has stored it: Telegram chats with bots are not end-to-end
encrypted, and a message left in the chat stays on Telegram's servers and on every device.

Each deletion is recorded *before* it is tried, so a restart or a failover between storing
and deleting forgets nothing; housekeeping retries until Telegram's limit. Telegram lets a
bot delete its own messages and, in a private chat, a person's messages for 48 hours, so
the time to live is capped well inside that, and a typed message still there when the
limit passes is marked failed and reported to the person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update

from bot.services.deps import ServiceDeps
from storage.db import single_statement_session
from storage.models import SensitiveMessage

# Telegram's limit is 48 hours, for the bot's own messages and a person's in a private chat.
TELEGRAM_DELETE_LIMIT = timedelta(hours=47)


@dataclass(frozen=True)
class DueMessage:
    id: int
    chat_id: int
    message_id: int
    typed: bool = False
    sent_at: datetime | None = None
    attempts: int = 0


# After every protected message (issue #20): built once; ``typed`` and ``attempts`` take
# the columns' defaults, as the ``values(...)`` form did.
_RECORD = insert(SensitiveMessage).values(
    chat_id=bindparam("chat_id"),
    message_id=bindparam("message_id"),
    sent_at=bindparam("sent_at"),
    delete_after=bindparam("delete_after"),
)


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
                _RECORD,
                {
                    "chat_id": chat_id,
                    "message_id": message_id,
                    "sent_at": now,
                    "delete_after": now + self.ttl,
                },
            )
            await session.commit()

    async def record_typed(self, chat_id: int, message_id: int, *, stored: bool) -> DueMessage:
        """Remember a person's message for deletion: now if stored, else after the usual time.

        It is timed from when the bot handles it (by the injected clock): Telegram's 48-hour
        limit is then checked with an hour to spare, and Telegram's own refusal ends the
        retries anyway. A message the bot could not accept (a mistyped date, a note too
        short) is kept for the sensitive-message time so the person can copy and correct
        it; it still holds what they typed, so it goes then.
        """
        now = self._deps.clock.now()
        async with self._deps.sessions() as session:
            await single_statement_session(session)
            row_id = await session.scalar(
                insert(SensitiveMessage)
                .values(
                    chat_id=chat_id,
                    message_id=message_id,
                    sent_at=now,
                    delete_after=now if stored else now + self.ttl,
                    typed=True,
                )
                .returning(SensitiveMessage.id)
            )
            await session.commit()
        assert row_id is not None
        return DueMessage(int(row_id), chat_id, message_id, True, now, 0)

    async def due(self, limit: int = 200) -> list[DueMessage]:
        now = self._deps.clock.now()
        async with self._deps.sessions() as session:
            rows = await session.scalars(
                select(SensitiveMessage)
                .where(
                    SensitiveMessage.deleted_at.is_(None),
                    SensitiveMessage.failed_at.is_(None),
                    SensitiveMessage.delete_after <= now,
                )
                .order_by(SensitiveMessage.delete_after)
                .limit(limit)
            )
            return [
                DueMessage(r.id, r.chat_id, r.message_id, r.typed, r.sent_at, r.attempts)
                for r in rows
            ]

    def past_telegram_limit(self, message: DueMessage) -> bool:
        """Whether Telegram no longer lets the bot delete this person's message."""
        if not message.typed or message.sent_at is None:
            return False
        return self._deps.clock.now() >= message.sent_at + TELEGRAM_DELETE_LIMIT

    async def mark_deleted(self, ids: list[int]) -> None:
        """Also used when Telegram says the message is already gone: nothing left to delete."""
        await self._settle(ids, deleted_at=self._deps.clock.now())

    async def mark_retry(self, ids: list[int]) -> None:
        """Telegram was unavailable: count the attempt and try again on the next run."""
        await self._settle(ids, attempts=SensitiveMessage.attempts + 1)

    async def mark_failed(self, ids: list[int]) -> None:
        """Telegram will not delete these: stop trying (the person has been asked to)."""
        await self._settle(
            ids, failed_at=self._deps.clock.now(), attempts=SensitiveMessage.attempts + 1
        )

    async def _settle(self, ids: list[int], **values: object) -> None:
        if not ids:
            return
        async with self._deps.sessions.begin() as session:
            await session.execute(
                update(SensitiveMessage).where(SensitiveMessage.id.in_(ids)).values(**values)
            )

"""PTB persistence kept in the project database.

A multi-step conversation (a referral, a meeting booking) can span hours; if the bot restarts in
between, the person must land in the same step rather than silently starting over. PTB keeps
conversation states in memory, so they are mirrored into the ``bot_state`` table here.

Everything stored is plain JSON: nothing sensitive goes into PTB's persistence (drafts are kept
encrypted elsewhere), and JSON stays readable and portable between SQLite and PostgreSQL, unlike
pickles, which would also tie the rows to the Python classes of one release.

PTB only hands state changes to a persistence in ``Application.update_persistence``, which runs
every ``update_interval`` seconds and at shutdown. Each call is written through to the database at
once, but to shrink what a crash can lose to one update, also register
:func:`write_through_handler` in :data:`WRITE_THROUGH_GROUP`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import BasePersistence, CallbackContext, PersistenceInput, TypeHandler

from storage.models import BotState

__all__ = [
    "WRITE_THROUGH_GROUP",
    "BotState",
    "DatabasePersistence",
    "StateKind",
    "write_through_handler",
]

JSONDict = dict[str, Any]
# Same shapes as PTB's private aliases in telegram.ext._utils.types, spelled out so we do not
# import from a private module.
ConversationKey = tuple[int | str, ...]
CallbackDataPayload = tuple[list[tuple[str, float, dict[str, Any]]], dict[str, str]]


class StateKind:
    """Values of ``bot_state.kind``; plain strings so rows stay readable in any SQL shell."""

    CONVERSATION: Final = "conversation"
    USER_DATA: Final = "user_data"
    CHAT_DATA: Final = "chat_data"
    BOT_DATA: Final = "bot_data"


# Data kinds have no handler name, and bot_data has no key either; the primary key columns
# cannot be NULL, so these use the empty string.
_NO_NAME: Final = ""
_NO_KEY: Final = ""

# Above any group a feature handler would sensibly use, so it runs after all of them.
WRITE_THROUGH_GROUP: Final = 1_000_000


def _to_json(value: object, what: str) -> str:
    """Encode strictly, refusing anything that would come back different after a restart.

    ``json.dumps`` quietly turns int dict keys into strings and tuples into lists; the bot would
    then misbehave only after a restart, which is far harder to notice than an error now.
    """
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what} must be plain JSON to be persisted: {exc}") from exc
    if json.loads(text) != value:
        raise TypeError(
            f"{what} does not survive a JSON round trip (int dict keys or tuples?): {value!r}"
        )
    return text


def _id_key(entity_id: int) -> str:
    return json.dumps(entity_id)


def _conversation_key(key: ConversationKey) -> str:
    return _to_json(list(key), "conversation key")


class DatabasePersistence(BasePersistence[JSONDict, JSONDict, JSONDict]):
    """Mirrors PTB's conversations and user/chat/bot data into the ``bot_state`` table.

    Every update call is committed before it returns, so whatever PTB has handed over survives a
    crash; :meth:`flush` therefore has nothing left to do.
    """

    __slots__ = ("_session_factory", "_written")

    def __init__(
        self,
        session_factory: async_sessionmaker[AsyncSession],
        *,
        store_data: PersistenceInput | None = None,
        update_interval: float = 60,
    ) -> None:
        if store_data is None:
            # Arbitrary callback data holds Python objects that are not JSON, and we never use it.
            store_data = PersistenceInput(callback_data=False)
        if store_data.callback_data:
            raise ValueError("DatabasePersistence stores plain JSON and cannot keep callback_data")
        super().__init__(store_data=store_data, update_interval=update_interval)
        self._session_factory = session_factory
        # What the database holds per row, as far as this object knows: the JSON last committed
        # or loaded, or None once deleted. PTB re-sends bot_data on every run and every touched
        # user's data on every update; skipping unchanged values saves most writes. This relies
        # on one bot process being the only writer of the table.
        self._written: dict[tuple[str, str, str], str | None] = {}

    # -- reading ------------------------------------------------------------------------------

    async def _load(self, kind: str, name: str) -> list[tuple[str, str]]:
        async with self._session_factory() as session:
            result = await session.execute(
                select(BotState.key, BotState.value).where(
                    BotState.kind == kind, BotState.name == name
                )
            )
            rows = [(row.key, row.value) for row in result]
        for key, value in rows:
            self._written[(kind, name, key)] = value
        return rows

    async def get_user_data(self) -> dict[int, JSONDict]:
        return {
            int(json.loads(key)): json.loads(value)
            for key, value in await self._load(StateKind.USER_DATA, _NO_NAME)
        }

    async def get_chat_data(self) -> dict[int, JSONDict]:
        return {
            int(json.loads(key)): json.loads(value)
            for key, value in await self._load(StateKind.CHAT_DATA, _NO_NAME)
        }

    async def get_bot_data(self) -> JSONDict:
        for _key, value in await self._load(StateKind.BOT_DATA, _NO_NAME):
            data: JSONDict = json.loads(value)
            return data
        return {}

    async def get_callback_data(self) -> CallbackDataPayload | None:
        """Always nothing: callback data is refused in the constructor."""
        return None

    async def get_conversations(self, name: str) -> dict[ConversationKey, object]:
        return {
            tuple(json.loads(key)): json.loads(value)
            for key, value in await self._load(StateKind.CONVERSATION, name)
        }

    # -- writing ------------------------------------------------------------------------------

    async def _put(self, kind: str, name: str, key: str, value: str) -> None:
        ident = (kind, name, key)
        if self._written.get(ident) == value:
            return
        row = {
            "kind": kind,
            "name": name,
            "key": key,
            "value": value,
            "updated_at": datetime.now(UTC),
        }
        async with self._session_factory.begin() as session:
            dialect = session.get_bind().dialect.name
            # A single upsert statement cannot race with a concurrent insert of the same row,
            # which select-then-insert can; both dialects we run on spell it the same way.
            if dialect == "postgresql":
                pg_stmt = pg_insert(BotState).values(row)
                await session.execute(
                    pg_stmt.on_conflict_do_update(
                        index_elements=[BotState.kind, BotState.name, BotState.key],
                        set_={
                            "value": pg_stmt.excluded.value,
                            "updated_at": pg_stmt.excluded.updated_at,
                        },
                    )
                )
            elif dialect == "sqlite":
                lite_stmt = sqlite_insert(BotState).values(row)
                await session.execute(
                    lite_stmt.on_conflict_do_update(
                        index_elements=[BotState.kind, BotState.name, BotState.key],
                        set_={
                            "value": lite_stmt.excluded.value,
                            "updated_at": lite_stmt.excluded.updated_at,
                        },
                    )
                )
            else:
                await session.merge(BotState(**row))
        self._written[ident] = value

    async def _drop(self, kind: str, name: str, key: str) -> None:
        ident = (kind, name, key)
        if ident in self._written and self._written[ident] is None:
            return
        async with self._session_factory.begin() as session:
            await session.execute(
                delete(BotState).where(
                    BotState.kind == kind, BotState.name == name, BotState.key == key
                )
            )
        self._written[ident] = None

    async def _put_data(self, kind: str, key: str, data: JSONDict) -> None:
        # PTB creates an empty dict for anyone who merely touches the bot; keeping a row for each
        # would grow the table forever while loading back exactly what PTB would create anyway.
        if not data:
            await self._drop(kind, _NO_NAME, key)
            return
        await self._put(kind, _NO_NAME, key, _to_json(data, kind))

    async def update_user_data(self, user_id: int, data: JSONDict) -> None:
        await self._put_data(StateKind.USER_DATA, _id_key(user_id), data)

    async def update_chat_data(self, chat_id: int, data: JSONDict) -> None:
        await self._put_data(StateKind.CHAT_DATA, _id_key(chat_id), data)

    async def update_bot_data(self, data: JSONDict) -> None:
        await self._put_data(StateKind.BOT_DATA, _NO_KEY, data)

    async def update_callback_data(self, data: CallbackDataPayload) -> None:
        """Never called: ``store_data.callback_data`` is always off for this class."""

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        """Write the state through at once; ``None`` means the conversation ended."""
        row_key = _conversation_key(key)
        if new_state is None:
            await self._drop(StateKind.CONVERSATION, name, row_key)
        else:
            await self._put(
                StateKind.CONVERSATION, name, row_key, _to_json(new_state, "conversation state")
            )

    async def drop_user_data(self, user_id: int) -> None:
        await self._drop(StateKind.USER_DATA, _NO_NAME, _id_key(user_id))

    async def drop_chat_data(self, chat_id: int) -> None:
        await self._drop(StateKind.CHAT_DATA, _NO_NAME, _id_key(chat_id))

    # -- no-ops -------------------------------------------------------------------------------

    async def refresh_user_data(self, user_id: int, user_data: JSONDict) -> None:
        """Nothing to refresh: this process is the only writer, so memory is already current."""

    async def refresh_chat_data(self, chat_id: int, chat_data: JSONDict) -> None:
        """Nothing to refresh: this process is the only writer, so memory is already current."""

    async def refresh_bot_data(self, bot_data: JSONDict) -> None:
        """Nothing to refresh: this process is the only writer, so memory is already current."""

    async def flush(self) -> None:
        """Nothing is buffered: every update call has already committed."""


async def _persist_now(update: Update, context: CallbackContext[Any, Any, Any, Any]) -> None:
    application = context.application
    # PTB marks this update's user and chat for saving only after every group has run, i.e.
    # after us; marking them here saves their data now instead of on the next run.
    application.mark_data_for_update_persistence(
        chat_ids=update.effective_chat.id if update.effective_chat else None,
        user_ids=update.effective_user.id if update.effective_user else None,
    )
    await application.update_persistence()


def write_through_handler() -> TypeHandler[Update, CallbackContext[Any, Any, Any, Any], None]:
    """A handler that pushes state to the database after each update, not once a minute.

    Add it with ``application.add_handler(write_through_handler(), group=WRITE_THROUGH_GROUP)``.
    It cannot see updates whose processing was stopped early with ``ApplicationHandlerStop``
    (including nested conversations that end that way), nor states changed by conversation
    timeouts or jobs; those are still saved by the periodic run and at shutdown.
    """
    return TypeHandler(Update, _persist_now, block=True)

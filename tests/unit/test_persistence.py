"""DatabasePersistence on SQLite and PostgreSQL, down to a real PTB Application restarting.

Each test gets its own database (a temp-file SQLite database, or a throwaway PostgreSQL schema),
so tests never see each other's rows or anyone else's ``bot_state`` table.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy import update as sql_update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from telegram import Update
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CommandHandler,
    ContextTypes,
    ConversationHandler,
    MessageHandler,
    PersistenceInput,
    filters,
)
from telegram.request import BaseRequest, RequestData

from bot.adapter.persistence import (
    WRITE_THROUGH_GROUP,
    BotState,
    DatabasePersistence,
    StateKind,
    write_through_handler,
)

PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

Factory = async_sessionmaker[AsyncSession]
AnyApplication = Application[Any, Any, Any, Any, Any, Any]


async def _postgres_engine() -> tuple[AsyncEngine, str]:
    """An engine whose connections live in a fresh schema, or a skip if PostgreSQL is absent."""
    schema = f"test_bot_state_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    try:
        async with admin.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except (OSError, TimeoutError) as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_URL}: {exc}")
    finally:
        await admin.dispose()
    engine = create_async_engine(PG_URL, connect_args={"server_settings": {"search_path": schema}})
    return engine, schema


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    schema = None
    if request.param == "sqlite":
        eng = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/t.db")
    else:
        eng, schema = await _postgres_engine()
    async with eng.begin() as conn:
        await conn.run_sync(
            lambda sync_conn: BotState.metadata.tables[BotState.__tablename__].create(sync_conn)
        )
    try:
        yield eng
    finally:
        await eng.dispose()
        if schema is not None:
            admin = create_async_engine(PG_URL)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            await admin.dispose()


@pytest.fixture
def factory(engine: AsyncEngine) -> Factory:
    return async_sessionmaker(engine, expire_on_commit=False)


async def _rows(factory: Factory) -> list[tuple[str, str, str, Any]]:
    async with factory() as session:
        result = await session.execute(
            select(BotState.kind, BotState.name, BotState.key, BotState.value).order_by(
                BotState.kind, BotState.name, BotState.key
            )
        )
        return [(r.kind, r.name, r.key, json.loads(r.value)) for r in result]


# -- the persistence object alone ------------------------------------------------------------


def test_defaults_store_everything_but_callback_data(factory: Factory) -> None:
    p = DatabasePersistence(factory)
    assert p.store_data == PersistenceInput(
        bot_data=True, chat_data=True, user_data=True, callback_data=False
    )
    assert p.update_interval == 60


def test_callback_data_is_refused(factory: Factory) -> None:
    with pytest.raises(ValueError, match="callback_data"):
        DatabasePersistence(factory, store_data=PersistenceInput())


async def test_conversation_survives_a_new_persistence_object(factory: Factory) -> None:
    first = DatabasePersistence(factory)
    await first.update_conversation("demo", (42, 42), 1)
    await first.update_conversation("demo", (-100123, 7), "ASKING")
    await first.update_conversation("other", (42, 42), 3)
    await first.update_conversation("demo", (42, 42), 2)  # overwrite

    restarted = DatabasePersistence(factory)
    assert await restarted.get_conversations("demo") == {(42, 42): 2, (-100123, 7): "ASKING"}
    assert await restarted.get_conversations("other") == {(42, 42): 3}
    assert await restarted.get_conversations("unknown") == {}
    assert await restarted.get_callback_data() is None


async def test_string_parts_of_conversation_keys_round_trip(factory: Factory) -> None:
    # per_message conversations on inline messages key by the inline message id, a string.
    await DatabasePersistence(factory).update_conversation("demo", (42, "AbC-12"), 1)
    assert await DatabasePersistence(factory).get_conversations("demo") == {(42, "AbC-12"): 1}


async def test_ending_a_conversation_deletes_its_row(factory: Factory) -> None:
    p = DatabasePersistence(factory)
    await p.update_conversation("demo", (42, 42), 1)
    await p.update_conversation("demo", (43, 43), 1)
    await p.update_conversation("demo", (42, 42), None)
    await p.update_conversation("demo", (99, 99), None)  # never stored: harmless

    assert await DatabasePersistence(factory).get_conversations("demo") == {(43, 43): 1}
    assert [r[2] for r in await _rows(factory)] == ["[43,43]"]


async def test_user_and_chat_data_round_trip_and_drop(factory: Factory) -> None:
    p = DatabasePersistence(factory)
    await p.update_user_data(1, {"lang": "en", "n": 3, "tags": ["a", "b"]})
    await p.update_user_data(2, {"lang": "cy"})
    await p.update_chat_data(-100, {"mode": "group"})
    await p.update_chat_data(5, {"x": None})

    q = DatabasePersistence(factory)
    assert await q.get_user_data() == {
        1: {"lang": "en", "n": 3, "tags": ["a", "b"]},
        2: {"lang": "cy"},
    }
    assert await q.get_chat_data() == {-100: {"mode": "group"}, 5: {"x": None}}

    await q.drop_user_data(1)
    await q.drop_chat_data(-100)
    await q.drop_chat_data(12345)  # never stored: harmless

    r = DatabasePersistence(factory)
    assert await r.get_user_data() == {2: {"lang": "cy"}}
    assert await r.get_chat_data() == {5: {"x": None}}


async def test_bot_data_round_trip(factory: Factory) -> None:
    assert await DatabasePersistence(factory).get_bot_data() == {}
    p = DatabasePersistence(factory)
    await p.update_bot_data({"meeting_counter": 7, "nested": {"a": [1, 2.5, True]}})
    await p.update_bot_data({"meeting_counter": 8, "nested": {"a": [1, 2.5, True]}})
    assert await DatabasePersistence(factory).get_bot_data() == {
        "meeting_counter": 8,
        "nested": {"a": [1, 2.5, True]},
    }


async def test_emptied_data_leaves_no_row(factory: Factory) -> None:
    p = DatabasePersistence(factory)
    await p.update_user_data(1, {"a": 1})
    await p.update_bot_data({"b": 2})
    await p.update_user_data(1, {})
    await p.update_bot_data({})
    await p.update_chat_data(9, {})
    assert await _rows(factory) == []
    assert await DatabasePersistence(factory).get_user_data() == {}


async def test_rows_are_readable_json(factory: Factory) -> None:
    p = DatabasePersistence(factory)
    await p.update_conversation("demo", (42, 43), 2)
    await p.update_user_data(42, {"k": "v"})
    await p.update_bot_data({"b": 1})
    assert await _rows(factory) == [
        (StateKind.BOT_DATA, "", "", {"b": 1}),
        (StateKind.CONVERSATION, "demo", "[42,43]", 2),
        (StateKind.USER_DATA, "", "42", {"k": "v"}),
    ]
    async with factory() as session:
        stamps = (await session.execute(select(BotState.updated_at))).scalars().all()
    assert all(s.tzinfo is not None for s in stamps)


@pytest.mark.parametrize(
    "bad",
    [{1: "int key"}, {"t": (1, 2)}, {"when": object()}, {"nan": float("nan")}],
    ids=["int-key", "tuple", "object", "nan"],
)
async def test_values_that_would_not_survive_a_restart_are_refused(
    factory: Factory, bad: dict[Any, Any]
) -> None:
    p = DatabasePersistence(factory)
    with pytest.raises(TypeError):
        await p.update_user_data(1, bad)
    with pytest.raises(TypeError):
        await p.update_conversation("demo", (1, 1), object())
    assert await _rows(factory) == []


async def test_unchanged_values_are_not_rewritten(factory: Factory) -> None:
    p = DatabasePersistence(factory)
    await p.update_bot_data({"b": 1})
    async with factory.begin() as session:
        # Only a rewrite would put the value back.
        await session.execute(sql_update(BotState).values(value='{"b":0}'))
    await p.update_bot_data({"b": 1})
    assert (await _rows(factory))[0][3] == {"b": 0}
    await p.update_bot_data({"b": 2})
    assert (await _rows(factory))[0][3] == {"b": 2}


async def test_generic_fallback_path(factory: Factory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dialects without an upsert we know fall back to the ORM's select-then-write merge."""
    p = DatabasePersistence(factory)

    class _Unknown:
        name = "unknown"

    class _Bind:
        dialect = _Unknown()

    def fake_get_bind(self: AsyncSession, *args: Any, **kwargs: Any) -> Any:
        return _Bind()

    monkeypatch.setattr(AsyncSession, "get_bind", fake_get_bind)
    await p.update_conversation("demo", (1, 1), 1)
    await p.update_conversation("demo", (1, 1), 2)
    monkeypatch.undo()
    assert await DatabasePersistence(factory).get_conversations("demo") == {(1, 1): 2}


# -- a real Application restarting ------------------------------------------------------------


class OfflineRequest(BaseRequest):
    """Answers getMe so Application.initialize() works without a network; refuses the rest."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        endpoint = url.rsplit("/", 1)[-1]
        self.calls.append(endpoint)
        if endpoint == "getMe":
            me = {"id": 123, "is_bot": True, "first_name": "Marac", "username": "marac_bot"}
            return 200, json.dumps({"ok": True, "result": me}).encode()
        return 400, json.dumps({"ok": False, "description": f"offline: {endpoint}"}).encode()


ASK_NAME, ASK_AGE = 1, 2
USER = {"id": 42, "is_bot": False, "first_name": "Ann"}
CHAT = {"id": 42, "type": "private"}


@dataclass
class Recorder:
    seen: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None and context.user_data is not None
        self.seen.append(("start", update.message.text or "", dict(context.user_data)))
        return ASK_NAME

    async def name(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None and context.user_data is not None
        context.user_data["name"] = update.message.text
        self.seen.append(("name", update.message.text or "", dict(context.user_data)))
        return ASK_AGE

    async def age(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> int:
        assert update.message is not None and context.user_data is not None
        self.seen.append(("age", update.message.text or "", dict(context.user_data)))
        return ConversationHandler.END


async def _app(
    factory: Factory, recorder: Recorder, *, write_through: bool = False
) -> AnyApplication:
    request = OfflineRequest()
    app = (
        ApplicationBuilder()
        .token("123:abc")
        .persistence(DatabasePersistence(factory))
        .request(request)
        .get_updates_request(request)
        .updater(None)
        .build()
    )
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("start", recorder.start)],
            states={
                ASK_NAME: [MessageHandler(filters.TEXT & ~filters.COMMAND, recorder.name)],
                ASK_AGE: [MessageHandler(filters.TEXT & ~filters.COMMAND, recorder.age)],
            },
            fallbacks=[],
            name="demo",
            persistent=True,
        )
    )
    if write_through:
        app.add_handler(write_through_handler(), group=WRITE_THROUGH_GROUP)
    await app.initialize()
    return app


_update_ids = iter(range(1, 1_000_000))


def _message(app: AnyApplication, text_: str) -> Update:
    message: dict[str, Any] = {
        "message_id": next(_update_ids),
        "date": 1_700_000_000,
        "chat": CHAT,
        "from": USER,
        "text": text_,
    }
    if text_.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text_)}]
    update = Update.de_json({"update_id": next(_update_ids), "message": message}, app.bot)
    assert update is not None
    return update


async def test_application_restart_continues_the_conversation(factory: Factory) -> None:
    recorder = Recorder()

    app = await _app(factory, recorder)
    await app.process_update(_message(app, "/start"))
    await app.shutdown()  # a clean stop hands everything over to the persistence

    app = await _app(factory, recorder)
    await app.process_update(_message(app, "Ann"))  # answered in ASK_NAME, not ignored
    await app.shutdown()
    assert await DatabasePersistence(factory).get_conversations("demo") == {(42, 42): ASK_AGE}

    app = await _app(factory, recorder)
    await app.process_update(_message(app, "40"))
    await app.shutdown()

    assert recorder.seen == [
        ("start", "/start", {}),
        ("name", "Ann", {"name": "Ann"}),
        ("age", "40", {"name": "Ann"}),  # user_data survived the restart too
    ]
    assert await DatabasePersistence(factory).get_conversations("demo") == {}
    assert [(kind, key) for kind, _name, key, _v in await _rows(factory)] == [
        (StateKind.USER_DATA, "42")
    ]


async def test_without_write_through_a_crash_loses_the_step(factory: Factory) -> None:
    """Why write_through_handler exists: PTB only persists every update_interval seconds."""
    app = await _app(factory, Recorder())
    await app.process_update(_message(app, "/start"))
    # Crash: no shutdown, no update_persistence.
    assert await DatabasePersistence(factory).get_conversations("demo") == {}


async def test_write_through_survives_a_crash_after_every_update(factory: Factory) -> None:
    recorder = Recorder()

    app = await _app(factory, recorder, write_through=True)
    await app.process_update(_message(app, "/start"))
    # Crash: the application is abandoned without shutdown.
    assert await DatabasePersistence(factory).get_conversations("demo") == {(42, 42): ASK_NAME}

    app = await _app(factory, recorder, write_through=True)
    await app.process_update(_message(app, "Ann"))
    # Crash again: this update's user_data is already saved as well.
    assert await DatabasePersistence(factory).get_user_data() == {42: {"name": "Ann"}}

    app = await _app(factory, recorder, write_through=True)
    await app.process_update(_message(app, "40"))
    assert await DatabasePersistence(factory).get_conversations("demo") == {}
    await app.shutdown()

    assert [step for step, _text, _data in recorder.seen] == ["start", "name", "age"]
    assert recorder.seen[-1][2] == {"name": "Ann"}

"""The Bot API stand-in, exercised by the real python-telegram-bot over real HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Update,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox import (
    BotApiStandIn,
    Driver,
    WaitTimeout,
    application_builder,
    format_transcript,
    running_application,
)

AnyApp = Application[Any, Any, Any, Any, Any, Any]
USER = 42


async def on_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("Approve", callback_data="approve:1"),
                InlineKeyboardButton("Reject", callback_data="reject:1"),
            ],
            [InlineKeyboardButton("Guidance", url="https://example.org/marac")],
        ]
    )
    await update.message.reply_text(f"Welcome! args={context.args}", reply_markup=keyboard)


async def on_long(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    try:
        await update.message.reply_text("x" * 5000)
    except BadRequest as exc:
        await update.message.reply_text(f"caught: {exc.message}")


async def on_doc(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    await update.message.reply_document(
        b"case,risk\n1,high\n", filename="export.csv", caption="Export", protect_content=True
    )


async def on_cmds(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_chat is not None and update.message is not None
    await context.bot.set_my_commands(
        [BotCommand("agencies", "List agencies"), BotCommand("invite", "Invite someone")],
        scope=BotCommandScopeChat(update.effective_chat.id),
    )
    await update.message.reply_text("commands set")


async def on_bye(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None
    sent = await update.message.reply_text("this will vanish")
    await sent.delete()
    await update.message.reply_text("gone")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(update.message.text)


async def on_press(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer(f"You chose {query.data}")
    await query.edit_message_text(f"Decision: {query.data}")


def add_handlers(app: AnyApp) -> None:
    app.add_handler(CommandHandler("start", on_start))
    app.add_handler(CommandHandler("long", on_long))
    app.add_handler(CommandHandler("doc", on_doc))
    app.add_handler(CommandHandler("cmds", on_cmds))
    app.add_handler(CommandHandler("bye", on_bye))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    app.add_handler(CallbackQueryHandler(on_press))


@pytest.fixture
async def server() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def driver(server: BotApiStandIn) -> Driver:
    return server.driver()


@pytest.fixture
async def app(server: BotApiStandIn) -> AsyncIterator[AnyApp]:
    application = (
        ApplicationBuilder()
        .token(server.token)
        .base_url(f"{server.url}/bot")
        .base_file_url(f"{server.url}/file/bot")
        .build()
    )
    add_handlers(application)
    async with application:
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)
        await application.start()
        try:
            yield application
        finally:
            await application.updater.stop()
            await application.stop()


# -- the happy paths through a running Application ------------------------------------------


async def test_text_round_trip_keeps_numeric_looking_text_a_string(
    app: AnyApp, driver: Driver, server: BotApiStandIn
) -> None:
    user = driver.user(USER, "Priya")
    replies = await user.send_and_wait("007")
    assert [m.text for m in replies] == ["007"]
    assert replies[0].from_bot and replies[0].message_id == 2
    assert server.calls_of("sendMessage")[-1]["text"] == "007"
    assert [m.from_bot for m in user.messages()] == [False, True]


async def test_command_carries_entity_and_arguments(app: AnyApp, driver: Driver) -> None:
    user = driver.user(USER, "Priya")
    replies = await user.send_and_wait("/start abc")
    assert replies[0].text == "Welcome! args=['abc']"
    sent = user.messages()[0]
    assert sent.entities == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert replies[0].button_texts == ["Approve", "Reject", "Guidance"]
    assert replies[0].buttons[1][0].url == "https://example.org/marac"


async def test_button_press_is_answered_and_edits_the_message(app: AnyApp, driver: Driver) -> None:
    user = driver.user(USER, "Priya", role="coordinator")
    await user.send_and_wait("/start")
    result = await user.press_and_wait("Approve", expect_edit=True)

    assert result.answer is not None and result.answer.text == "You chose approve:1"
    assert not result.answer.show_alert
    assert result.message.text == "Decision: approve:1"
    assert result.message.edited and result.message.buttons == []  # no markup: keyboard gone
    assert result.message.history[0].text == "Welcome! args=[]"
    assert driver.callback_answers == [result.answer]
    transcript = driver.transcript()
    assert "Priya (coordinator) presses [Approve]" in transcript
    assert "bot edits #2 for Priya: Decision: approve:1" in transcript


async def test_forged_callback_data_reaches_the_handler(app: AnyApp, driver: Driver) -> None:
    user = driver.user(USER, "Priya")
    [welcome] = await user.send_and_wait("/start")
    query = await user.press_data(welcome.message_id, "admin:delete-everything")
    answer = await driver.wait_for_answer(query)
    assert answer.data == "admin:delete-everything"


async def test_too_long_text_raises_bad_request_inside_the_bot(
    app: AnyApp, driver: Driver, server: BotApiStandIn
) -> None:
    user = driver.user(USER, "Priya")
    replies = await user.send_and_wait("/long")
    assert replies[0].text == "caught: Message is too long"
    assert server.errors[-1].description == "Bad Request: message is too long"


async def test_delete_marks_the_message_deleted(app: AnyApp, driver: Driver) -> None:
    user = driver.user(USER, "Priya")
    replies = await user.send_and_wait("/bye", count=2)
    vanished, gone = replies
    assert vanished.deleted and vanished.deleted_at is not None
    assert gone.text == "gone"
    assert [m.text for m in user.bot_messages()] == ["gone"]
    assert len(user.bot_messages(include_deleted=True)) == 2
    assert "bot deletes #2" in driver.transcript()


async def test_chat_scoped_commands_are_readable(
    app: AnyApp, driver: Driver, server: BotApiStandIn
) -> None:
    priya = driver.user(USER, "Priya")
    other = driver.user(7, "Sam")
    await app.bot.set_my_commands([BotCommand("start", "Begin")])
    await priya.send_and_wait("/cmds")
    assert driver.commands_for(USER) == [
        ("agencies", "List agencies"),
        ("invite", "Invite someone"),
    ]
    assert driver.commands_for(other.chat_id) == [("start", "Begin")]
    scoped = await app.bot.get_my_commands(scope=BotCommandScopeChat(USER))
    assert [c.command for c in scoped] == ["agencies", "invite"]
    assert (("chat", USER, None), "") in server.commands


async def test_send_document_stores_bytes_and_serves_them(app: AnyApp, driver: Driver) -> None:
    user = driver.user(USER, "Priya")
    [msg] = await user.send_and_wait("/doc")
    assert msg.document is not None
    assert msg.document.filename == "export.csv"
    assert msg.document.content == b"case,risk\n1,high\n"
    assert msg.document.mime_type == "text/csv"
    assert msg.text == "Export" and msg.protect_content
    telegram_file = await app.bot.get_file(msg.document.file_id)
    assert bytes(await telegram_file.download_as_bytearray()) == msg.document.content


async def test_application_restart_does_not_redeliver(server: BotApiStandIn) -> None:
    user = server.driver().user(USER, "Priya")
    first = application_builder(server).build()
    add_handlers(first)
    async with running_application(first):
        await user.send_and_wait("hello")
    assert server.pending_updates == 0

    second = application_builder(server).build()
    add_handlers(second)
    # Two complete short polls prove the second instance found nothing left to process.
    async with running_application(second, poll_timeout=0):
        polls = server.call_count("getUpdates")
        await server.driver().wait_for(lambda: server.call_count("getUpdates") >= polls + 2)
    assert [m.text for m in user.bot_messages()] == ["hello"]


# -- raw Bot calls: failures and validation --------------------------------------------------


@pytest.fixture
async def bot(server: BotApiStandIn) -> AsyncIterator[Bot]:
    async with Bot(server.token, base_url=server.base_url) as client:
        yield client


async def test_get_updates_offset_confirms_and_drops(
    bot: Bot, server: BotApiStandIn, driver: Driver
) -> None:
    user = driver.user(USER, "Priya")
    await user.send("one")
    await user.send("two")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates if u.message] == ["one", "two"]
    assert len(await bot.get_updates(timeout=0)) == 2  # not confirmed yet
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == ()
    assert server.pending_updates == 0


async def test_long_poll_returns_as_soon_as_an_update_arrives(bot: Bot, driver: Driver) -> None:
    user = driver.user(USER, "Priya")
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.05)
    await user.send("wake up")
    updates = await poll
    assert [u.message.text for u in updates if u.message] == ["wake up"]
    assert time.monotonic() - started < 1.0


# PTB itself warns about RetryAfter.retry_after becoming a timedelta in v23.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_injected_429_raises_retry_after_once(
    bot: Bot, server: BotApiStandIn, driver: Driver
) -> None:
    driver.user(USER, "Priya")
    server.inject_failure("sendMessage", status=429, retry_after=1)
    with pytest.raises(RetryAfter, match="Retry in 1"):
        await bot.send_message(USER, "first try")
    await bot.send_message(USER, "second try")
    assert [m.text for m in driver.bot_messages(USER)] == ["second try"]
    assert server.call_count("sendMessage") == 2
    assert server.errors[0].injected and server.errors[0].status == 429


async def test_injected_500_raises_network_error(
    bot: Bot, server: BotApiStandIn, driver: Driver
) -> None:
    driver.user(USER, "Priya")
    server.inject_failure("sendMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "x")
    await bot.send_message(USER, "x")


async def test_slow_call_times_out_but_is_still_delivered(
    bot: Bot, server: BotApiStandIn, driver: Driver
) -> None:
    driver.user(USER, "Priya")
    server.set_delay("sendMessage", 0.3)
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "slow", read_timeout=0.05)
    await driver.wait_for_bot_messages(USER, after=0)
    assert driver.last_bot_message(USER).text == "slow"


async def test_telegram_style_bad_requests(bot: Bot, server: BotApiStandIn, driver: Driver) -> None:
    driver.user(USER, "Priya")
    sent = await bot.send_message(USER, "original")

    cases: list[tuple[Any, str]] = [
        (bot.send_message(999, "x"), "Chat not found"),
        (bot.send_message(USER, "   "), "Message text is empty"),
        (bot.edit_message_text("y", chat_id=USER, message_id=77), "Message to edit not found"),
        (bot.edit_message_text("original", chat_id=USER, message_id=sent.message_id),
         "Message is not modified"),
        (bot.delete_message(USER, 77), "Message to delete not found"),
        (bot.answer_callback_query("123"), "Query is too old"),
        (bot.send_message(USER, "x", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("big", callback_data="d" * 65)]])), "Button_data_invalid"),
        (bot.set_my_commands([BotCommand(f"c{i}", "d") for i in range(101)]),
         "Bot_commands_too_much"),
        (bot.send_message(USER, "1 < 2", parse_mode="HTML"),
         "the stand-in does not parse parse_mode: send plain text"),
    ]  # fmt: skip
    for call, expected in cases:
        with pytest.raises(BadRequest) as caught:
            await call
        assert expected.lower() in caught.value.message.lower(), caught.value.message
    assert [m.text for m in driver.bot_messages(USER)] == ["original"]


async def test_blocked_user_gives_forbidden_and_a_member_update(
    server: BotApiStandIn, driver: Driver
) -> None:
    statuses: list[str] = []

    async def on_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.my_chat_member is not None
        statuses.append(update.my_chat_member.new_chat_member.status)

    application = application_builder(server).build()
    application.add_handler(ChatMemberHandler(on_member))
    user = driver.user(USER, "Priya")
    async with running_application(application):
        user.block()
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await application.bot.send_message(USER, "anyone there?")
        await driver.wait_for(lambda: statuses, description="my_chat_member update")
    assert statuses == ["kicked"]
    assert "Priya blocks the bot" in driver.transcript()


async def test_group_privacy_only_delivers_commands(app: AnyApp, driver: Driver) -> None:
    user = driver.user(USER, "Priya")
    await user.send_in_group(-100, "just chatting", title="Panel")
    replies_marker = len(driver.messages(-100))
    await user.send_in_group(-100, "/start@marac_demo_bot", title="Panel")
    [reply] = await driver.wait_for_bot_messages(-100, after=replies_marker)
    assert reply.text == "Welcome! args=[]"
    assert [m.from_bot for m in driver.messages(-100)] == [False, False, True]


async def test_wait_timeout_explains_what_arrived(app: AnyApp, driver: Driver) -> None:
    user = driver.user(USER, "Priya")
    with pytest.raises(WaitTimeout, match=r"got 1:\n  #2 bot: 'hi'") as caught:
        await user.send_and_wait("hi", count=2, timeout=0.3)
    assert isinstance(caught.value, AssertionError)


# -- raw HTTP and pure functions --------------------------------------------------------------


async def test_http_status_codes_and_json_bodies(server: BotApiStandIn, driver: Driver) -> None:
    driver.user(USER, "Priya")
    async with httpx.AsyncClient(base_url=server.url) as client:
        wrong = await client.post("/bot1:wrong/getMe")
        assert wrong.status_code == 401
        assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
        unknown = await client.post(f"/bot{server.token}/sendSticker")
        assert unknown.json() == {"ok": False, "error_code": 404, "description": "Not Found"}
        get_me = await client.get(f"/bot{server.token}/getme")
        assert get_me.json()["result"]["username"] == "marac_demo_bot"
        sent = await client.post(
            f"/bot{server.token}/sendMessage",
            json={"chat_id": USER, "text": 12, "reply_markup": {"remove_keyboard": True}},
        )
        assert sent.json()["result"]["text"] == "12"


async def test_transcript_reads_like_a_conversation(app: AnyApp, driver: Driver) -> None:
    user = driver.user(USER, "Priya", role="coordinator")
    marker = driver.mark()
    await user.send_and_wait("/start 8fJ")
    assert driver.transcript_since(marker) == (
        "Priya (coordinator) → bot: /start 8fJ\n"
        "bot → Priya: Welcome! args=['8fJ']\n"
        "    [Approve] [Reject]\n"
        "    [Guidance ↗ https://example.org/marac]"
    )
    assert format_transcript(driver.events_since(marker + 1)).startswith("bot → Priya")


async def test_a_press_waits_for_its_button_to_arrive(app: AnyApp, driver: Driver) -> None:
    """A person presses a button once it is on the screen: a press made straight after a
    command (before its answer has come) waits for the answer instead of failing."""
    user = driver.user(USER, "Priya")
    await user.send("/start")
    pressed = await user.press_and_wait("Approve", expect_edit=True)
    assert pressed.message.text == "Decision: approve:1"
    with pytest.raises(AssertionError, match="sees no button 'Nowhere'"):
        await user.press_and_wait("Nowhere", message=pressed.message)

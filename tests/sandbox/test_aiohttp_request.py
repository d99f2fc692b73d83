"""The aiohttp request the bot sends its Bot API calls with, against the stand-in over real HTTP.

It must be indistinguishable from PTB's own httpx request to everything above it: the same
messages and keyboards arrive, uploads and downloads carry the same bytes, and Telegram's
answers and failures surface as PTB's own errors (which the rate limiter, retries and the
error handler act on)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest, NetworkError, RetryAfter, TimedOut

from bot.adapter.aiohttp_request import AiohttpRequest
from bot.adapter.application import build_application
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn

USER = 42
KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("Accept", callback_data="act:acc:7")],
        [InlineKeyboardButton("Guidance", url="https://example.org/marac")],
    ]
)


@pytest.fixture
async def server() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        stand_in.driver().user(USER, "Priya Shah")
        yield stand_in


@pytest.fixture
async def bot(server: BotApiStandIn) -> AsyncIterator[Bot]:
    async with Bot(
        server.token,
        base_url=server.base_url,
        base_file_url=server.base_file_url,
        request=AiohttpRequest(),
    ) as opened:
        yield opened


async def test_a_message_with_buttons_arrives_as_sent(bot: Bot, server: BotApiStandIn) -> None:
    sent = await bot.send_message(
        USER,
        "Action NOR-2026-0001 is due Fri 11 Dec 2026 – café",
        reply_markup=KEYBOARD,
        protect_content=True,
    )
    recorded = server.chats[USER].get(sent.message_id)
    assert recorded is not None
    assert recorded.text == "Action NOR-2026-0001 is due Fri 11 Dec 2026 – café"
    assert recorded.protect_content
    accept = recorded.find_button("Accept")
    assert accept is not None and accept.callback_data == "act:acc:7"
    assert sent.reply_markup == KEYBOARD  # PTB parsed the answer as usual


async def test_an_upload_and_its_download_carry_the_same_bytes(
    bot: Bot, server: BotApiStandIn
) -> None:
    content = b"BEGIN:VCALENDAR\r\nSUMMARY:MARAC \xe2\x80\x93 Northampton\r\nEND:VCALENDAR\r\n"
    sent = await bot.send_document(
        USER, content, filename="meeting.ics", caption="Your invitation", reply_markup=KEYBOARD
    )
    recorded = server.chats[USER].get(sent.message_id)
    assert recorded is not None and recorded.document is not None
    assert recorded.document.filename == "meeting.ics"
    assert recorded.document.content == content
    assert recorded.text == "Your invitation"
    assert recorded.find_button("Accept") is not None
    assert sent.document is not None
    downloaded = await (await bot.get_file(sent.document.file_id)).download_as_bytearray()
    assert bytes(downloaded) == content


async def test_telegrams_refusals_are_ptbs_errors(bot: Bot, server: BotApiStandIn) -> None:
    server.inject_failure("sendMessage", status=400, description="Bad Request: chat not found")
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(USER, "hello")
    server.inject_failure("sendMessage", status=429, retry_after=3)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(USER, "hello")
    assert flood.value.retry_after == 3
    # The stand-in still answers afterwards: nothing was left half-open.
    assert (await bot.send_message(USER, "hello")).text == "hello"


async def test_a_slow_answer_times_out_and_a_dead_server_is_a_network_error(
    server: BotApiStandIn,
) -> None:
    request = AiohttpRequest(read_timeout=0.3, write_timeout=0.3)
    async with Bot(server.token, base_url=server.base_url, request=request) as bot:
        server.set_delay("sendMessage", 5.0)
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "slow")
        server.set_delay("sendMessage", None)
        # A timeout given for one call wins over the instance's.
        server.set_delay("sendMessage", 0.5)
        assert (await bot.send_message(USER, "patient", read_timeout=3)).text == "patient"
        server.set_delay("sendMessage", None)
        await server.stop()
        with pytest.raises(NetworkError) as down:
            await bot.send_message(USER, "anyone there?")
        assert not isinstance(down.value, TimedOut)
        assert "aiohttp." in str(down.value)


async def test_a_request_used_before_it_is_opened_says_so() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/botX/getMe", "POST")
    await request.initialize()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/botX/getMe", "POST")


async def test_the_bot_sends_every_call_and_polls_with_it(
    runtime: Runtime, server: BotApiStandIn
) -> None:
    application = build_application(runtime, token=server.token, base_url=server.url)
    # PTB keeps two requests: getUpdates' own (a pool of one) and everything else's.
    polling, calls = application.bot._request
    assert isinstance(polling, AiohttpRequest) and isinstance(calls, AiohttpRequest)
    assert application.bot.request is calls


async def test_an_egress_proxy_in_the_environment_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """Networks that reach the internet only through a proxy set HTTPS_PROXY, as for httpx."""
    seen: list[str] = []

    async def proxy(request: web.Request) -> web.Response:
        seen.append(str(request.url))
        me = {"id": 1, "is_bot": True, "first_name": "MARAC", "username": "marac_bot"}
        return web.json_response({"ok": True, "result": me})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", proxy)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    try:
        async with Bot(
            "123:ABC", base_url="http://api.telegram.invalid/bot", request=AiohttpRequest()
        ) as bot:
            assert bot.username == "marac_bot"
    finally:
        await runner.cleanup()
    assert seen and seen[0].startswith("http://api.telegram.invalid/bot123:ABC/getMe")

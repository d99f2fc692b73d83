"""The Application's bot sends and edits text replies without parsing Telegram's echo of them,
and they must arrive exactly as PTB's own calls would send them: same text, buttons and
protection, in the reader's language, with PTB's errors when Telegram refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import BadRequest

from bot import texts
from bot.adapter.application import build_application
from bot.adapter.marac_bot import MaracBot
from bot.i18n import for_reader, speaking
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn

USER = 77
MARKUP = InlineKeyboardMarkup(
    [[InlineKeyboardButton(texts.BUTTON_NEW_MEETING, callback_data="m:new")]]
)


@pytest.fixture
async def bot(runtime: Runtime) -> AsyncIterator[tuple[MaracBot, BotApiStandIn]]:
    async with BotApiStandIn() as server:
        server.driver().user(USER, "Jo Evans")
        application = build_application(
            runtime, token=server.token, base_url=server.url, rate_limit=False
        )
        assert isinstance(application.bot, MaracBot)
        async with application.bot:
            yield application.bot, server


async def test_a_reply_arrives_with_its_buttons_and_protection(
    bot: tuple[MaracBot, BotApiStandIn],
) -> None:
    marac, server = bot
    message_id = await marac.send_reply(
        USER, "Your agency has 2 open actions", MARKUP, protect=True
    )
    recorded = server.chats[USER].get(message_id)
    assert recorded is not None and recorded.from_bot
    assert recorded.text == "Your agency has 2 open actions"
    assert recorded.protect_content
    button = recorded.find_button(texts.BUTTON_NEW_MEETING)
    assert button is not None and button.callback_data == "m:new"
    plain = await marac.send_reply(USER, "Sorry, I did not understand that.")
    sent = server.chats[USER].get(plain)
    assert sent is not None and not sent.protect_content and not sent.buttons


async def test_an_edit_replaces_text_and_buttons_and_a_refusal_is_ptbs_error(
    bot: tuple[MaracBot, BotApiStandIn],
) -> None:
    marac, server = bot
    message_id = await marac.send_reply(USER, "Upcoming meetings", MARKUP)
    await marac.edit_reply(USER, message_id, "No meetings are scheduled.")
    recorded = server.chats[USER].get(message_id)
    assert recorded is not None
    assert recorded.text == "No meetings are scheduled." and not recorded.buttons
    with pytest.raises(BadRequest, match="not modified"):
        await marac.edit_reply(USER, message_id, "No meetings are scheduled.")
    with pytest.raises(BadRequest):
        await marac.edit_reply(USER, message_id + 1000, "Nothing here")


async def test_a_welsh_reader_gets_the_button_in_welsh(bot: tuple[MaracBot, BotApiStandIn]) -> None:
    marac, server = bot
    welsh = for_reader(texts.BUTTON_NEW_MEETING, "cy")
    assert welsh != texts.BUTTON_NEW_MEETING  # the catalogue translates this label
    with speaking("cy"):
        message_id = await marac.send_reply(USER, texts.NO_MEETINGS, MARKUP)
    recorded = server.chats[USER].get(message_id)
    assert recorded is not None
    assert recorded.find_button(welsh) is not None
    assert recorded.text == for_reader(texts.NO_MEETINGS, "cy")

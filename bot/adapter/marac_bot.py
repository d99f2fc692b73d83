"""The Application's bot: the reader's language at the boundary, and replies sent lean.

Why lean replies: when a message is sent or edited, Telegram answers with the whole message,
keyboard included, and PTB builds a ``Message`` from it (user, chat, every button) that our
replies then throw away. Profiling the bot under load (issue #20) put that parsing at a tenth
of the cost of answering ``/meetings`` or ``/actions``. A reply needs at most the new
message's id, so ``send_reply`` and ``edit_reply`` post through PTB's own request path (so
the rate limiter's lanes, the reader's language, timeouts and PTB's errors all apply as for
any other call) and read only that id from the answer.

Everything else (documents, the outbox's sends, calendar invitations, menus) uses PTB's
typed methods as before.
"""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardMarkup
from telegram.ext import ExtBot

from bot.adapter.language import ReaderLanguageBot


class MaracBot(ReaderLanguageBot):
    """ExtBot in the reader's language, with lean text replies."""

    __slots__ = ()

    async def send_reply(
        self,
        chat_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
        *,
        protect: bool = False,
    ) -> int:
        """``sendMessage``; returns the new message's id only."""
        result = await self._post(
            "sendMessage",
            {
                "chat_id": chat_id,
                "text": text,
                "reply_markup": markup,
                # Left out rather than sent as false, as PTB leaves out what is not set.
                "protect_content": True if protect else None,
            },
        )
        return int(result["message_id"])

    async def edit_reply(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        markup: InlineKeyboardMarkup | None = None,
    ) -> None:
        """``editMessageText`` of a message in a chat; Telegram's answer is not read."""
        await self._post(
            "editMessageText",
            {"chat_id": chat_id, "message_id": message_id, "text": text, "reply_markup": markup},
        )


def adopt(bot: ExtBot[Any]) -> MaracBot:
    """Make the ExtBot that PTB's builder made a MaracBot (it builds the ExtBot itself)."""
    if not isinstance(bot, MaracBot):
        bot.__class__ = MaracBot
    assert isinstance(bot, MaracBot)
    return bot

"""The Telegram boundary speaks the reader's language (see ``bot.i18n`` for the whole design).

Texts made by ``bot/texts.py`` functions are already in the reader's language when they get
here. Module-level texts (constants, button labels, the command menu) are English until now:
every request that carries words is rewritten just before it is sent, looking each text up
by its exact English msgid in the catalogue of the reader of this update or outbox row
(``bot.i18n.reader``). With English chosen nothing is touched, so requests stay byte-identical.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from telegram import (
    BotCommand,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from telegram.ext import ExtBot

from bot.i18n import ENGLISH, for_reader, reader

_TEXT_FIELDS: Final = ("text", "caption", "question")


def _button(button: InlineKeyboardButton, language: str) -> InlineKeyboardButton:
    label = for_reader(button.text, language)
    if label == button.text:
        return button
    made = copy.copy(button)
    with made._unfrozen():
        made.text = label
    return made


def localise_request(data: dict[str, Any], language: str) -> dict[str, Any]:
    """A copy of a Bot API request's parameters with its words in ``language``."""
    if language == ENGLISH:
        return data
    changed = dict(data)
    for field in _TEXT_FIELDS:
        value = changed.get(field)
        if isinstance(value, str):
            changed[field] = for_reader(value, language)
    markup = changed.get("reply_markup")
    if isinstance(markup, InlineKeyboardMarkup):
        changed["reply_markup"] = InlineKeyboardMarkup(
            [[_button(b, language) for b in row] for row in markup.inline_keyboard]
        )
    commands = changed.get("commands")
    if isinstance(commands, list | tuple):
        changed["commands"] = [
            BotCommand(c.command, for_reader(c.description, language))
            if isinstance(c, BotCommand)
            else c
            for c in commands
        ]
    return changed


class ReaderLanguageBot(ExtBot[Any]):
    """ExtBot whose every request is put into the reader's language just before it goes."""

    __slots__ = ()

    async def _do_post(self, endpoint: str, data: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(data, dict):
            data = localise_request(data, reader())
        return await super()._do_post(endpoint, data, *args, **kwargs)

"""The local Bot API stand-in, in parts: its core and HTTP front, the Bot API methods it
answers, and the people it plays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.sandbox.standin.common import (
    BLOCKED,
    DEFAULT_TOKEN,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CAPTION_LENGTH,
    MAX_COMMANDS,
    MAX_TEXT_LENGTH,
    MAX_UPLOAD_BYTES,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    CommandScopeKey,
)
from bot.sandbox.standin.methods import BotApiMethods
from bot.sandbox.standin.people import SimulatedPeople

if TYPE_CHECKING:
    from bot.sandbox.driver import Driver


class BotApiStandIn(BotApiMethods, SimulatedPeople):
    """Answers the Bot API methods the bot uses and records everything it is asked to do.

    All state lives in plain attributes and is mutated without awaiting in between, so test
    code in the same event loop always sees a consistent picture.
    """

    def driver(self) -> Driver:
        """The driver that plays users against this stand-in (one per stand-in)."""
        from bot.sandbox.driver import Driver

        if self._driver is None:
            self._driver = Driver(self)
        return self._driver


__all__ = [
    "BLOCKED",
    "DEFAULT_TOKEN",
    "MAX_CALLBACK_ANSWER_LENGTH",
    "MAX_CAPTION_LENGTH",
    "MAX_COMMANDS",
    "MAX_TEXT_LENGTH",
    "MAX_UPLOAD_BYTES",
    "NOT_MODIFIED",
    "QUERY_TOO_OLD",
    "BotApiStandIn",
    "CommandScopeKey",
]

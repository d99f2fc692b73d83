"""The local Bot API stand-in (``bot.sandbox.standin``), by the name the tests and demo use."""

from bot.sandbox.standin import DEFAULT_TOKEN, BotApiStandIn

__all__ = ["DEFAULT_TOKEN", "BotApiStandIn"]

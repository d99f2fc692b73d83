"""The operator's command line, ``marac-bot``: init, migrate, run, demo, policy, keys, ..."""

from bot.cli.main import main

__all__ = ["main"]

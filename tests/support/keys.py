"""What the key tests share: the transit key's name, file modes, ``marac-bot keys`` in-process."""

from __future__ import annotations

import argparse
import stat
from collections.abc import Coroutine
from pathlib import Path

from bot.cli.keys import register

TRANSIT_KEY = "marac-bot"


def file_mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def keys(*argv: str) -> int:
    """``marac-bot keys ARGV``, parsed by the real CLI parser and run on the test's loop."""
    parser = argparse.ArgumentParser(prog="marac-bot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["keys", *argv])
    result = args.handler(args)
    assert isinstance(result, Coroutine)
    code = await result
    assert isinstance(code, int)
    return code

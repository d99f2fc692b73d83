"""Running the real bot against the local Bot API stand-in (demo and end-to-end tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.adapter.application import MaracApplication, build_application
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, running_application
from bot.send_lanes import Limits


@asynccontextmanager
async def running_bot(
    runtime: Runtime, server: BotApiStandIn, *, limits: Limits | None = None
) -> AsyncIterator[MaracApplication]:
    """The same Application ``marac-bot run`` builds, polling the stand-in over HTTP.

    ``limits``: the rate limiter's figures (default: Telegram's, as in production).
    """
    application = build_application(runtime, token=server.token, base_url=server.url, limits=limits)
    async with running_application(application, poll_timeout=1):
        yield application

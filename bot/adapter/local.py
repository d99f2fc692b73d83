"""Running the real bot against the local Bot API stand-in (demo and end-to-end tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.adapter.application import MaracApplication, build_application
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, running_application
from bot.send_lanes import Limits

# The stand-in has no per-chat limit and its scripted people read every reply at once, so a
# chat's own budget refills fast here; Telegram's overall budget (30 a second) and the two lanes
# stay as in production. Per-chat pacing itself is tested on a clock the test moves
# (tests/unit/test_send_lanes.py, tests/unit/test_rate_limiter.py); with Telegram's figures a
# demo's coordinator, who receives dozens of notices, would wait 1 s for each after the 15th.
STAND_IN_LIMITS = Limits(private_rate=50.0, group_rate=50.0)


@asynccontextmanager
async def running_bot(
    runtime: Runtime, server: BotApiStandIn, *, limits: Limits | None = None
) -> AsyncIterator[MaracApplication]:
    """The same Application ``marac-bot run`` builds, polling the stand-in over HTTP.

    ``limits``: the rate limiter's figures (default: ``STAND_IN_LIMITS``).
    """
    application = build_application(
        runtime, token=server.token, base_url=server.url, limits=limits or STAND_IN_LIMITS
    )
    async with running_application(application, poll_timeout=1):
        yield application

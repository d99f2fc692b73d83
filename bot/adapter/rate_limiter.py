"""PTB's rate limiter for this bot: interactive replies first, outbox sends with what is left.

``LaneRateLimiter`` is a ``telegram.ext.BaseRateLimiter`` (the same contract as PTB's
``AIORateLimiter``, ``telegram/ext/_aioratelimiter.py``) around ``bot.send_lanes.SendSchedule``,
which decides when each call may go. A call is **bulk** when it is made inside
``bot.send_lanes.bulk_sends()`` (the outbox dispatcher sends that way) or passes
``rate_limit_args=Lane.BULK``; anything else is **interactive**.

``RetryAfter`` (Telegram's 429) stops every call through this limiter for the wait Telegram
gives (plus a tenth of a second), in both lanes; the refused call then goes again at the front
of its lane, up to ``max_retries`` times, after which the ``RetryAfter`` reaches the caller (the
dispatcher then tries the row again later). Other errors are the caller's, untouched.
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import deque
from collections.abc import Callable, Coroutine
from datetime import timedelta
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter
from telegram.warnings import PTBDeprecationWarning

from bot.send_lanes import ChatKey, Lane, Limits, SendSchedule, Ticket, current_lane

log = logging.getLogger("marac.rate_limiter")

Result = bool | dict[str, Any] | list[dict[str, Any]]
FLOOD_MARGIN = 0.1  # seconds added to Telegram's wait, as AIORateLimiter does
WAITS_KEPT = 10_000  # per lane, the most recent; for benchmarks and tests


def chat_key(chat_id: object) -> ChatKey | None:
    """The chat a call is about: an integer id, an @username as given, or None."""
    if chat_id is None:
        return None
    try:
        return int(chat_id)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return str(chat_id)


def retry_after_seconds(error: RetryAfter) -> float:
    """Telegram's wait in seconds, whether PTB gives seconds or a timedelta (PTB_TIMEDELTA)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class LaneRateLimiter(BaseRateLimiter[Lane]):
    def __init__(self, limits: Limits | None = None, *, max_retries: int = 3) -> None:
        self.schedule = SendSchedule(limits)
        self.max_retries = max_retries
        self._waiters: dict[Ticket, asyncio.Future[None]] = {}
        self._timer: asyncio.TimerHandle | None = None
        # How long calls waited for their turn (seconds), the most recent per lane.
        self.waits: dict[Lane, deque[float]] = {lane: deque(maxlen=WAITS_KEPT) for lane in Lane}

    async def initialize(self) -> None:
        """Nothing to set up: the schedule starts empty."""

    async def shutdown(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, Result]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: Lane | None,
    ) -> Result:
        lane = Lane(rate_limit_args) if rate_limit_args else current_lane()
        chat = chat_key(data.get("chat_id"))
        for attempt in range(self.max_retries + 1):
            await self._turn(lane, chat, retry=attempt > 0)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as error:
                wait = retry_after_seconds(error) + FLOOD_MARGIN
                if attempt == self.max_retries:
                    log.warning(
                        "%s (%s) refused by flood control after %d retries",
                        endpoint,
                        lane,
                        self.max_retries,
                    )
                    raise
                log.info("flood control on %s (%s): waiting %.1f s", endpoint, lane, wait)
                self.schedule.flood(asyncio.get_running_loop().time() + wait)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _turn(self, lane: Lane, chat: ChatKey | None, *, retry: bool) -> None:
        """Wait until the schedule lets this call start."""
        loop = asyncio.get_running_loop()
        submitted = loop.time()
        ticket = self.schedule.submit(lane, chat, first=retry)
        future: asyncio.Future[None] = loop.create_future()
        self._waiters[ticket] = future
        self._pump()
        try:
            await future
            self.waits[lane].append(loop.time() - submitted)
        except asyncio.CancelledError:
            self._waiters.pop(ticket, None)
            if not ticket.granted:
                self.schedule.withdraw(ticket)
                self._pump()
            raise

    def _pump(self) -> None:
        """Start whatever may start now; look again when the schedule says."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        granted, wake = self.schedule.grant(now)
        for ticket in granted:
            future = self._waiters.pop(ticket, None)
            if future is not None and not future.done():
                future.set_result(None)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if wake is not None:
            self._timer = loop.call_at(wake, self._pump)

    def waiting(self) -> int:
        """Calls waiting for their turn (for tests and benchmarks)."""
        return self.schedule.waiting()

"""The PTB rate limiter around the two-lane schedule, on the real event loop with fast limits.

Assertions are about order and about lower bounds on time (a loaded machine only makes things
later), never about how quickly something happens."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from telegram.error import BadRequest, RetryAfter

from bot.adapter.rate_limiter import FLOOD_MARGIN, LaneRateLimiter
from bot.send_lanes import Lane, Limits, Ticket, bulk_sends

# 20 calls a tenth of a second (a bulk send every 5 ms); a chat's budget refills in 20 ms.
FAST = Limits(overall=20, overall_period=0.1, private_rate=1000.0)


class Telegram:
    """Stands in for PTB's request callback: records who was sent, when, in what order."""

    def __init__(self, limiter: LaneRateLimiter) -> None:
        self.limiter = limiter
        self.sent: list[str] = []
        self.times: dict[str, list[float]] = {}
        self.waiting_at: dict[str, int] = {}
        self.floods: dict[str, list[float]] = {}  # label -> retry_after (seconds) to raise, in turn
        self.calls = Counter[str]()
        self.started = asyncio.Event()

    async def callback(self, label: str) -> dict[str, Any]:
        self.calls[label] += 1
        self.times.setdefault(label, []).append(asyncio.get_running_loop().time())
        self.started.set()
        waits = self.floods.get(label)
        if waits:
            raise RetryAfter(timedelta(seconds=waits.pop(0)))
        if label.startswith("bad"):
            raise BadRequest("Message is too long")
        self.waiting_at[label] = self.limiter.waiting()
        self.sent.append(label)
        return {"ok": label}

    async def send(
        self, label: str, chat: int | None, *, lane: Lane | None = None
    ) -> dict[str, Any] | bool | list[dict[str, Any]]:
        data: dict[str, Any] = {} if chat is None else {"chat_id": chat}
        return await self.limiter.process_request(
            self.callback, (label,), {}, "sendMessage", data, lane
        )


async def test_a_reply_overtakes_the_bulk_backlog_that_was_queued_before_it() -> None:
    limiter = LaneRateLimiter(FAST)
    telegram = Telegram(limiter)

    async def outbox() -> None:
        with bulk_sends():
            await asyncio.gather(*(telegram.send(f"bulk {n}", 1000 + n) for n in range(60)))

    backlog = asyncio.create_task(outbox())
    while len(telegram.sent) < 5:  # the backlog is draining
        telegram.started.clear()
        await telegram.started.wait()
    assert await telegram.send("reply", 42) == {"ok": "reply"}
    # When the reply went, most of the backlog was still waiting behind it.
    assert telegram.waiting_at["reply"] >= 40
    await backlog
    assert sorted(telegram.sent) == sorted(["reply", *(f"bulk {n}" for n in range(60))])


async def test_rate_limit_args_put_a_call_in_the_bulk_lane() -> None:
    limiter = LaneRateLimiter(Limits(overall=1, overall_period=0.05))
    telegram = Telegram(limiter)
    first = asyncio.create_task(telegram.send("first", 1))
    await telegram.started.wait()
    queued = [
        asyncio.create_task(telegram.send(f"bulk {n}", 10 + n, lane=Lane.BULK)) for n in range(3)
    ]
    reply = asyncio.create_task(telegram.send("reply", 2))
    await asyncio.gather(first, reply, *queued)
    assert telegram.sent == ["first", "reply", "bulk 0", "bulk 1", "bulk 2"]


async def test_the_overall_budget_is_never_outrun() -> None:
    limits = Limits(overall=10, overall_period=0.1)
    limiter = LaneRateLimiter(limits)
    telegram = Telegram(limiter)
    granted_at: list[float] = []
    grant = limiter.schedule.grant

    def noting(now: float) -> tuple[list[Ticket], float | None]:
        granted, wake = grant(now)
        granted_at.extend(now for ticket in granted if ticket.chat is not None)
        return granted, wake

    limiter.schedule.grant = noting  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    began = loop.time()

    async def outbox() -> None:
        with bulk_sends():
            await asyncio.gather(*(telegram.send(f"bulk {n}", 1000 + n) for n in range(30)))

    await asyncio.gather(outbox(), *(telegram.send(f"reply {n}", 2000 + n) for n in range(30)))
    # 60 calls at 10 per 0.1 s: the first 10 at once, the last no sooner than 0.5 s later.
    assert loop.time() - began >= 0.5 - 0.01
    assert len(granted_at) == 60
    for i in range(len(granted_at) - limits.overall):
        # Any 11 starts span more than one period.
        assert granted_at[i + limits.overall] - granted_at[i] >= limits.overall_period - 1e-6


async def test_one_chat_is_paced_in_both_lanes() -> None:
    limits = Limits(
        overall=100,
        overall_period=0.1,
        private_rate=20.0,
        private_burst=2,
        pace_private_replies=True,  # as groups always are
    )
    limiter = LaneRateLimiter(limits)
    telegram = Telegram(limiter)
    loop = asyncio.get_running_loop()
    began = loop.time()
    await asyncio.gather(*(telegram.send(f"reply {n}", 42) for n in range(6)))
    # A burst of 2, then 20 a second: the last of 6 no earlier than 4 / 20 s in.
    assert telegram.times["reply 5"][0] - began >= 4 / 20 - 0.01
    began = loop.time()
    with bulk_sends():
        await asyncio.gather(*(telegram.send(f"bulk {n}", 43) for n in range(3)))
    # Bulk waits for a full budget each time: one per 1/20 s, after the first.
    assert telegram.times["bulk 2"][0] - telegram.times["bulk 0"][0] >= 2 / 20 - 0.01


@pytest.mark.parametrize("lane", [Lane.INTERACTIVE, Lane.BULK])
async def test_retry_after_is_waited_out_by_everyone_then_the_call_is_retried(
    lane: Lane,
) -> None:
    limiter = LaneRateLimiter(FAST, max_retries=3)
    telegram = Telegram(limiter)
    telegram.floods["refused"] = [0.2]
    refused = asyncio.create_task(telegram.send("refused", 1, lane=lane))
    await telegram.started.wait()
    refused_at = telegram.times["refused"][0]
    # While the flood wait is in force nothing goes, in either lane, with or without a chat.
    others = [
        asyncio.create_task(telegram.send("reply", 2)),
        asyncio.create_task(telegram.send("answer", None)),
        asyncio.create_task(telegram.send("bulk", 3, lane=Lane.BULK)),
    ]
    assert await refused == {"ok": "refused"}
    await asyncio.gather(*others)
    assert telegram.calls["refused"] == 2
    assert telegram.times["refused"][1] - refused_at >= 0.2 + FLOOD_MARGIN - 0.01
    for label in ("reply", "answer", "bulk"):
        assert telegram.calls[label] == 1
        assert telegram.times[label][0] - refused_at >= 0.2 + FLOOD_MARGIN - 0.01


@pytest.mark.parametrize("lane", [Lane.INTERACTIVE, Lane.BULK])
async def test_retry_after_past_the_retries_reaches_the_caller(lane: Lane) -> None:
    limiter = LaneRateLimiter(FAST, max_retries=2)
    telegram = Telegram(limiter)
    telegram.floods["refused"] = [0.01, 0.01, 0.01, 0.01]
    with pytest.raises(RetryAfter):
        await telegram.send("refused", 1, lane=lane)
    assert telegram.calls["refused"] == 3  # the first try and two retries
    assert await telegram.send("next", 1, lane=lane) == {"ok": "next"}


async def test_other_errors_are_the_callers_and_nothing_is_sent_twice() -> None:
    limiter = LaneRateLimiter(FAST)
    telegram = Telegram(limiter)
    with pytest.raises(BadRequest):
        await telegram.send("bad request", 1)
    assert telegram.calls["bad request"] == 1

    telegram.floods = {f"bulk {n}": [0.05] for n in range(0, 40, 13)}

    async def outbox() -> None:
        with bulk_sends():
            await asyncio.gather(*(telegram.send(f"bulk {n}", 1000 + n) for n in range(40)))

    await asyncio.gather(outbox(), *(telegram.send(f"reply {n}", 2000 + n) for n in range(40)))
    assert Counter(telegram.sent) == Counter(
        [*(f"bulk {n}" for n in range(40)), *(f"reply {n}" for n in range(40))]
    )
    assert limiter.waiting() == 0


async def test_a_call_given_up_while_waiting_is_never_made() -> None:
    limiter = LaneRateLimiter(Limits(overall=1, overall_period=10.0))
    telegram = Telegram(limiter)
    await telegram.send("first", 1)
    stuck = asyncio.create_task(telegram.send("given up", 2))
    await asyncio.sleep(0)  # one step: the task submits its call and waits for its turn
    assert limiter.waiting() == 1
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    assert limiter.waiting() == 0
    assert telegram.calls["given up"] == 0
    await limiter.shutdown()

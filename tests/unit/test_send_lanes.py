"""The two-lane schedule on a clock the test moves: who goes when, within Telegram's limits."""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from bot.send_lanes import Lane, Limits, SendSchedule, Ticket, bulk_sends, current_lane

GROUP = -100_200


@dataclass(frozen=True)
class Call:
    at: float  # when it is submitted
    lane: Lane
    chat: int | str | None
    label: str


def run(
    schedule: SendSchedule, calls: Sequence[Call], *, until: float = 1000.0
) -> list[tuple[float, str]]:
    """Submit each call at its moment and start what the schedule grants, moving the clock to
    whichever comes first: the next submission or the schedule's next wake. Returns (start
    time, label) in start order."""
    pending = sorted(calls, key=lambda c: c.at)
    labels: dict[Ticket, str] = {}
    started: list[tuple[float, str]] = []
    now = 0.0
    while now <= until:
        while pending and pending[0].at <= now:
            call = pending.pop(0)
            labels[schedule.submit(call.lane, call.chat)] = call.label
        granted, wake = schedule.grant(now)
        started.extend((now, labels[t]) for t in granted)
        moments = [m for m in (wake, pending[0].at if pending else None) if m is not None]
        if not moments:
            break
        now = max(now, min(moments))
    return started


def most_in_any_window(times: Sequence[float], period: float) -> int:
    ordered = sorted(times)
    best, low = 0, 0
    for high, at in enumerate(ordered):
        while at - ordered[low] >= period - 1e-9:
            low += 1
        best = max(best, high - low + 1)
    return best


def bulk(count: int, *, at: float = 0.0, first_chat: int = 1000) -> list[Call]:
    return [Call(at, Lane.BULK, first_chat + n, f"bulk {n}") for n in range(count)]


def test_bulk_alone_goes_out_evenly_at_the_overall_rate() -> None:
    started = run(SendSchedule(), bulk(300))
    times = [at for at, _ in started]
    assert len(started) == 300
    assert most_in_any_window(times, 1.0) == 30
    assert times[-1] == pytest.approx(299 / 30)  # no slower than the budget either
    assert [label for _, label in started] == [f"bulk {n}" for n in range(300)]


def test_an_interactive_reply_overtakes_a_queued_bulk_backlog() -> None:
    calls = [*bulk(300), Call(2.5, Lane.INTERACTIVE, 42, "reply")]
    started = run(SendSchedule(), calls)
    (reply_at,) = [at for at, label in started if label == "reply"]
    bulk_before = sum(1 for at, label in started if label != "reply" and at <= reply_at)
    assert reply_at - 2.5 <= 1 / 30  # the next free slot, not the end of the backlog
    assert bulk_before <= 2.5 * 30 + 2
    assert most_in_any_window([at for at, _ in started], 1.0) <= 30


def test_interactive_bursts_into_free_slots_but_never_past_the_overall_limit() -> None:
    replies = [Call(0.0, Lane.INTERACTIVE, 5000 + n, f"reply {n}") for n in range(100)]
    started = run(SendSchedule(), [*bulk(100), *replies])
    times = [at for at, _ in started]
    assert len(started) == 200
    assert most_in_any_window(times, 1.0) == 30
    # Every reply before any bulk send: bulk only takes what replies leave.
    order = [label for _, label in started]
    assert order[:100] == [f"reply {n}" for n in range(100)]


def test_replies_in_a_private_chat_follow_the_persons_pace_and_bulk_waits_for_them() -> None:
    replies = [Call(0.0, Lane.INTERACTIVE, 42, f"reply {n}") for n in range(25)]
    started = run(SendSchedule(), [*replies, Call(0.0, Lane.BULK, 42, "reminder")])
    at = {label: when for when, label in started}
    assert [at[f"reply {n}"] for n in range(25)] == [0.0] * 25  # more than the chat's 20
    # The chat's budget is spent: the reminder waits until 6 of its 20 are back.
    assert at["reminder"] == pytest.approx(6.0)


def test_a_private_chat_gets_a_burst_then_one_a_second() -> None:
    limits = Limits(pace_private_replies=True)
    calls = [Call(0.0, Lane.INTERACTIVE, 42, f"reply {n}") for n in range(limits.private_burst + 5)]
    times = [at for at, _ in run(SendSchedule(limits), calls)]
    assert times[: limits.private_burst] == [0.0] * limits.private_burst
    gaps = [b - a for a, b in itertools.pairwise(times[limits.private_burst - 1 :])]
    assert gaps == pytest.approx([1.0] * 5)


def test_a_group_gets_twenty_a_minute() -> None:
    calls = [Call(0.0, Lane.INTERACTIVE, GROUP, f"reply {n}") for n in range(23)]
    times = [at for at, _ in run(SendSchedule(), calls)]
    assert times[:20] == [0.0] * 20
    assert [b - a for a, b in itertools.pairwise(times[19:])] == pytest.approx([3.0] * 3)


def test_bulk_to_one_chat_keeps_its_budget_and_leaves_a_busy_person_some() -> None:
    # 15 of the chat's 20 at once (evenly spaced overall), then one a second.
    reminders = [Call(0.0, Lane.BULK, 42, f"reminder {n}") for n in range(18)]
    times = [at for at, _ in run(SendSchedule(), reminders)]
    assert times[:15] == pytest.approx([n / 30 for n in range(15)])
    assert times[15:] == pytest.approx([1.0, 2.0, 3.0], abs=1e-6)

    # Eighteen quick replies leave the person's chat 2 of its 20: a reminder to them waits
    # until 6 are back (5 stay theirs), while reminders to others go on.
    replies = [Call(0.0, Lane.INTERACTIVE, 42, f"reply {n}") for n in range(18)]
    started = run(
        SendSchedule(), [*replies, Call(0.0, Lane.BULK, 42, "reminder"), *bulk(3, at=0.0)]
    )
    at = dict((label, when) for when, label in started)
    assert at["reminder"] == pytest.approx(4.0)
    assert max(at[f"bulk {n}"] for n in range(3)) < 1.0


def test_calls_without_a_chat_are_not_held_but_wait_out_a_flood() -> None:
    schedule = SendSchedule(Limits(overall=1))
    first = schedule.submit(Lane.INTERACTIVE, 1)
    second = schedule.submit(Lane.INTERACTIVE, 2)
    answer = schedule.submit(Lane.INTERACTIVE, None)
    granted, wake = schedule.grant(0.0)
    assert granted == [first, answer] and wake == pytest.approx(1.0)

    schedule.flood(5.0)
    later = schedule.submit(Lane.INTERACTIVE, None)
    assert schedule.grant(1.0) == ([], 5.0)
    assert schedule.grant(4.99) == ([], 5.0)
    assert schedule.grant(5.0) == ([second, later], None)


def test_during_a_flood_wait_nothing_starts_in_either_lane_and_a_retry_goes_first() -> None:
    schedule = SendSchedule()
    waiting_bulk = schedule.submit(Lane.BULK, 7)
    waiting_reply = schedule.submit(Lane.INTERACTIVE, 8)
    schedule.flood(2.0)
    retried_reply = schedule.submit(Lane.INTERACTIVE, 9, first=True)
    retried_bulk = schedule.submit(Lane.BULK, 10, first=True)
    assert schedule.grant(0.0) == ([], 2.0)
    assert schedule.grant(1.9) == ([], 2.0)
    granted, _ = schedule.grant(2.0)
    assert granted == [retried_reply, waiting_reply, retried_bulk]
    granted, _ = schedule.grant(2.0 + 1 / 30)
    assert granted == [waiting_bulk]


def test_a_withdrawn_ticket_never_starts() -> None:
    schedule = SendSchedule(Limits(overall=1))
    schedule.submit(Lane.BULK, 1)
    gone = schedule.submit(Lane.BULK, 2)
    kept = schedule.submit(Lane.BULK, 3)
    schedule.grant(0.0)
    schedule.withdraw(gone)
    assert schedule.grant(1.0)[0] == [kept]
    assert schedule.grant(2.0) == ([], None)


def test_a_mixed_load_starts_everything_exactly_once_within_every_limit() -> None:
    calls = [
        *bulk(400),
        *(Call(n * 0.05, Lane.INTERACTIVE, 2000 + n % 20, f"reply {n}") for n in range(200)),
        *(Call(n * 0.1, Lane.BULK, 2000 + n % 20, f"chase {n}") for n in range(100)),
        *(Call(n * 0.2, Lane.INTERACTIVE, None, f"answer {n}") for n in range(50)),
    ]
    started = run(SendSchedule(Limits(pace_private_replies=True)), calls)
    counts = Counter(label for _, label in started)
    assert set(counts) == {c.label for c in calls} and set(counts.values()) == {1}
    chat_of = {c.label: c.chat for c in calls}
    with_chat = [at for at, label in started if chat_of[label] is not None]
    assert most_in_any_window(with_chat, 1.0) <= 30
    for chat in range(2000, 2020):
        times = sorted(at for at, label in started if chat_of[label] == chat)
        # The bucket: never more than 20 + one a second in any stretch of time.
        for i, begin in enumerate(times):
            for j in range(i, len(times)):
                assert j - i + 1 <= 20 + (times[j] - begin) * 1.0 + 1e-6


async def test_bulk_sends_marks_the_calls_of_its_block_only() -> None:
    async def lane() -> Lane:
        await asyncio.sleep(0)
        return current_lane()

    assert current_lane() is Lane.INTERACTIVE
    with bulk_sends():
        assert await lane() is Lane.BULK
        assert await asyncio.create_task(lane()) is Lane.BULK  # a task started inside inherits it
    assert await lane() is Lane.INTERACTIVE
    assert await asyncio.create_task(lane()) is Lane.INTERACTIVE

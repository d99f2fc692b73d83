"""When each Bot API call may go: two lanes under Telegram's limits, with no Telegram in sight.

Telegram allows a bot about 30 messages a second overall, about one a second in one private
chat (short bursts are tolerated) and 20 a minute in one group. Every call that names a chat
counts against the overall budget and that chat's (a token bucket). Two kinds of call share
them:

* **interactive**: the answer to a person's own message or button press (the handler's replies,
  edits, callback answers). A person is waiting, so these go first; in a group they keep to
  the group's budget, in a private chat to the person's own pace (``pace_private_replies``).
* **bulk**: what the outbox sends (reminders, chases, digests, notifications to other people).
  Nobody is watching the clock to the second, so bulk takes whatever interactive leaves of the
  overall budget, evenly spaced, and into one chat within the chat's budget, leaving the person
  some of it for their own replies.

``SendSchedule`` is the pure decision: callers ``submit`` a ticket, and ``grant(now)`` says which
waiting tickets may start now and when to look again. Time is a float of seconds from whatever
monotonic source the caller injects (tests pass their own). ``bot.adapter.rate_limiter`` wraps it
in PTB's ``BaseRateLimiter``; which lane a call is in comes from ``rate_limit_args`` or from the
context variable that ``bulk_sends()`` sets while the outbox dispatcher sends.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum

# Float time: a start this close to its moment counts as on time (no timer for a rounding error).
EPSILON = 1e-6


class Lane(StrEnum):
    INTERACTIVE = "interactive"
    BULK = "bulk"


_LANE: contextvars.ContextVar[Lane] = contextvars.ContextVar("send_lane", default=Lane.INTERACTIVE)


def current_lane() -> Lane:
    """The lane of calls made here: bulk inside ``bulk_sends()``, otherwise interactive."""
    return _LANE.get()


@contextlib.contextmanager
def bulk_sends() -> Iterator[None]:
    """Every Bot API call awaited in this block (in this task) goes in the bulk lane."""
    token = _LANE.set(Lane.BULK)
    try:
        yield
    finally:
        _LANE.reset(token)


@dataclass(frozen=True)
class Limits:
    """Telegram's limits as this bot keeps them (``telegram.constants.FloodLimit``'s figures)."""

    overall: int = 30  # calls with a chat, in any ``overall_period`` seconds
    overall_period: float = 1.0
    private_rate: float = 1.0  # a private chat's budget refills at this many calls a second
    private_burst: int = 20  # and holds at most this many (a person clicking through a form)
    group_rate: float = 20 / 60  # groups (negative ids, @usernames): 20 a minute
    group_burst: int = 20
    # Bulk leaves a chat this much of its budget for the person's own replies.
    bulk_leaves: int = 5
    # Hold a person's own answers in a private chat to that chat's budget too. Off: they follow
    # the person's own pace (one answer per message or press) and still count against the
    # chat's budget, so bulk waits for a busy person; Telegram tolerates bursts in private
    # chats, and a RetryAfter, should one come, is waited out. Groups are always paced.
    pace_private_replies: bool = False

    @property
    def bulk_spacing(self) -> float:
        """Bulk sends are spread evenly, so a free overall slot is never far off for a reply."""
        return self.overall_period / self.overall


class Window:
    """At most ``limit`` starts in any ``period`` seconds (a sliding window of start times)."""

    def __init__(self, limit: int, period: float) -> None:
        self.limit = limit
        self.period = period
        self._starts: deque[float] = deque()

    def free_at(self, now: float) -> float:
        """The earliest moment (``now`` or later) at which one more start stays within limits."""
        while self._starts and self._starts[0] <= now - self.period + EPSILON:
            self._starts.popleft()
        if len(self._starts) < self.limit:
            return now
        return self._starts[-self.limit] + self.period

    def record(self, now: float) -> None:
        self._starts.append(now)


class Bucket:
    """A token bucket: ``burst`` calls at once, refilled at ``rate`` a second."""

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._at = now

    def tokens(self, now: float) -> float:
        return min(float(self.burst), self._tokens + (now - self._at) * self.rate)

    def ready_at(self, now: float, need: float) -> float:
        """When the bucket will hold ``need`` tokens (``now`` if it already does)."""
        have = self.tokens(now)
        if have >= need - EPSILON:
            return now
        return now + (need - have) / self.rate

    def take(self, now: float) -> None:
        """One call; an unpaced one may find the bucket empty, and leaves it empty."""
        self._tokens = max(self.tokens(now) - 1.0, 0.0)
        self._at = now

    def full(self, now: float) -> bool:
        return self.tokens(now) >= self.burst


ChatKey = int | str


@dataclass(eq=False)
class Ticket:
    """One call waiting for its turn; ``chat`` is None for calls that name no chat."""

    lane: Lane
    chat: ChatKey | None
    granted: bool = field(default=False)


def is_group(chat: ChatKey) -> bool:
    return isinstance(chat, str) or chat < 0


class SendSchedule:
    """Which waiting calls may start now, and when to look again."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._overall = Window(self.limits.overall, self.limits.overall_period)
        self._chats: dict[ChatKey, Bucket] = {}
        self._queues: dict[Lane, deque[Ticket]] = {lane: deque() for lane in Lane}
        self._bulk_due = -math.inf
        self._flood_until = -math.inf

    # -- callers ------------------------------------------------------------------------------

    def submit(self, lane: Lane, chat: ChatKey | None, *, first: bool = False) -> Ticket:
        """Queue a call at the back of its lane, or (a retry) at the front."""
        ticket = Ticket(lane, chat)
        if first:
            self._queues[lane].appendleft(ticket)
        else:
            self._queues[lane].append(ticket)
        return ticket

    def withdraw(self, ticket: Ticket) -> None:
        """The caller gave up before its turn came."""
        with contextlib.suppress(ValueError):
            self._queues[ticket.lane].remove(ticket)

    def flood(self, until: float) -> None:
        """Telegram said "retry after": nothing at all starts before ``until``."""
        self._flood_until = max(self._flood_until, until)

    def flood_until(self) -> float:
        return self._flood_until

    def waiting(self, lane: Lane | None = None) -> int:
        if lane is None:
            return sum(len(queue) for queue in self._queues.values())
        return len(self._queues[lane])

    # -- the decision -------------------------------------------------------------------------

    def grant(self, now: float) -> tuple[list[Ticket], float | None]:
        """Start every ticket that may start at ``now``, interactive first; also returns the
        next moment something waiting could start (None when nothing waits)."""
        if not self.waiting():
            return [], None
        if now < self._flood_until:
            return [], self._flood_until
        granted: list[Ticket] = []
        wake = math.inf
        for lane in (Lane.INTERACTIVE, Lane.BULK):
            queue = self._queues[lane]
            kept: deque[Ticket] = deque()
            while queue:
                ticket = queue.popleft()
                at = self._ready_at(ticket, now)
                if at <= now + EPSILON:
                    self._start(ticket, now)
                    granted.append(ticket)
                else:
                    kept.append(ticket)
                    wake = min(wake, at)
            self._queues[lane] = kept
        self._forget_idle_chats(now)
        return granted, (wake if self.waiting() else None)

    def _ready_at(self, ticket: Ticket, now: float) -> float:
        if ticket.chat is None:
            return now  # no chat, no message: answerCallbackQuery, getMe, setMyCommands
        at = self._overall.free_at(now)
        bucket = self._chats.get(ticket.chat)
        if ticket.lane is Lane.BULK:
            at = max(at, self._bulk_due)
            if bucket is not None:
                # A person busy with the bot keeps some of their chat's budget for the answers
                # they are waiting for.
                leave = min(self.limits.bulk_leaves, bucket.burst - 1)
                at = max(at, bucket.ready_at(now, leave + 1))
        elif bucket is not None and (is_group(ticket.chat) or self.limits.pace_private_replies):
            at = max(at, bucket.ready_at(now, 1.0))
        return at

    def _start(self, ticket: Ticket, now: float) -> None:
        ticket.granted = True
        if ticket.chat is None:
            return
        self._overall.record(now)
        bucket = self._chats.get(ticket.chat)
        if bucket is None:
            limits = self.limits
            if is_group(ticket.chat):
                bucket = Bucket(limits.group_rate, limits.group_burst, now)
            else:
                bucket = Bucket(limits.private_rate, limits.private_burst, now)
            self._chats[ticket.chat] = bucket
        bucket.take(now)
        if ticket.lane is Lane.BULK:
            # The next bulk slot is one spacing on; a start a little late (a busy event loop)
            # does not push every later one back, a start after a pause begins afresh.
            spacing = self.limits.bulk_spacing
            on_time = now - self._bulk_due < spacing
            self._bulk_due = (self._bulk_due if on_time else now) + spacing

    def _forget_idle_chats(self, now: float) -> None:
        """A chat whose budget is full again is as good as a new one: keep the table small."""
        if len(self._chats) <= 1024:
            return
        waiting = {t.chat for queue in self._queues.values() for t in queue}
        for chat in [c for c, b in self._chats.items() if b.full(now) and c not in waiting]:
            del self._chats[chat]

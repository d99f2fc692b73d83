"""Updates from different people handled side by side; one person's updates strictly in turn.

Handling one update at a time makes every person wait for everyone else's Bot API calls and
database statements. Against Telegram's servers a call takes tens of milliseconds, so one
update at a time caps the whole bot at roughly ten updates a second however fast the code is.

One person's updates must still be handled in the order they were sent: a referral's answers,
a press and the note typed after it, and the conversation state and ``user_data`` each update
reads and writes. So every update waits for the ones before it from the same chat (its lock,
first come first served), and only then for one of ``handled_at_once`` free slots;
taking the slot second means a person with several updates queued never holds slots that
other people's updates could use.

Across people, what two updates can race over is already guarded where it is stored: an
action row is locked before its steps are read, the audit chain's head row serialises
appends, and SQLite's single pooled connection runs one transaction at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from collections.abc import Awaitable
from typing import Any

from telegram import Update

from bot.adapter.metrics import METRICS, Metrics, TimedUpdateProcessor


class _ChatTurn:
    """A chat's lock, and how many of its updates hold it or wait for it."""

    __slots__ = ("lock", "waiting")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.waiting = 0


def chat_of(update: object) -> int | None:
    """Whose turn an update takes: its chat, else its sender; None for neither."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    if update.effective_user is not None:
        return update.effective_user.id
    return None


# PTB's own semaphore, taken before ours, only bounds how many updates are in hand (waiting
# for their chat's turn or a slot); the limit that matters is ``handled_at_once``.
IN_HAND_LIMIT = 1000


class ChatOrderedUpdateProcessor(TimedUpdateProcessor):
    """Up to ``handled_at_once`` updates at once, never two of the same chat; each timed."""

    __slots__ = ("_slots", "_turns", "_waiting", "handled_at_once")

    def __init__(self, handled_at_once: int = 8, metrics: Metrics | None = None) -> None:
        if handled_at_once < 1:
            raise ValueError("handled_at_once must be at least 1")
        # One at a time stays PTB's inline path: no task per update at all.
        super().__init__(IN_HAND_LIMIT if handled_at_once > 1 else 1, metrics)
        self.handled_at_once = handled_at_once
        self._slots = asyncio.Semaphore(handled_at_once)
        self._turns: dict[int, _ChatTurn] = {}
        self._waiting = 0

    def _note_waiting(self, change: int) -> None:
        self._waiting += change
        (self._metrics or METRICS).updates_waiting.set(self._waiting)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat = chat_of(update)
        turn = None
        if chat is not None:
            turn = self._turns.get(chat)
            if turn is None:
                turn = self._turns[chat] = _ChatTurn()
            turn.waiting += 1
        started = False
        self._note_waiting(+1)
        try:
            async with contextlib.AsyncExitStack() as held:
                if turn is not None:
                    await held.enter_async_context(turn.lock)
                await held.enter_async_context(self._slots)
                started = True
                self._note_waiting(-1)
                await super().do_process_update(update, coroutine)
        finally:
            if not started:
                self._note_waiting(-1)
                if inspect.iscoroutine(coroutine):
                    coroutine.close()  # cancelled while waiting its turn (shutdown): never run
            if turn is not None and chat is not None:
                turn.waiting -= 1
                if turn.waiting == 0:
                    # Forgotten once idle, so the table holds only chats with updates in hand.
                    self._turns.pop(chat, None)

    @property
    def chats_in_hand(self) -> int:
        """Chats with an update being handled or waiting for its turn."""
        return len(self._turns)

"""Failover helpers: a bot instance of its own, waiting for a condition, a referral finished."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable

from bot.adapter.application import MaracApplication, build_application
from bot.adapter.leader import LeaderLease, StopUpdates, run_as_leader
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, SimulatedUser
from bot.sandbox.scenarios import Referral, press, say

POLL = 0.2  # standby poll and leader check interval here (5 s each in production)


TAKEOVER_LIMIT = 30.0  # what the issue promises


REFERENCE = re.compile(r"\b([A-Z]{3}\d?-\d{4}-\d{4})\b")


class Instance:
    """A bot instance in this process: its own runtime, lease and run_as_leader loop."""

    def __init__(self, runtime: Runtime, server: BotApiStandIn) -> None:
        self.runtime = runtime
        self.server = server
        self.lease = LeaderLease(runtime.settings.database_url)
        self.stop = asyncio.Event()
        self.activations: list[float] = []  # monotonic times it became active
        self.app: MaracApplication | None = None
        self.task: asyncio.Task[None] | None = None
        self.updates_stopped = 0

    async def make_app(self) -> MaracApplication:
        self.activations.append(time.monotonic())
        self.app = build_application(
            self.runtime, token=self.server.token, base_url=self.server.url
        )
        return self.app

    async def poll_fast(self, application: MaracApplication) -> StopUpdates:
        """Short long-polls, as the other end-to-end tests use; counts the stops it is asked for."""
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0.0, timeout=1)

        async def stopping() -> None:
            self.updates_stopped += 1

        return stopping

    def start(self) -> None:
        self.task = asyncio.create_task(
            run_as_leader(
                self.make_app,
                self.lease,
                stop=self.stop,
                poll_seconds=POLL,
                check_seconds=POLL,
                start_updates=self.poll_fast,
            )
        )

    @property
    def polling(self) -> bool:
        return bool(self.app and self.app.updater and self.app.updater.running)

    async def close(self) -> None:
        self.stop.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 15)


async def eventually(
    condition: Callable[[], object], what: str, limit: float = TAKEOVER_LIMIT
) -> float:
    """Poll a condition no stand-in event signals; returns when it held (monotonic)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit} s waiting for {what}")
        await asyncio.sleep(0.01)
    return time.monotonic()


async def finish_referral(user: SimulatedUser) -> str:
    """The rest of ``make_referral`` after the contact details; submits, returns the reference."""
    referral = Referral()
    await press(user, "Yes")  # aware
    await press(user, "Yes")  # consent
    await press(user, "I have a completed checklist")
    await press(user, referral.form)
    await say(user, referral.checklist)
    criterion = await press(user, "That is right")
    await press(user, criterion.buttons[0][0].text)
    await say(user, referral.victim)
    await say(user, referral.victim_dob)
    await say(user, "none")
    await say(user, "12 Elm Road, Northampton")
    await press(user, "Female")
    await press(user, "No")
    await press(user, "No")
    await press(user, "Not known")
    await say(user, referral.perpetrator)
    await say(user, "01/01/1985")
    await say(user, referral.perpetrator_address)
    await press(user, "Ex-partner")
    await say(user, referral.children)
    await say(user, referral.summary)
    await press(user, "No")  # not urgent
    review = await press(user, referral.story_choice)  # strangulation mentioned, answered no
    # Answered before the crash, to the other process: still in the draft.
    assert "Safe to contact: yes; victim aware: yes; consent: yes" in (review.text or "")
    result = await user.press_and_wait("Submit referral", expect_edit=True)
    match = REFERENCE.search(result.message.text or "")
    assert match, result.message.text
    return match.group(1)

"""Throughput: the real Application under a mixed load, against a minimal echo bot.

Run from the project root::

    /work/venv/bin/python -m bench.throughput                    # 100,000 cases, 2,000 updates
    /work/venv/bin/python -m bench.throughput --cases 5000 --updates 300 --users 30   # quick
    /work/venv/bin/python -m bench.throughput --database postgresql

Goals (from the issue; reported, never asserted): our updates per second at least half of the
echo bot's, and p99 handler latency under 50 ms on this machine.

What the benchmark does
-----------------------
1. A fresh SQLite file (or a throwaway PostgreSQL database ``marac_load_<pid>``) is seeded by
   ``bench.seed`` in a child process with ``--cases`` cases and everything around them (one
   data key per case, real ``Vault.seal`` output, history, meetings, actions, audit events: see
   that module). ``--users`` people are enrolled: a tenth coordinators, the rest agency reps
   spread over 11 agencies. Each agency has enough open, assigned actions for its reps' presses.
2. Each user gets a plan of ``--updates / --users`` updates, drawn at random (fixed seed) from
   the kinds their role can do, weighted by ``--mix``:

   * ``confirm``: an agency rep presses *Accept* under an "action assigned" notification
     (``act:acc:<id>``): ``ActionService.move``, then the press is answered and the message
     edited. The notifications are sent before timing starts, as the outbox dispatcher would.
   * ``actions``: an agency rep sends ``/actions``: ``ActionService.open_for_agency`` and
     ``perpetrator_referrals``, a protected message with a button per open action.
   * ``case``: ``/case <reference>`` with decryption: a rep opens a case they referred (so the
     identifying details are opened for them), a coordinator any case; one data key unwrap and
     five field openings per card, plus an audit event.
   * ``referral``: one step of ``/refer``: the user walks the whole form (typed answers and
     button presses, as ``bot.sandbox.scenarios.make_referral`` does) step by step, one step per
     update; after the review screen they discard the draft and start again. Every step opens
     and re-seals the draft. Referrals are never submitted: submission queues notifications to
     every coordinator, whose messages would interleave with the coordinators' own replies.

   * ``meetings`` and ``help`` (not in the default mix): ``/meetings`` lists the upcoming
     meetings; ``/help`` lists the person's commands (and sets the chat's command menu when it
     changed). With ``text`` and ``actions`` they are the mix of issue #20's cost figure.

   * ``text`` (not in the default mix): a line of text outside any dialogue, answered with
     "Sorry, I did not understand that": only what every update costs (the guard recognising
     the person, one statement, one reply and the persistence write-through).

   Coordinators may not use ``/actions`` or action buttons, so they only do ``case``,
   ``referral`` and ``text``. The mix actually played is printed.
3. Each bot runs its Application in its own child process (``python -m bench.throughput_bot``,
   started by this one, reporting every finished update on a pipe); the Bot API stand-in, the
   load and all the checks on the transcript stay in this process, as in issue #20, where the
   bot talked to a Bot API server in its own process. The real Application
   (``bot.adapter.application.build_application``: every handler, the database persistence and
   its write-through handler, with a runtime opened as ``marac-bot run`` opens it) polls a fresh
   ``BotApiStandIn`` over HTTP on 127.0.0.1 exactly as ``bot.adapter.local.running_bot`` does,
   except that it is built with ``rate_limit=False``: PTB's ``AIORateLimiter`` allows 30
   requests a second overall and would cap both bots at the limiter, not at their own speed.
   ``--rate-limit`` builds both with it.
   The housekeeping and morning-digest jobs are removed, so only updates are measured. Once
   built, start-up's objects are frozen out of the garbage collector's sight
   (``bot.adapter.heap.settle_after_start_up``), as ``marac-bot run`` does; the echo bot likewise.
4. The echo bot is the smallest PTB bot that answers every update the same way, built with the
   same PTB version and ``ApplicationBuilder`` settings (the same update processor as ours,
   ``bot.adapter.update_order.ChatOrderedUpdateProcessor``, handling ``--concurrency`` updates
   at once and never two of one chat; same polling, same limiter choice) on its own fresh stand-in.
   It sends with PTB's own HTTP client (httpx), as a plain PTB bot does; ours sends with aiohttp
   (``bot.adapter.aiohttp_request``), which is part of what makes its calls cheaper.
   A message is echoed with ``sendMessage``, a button press is answered with
   ``answerCallbackQuery``. It gets the same users, the same plans and the same pre-sent
   notifications, first; then our bot runs. The notifications are sent from this process with
   the bot's token (whoever holds it sends as the bot), before the bot's first update.

   By default both handle one update at a time and Bot API calls cost only the stand-in's own
   work (about a millisecond): the figures are then each update's own cost, which is what the
   goals are about. The bot itself runs with ``MARAC_CONCURRENT_UPDATES`` (8) at once, and
   Telegram's servers take tens of milliseconds per call: ``--concurrency 8 --api-latency 50``
   measures that. The bot's process has one event loop on one core, so handling several
   updates at once adds nothing without latency (and stretches each handler's time,
   interleaved with the others'); with latency, it is what decides the rate.
5. Every user is a closed loop with no think time: send, wait until the bot has finished that
   update, send the next. ``--users`` updates are therefore always in flight: the bot is
   saturated, so updates per second is its capacity. ``--warmup`` updates (one each for the
   first users, ``/case`` instead of ``/actions``) run before timing, for at most 60 s; the
   timed run stops sending at ``--max-seconds`` and reports what was done, with what PTB still
   had queued discarded.

Latency, and why it is measured this way
----------------------------------------
* **Handler latency** (the goal's p50 / p99): a ``TypeHandler(Update)`` in group -1000 notes
  ``perf_counter`` when PTB starts the update, another in group 1,000,001 when it is done.
  Group 1,000,000 (``bot.adapter.persistence.WRITE_THROUGH_GROUP``) already holds the write-through
  handler, and within a group only the first matching handler runs, so the end marker goes one
  group later: the time covers the guard, the feature handler, every Bot API call it awaits and
  the persistence write. Both bots get the same two handlers.
* **Response time**: from the stand-in returning the update in a ``getUpdates`` response to the
  last reply (message, edit or callback answer) reaching the stand-in. With both bots handling
  one update at a time and ``--users`` updates always in flight,
  this is dominated by waiting in PTB's queue: about users / throughput (Little's law). It is
  shown because it is what a person would wait under this load, but it measures the load, not
  the handler, hence the handler figure for the goal.
* Bot API calls go to the stand-in in the benchmark's process: about a millisecond each, where
  Telegram's servers take tens. Handler latency here is the bot's own cost, not what users see
  (on a busy machine it includes waiting for the other process to be scheduled).

CPU per update: the bot's process's CPU time (``time.process_time`` in the child, all its
threads, so SQLite's worker thread too) between the same two markers, averaged over the timed
updates, for both bots. The stand-in and the load run in the other process, so their work,
including serving the bot's own Bot API calls, is excluded for both, as issue #20 measured;
the ratio of the two is the figure that issue asks about (goal: no more than 2.5 times the
echo bot's). Also shown: the bot's process's CPU over the whole phase per update (polling and
idle time included), and this process's (stand-in and load) for comparison. The SQL
statements per update are counted in the bot's process by a ``before_cursor_execute``
listener on our engine, between the same markers.

Correctness (any of these exits with status 1): an update never finished although the run was
not stopped by ``--max-seconds``; a reply that is not the expected one (the action is not shown
as accepted; ``/actions`` lists nothing; the case card lacks the reference or the victim's name;
a referral step got an error, a stale-question or no-draft answer); an error apology from the
bot; a Bot API error at the stand-in other than a late ``answerCallbackQuery`` (a press answered
more than 15 s after it was made is reported as a symptom of queueing, not as a failure).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telegram import Bot
from telegram.warnings import PTBUserWarning

from bench.common import (
    DEFAULT_POSTGRES_URL,
    database_url,
    ms,
    peak_rss_mib,
    percentile,
    row,
    run_seeder,
)
from bench.seed import SeedSpec, spec_options
from bench.throughput_bot import Key, RemoteProbe
from bot import texts
from bot.actions.states import ACTION_LABELS, ActionState
from bot.adapter.dispatcher import keyboard
from bot.buttons import ACTION_ACCEPT, action_buttons
from bot.sandbox import BotApiStandIn, RecordedMessage
from bot.sandbox.records import JSONDict, TranscriptEvent
from bot.sandbox.standin import QUERY_TOO_OLD
from config import Settings
from storage.keyfile import new_key_document

KINDS = ("confirm", "actions", "case", "referral", "text", "meetings", "help")
COORDINATOR_KINDS = ("case", "referral", "text", "meetings", "help")
WARMUP_SECONDS = 60.0
BOT_EVENTS = frozenset(
    {"bot_message", "bot_document", "bot_edit", "bot_markup_edit", "bot_delete", "callback_answer"}
)
ERROR_TEXTS = frozenset(
    {
        texts.SOMETHING_WENT_WRONG,
        texts.SERVICE_BUSY,
        texts.STALE_QUESTION,
        texts.NO_DRAFT,
        texts.NOT_ALLOWED,
        texts.BUTTON_NOT_RECOGNISED,
        texts.CASE_NOT_FOUND,
        texts.NOT_UNDERSTOOD,
        texts.USE_THE_BUTTONS,  # a typed answer where the form wanted a press: the steps drifted
    }
)
# The referral form as a person answers it (bot.sandbox.scenarios.make_referral), then the
# review screen's "Discard draft". ("send", text) types; ("press", label) presses a button on
# the newest question; ("first", "") presses that question's first button.
REFERRAL_STEPS: tuple[tuple[str, str], ...] = (
    ("send", "/refer"),
    ("press", "Yes"),
    ("send", "Mobile 07700 900123 after 6pm; her mother must not be told"),
    ("press", "Yes"),
    ("press", "Yes"),
    ("press", "I have a completed checklist"),
    ("press", "SafeLives DASH (24 questions)"),
    ("send", "yes 1-13 16, not known 20"),
    ("press", "That is right"),
    ("first", ""),
    ("send", "Jane Doe"),
    ("send", "14/03/1990"),
    ("send", "none"),
    ("send", "12 Elm Road, Northampton"),
    ("press", "Female"),
    ("press", "No"),
    ("press", "No"),
    ("press", "Not known"),
    ("send", "John Doe"),
    ("send", "01/01/1985"),
    ("send", "4 Mill Lane, Northampton"),
    ("press", "Ex-partner"),
    ("send", "Mia Doe, age 7, Oak Primary, lives with victim\nLeo Doe, age 4, no CSC"),
    ("send", "Strangled at the scene last night; he has threatened to take the children."),
    ("press", "No"),
    ("press", "Keep"),  # the concerns mention strangulation, which the checklist answers no
    ("press", "Discard draft"),
)


class TimedStandIn(BotApiStandIn):
    """The stand-in, noting when each update left it in a getUpdates response."""

    def __init__(self) -> None:
        super().__init__()
        self.delivered: dict[int, float] = {}

    async def _get_updates(self, params: JSONDict) -> object:
        result = await super()._get_updates(params)
        now = time.time()
        if isinstance(result, list):
            for update in result:
                self.delivered.setdefault(int(update["update_id"]), now)
        return result


@dataclass
class Result:
    kind: str
    handler: float | None = None  # seconds, begin→end handler
    cpu: float | None = None  # CPU seconds of the bot's process, begin→end handler
    statements: int = 0  # SQL statements our bot sent, begin→end handler
    response: float | None = None  # seconds, delivery→last reply
    wait: float | None = None  # seconds, delivery→handler begin (queueing)
    finished_at: float | None = None
    problem: str | None = None


@dataclass
class Phase:
    started: float = 0.0
    ended: float = 0.0
    cpu: float = 0.0  # CPU seconds of the bot's process over the phase (polling included)
    load_cpu: float = 0.0  # CPU seconds of this process over the phase (stand-in and load)
    results: list[Result] = field(default_factory=list)
    unfinished: int = 0
    not_started: int = 0
    stopped: bool = False
    calls: Counter[str] = field(default_factory=Counter)
    late_answers: int = 0
    api_errors: Counter[str] = field(default_factory=Counter)
    apologies: int = 0

    @property
    def done(self) -> list[Result]:
        return [r for r in self.results if r.handler is not None]


@dataclass
class LoadUser:
    """One person's chat and what they will do next."""

    telegram_user_id: int
    role: str
    cases: list[dict[str, Any]]
    notifications: list[tuple[RecordedMessage, dict[str, Any]]] = field(default_factory=list)
    referral_step: int = 0
    case_turn: int = 0


class Load:
    """Plays users against one bot on one stand-in, recording what every update cost."""

    def __init__(self, server: TimedStandIn, probe: RemoteProbe, echo: bool) -> None:
        self.server = server
        self.probe = probe
        self.echo = echo

    # -- acting -----------------------------------------------------------------------------

    def newest_with(self, user: LoadUser, predicate: Callable[[str], bool]) -> RecordedMessage:
        for message in reversed(self.server.messages(user.telegram_user_id)):
            if (
                message.from_bot
                and not message.deleted
                and any(
                    b.callback_data and predicate(b.callback_data)
                    for r in message.buttons
                    for b in r
                )
            ):
                return message
        raise LookupError("no message with such a button")

    def newest_bot_message(self, user: LoadUser) -> RecordedMessage:
        for message in reversed(self.server.messages(user.telegram_user_id)):
            if message.from_bot and not message.deleted:
                return message
        raise LookupError("the bot has sent this user nothing")

    def act(self, user: LoadUser, kind: str) -> tuple[Key, Callable[[list[TranscriptEvent]], str]]:
        """Make the user's next move of ``kind``; returns its key and a check of the replies."""
        chat = user.telegram_user_id
        if kind == "confirm":
            message, action = user.notifications.pop(0)
            data = ACTION_ACCEPT.data(int(action["id"]))
            query = self.server.press_callback(chat, chat, message.message_id, data)
            expected = texts.action_moved(action["reference"], ACTION_LABELS[ActionState.ACCEPTED])
            return ("q", query.id), self.check_confirm(message, expected)
        if kind == "actions":
            sent = self.server.post_user_message(chat, "/actions")
            return ("m", chat, sent.message_id), self.check_actions
        if kind == "text":
            sent = self.server.post_user_message(chat, "Thank you")
            return ("m", chat, sent.message_id), self.check_text
        if kind == "meetings":
            sent = self.server.post_user_message(chat, "/meetings")
            return ("m", chat, sent.message_id), self.check_meetings
        if kind == "help":
            sent = self.server.post_user_message(chat, "/help")
            return ("m", chat, sent.message_id), self.check_help
        if kind == "case":
            case = user.cases[user.case_turn % len(user.cases)]
            user.case_turn += 1
            sent = self.server.post_user_message(chat, f"/case {case['reference']}")
            return ("m", chat, sent.message_id), self.check_case(case)
        action_kind, value = REFERRAL_STEPS[user.referral_step % len(REFERRAL_STEPS)]
        user.referral_step += 1
        if action_kind == "send":
            sent = self.server.post_user_message(chat, value)
            return ("m", chat, sent.message_id), self.check_referral
        if self.echo:
            target = self.newest_bot_message(user)
            query = self.server.press_callback(chat, chat, target.message_id, "ref:o:1:0")
            return ("q", query.id), self.check_referral
        question = self.newest_with(user, lambda data: data.startswith("ref:"))
        buttons = [b for r in question.buttons for b in r if b.callback_data]
        button = buttons[0] if action_kind == "first" else question.find_button(value)
        if button is None or button.callback_data is None:
            raise LookupError(f"no [{value}] on the newest referral question")
        query = self.server.press_callback(chat, chat, question.message_id, button.callback_data)
        return ("q", query.id), self.check_referral

    # -- checking -----------------------------------------------------------------------------

    @staticmethod
    def texts_of(events: list[TranscriptEvent]) -> list[str]:
        return [
            e.text or "" for e in events if e.kind in BOT_EVENTS and e.kind != "callback_answer"
        ]

    def check_common(self, events: list[TranscriptEvent]) -> str:
        if not any(e.kind in BOT_EVENTS for e in events):
            return "no reply"
        for text in self.texts_of(events):
            if text in ERROR_TEXTS or text.endswith(texts.STALE_QUESTION):
                return f"error reply: {text[:60]!r}"
        return ""

    def check_confirm(
        self, message: RecordedMessage, expected: str
    ) -> Callable[[list[TranscriptEvent]], str]:
        def check(events: list[TranscriptEvent]) -> str:
            if problem := self.check_common(events):
                return problem
            if self.echo:
                return ""
            if message.text != expected:
                return f"notification reads {(message.text or '')[:60]!r}, not accepted"
            return ""

        return check

    def check_actions(self, events: list[TranscriptEvent]) -> str:
        if problem := self.check_common(events):
            return problem
        if self.echo:
            return ""
        if not any(t.startswith("Your agency has ") for t in self.texts_of(events)):
            return "/actions listed no open actions"
        return ""

    def check_case(self, case: dict[str, Any]) -> Callable[[list[TranscriptEvent]], str]:
        def check(events: list[TranscriptEvent]) -> str:
            if problem := self.check_common(events):
                return problem
            if self.echo:
                return ""
            if not any(
                case["reference"] in t and case["victim_name"] in t for t in self.texts_of(events)
            ):
                return f"card for {case['reference']} lacks the reference or the victim's name"
            return ""

        return check

    def check_text(self, events: list[TranscriptEvent]) -> str:
        replies = self.texts_of(events)
        if not replies:
            return "no reply"
        if self.echo or replies == [texts.NOT_UNDERSTOOD]:
            return ""
        return f"text answered with {replies[0][:60]!r}"

    def check_meetings(self, events: list[TranscriptEvent]) -> str:
        if problem := self.check_common(events):
            return problem
        if self.echo or any(
            t.startswith(texts.UPCOMING_MEETINGS) or t == texts.NO_MEETINGS
            for t in self.texts_of(events)
        ):
            return ""
        return "/meetings listed neither meetings nor their absence"

    def check_help(self, events: list[TranscriptEvent]) -> str:
        if problem := self.check_common(events):
            return problem
        if self.echo or any("/help" in t for t in self.texts_of(events)):
            return ""
        return "/help listed no commands"

    def check_referral(self, events: list[TranscriptEvent]) -> str:
        return self.check_common(events)

    # -- playing ------------------------------------------------------------------------------

    async def play(
        self, user: LoadUser, plan: Sequence[str], phase: Phase, deadline: float
    ) -> None:
        for number, kind in enumerate(plan):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                phase.not_started += len(plan) - number
                phase.stopped = True
                return
            marker = len(self.server.events)
            try:
                key, check = self.act(user, kind)
            except LookupError as error:
                phase.results.append(Result(kind, problem=f"could not act: {error}"))
                continue
            future = self.probe.expect(key)
            try:
                done = await asyncio.wait_for(future, timeout=remaining)
            except TimeoutError:
                phase.unfinished += 1
                phase.not_started += len(plan) - number - 1
                phase.stopped = True
                return
            finished = done.at  # the end probe, by the child's clock (the same machine's)
            events = [e for e in self.server.events[marker:] if e.chat_id == user.telegram_user_id]
            replies = [e.at for e in events if e.kind in BOT_EVENTS]
            result = Result(
                kind,
                handler=done.wall,
                cpu=done.cpu,
                statements=done.statements,
                finished_at=finished,
                problem=check(events) or None,
            )
            update_id = self.probe.update_ids.get(key)
            delivered = self.server.delivered.get(update_id) if update_id is not None else None
            if delivered is not None and replies:
                result.response = max(replies) - delivered
                result.wait = max(0.0, finished - delivered - done.wall)
            phase.results.append(result)

    async def run(
        self,
        users: Sequence[LoadUser],
        plans: Sequence[Sequence[str]],
        seconds: float,
    ) -> Phase:
        phase = Phase()
        cpu_before = await self.probe.cpu()  # the bot's process (asked before anything is sent)
        load_cpu_before = time.process_time()
        calls_before = Counter(self.server.counters)
        errors_before = len(self.server.errors)
        events_before = len(self.server.events)
        deadline = time.monotonic() + seconds
        phase.started = time.time()
        await asyncio.gather(
            *(
                self.play(user, plan, phase, deadline)
                for user, plan in zip(users, plans, strict=True)
            )
        )
        phase.load_cpu = time.process_time() - load_cpu_before
        phase.cpu = await self.probe.cpu() - cpu_before
        finished = [r.finished_at for r in phase.results if r.finished_at is not None]
        phase.ended = max(finished, default=time.time())
        phase.calls = Counter(self.server.counters) - calls_before
        for error in self.server.errors[errors_before:]:
            if error.method == "getUpdates":
                continue
            if error.method == "answerCallbackQuery" and error.description.endswith(QUERY_TOO_OLD):
                phase.late_answers += 1
            else:
                phase.api_errors[f"{error.method}: {error.status} {error.description}"] += 1
        phase.apologies = sum(
            1
            for e in self.server.events[events_before:]
            if e.kind == "bot_message"
            and e.text in (texts.SOMETHING_WENT_WRONG, texts.SERVICE_BUSY)
        )
        return phase


# -- plans --------------------------------------------------------------------------------------


def parse_mix(text: str) -> dict[str, float]:
    weights: dict[str, float] = {}
    for part in text.split(","):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in KINDS:
            raise argparse.ArgumentTypeError(f"unknown kind {name!r}; choose from {KINDS}")
        weights[name] = float(value or 1)
    if not any(weights.values()):
        raise argparse.ArgumentTypeError("at least one kind needs a weight above 0")
    return weights


def make_plans(
    roles: Sequence[str], total: int, mix: dict[str, float], rng: random.Random
) -> list[list[str]]:
    """Per user, ``total`` shared out evenly, kinds drawn by weight among those the role has."""
    plans: list[list[str]] = []
    base, extra = divmod(total, len(roles))
    for number, role in enumerate(roles):
        allowed = COORDINATOR_KINDS if role == "coordinator" else KINDS
        kinds = [k for k in allowed if mix.get(k, 0) > 0] or [
            k for k in COORDINATOR_KINDS if mix.get(k, 0) > 0
        ]
        weights = [mix.get(k, 0) for k in kinds]
        count = base + (1 if number < extra else 0)
        plans.append(rng.choices(kinds, weights=weights, k=count) if kinds else [])
    return plans


# -- running one bot ----------------------------------------------------------------------------


@dataclass
class BotRun:
    name: str
    warmup: Phase
    timed: Phase
    processing: str  # the Application's update processor, as built
    peak_rss_mib: float  # the bot's process


def users_for(fixtures: dict[str, Any], count: int) -> list[LoadUser]:
    people = fixtures["users"][:count]
    sample = fixtures["sample_cases"]
    users = []
    for number, person in enumerate(people):
        if person["role"] == "coordinator":
            cases = sample[number :: max(1, count)][:40] or sample[:40]
        else:
            cases = fixtures["referred_by"].get(str(person["person_id"]), []) or sample[:40]
        users.append(LoadUser(person["telegram_user_id"], person["role"], list(cases)))
    return users


async def send_notifications(
    bot: Bot,
    server: BotApiStandIn,
    users: Sequence[LoadUser],
    needs: dict[int, list[dict[str, Any]]],
) -> None:
    """'Action assigned' messages with their buttons, as the outbox dispatcher sends them."""
    for user in users:
        for action in needs.get(user.telegram_user_id, []):
            buttons = action_buttons(int(action["id"]))
            sent = await bot.send_message(
                user.telegram_user_id,
                texts.action_assigned(action["reference"], action["due_on"], False),
                reply_markup=keyboard(buttons),
            )
            chat = server.chats[user.telegram_user_id]
            message = chat.get(sent.message_id)
            assert message is not None
            user.notifications.append((message, action))


def assign_actions(
    users: Sequence[LoadUser],
    people: Sequence[dict[str, Any]],
    plans: Sequence[Sequence[str]],
    open_actions: dict[str, list[dict[str, Any]]],
) -> dict[int, list[dict[str, Any]]]:
    """Distinct open actions of each rep's agency, one per planned press."""
    pools = {agency: list(actions) for agency, actions in open_actions.items()}
    needs: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for user, person, plan in zip(users, people, plans, strict=True):
        for kind in plan:
            if kind != "confirm":
                continue
            pool = pools.get(str(person["agency_id"]), [])
            if not pool:
                raise RuntimeError("not enough open actions seeded for the planned presses")
            needs[user.telegram_user_id].append(pool.pop(0))
    return needs


async def play_bot(
    name: str,
    fixtures: dict[str, Any],
    args: argparse.Namespace,
    plans: Sequence[Sequence[str]],
    warmup_plans: Sequence[Sequence[str]],
    *,
    echo: bool,
    database_url: str | None = None,
    key_file: Path | None = None,
) -> BotRun:
    """One bot in its own process (``bench.throughput_bot``), against a stand-in in this one."""
    people = fixtures["users"][: args.users]
    users = users_for(fixtures, args.users)
    server = TimedStandIn()
    await server.start()
    try:
        driver = server.driver()
        for person in people:
            driver.user(person["telegram_user_id"], person["name"])
        probe = await RemoteProbe.start(
            url=server.url,
            token=server.token,
            echo=echo,
            concurrency=args.concurrency,
            rate_limit=args.rate_limit,
            database_url=database_url,
            key_file=key_file,
            profile=args.profile if not echo else None,
        )
        try:
            both = [list(w) + list(p) for w, p in zip(warmup_plans, plans, strict=True)]
            needs = assign_actions(users, people, both, fixtures["open_actions"])
            load = Load(server, probe, echo)
            # Whoever holds the token sends as the bot: the notifications come from here.
            async with Bot(server.token, base_url=server.base_url) as bot:
                await send_notifications(bot, server, users, needs)
            server.set_latency(args.api_latency / 1000)
            print(f"  … {name}: warm-up", file=sys.stderr, flush=True)
            warm = await load.run(users, warmup_plans, min(WARMUP_SECONDS, args.max_seconds))
            print(f"  … {name}: timed run", file=sys.stderr, flush=True)
            profiling = args.profile is not None and not echo
            if profiling:
                await probe.command("profile-start")
            timed = await load.run(users, plans, args.max_seconds)
            if profiling:
                await probe.command("profile-stop")
            rss = float((await probe.command("cpu"))["rss_mib"])
        finally:
            code = await probe.stop()
            if code != 0:
                print(f"  … {name}: its process exited with status {code}", file=sys.stderr)
    finally:
        await server.stop()
    return BotRun(name, warm, timed, probe.processing, rss)


async def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    coordinators = max(1, args.users // 10)
    roles = ["coordinator"] * coordinators + ["agency_rep"] * (args.users - coordinators)
    plans = make_plans(roles, args.updates, args.mix, rng)
    warm_count = min(args.warmup, args.users)
    # One extra update each for the first users, of the kind they start with, except that
    # /actions becomes /case: the warm-up is there to open connections and fill caches.
    warmup_plans = [
        [plan[0] if plan[0] != "actions" else "case"] if n < warm_count and plan else []
        for n, plan in enumerate(plans)
    ]
    presses: Counter[int] = Counter()
    for number, (role, plan, warm) in enumerate(zip(roles, plans, warmup_plans, strict=True)):
        if role != "coordinator":
            presses[(number - coordinators) % 11] += plan.count("confirm") + warm.count("confirm")
    spec = SeedSpec(
        cases=args.cases,
        coordinators=coordinators,
        reps=args.users - coordinators,
        actions_per_case=args.actions_per_case,
        open_actions=max(50, max(presses.values(), default=0) + 5),
        audit_events=args.audit_events,
    )
    with tempfile.TemporaryDirectory(prefix="marac-load-") as tmp:
        folder = Path(tmp)
        document = new_key_document()
        key_file = folder / "keys.json"
        key_file.write_text(json.dumps(document))
        os.chmod(key_file, 0o600)
        async with database_url(args.database, folder, args.postgres_url, "load") as url:
            print(f"Seeding {args.cases} cases on {args.database} …", file=sys.stderr)
            fixtures = await run_seeder(url, key_file, folder / "fixtures.json", spec_options(spec))
            echo_run = await play_bot("echo bot", fixtures, args, plans, warmup_plans, echo=True)
            ours = await play_bot(
                "marac-bot",
                fixtures,
                args,
                plans,
                warmup_plans,
                echo=False,
                database_url=url,
                key_file=key_file,
            )
    report(args, fixtures, plans, echo_run, ours)
    return 1 if failures(ours) or failures(echo_run) else 0


# -- report -------------------------------------------------------------------------------------


def failures(run: BotRun) -> int:
    count = 0
    for phase in (run.warmup, run.timed):
        count += sum(1 for r in phase.results if r.problem)
        count += sum(phase.api_errors.values()) + phase.apologies
        if not phase.stopped:
            count += phase.unfinished + phase.not_started
    return count


def handler_cpu(phase: Phase) -> float:
    """Mean CPU seconds per update between the two probes (the update's own cost)."""
    cpu = [r.cpu for r in phase.done if r.cpu is not None]
    return statistics.fmean(cpu) if cpu else float("nan")


def rate(phase: Phase) -> float:
    span = phase.ended - phase.started
    return len(phase.done) / span if span > 0 else float("nan")


def latency_line(label: str, values: list[float], note: str = "") -> str:
    ordered = sorted(values)
    if not ordered:
        return row(label, "n/a", note)
    figures = (
        f"{ms(percentile(ordered, 0.5))} / {ms(percentile(ordered, 0.99))} / {ms(ordered[-1])}"
    )
    return f"  {label:<38} {figures:>32}  {note}".rstrip()


def describe_bot(run: BotRun, goal_p99: float | None) -> None:
    phase = run.timed
    done = phase.done
    handler = [r.handler for r in done if r.handler is not None]
    response = [r.response for r in done if r.response is not None]
    wait = [r.wait for r in done if r.wait is not None]
    span = phase.ended - phase.started
    print(f"{run.name}")
    note = ""
    if phase.stopped:
        note = (
            f"STOPPED at --max-seconds: {phase.unfinished} in flight and {phase.not_started} "
            "never sent"
        )
    print(row("updates handled (timed)", f"{len(done)}", note))
    print(row("wall time", f"{span:.1f} s"))
    print(row("updates per second", f"{rate(phase):.1f}"))
    print(
        row(
            "CPU per update, handler",
            f"{ms(handler_cpu(phase))}",
            "mean; the bot's own process (stand-in and load excluded)",
        )
    )
    print(
        row(
            "CPU per update, whole bot process",
            f"{ms(phase.cpu / len(done)) if done else 'n/a'}",
            "its CPU over the phase / updates: polling and idle time included",
        )
    )
    print(
        row(
            "CPU per update, stand-in and load",
            f"{ms(phase.load_cpu / len(done)) if done else 'n/a'}",
            "the other process, not the bot's (in none of the figures above)",
        )
    )
    calls = sum(n for method, n in phase.calls.items() if method != "getUpdates")
    detail = ", ".join(
        f"{method} {n}" for method, n in phase.calls.most_common() if method != "getUpdates"
    )
    print(
        row(
            "Bot API calls per update",
            f"{calls / len(done):.2f}" if done else "n/a",
            detail,
        )
    )
    print(f"  {'':<38} {'p50 / p99 / max':>32}")
    p99 = percentile(sorted(handler), 0.99)
    verdict = ""
    if goal_p99 is not None and handler:
        verdict = f"goal p99 < {goal_p99 * 1000:.0f} ms: {'met' if p99 < goal_p99 else 'MISSED'}"
    print(latency_line("handler latency, all kinds", handler, verdict))
    by_kind: dict[str, list[float]] = defaultdict(list)
    for result in done:
        if result.handler is not None:
            by_kind[result.kind].append(result.handler)
    for kind in KINDS:
        if by_kind.get(kind):
            print(latency_line(f"  {kind} ({len(by_kind[kind])})", by_kind[kind]))
    cpu_by_kind: dict[str, list[float]] = defaultdict(list)
    for result in done:
        if result.cpu is not None:
            cpu_by_kind[result.kind].append(result.cpu)
    statements: dict[str, list[int]] = defaultdict(list)
    for result in done:
        statements[result.kind].append(result.statements)
    if any(any(v) for v in statements.values()):
        print(
            row(
                "SQL statements per update (mean)",
                ", ".join(
                    f"{k} {statistics.fmean(statements[k]):.1f}" for k in KINDS if statements[k]
                ),
            )
        )
    print(
        row(
            "CPU per update by kind (mean)",
            ", ".join(
                f"{k} {ms(statistics.fmean(cpu_by_kind[k]))}" for k in KINDS if cpu_by_kind[k]
            ),
        )
    )
    print(latency_line("response time (delivery → reply)", response, "mostly queueing"))
    print(latency_line("  of which waiting in PTB's queue", wait))
    if phase.late_answers:
        print(row("presses answered after 15 s", f"{phase.late_answers}", "query too old"))
    problems = Counter(r.problem for r in phase.results + run.warmup.results if r.problem)
    print(row("wrong or missing replies", f"{sum(problems.values())}", "must be 0"))
    for problem, n in problems.most_common(5):
        print(f"      {n}× {problem}")
    errors = phase.api_errors + run.warmup.api_errors
    print(row("Bot API errors", f"{sum(errors.values())}", "must be 0"))
    for error, n in errors.most_common(5):
        print(f"      {n}× {error}")
    print(row("error apologies sent", f"{phase.apologies + run.warmup.apologies}", "must be 0"))
    print()


def report(
    args: argparse.Namespace,
    fixtures: dict[str, Any],
    plans: Sequence[Sequence[str]],
    echo_run: BotRun,
    ours: BotRun,
) -> None:
    counts = fixtures["counts"]
    mix = Counter(kind for plan in plans for kind in plan)
    total = sum(mix.values())
    print()
    print(
        f"Throughput: {args.updates} updates from {args.users} users, {args.database}, "
        f"{counts['cases']} cases, {counts['actions']} actions, "
        f"{counts['audit_events']} audit events (seeded in {fixtures['seconds']['total']:.0f} s)"
    )
    print(
        "Mix: "
        + ", ".join(f"{kind} {mix[kind]} ({mix[kind] / total:.0%})" for kind in KINDS if mix[kind])
        + f"; warm-up of {len(ours.warmup.results)} updates not timed"
    )
    limiter = "PTB AIORateLimiter (30/s overall)" if args.rate_limit else "none (rate_limit=False)"
    print(
        "Each bot runs in its own process and polls a stand-in in this one over HTTP; "
        f"rate limiter: {limiter}"
    )
    print(
        f"Updates handled at once: {args.concurrency} (never two of one chat); "
        f"Bot API round trip at the stand-in: {args.api_latency:g} ms"
    )
    print(f"  echo bot:  {echo_run.processing}")
    print(f"  marac-bot: {ours.processing}")
    print()
    describe_bot(echo_run, None)
    # The p99 goal is the bot's own cost: with a simulated round trip it is not judged.
    describe_bot(ours, 0.050 if not args.api_latency else None)
    echo_rate, our_rate = rate(echo_run.timed), rate(ours.timed)
    ratio = our_rate / echo_rate if echo_rate and not math.isnan(echo_rate) else float("nan")
    verdict = "met" if ratio >= 0.5 else "MISSED"
    print(
        row(
            "marac-bot / echo bot, updates per second",
            f"{ratio:.0%}",
            f"goal ≥ 50 %: {verdict}",
        )
    )
    handler = sorted(r.handler for r in ours.timed.done if r.handler is not None)
    echo_handler = sorted(r.handler for r in echo_run.timed.done if r.handler is not None)
    if handler and echo_handler:
        print(
            row(
                "handler p50, marac-bot vs echo",
                f"{statistics.median(handler) / statistics.median(echo_handler):.1f}×",
            )
        )
    echo_cpu, our_cpu = handler_cpu(echo_run.timed), handler_cpu(ours.timed)
    if echo_cpu and not math.isnan(echo_cpu) and not math.isnan(our_cpu):
        verdict = "met" if our_cpu <= 2.5 * echo_cpu else "MISSED"
        print(
            row(
                "CPU per update, marac-bot / echo bot",
                f"{our_cpu / echo_cpu:.1f}×",
                f"{ms(our_cpu)} / {ms(echo_cpu)}; goal ≤ 2.5×: {verdict}",
            )
        )
    print(row("peak RSS, echo bot's process", f"{echo_run.peak_rss_mib:.0f} MiB"))
    print(row("peak RSS, marac-bot's process", f"{ours.peak_rss_mib:.0f} MiB"))
    print(row("peak RSS, stand-ins and load", f"{peak_rss_mib():.0f} MiB", "seeding excluded"))
    print()
    bad = failures(ours) + failures(echo_run)
    print("OK: every update answered as expected" if not bad else f"FAILED: {bad} problem(s)")


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.throughput",
        description="Updates per second and handler latency of the real Application under a "
        "mixed load, against a minimal echo bot, through the Bot API stand-in.",
    )
    parser.add_argument("--cases", type=positive, default=100_000)
    parser.add_argument("--updates", type=positive, default=2_000)
    parser.add_argument("--users", type=positive, default=200)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--mix",
        type=parse_mix,
        default=parse_mix("confirm=1,actions=1,case=1,referral=1"),
        help="relative weights of the kinds (default: confirm=1,actions=1,case=1,referral=1)",
    )
    parser.add_argument("--warmup", type=int, default=50, help="untimed updates first")
    parser.add_argument("--actions-per-case", type=float, default=2.0)
    parser.add_argument("--audit-events", type=int, default=0, help="seeded audit events")
    parser.add_argument(
        "--rate-limit",
        action="store_true",
        help="build both bots with PTB's AIORateLimiter, as production does",
    )
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        help="stop sending after this long per bot and phase (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--concurrency",
        type=positive,
        default=1,
        help="updates each bot handles at once, never two of one chat (default 1, so that "
        "handler latency is each update's own cost; the bot runs with "
        f"{Settings.model_fields['concurrent_updates'].default})",
    )
    parser.add_argument(
        "--api-latency",
        type=float,
        default=0.0,
        help="milliseconds every Bot API call takes at the stand-in, as Telegram's round trip "
        "does (default 0: the bots' own cost only)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="write a cProfile of our bot's process over the timed run (the bot only: the "
        "stand-in and the load are in another process) to this file",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("MARAC_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL),
        help="server to create the throwaway database on (default: %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.users > args.updates:
        parser.error("--users must not exceed --updates")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="If 'per_message=False'", category=PTBUserWarning)
    return asyncio.run(run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

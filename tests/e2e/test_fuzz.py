"""Arbitrary text and callback data at every handler: no crash, and nothing reaches anyone else.

Seeded random input (reproducible) from a stranger, an agency rep and a coordinator: each
message or press must get a calm answer, the error handler must never fire, and no message
may go to a chat other than the sender's.
"""

from __future__ import annotations

import logging
import random
import string

import pytest

from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.scenarios import make_referral
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, _agency

AREAS = ["ref", "tri", "rep", "cas", "era", "ag", "inv", "ppl", "aud", "mtg", "act", "st", "zz"]
ACTIONS = [
    "o",
    "back",
    "submit",
    "discard",
    "go",
    "new",
    "acc",
    "info",
    "dec",
    "yes",
    "no",
    "exc",
    "exy",
    "ask",
    "req",
    "ok",
    "open",
    "kind",
    "ren",
    "isa",
    "list",
    "role",
    "rev",
    "revy",
    "off",
    "offy",
    "callon",
    "pub",
    "move",
    "cancely",
    "res",
    "none",
    "att",
    "done",
    "np",
    "re",
    "rto",
    "pm",
    "wait",
    "close",
    "min",
    "csv",
    "png",
    "up",
    "x",
]
TEXTS = [
    "/start",
    "/help",
    "/refer",
    "/case NOR-2026-0001",
    "/case",
    "/audit",
    "/audit ppl:1",
    "/agencies",
    "/invite",
    "/people",
    "/meetings",
    "/plan",
    "/minutes",
    "/actions",
    "/stats",
    "/stats 2099 Q9",
    "/cancel",
    "/done",
    "yes 1-30",
    "31/02/1990",
    "🙂" * 50,
    "x" * 4000,
    "",
    " ",
    "/start " + "A" * 64,
    "<b>bold</b>",
    "'; DROP TABLE cases;--",
]


def random_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(TEXTS).strip() or "."
    alphabet = string.printable + "éß€🙂—’"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 300))).strip() or "?"


def random_data(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.7:
        ids = ":".join(
            str(rng.choice([0, 1, 2, 3, 7, 99, 10**12])) for _ in range(rng.randint(0, 3))
        )
        return f"{rng.choice(AREAS)}:{rng.choice(ACTIONS)}" + (f":{ids}" if ids else "")
    return "".join(rng.choice(string.printable) for _ in range(rng.randint(1, 64)))


async def poke(driver: Driver, user: SimulatedUser, rng: random.Random, rounds: int) -> None:
    for _ in range(rounds):
        before = len(user.bot_messages(include_deleted=True))
        answers_before = len(driver.callback_answers)
        latest = user.bot_messages()
        if rng.random() < 0.5 or not latest:
            await user.send(random_text(rng))
        else:
            query = await user.press_data(latest[-1].message_id, random_data(rng))
            await driver.wait_for_answer(query, timeout=10)

        def replied(before: int = before, answers_before: int = answers_before) -> bool:
            return (
                len(user.bot_messages(include_deleted=True)) > before
                or len(driver.callback_answers) > answers_before
            )

        await driver.wait_for(replied, timeout=10, description="a reply to fuzzed input")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_fuzzed_input_never_crashes_or_leaks(
    app: object, runtime: Runtime, area: Area, driver: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    police = await _agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    await make_referral(sam)
    await sam.press_and_wait("Submit referral", expect_edit=True)
    stranger = driver.user(999, "Stranger")
    chats_before = set(driver.server.chats)
    caplog.set_level(logging.ERROR, logger="marac.errors")
    rng = random.Random(20261126)
    for user in (stranger, sam, priya, stranger, sam):
        await poke(driver, user, rng, rounds=40)
    assert [r for r in caplog.records if r.name == "marac.errors"] == []
    # Nothing was sent to any chat that did not already exist (no leaks to third parties).
    assert set(driver.server.chats) == chats_before | {stranger.chat_id}
    # The stranger never saw anything but the neutral answers.
    for message in stranger.bot_messages(include_deleted=True):
        assert "NOR-" not in (message.text or "") and "Jane" not in (message.text or "")

"""One person's slow update does not hold up anyone else; one person's updates stay in order.

Telegram's servers take tens of milliseconds per call, and a call can take seconds when they
are struggling. The stand-in holds ``setMyCommands`` for a few seconds; /help calls it when
the person's menu changed (here: their role, changed in the database).
"""

from __future__ import annotations

from sqlalchemy import update

from bot import texts
from bot.permissions import commands_for
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver
from bot.vocabulary import Role
from storage.models import Person
from tests.support.e2e import Area

HELD_SECONDS = 3.0


async def test_a_slow_telegram_call_for_one_person_does_not_hold_up_another(
    app: object, area: Area, driver: Driver, server: BotApiStandIn, runtime: Runtime
) -> None:
    priya = await area.enrol(701, "Priya", "Shah")
    sam = await area.enrol(702, "Sam", "Okoro")
    before_priya = len(priya.bot_messages())
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Person).where(Person.telegram_user_id == priya.id).values(role=Role.CHAIR)
        )
    server.set_delay("setMyCommands", HELD_SECONDS)
    try:
        await priya.send("/help")
        await sam.send("hello")
        await driver.wait_for(
            lambda: any(m.text == texts.NOT_UNDERSTOOD for m in sam.bot_messages()),
            description="Sam's reply",
        )
        # Sam was answered while Priya's update was still waiting on Telegram.
        assert len(priya.bot_messages()) == before_priya

        # Priya's next message waits for her first: her replies arrive in the order she wrote.
        await priya.send("hello")
        await driver.wait_for(
            lambda: len(priya.bot_messages()) >= before_priya + 2,
            timeout=HELD_SECONDS + 10,
            description="both of Priya's replies",
        )
    finally:
        server.set_delay("setMyCommands", None)
    first, second = priya.bot_messages()[before_priya : before_priya + 2]
    commands = [(c.name, c.description) for c in commands_for(Role.CHAIR)]
    ttl = runtime.settings.sensitive_message_ttl_minutes
    assert first.text == texts.help_text(Role.CHAIR, commands, ttl)
    assert second.text == texts.NOT_UNDERSTOOD

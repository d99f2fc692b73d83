"""Enrolment end to end: /start with a code, strangers, groups, /help and restarts."""

from __future__ import annotations

from datetime import timedelta

from bot import texts
from bot.adapter.local import running_bot
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver
from bot.vocabulary import Role
from tests.support.e2e import Area


async def test_coordinator_enrols_with_invite_and_sees_menu(
    app: object, area: Area, driver: Driver
) -> None:
    priya = driver.user(501, "Priya", last_name="Shah", role="coordinator")
    code = await area.code()
    welcome, home = await priya.send_and_wait(f"/start {code}", count=2)
    assert "Welcome, Priya Shah" in (welcome.text or "")
    assert "MARAC coordinator for Northamptonshire" in (welcome.text or "")
    assert home.find_button("Agencies") is not None
    assert home.find_button("Invite someone") is not None
    names = [name for name, _ in driver.commands_for(priya.chat_id)]
    assert names[:2] == ["start", "help"] and "invite" in names and "audit" in names

    (help_reply,) = await priya.send_and_wait("/help")
    assert "/invite" in (help_reply.text or "") and "/agencies" in (help_reply.text or "")


async def test_used_code_does_not_work_twice(app: object, area: Area, driver: Driver) -> None:
    code = await area.code()
    await driver.user(501, "Priya").send_and_wait(f"/start {code}", count=2)
    (reply,) = await driver.user(502, "Mallory").send_and_wait(f"/start {code}")
    assert reply.text == texts.INVITE_NOT_VALID
    (reply,) = await driver.user(502, "Mallory").send_and_wait("/help")
    assert reply.text == texts.NEUTRAL_UNKNOWN


async def test_expired_code_is_refused(
    app: object, area: Area, driver: Driver, clock: ManualClock
) -> None:
    code = await area.code()
    clock.advance(timedelta(hours=72, minutes=1))
    (reply,) = await driver.user(503, "Late").send_and_wait(f"/start {code}")
    assert reply.text == texts.INVITE_NOT_VALID


async def test_stranger_gets_neutral_answer_to_anything(app: object, driver: Driver) -> None:
    stranger = driver.user(999, "Curious")
    for text in ("/start", "hello, who are you?", "/agencies", "/audit"):
        (reply,) = await stranger.send_and_wait(text)
        assert reply.text == texts.NEUTRAL_UNKNOWN
        assert not reply.buttons


async def test_a_stranger_asking_to_report_is_signposted_and_told_nothing_more(
    app: object, driver: Driver
) -> None:
    """Someone the bot does not know may be a victim: the neutral answer, then where help is."""
    stranger = driver.user(998, "Alex")
    (reply,) = await stranger.send_and_wait("I need to report something")
    assert reply.text == (
        "This is a private service for professionals. If you have been invited, please open "
        "the link in your invitation.\n\nIn an emergency call 999. The National Domestic Abuse "
        "Helpline is free and open 24 hours: 0808 2000 247."
    )
    assert not reply.buttons
    assert [m.text for m in driver.bot_messages(stranger.chat_id)] == [reply.text]


async def test_group_chat_reveals_nothing(app: object, area: Area, driver: Driver) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    before = len(driver.bot_messages(-100))
    await priya.send_in_group(-100, "/start", title="MARAC chat")
    replies = await driver.wait_for_bot_messages(-100, after=before)
    assert replies[0].text == texts.GROUP_CHAT_REFUSAL
    asked = await priya.send_in_group(-100, "/people")
    (reply,) = await driver.wait_for_bot_messages(-100, after=asked.message_id)
    assert reply.text == texts.GROUP_CHAT_REFUSAL


async def test_restart_between_messages_keeps_enrolment(
    runtime: Runtime, server: BotApiStandIn, area: Area, driver: Driver
) -> None:
    code = await area.code()
    priya = driver.user(501, "Priya", last_name="Shah")
    async with running_bot(runtime, server):
        await priya.send_and_wait(f"/start {code}", count=2)
    async with running_bot(runtime, server):
        (reply,) = await priya.send_and_wait("/help")
    assert "/invite" in (reply.text or "")


async def test_message_sent_while_bot_is_down_is_answered_after_restart(
    runtime: Runtime, server: BotApiStandIn, area: Area, driver: Driver
) -> None:
    priya = await _enrolled(runtime, server, area, driver)
    sent = await priya.send("/help")  # nobody is polling right now
    async with running_bot(runtime, server):
        (reply,) = await driver.wait_for_bot_messages(priya.chat_id, after=sent.message_id)
    assert "/invite" in (reply.text or "")


async def _enrolled(runtime: Runtime, server: BotApiStandIn, area: Area, driver: Driver) -> object:
    async with running_bot(runtime, server):
        return await area.enrol(501, "Priya", "Shah", Role.COORDINATOR)


async def test_database_outage_gets_calm_answer_and_loses_nothing(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    real = runtime.services.enrolment.identify

    async def unavailable(telegram_user_id: int) -> None:
        raise ConnectionRefusedError("database down")

    runtime.services.enrolment.identify = unavailable  # type: ignore[method-assign]
    try:
        (reply,) = await priya.send_and_wait("/help")
    finally:
        runtime.services.enrolment.identify = real  # type: ignore[method-assign]
    assert reply.text == texts.SERVICE_BUSY
    (reply,) = await priya.send_and_wait("/help")
    assert "/invite" in (reply.text or "")


async def test_telegram_rate_limit_is_waited_out_and_the_reply_arrives(
    app: object, area: Area, driver: Driver, server: BotApiStandIn
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    server.inject_failure("sendMessage", status=429, retry_after=1, times=1)
    (reply,) = await priya.send_and_wait("/help", timeout=10)
    assert "/invite" in (reply.text or "")
    assert any(e.status == 429 for e in server.errors)


async def test_telegram_server_error_gets_an_apology_not_silence(
    app: object, area: Area, driver: Driver, server: BotApiStandIn
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    server.inject_failure("sendMessage", status=500, description="Internal Server Error")
    (reply,) = await priya.send_and_wait("/help")
    assert reply.text == texts.SOMETHING_WENT_WRONG
    (reply,) = await priya.send_and_wait("/help")
    assert "/invite" in (reply.text or "")


async def test_stranger_messages_are_audited_as_refusals(
    app: object, driver: Driver, runtime: Runtime
) -> None:
    from sqlalchemy import func, select

    from storage.models import AuditEvent

    await driver.user(999, "Curious").send_and_wait("hello")
    async with runtime.sessions() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "access.refused", AuditEvent.outcome == "refused")
        )
    assert count == 1


async def test_a_flood_from_strangers_is_counted_not_recorded_message_by_message(
    app: object, driver: Driver, runtime: Runtime, clock: ManualClock
) -> None:
    """30 messages from 3 strangers: the first is recorded at once, the rest in one summary
    once the hour is over; the audit trail does not grow with the flood."""
    import json

    from sqlalchemy import select

    from storage.audit import verify_chain
    from storage.models import AuditEvent
    from tests.support.waiting import eventually

    strangers = [driver.user(990 + n, f"Stranger{n}") for n in range(3)]
    for round_ in range(10):
        for stranger in strangers:
            (reply,) = await stranger.send_and_wait(f"message {round_}")
            assert reply.text == texts.NEUTRAL_UNKNOWN

    async def refusals() -> list[AuditEvent]:
        async with runtime.sessions() as session:
            rows = await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action.startswith("access.refused"))
                .order_by(AuditEvent.seq)
            )
            return list(rows)

    assert [event.action for event in await refusals()] == ["access.refused"]
    clock.advance(timedelta(hours=1, minutes=1))

    async def summarised() -> bool:
        return len(await refusals()) == 2

    await eventually(summarised, "the summary of the hour's refusals")
    first, summary = await refusals()
    assert (first.action, summary.action) == ("access.refused", "access.refused.summary")
    details = json.loads(summary.details)
    assert (details["count"], details["unknown_users"], details["reasons"]) == (
        30,
        3,
        "message: 30",
    )
    assert all(str(990 + n) not in summary.details for n in range(3))  # ids counted, not kept
    async with runtime.sessions() as session:
        assert (await verify_chain(session)).intact

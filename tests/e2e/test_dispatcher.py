"""Reminders end to end: the real Application's bot (with its rate limiter) sends the outbox
through the Bot API stand-in; each test dispatches directly and moves the ManualClock, so
nothing depends on the job's timing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from telegram.error import RetryAfter
from telegram.ext import ExtBot
from telegram.request import HTTPXRequest

from bot.adapter.application import MaracApplication
from bot.adapter.dispatcher import DispatchReport, dispatch_due, dispatch_job, retry_after_delay
from bot.adapter.local import running_bot
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver
from bot.services.deps import ServiceDeps
from bot.services.outbox import OutboxService, cancel, enqueue, retry_backoff
from bot.vocabulary import Role
from storage.db import create_engine, create_session_factory
from storage.models import AuditEvent, OutboxMessage, Person
from tests.support.e2e import Area


def pause_jobs(application: MaracApplication) -> None:
    """Stop the housekeeping job dispatching on its own, so each test decides when it runs."""
    assert application.job_queue is not None
    application.job_queue.scheduler.pause()


@pytest.fixture
async def bot_app(app: MaracApplication) -> AsyncIterator[MaracApplication]:
    pause_jobs(app)
    yield app


async def person_id(runtime: Runtime, telegram_user_id: int) -> int:
    async with runtime.sessions() as session:
        found = await session.scalar(
            select(Person.id).where(Person.telegram_user_id == telegram_user_id)
        )
    assert found is not None
    return found


async def remind(
    runtime: Runtime,
    area: Area,
    chat_id: int,
    key: str,
    text: str,
    *,
    due_in: timedelta = timedelta(0),
    buttons: list[list[tuple[str, str]]] | None = None,
) -> None:
    now = runtime.clock.now()
    pid = await person_id(runtime, chat_id)
    async with runtime.sessions.begin() as session:
        assert await enqueue(
            session,
            dedupe_key=key,
            chat_id=chat_id,
            kind="reminder",
            text=text,
            now=now,
            due_at=now + due_in,
            area_id=area.area_id,
            person_id=pid,
            buttons=buttons,
        )


def delivered(driver: Driver, chat_id: int, text: str) -> int:
    return sum(1 for m in driver.bot_messages(chat_id) if m.text == text)


def send_calls(server: BotApiStandIn, chat_id: int, text: str) -> int:
    return sum(
        1
        for call in server.calls_of("sendMessage")
        if call.get("chat_id") == chat_id and call.get("text") == text
    )


async def test_due_reminders_reach_every_user_exactly_once(
    bot_app: MaracApplication,
    area: Area,
    driver: Driver,
    server: BotApiStandIn,
    runtime: Runtime,
    clock: ManualClock,
) -> None:
    users = [501, 502, 503, 504]
    for n, uid in enumerate(users):
        await area.enrol(uid, f"Coordinator{n}", "Test")
    outbox = OutboxService(runtime.deps)
    texts = {
        uid: [f"Reminder {k} for case NOR-2026-00{uid % 100}" for k in range(3)] for uid in users
    }
    for uid in users:
        for k, text in enumerate(texts[uid]):
            buttons = [[("Confirm", f"rem:ok:{uid}:{k}")]] if k == 0 else None
            await remind(runtime, area, uid, f"test:{uid}:{k}", text, buttons=buttons)
        await remind(
            runtime, area, uid, f"test:{uid}:later", "Tomorrow's reminder", due_in=timedelta(days=1)
        )

    report = await dispatch_due(bot_app.bot, outbox)
    assert report == DispatchReport(sent=12)
    for uid in users:
        for text in texts[uid]:
            assert delivered(driver, uid, text) == 1
            assert send_calls(server, uid, text) == 1
        assert delivered(driver, uid, "Tomorrow's reminder") == 0
        first = next(m for m in driver.bot_messages(uid) if m.text == texts[uid][0])
        button = first.find_button("Confirm")
        assert button is not None and button.callback_data == f"rem:ok:{uid}:0"
        assert not first.protect_content

    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport()
    clock.advance(timedelta(days=1))
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(sent=4)
    clock.advance(timedelta(days=1))
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport()
    for uid in users:
        assert delivered(driver, uid, "Tomorrow's reminder") == 1
        assert send_calls(server, uid, "Tomorrow's reminder") == 1
    assert await outbox.pending_count() == 0


async def test_restart_with_reminders_due_sends_each_once(
    runtime: Runtime,
    server: BotApiStandIn,
    area: Area,
    driver: Driver,
    clock: ManualClock,
) -> None:
    """The first instance stops with reminders due, one of them claimed but never sent (as if
    it crashed mid-send); the next instance sends all of them, each once."""
    users = [501, 502, 503]
    async with running_bot(runtime, server) as first:
        pause_jobs(first)
        for n, uid in enumerate(users):
            await area.enrol(uid, f"Coordinator{n}", "Test")
        for uid in users:
            for k in range(2):
                await remind(runtime, area, uid, f"test:{uid}:{k}", f"Reminder {k} to {uid}")
        # The first instance takes one row and dies before sending it.
        (orphan,) = await OutboxService(runtime.deps).claim_due(limit=1)

    async with running_bot(runtime, server) as second:
        pause_jobs(second)
        outbox = OutboxService(runtime.deps)
        assert await dispatch_due(second.bot, outbox) == DispatchReport(sent=5)
        assert await dispatch_due(second.bot, outbox) == DispatchReport()  # orphan still leased
        clock.advance(timedelta(minutes=2, seconds=1))
        assert await dispatch_due(second.bot, outbox) == DispatchReport(sent=1)

    for uid in users:
        for k in range(2):
            assert delivered(driver, uid, f"Reminder {k} to {uid}") == 1
            assert send_calls(server, uid, f"Reminder {k} to {uid}") == 1
    assert send_calls(server, orphan.chat_id, orphan.text) == 1


async def test_two_dispatchers_at_once_send_each_reminder_once(
    bot_app: MaracApplication,
    area: Area,
    driver: Driver,
    server: BotApiStandIn,
    runtime: Runtime,
    clock: ManualClock,
) -> None:
    """A second dispatcher with its own database connections, as a second bot instance has."""
    users = [501, 502]
    for n, uid in enumerate(users):
        await area.enrol(uid, f"Coordinator{n}", "Test")
    for uid in users:
        for k in range(15):
            await remind(runtime, area, uid, f"test:{uid}:{k}", f"Reminder {k} to {uid}")
    engine = create_engine(runtime.settings.database_url)
    try:
        other = OutboxService(
            ServiceDeps(
                sessions=create_session_factory(
                    engine, audit_key=runtime.vault.key_ring.audit_key()
                ),
                vault=runtime.vault,
                clock=clock,
            )
        )
        mine = OutboxService(runtime.deps)
        reports = await asyncio.gather(
            *(dispatch_due(bot_app.bot, service, batch=4) for service in (mine, other, mine, other))
        )
        while sum(r.sent for r in reports) < 30:
            more = await asyncio.gather(
                dispatch_due(bot_app.bot, mine, batch=4), dispatch_due(bot_app.bot, other, batch=4)
            )
            assert any(r.sent for r in more), reports
            reports.extend(more)
    finally:
        await engine.dispose()
    assert sum(r.sent for r in reports) == 30
    for uid in users:
        for k in range(15):
            assert send_calls(server, uid, f"Reminder {k} to {uid}") == 1


async def test_flood_control_the_rate_limiter_absorbs_sends_once(
    bot_app: MaracApplication, area: Area, driver: Driver, server: BotApiStandIn, runtime: Runtime
) -> None:
    """One 429 is waited out by the rate limiter (bot.adapter.rate_limiter) inside the same
    send, in the bulk lane the dispatcher sends in."""
    await area.enrol(501, "Priya", "Shah")
    await remind(runtime, area, 501, "test:1", "Reminder: MARAC on Thursday")
    server.inject_failure("sendMessage", status=429, retry_after=1)
    report = await dispatch_due(bot_app.bot, OutboxService(runtime.deps))
    assert report == DispatchReport(sent=1)
    assert delivered(driver, 501, "Reminder: MARAC on Thursday") == 1
    assert send_calls(server, 501, "Reminder: MARAC on Thursday") == 2  # refused, then sent


async def test_flood_control_beyond_the_rate_limiter_is_retried_after_retry_at(
    bot_app: MaracApplication,
    area: Area,
    driver: Driver,
    server: BotApiStandIn,
    runtime: Runtime,
    clock: ManualClock,
) -> None:
    """Telegram keeps saying 429 (retry after 1 s) past the limiter's 3 retries: the outbox
    retries the reminder once the clock passes retry_at, and hands the rest of the batch back
    rather than running into the same wall."""
    await area.enrol(501, "Priya", "Shah")
    await area.enrol(502, "Ben", "Ode")
    await remind(runtime, area, 501, "test:1", "Reminder for Priya")
    await remind(runtime, area, 502, "test:2", "Reminder for Ben")
    outbox = OutboxService(runtime.deps)
    server.inject_failure("sendMessage", status=429, retry_after=1, times=4)

    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(retried=1, skipped=1)
    assert delivered(driver, 501, "Reminder for Priya") == 0
    assert send_calls(server, 502, "Reminder for Ben") == 0
    async with runtime.sessions() as session:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == "test:1")
        )
    assert (
        row is not None and row.attempts == 1 and row.due_at == clock.now() + timedelta(seconds=1)
    )
    assert row.last_error is not None and row.last_error.startswith("RetryAfter")

    # Ben's was handed back untouched; Priya's waits for retry_at.
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(sent=1)
    assert delivered(driver, 502, "Reminder for Ben") == 1
    assert delivered(driver, 501, "Reminder for Priya") == 0
    clock.advance(timedelta(seconds=1))
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(sent=1)
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport()
    assert delivered(driver, 501, "Reminder for Priya") == 1
    assert delivered(driver, 502, "Reminder for Ben") == 1


async def test_network_trouble_is_retried_with_backoff(
    bot_app: MaracApplication,
    area: Area,
    driver: Driver,
    runtime: Runtime,
    clock: ManualClock,
    server: BotApiStandIn,
) -> None:
    await area.enrol(501, "Priya", "Shah")
    await remind(runtime, area, 501, "test:1", "Reminder: actions due Friday")
    outbox = OutboxService(runtime.deps)
    server.inject_failure("sendMessage", status=502)
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(retried=1)
    clock.advance(timedelta(seconds=29))
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport()
    clock.advance(timedelta(seconds=1))
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(sent=1)
    assert delivered(driver, 501, "Reminder: actions due Friday") == 1


async def test_blocked_user_is_marked_unreachable_and_coordinator_told(
    bot_app: MaracApplication,
    area: Area,
    driver: Driver,
    server: BotApiStandIn,
    runtime: Runtime,
    clock: ManualClock,
) -> None:
    await area.enrol(501, "Priya", "Shah")
    chair = await area.enrol(701, "Chris", "Chair", role=Role.CHAIR)
    chair_id = await person_id(runtime, 701)
    chair.block()
    await remind(runtime, area, 701, "test:chair:1", "Agenda ready for MARAC on Thursday")
    await remind(runtime, area, 701, "test:chair:2", "Two actions due this week")
    outbox = OutboxService(runtime.deps)

    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(unreachable=2)
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(sent=1)  # the notice
    notice = (
        f"A message to MARAC chair person:{chair_id} could not be delivered: they have blocked "
        "the bot or left Telegram. Please contact them another way."
    )
    assert delivered(driver, 501, notice) == 1
    assert "Chris" not in notice
    assert delivered(driver, 701, "Agenda ready for MARAC on Thursday") == 0
    clock.advance(timedelta(hours=1))
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport()  # nothing retried

    async with runtime.sessions() as session:
        person = await session.get(Person, chair_id)
        assert person is not None and person.unreachable_since is not None
        events = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.action == "outbox.unreachable")
            )
        )
    assert [e.subject for e in events] == [f"person:{chair_id}"] * 2


async def test_chat_not_found_counts_as_unreachable(
    bot_app: MaracApplication, area: Area, runtime: Runtime, server: BotApiStandIn
) -> None:
    await area.enrol(501, "Priya", "Shah")
    async with runtime.sessions.begin() as session:
        await enqueue(
            session,
            dedupe_key="test:gone",
            chat_id=999_001,  # a chat Telegram does not know
            kind="reminder",
            text="Reminder",
            now=runtime.clock.now(),
            area_id=area.area_id,
        )
    report = await dispatch_due(bot_app.bot, OutboxService(runtime.deps))
    assert report == DispatchReport(unreachable=1)


async def test_a_message_telegram_refuses_fails_at_once_without_stopping_the_batch(
    bot_app: MaracApplication, area: Area, driver: Driver, runtime: Runtime, server: BotApiStandIn
) -> None:
    await area.enrol(501, "Priya", "Shah")
    await remind(runtime, area, 501, "test:1", "First")
    await remind(runtime, area, 501, "test:2", "Second")
    server.inject_failure(
        "sendMessage", status=400, description="Bad Request: can't parse entities"
    )
    outbox = OutboxService(runtime.deps)
    assert await dispatch_due(bot_app.bot, outbox) == DispatchReport(sent=1, failed=1)
    assert delivered(driver, 501, "Second") == 1
    async with runtime.sessions() as session:
        failed = await session.scalar(
            select(AuditEvent).where(AuditEvent.action == "outbox.failed")
        )
    assert failed is not None and failed.subject == f"person:{await person_id(runtime, 501)}"


async def test_cancelled_reminder_is_never_sent(
    bot_app: MaracApplication,
    area: Area,
    driver: Driver,
    server: BotApiStandIn,
    runtime: Runtime,
    clock: ManualClock,
) -> None:
    await area.enrol(501, "Priya", "Shah")
    await remind(
        runtime, area, 501, "meeting:4:day-before", "MARAC tomorrow", due_in=timedelta(hours=1)
    )
    await remind(runtime, area, 501, "meeting:4:today", "MARAC today", due_in=timedelta(hours=2))
    await remind(runtime, area, 501, "action:9:due", "Action 9 due", due_in=timedelta(hours=1))
    async with runtime.sessions.begin() as session:
        assert await cancel(session, dedupe_key_prefix="meeting:4:", now=clock.now()) == 2
    outbox = OutboxService(runtime.deps)
    for _ in range(4):
        clock.advance(timedelta(hours=1))
        await dispatch_due(bot_app.bot, outbox)
    assert delivered(driver, 501, "Action 9 due") == 1
    for text in ("MARAC tomorrow", "MARAC today"):
        assert send_calls(server, 501, text) == 0


async def test_the_job_and_the_housekeeping_tick_together_send_once(
    app: MaracApplication, area: Area, driver: Driver, runtime: Runtime, server: BotApiStandIn
) -> None:
    """Through PTB's JobQueue as production runs it: an immediate dispatch_job alongside the
    repeating housekeeping job, both dispatching the same outbox."""
    await area.enrol(501, "Priya", "Shah")
    marker = len(driver.messages(501))
    await remind(runtime, area, 501, "test:job", "Reminder from the job queue")
    assert app.job_queue is not None
    app.job_queue.run_once(dispatch_job, 0, name="dispatch-now")
    (message,) = await driver.wait_for_bot_messages(501, after=marker)
    assert message.text == "Reminder from the job queue"
    # Let a few more ticks of the 0.1 s housekeeping job pass: nothing goes twice.
    await asyncio.sleep(0.5)
    assert send_calls(server, 501, "Reminder from the job queue") == 1


@pytest.mark.parametrize("ptb_timedelta", ["false", "true"])
def test_retry_after_is_read_as_seconds_or_timedelta(
    ptb_timedelta: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", ptb_timedelta)
    assert retry_after_delay(RetryAfter(7)) == timedelta(seconds=7)
    assert retry_after_delay(RetryAfter(timedelta(seconds=2.5))) == timedelta(seconds=2.5)
    assert retry_after_delay(RetryAfter(0)) == timedelta(seconds=1)  # never "retry at once"


def test_backoff_doubles_from_30_seconds_up_to_an_hour() -> None:
    assert [retry_backoff(n) for n in range(4)] == [
        timedelta(seconds=30),
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
    ]
    assert retry_backoff(7) == retry_backoff(50) == timedelta(hours=1)


async def test_a_send_that_times_out_is_retried_and_delivered_at_most_twice(
    bot_app: MaracApplication,
    area: Area,
    driver: Driver,
    runtime: Runtime,
    clock: ManualClock,
    server: BotApiStandIn,
) -> None:
    """Telegram answers too slowly: the message may or may not have gone, and the Bot API has
    no way to ask. The reminder is kept and sent again, so it is never lost; the price is at
    most one duplicate, which is the lesser harm for a safety reminder."""
    await area.enrol(501, "Priya", "Shah")
    await remind(runtime, area, 501, "test:slow", "Reminder: research due Friday")
    outbox = OutboxService(runtime.deps)
    impatient = ExtBot(
        bot_app.bot.token,
        base_url=f"{server.url}/bot",
        request=HTTPXRequest(read_timeout=0.2),
    )
    await impatient.initialize()
    try:
        server.set_delay("sendMessage", 1.0)
        assert await dispatch_due(impatient, outbox) == DispatchReport(retried=1)
        server.set_delay("sendMessage", None)
        # The slow call still went through at Telegram's end.
        await driver.wait_for(lambda: delivered(driver, 501, "Reminder: research due Friday") == 1)
        clock.advance(retry_backoff(0))
        assert await dispatch_due(impatient, outbox) == DispatchReport(sent=1)
        clock.advance(timedelta(hours=2))
        assert await dispatch_due(impatient, outbox) == DispatchReport()
    finally:
        await impatient.shutdown()
    assert delivered(driver, 501, "Reminder: research due Friday") == 2
    async with runtime.sessions() as session:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == "test:slow")
        )
    assert row is not None and row.sent_at is not None


async def test_a_persons_reply_does_not_wait_for_the_outbox_to_drain(
    bot_app: MaracApplication, area: Area, driver: Driver, server: BotApiStandIn, runtime: Runtime
) -> None:
    """150 reminders take five seconds at Telegram's 30 a second; Priya's /help, sent once
    they are going out, is answered while most of them still wait, and none is lost or doubled
    for it."""
    priya = await area.enrol(501, "Priya", "Shah")
    recipients = [900_001 + k for k in range(150)]
    now = runtime.clock.now()
    async with runtime.sessions.begin() as session:
        for chat_id in recipients:
            driver.user(chat_id, f"Recipient {chat_id}")
            assert await enqueue(
                session,
                dedupe_key=f"test:drain:{chat_id}",
                chat_id=chat_id,
                kind="reminder",
                text=f"Reminder for {chat_id}",
                now=now,
                due_at=now,
                area_id=area.area_id,
            )
    draining = asyncio.create_task(
        dispatch_due(bot_app.bot, OutboxService(runtime.deps), batch=200)
    )
    await driver.wait_for(
        lambda: server.call_count("sendMessage") >= 5, description="reminders going out"
    )
    (reply,) = await priya.send_and_wait("/help")
    assert "/invite" in (reply.text or "")
    sent_before_reply = sum(
        1 for chat_id in recipients if delivered(driver, chat_id, f"Reminder for {chat_id}")
    )
    assert sent_before_reply < 100
    assert await draining == DispatchReport(sent=150)
    for chat_id in recipients:
        assert send_calls(server, chat_id, f"Reminder for {chat_id}") == 1

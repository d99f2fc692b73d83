"""People and permissions end to end: agencies, invites, deactivation, forged buttons, lockout,
sensitive messages removed after their time, and agreement review reminders."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.vocabulary import Role
from storage.models import AuditEvent, Person
from tests.support.e2e import Area, confirm_enrolment, wait_for_text

LINK_CODE = re.compile(r"start=([A-Za-z0-9_-]+)")


async def add_agency(priya: SimulatedUser, kind: str, name: str) -> None:
    await priya.send_and_wait("/agencies")
    await priya.press_and_wait("Add agency", expect_edit=True)
    await priya.press_and_wait(kind, expect_edit=True)
    added, listing = await priya.send_and_wait(name, count=2)
    assert added.text == texts.agency_added(name)
    assert listing.find_button(name) is not None


async def invite_through_buttons(priya: SimulatedUser, role: str, agency: str | None) -> str:
    await priya.send_and_wait("/invite")
    result = await priya.press_and_wait(role, expect_edit=True)
    if agency is not None:
        result = await priya.press_and_wait(agency, expect_edit=True)
    match = LINK_CODE.search(result.message.text or "")
    assert match, result.message.text
    return match.group(1)


async def refusals(runtime: Runtime, action: str) -> list[AuditEvent]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(AuditEvent).where(AuditEvent.action == action, AuditEvent.outcome == "refused")
        )
        return list(rows)


async def test_invite_enrol_act_deactivate_refused(
    app: object, area: Area, driver: Driver, runtime: Runtime
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    await add_agency(priya, "Police", "Northamptonshire Police")
    code = await invite_through_buttons(priya, "Agency rep", "Northamptonshire Police")

    sam = driver.user(601, "Sam", last_name="Okafor", role="police")
    welcome, waiting = await sam.send_and_wait(f"/start {code}", count=2)
    assert "agency representative for Northamptonshire Police" in (welcome.text or "")
    assert waiting.buttons == []  # nothing to open until a coordinator confirms Sam
    await confirm_enrolment(driver, priya, "Sam Okafor")
    await wait_for_text(driver, sam, "A coordinator has confirmed your enrolment")
    (home,) = await sam.send_and_wait("/start")
    assert [b.text for row in home.buttons for b in row] == ["People", "Meetings"]
    (refused,) = await sam.send_and_wait("/agencies")
    assert refused.text == texts.NOT_ALLOWED

    (listing,) = await priya.send_and_wait("/people")
    assert listing.protect_content
    assert "Sam Okafor" in (listing.text or "") and "Priya Shah" in (listing.text or "")
    await priya.press_and_wait("Sam Okafor", message=listing, expect_edit=True)
    confirm = await priya.press_and_wait("Deactivate", message=listing, expect_edit=True)
    assert "Deactivate Sam Okafor?" in (confirm.message.text or "")
    done = await priya.press_and_wait("Yes, deactivate", message=listing, expect_edit=True)
    assert done.message.text == texts.deactivated("Sam Okafor")

    (reply,) = await sam.send_and_wait("/people")
    assert reply.text == texts.NEUTRAL_UNKNOWN
    pressed = await sam.press_and_wait("People", message=home, expect_edit=True)
    assert pressed.answer is not None and pressed.answer.text == texts.NO_LONGER_HAS_ACCESS
    assert home.buttons == []  # the keyboard was taken away
    assert driver.commands_for(sam.chat_id) != driver.commands_for(priya.chat_id)


async def test_forged_buttons_are_refused_and_audited(
    app: object, area: Area, driver: Driver, runtime: Runtime
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    await add_agency(priya, "Police", "Northamptonshire Police")
    async with runtime.sessions() as session:
        priya_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == 501))
    code = await invite_through_buttons(priya, "Agency rep", "Northamptonshire Police")
    sam = driver.user(601, "Sam", last_name="Okafor")
    _, home = await sam.send_and_wait(f"/start {code}", count=2)
    await confirm_enrolment(driver, priya, "Sam Okafor")

    # An agency rep forges the coordinator's "deactivate" button with someone else's id.
    query = await sam.press_data(home.message_id, f"ppl:offy:{priya_id}")
    answer = await driver.wait_for_answer(query)
    assert answer.text == texts.NOT_ALLOWED and answer.show_alert
    assert len(await refusals(runtime, "permission.denied")) == 1

    # Malformed data, and data no handler knows.
    for data in ("x" * 64, "ppl:open:abc", "nonsense"):
        query = await sam.press_data(home.message_id, data)
        assert (await driver.wait_for_answer(query)).text == texts.BUTTON_NOT_RECOGNISED
    assert len(await refusals(runtime, "button.unrecognised")) == 3

    # A coordinator of another area presses an id that belongs to Northamptonshire.
    other = Area(runtime, driver)
    await other.create("Leicestershire")
    lena = await other.enrol(801, "Lena", "Novak")
    async with runtime.sessions() as session:
        sam_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == 601))
    lena_home = lena.last_bot_message()
    query = await lena.press_data(lena_home.message_id, f"ppl:offy:{sam_id}")
    assert (await driver.wait_for_answer(query)).text == texts.PERSON_NOT_FOUND
    assert len(await refusals(runtime, "button.refused")) == 1
    async with runtime.sessions() as session:
        sam_row = await session.scalar(select(Person).where(Person.telegram_user_id == 601))
        assert sam_row is not None and sam_row.deactivated_at is None


async def test_guessing_invite_codes_locks_the_account_for_an_hour(
    app: object, area: Area, driver: Driver, runtime: Runtime, clock: ManualClock
) -> None:
    guesser = driver.user(666, "Guess")
    for n in range(5):
        (reply,) = await guesser.send_and_wait(f"/start guessedcodenumber{n:08d}")
        assert reply.text == texts.INVITE_NOT_VALID
    real_code = await area.code(Role.CHAIR)
    (reply,) = await guesser.send_and_wait(f"/start {real_code}")
    assert reply.text == texts.INVITE_LOCKED_OUT
    async with runtime.sessions() as session:
        locked = await session.scalars(select(AuditEvent).where(AuditEvent.outcome == "locked_out"))
        assert len(list(locked)) == 1
    clock.advance(timedelta(hours=1, minutes=1))
    welcome, _ = await guesser.send_and_wait(f"/start {real_code}", count=2)
    assert "MARAC chair" in (welcome.text or "")


async def test_sensitive_list_is_deleted_after_its_time(
    app: object, area: Area, driver: Driver, runtime: Runtime, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    (listing,) = await priya.send_and_wait("/people")
    assert listing.protect_content and not listing.deleted
    await priya.send_and_wait("/help")  # updates run in order: /people has fully finished
    clock.advance(timedelta(minutes=14))
    assert await runtime.services.sensitive_messages.due() == []
    clock.advance(timedelta(minutes=1, seconds=1))
    await driver.wait_for(lambda: listing.deleted, description="the /people list to be deleted")
    await priya.send_and_wait("/help")
    assert len(driver.server.calls_of("deleteMessage")) == 1  # deleted once, not on every run


async def test_coordinator_revokes_an_open_invite(app: object, area: Area, driver: Driver) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    code = await invite_through_buttons(priya, "Chair", None)
    await priya.send_and_wait("/invite")
    listing = await priya.press_and_wait("Open invites", expect_edit=True)
    assert "Chair, Northamptonshire" in (listing.message.text or "")
    await priya.press_and_wait("Revoke: Chair, Northamptonshire", expect_edit=True)
    done = await priya.press_and_wait("Yes, revoke", expect_edit=True)
    assert done.message.text == texts.INVITE_REVOKED
    (reply,) = await driver.user(777, "Chair").send_and_wait(f"/start {code}")
    assert reply.text == texts.INVITE_NOT_VALID


async def test_coordinator_cannot_deactivate_themselves(
    app: object, area: Area, driver: Driver, runtime: Runtime
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    async with runtime.sessions() as session:
        priya_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == 501))
    home = priya.last_bot_message()
    query = await priya.press_data(home.message_id, f"ppl:offy:{priya_id}")
    assert (await driver.wait_for_answer(query)).text == texts.CANNOT_DEACTIVATE_SELF


async def test_rename_and_bad_input_in_agency_conversation(
    app: object, area: Area, driver: Driver, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    await add_agency(priya, "Police", "Northamptonshire Police")
    await add_agency(priya, "Housing", "Homes for Northants")
    await priya.press_and_wait("Homes for Northants", expect_edit=True)
    await priya.press_and_wait("Rename", expect_edit=True)
    (reply,) = await priya.send_and_wait("northamptonshire police")
    assert reply.text == texts.agency_exists("northamptonshire police")
    (reply,) = await priya.send_and_wait("Northants Housing")
    assert reply.text == texts.agency_renamed("Northants Housing")

    await priya.send_and_wait("/agencies")
    await priya.press_and_wait("Northants Housing", expect_edit=True)
    await priya.press_and_wait("Agreement dates", expect_edit=True)
    today = clock.now().date()
    (reply,) = await priya.send_and_wait(f"31/02/{today.year}")
    assert "not a date in the calendar" in (reply.text or "")
    signed = today - timedelta(days=270)
    (reply,) = await priya.send_and_wait(f"{signed.day} {signed:%B %Y}")
    assert reply.text == texts.ask_isa_review(today)
    (reply,) = await priya.send_and_wait("/cancel")
    assert reply.text == texts.CANCELLED
    review = today + timedelta(days=95)
    (reply,) = await priya.send_and_wait(f"{review:%d/%m/%Y}")  # no conversation any more
    assert reply.text == texts.NOT_UNDERSTOOD


async def test_agreement_review_reminder_goes_to_coordinators_once(
    app: object, area: Area, driver: Driver, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    await add_agency(priya, "Police", "Northamptonshire Police")
    await priya.press_and_wait("Northamptonshire Police", expect_edit=True)
    await priya.press_and_wait("Agreement dates", expect_edit=True)
    await priya.send_and_wait((clock.now().date() - timedelta(days=330)).strftime("%d/%m/%Y"))
    review = clock.now().date() + timedelta(days=45)
    (reply,) = await priya.send_and_wait(review.strftime("%d/%m/%Y"))
    assert "Agreement recorded" in (reply.text or "")

    marker = priya.messages()[-1].message_id
    clock.advance(timedelta(days=15, hours=1))
    (reminder,) = await driver.wait_for_bot_messages(priya.chat_id, after=marker)
    assert "Northamptonshire Police" in (reminder.text or "")
    assert review.strftime("%d %b %Y").lstrip("0") in (reminder.text or "")
    clock.advance(timedelta(days=2))
    (reply,) = await priya.send_and_wait("/help")  # no second reminder arrived meanwhile
    assert reply.text is not None and reply.text.startswith("As MARAC coordinator")


async def test_restart_in_the_middle_of_adding_an_agency_loses_nothing(
    runtime: Runtime, server: object, area: Area, driver: Driver
) -> None:
    from bot.adapter.local import running_bot
    from bot.sandbox import BotApiStandIn

    assert isinstance(server, BotApiStandIn)
    async with running_bot(runtime, server):
        priya = await area.enrol(501, "Priya", "Shah")
        await priya.send_and_wait("/agencies")
        await priya.press_and_wait("Add agency", expect_edit=True)
        await priya.press_and_wait("Probation", expect_edit=True)
    async with running_bot(runtime, server):
        added, _ = await priya.send_and_wait("Probation Service East Midlands", count=2)
    assert added.text == texts.agency_added("Probation Service East Midlands")

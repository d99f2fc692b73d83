"""No silent impostor: an enrolment by a coordinator's invite waits for a coordinator's Confirm.

An invite link can be forwarded. Whoever opens it is enrolled, and every other coordinator is
asked "Sam Okafor enrolled as agency representative for Northamptonshire Police. Is that
right? [Confirm] [Remove]". Until someone confirms, the new person gets nothing from any case
they would otherwise see (no research request when the agenda is published, /case refused),
only /start and /help; after Confirm they do, and Remove takes their access away.
"""

from __future__ import annotations

from datetime import time

from sqlalchemy import select

from bot import texts
from bot.actions.entry import ActionDraft
from bot.actor import Actor
from bot.meetings.recurrence import Repeat
from bot.meetings.workdays import AreaCalendar
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.records import RecordedMessage
from bot.vocabulary import AgencyKind, Role
from storage.models import AuditEvent, OutboxMessage, Person
from tests.support.e2e import Area, add_agency, wait_for_text
from tests.support.service_scenarios import refer

POLICE = "Northamptonshire Police"


async def actor_of(runtime: Runtime, user: SimulatedUser) -> Actor:
    actor = await runtime.services.enrolment.identify(user.id)
    assert actor is not None
    return actor


async def question_for(driver: Driver, coordinator: SimulatedUser, name: str) -> RecordedMessage:
    """The coordinator's "... enrolled as ... Is that right?" message about ``name``."""
    return await driver.wait_for(
        lambda: next(
            (
                m
                for m in coordinator.bot_messages()
                if (m.text or "").startswith(f"{name} enrolled as")
            ),
            None,
        ),
        description=f"the question about {name} for {coordinator.display_name}",
    )


async def redeem(user: SimulatedUser, code: str) -> tuple[RecordedMessage, RecordedMessage]:
    welcome, home = await user.send_and_wait(f"/start {code}", count=2)
    return welcome, home


async def test_a_new_rep_gets_no_case_until_a_coordinator_confirms_them(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    now = runtime.clock.now()
    police = await add_agency(runtime, area.area_id, POLICE, AgencyKind.POLICE, now)
    priya = await area.enrol(501, "Priya", "Shah")
    cora = await area.enrol(502, "Cora", "Ord")
    nia = await area.enrol(601, "Nia", "Brown", Role.AGENCY_REP, police)
    coordinator = await actor_of(runtime, priya)

    # A case Nia's agency referred, accepted onto a meeting ten working days away.
    meeting_day = AreaCalendar().add_working_days(now.date(), 10)
    (meeting,) = (
        await runtime.services.meetings.create(
            coordinator, first_date=meeting_day, start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    submitted = await refer(runtime, await actor_of(runtime, nia))
    await runtime.services.cases.accept(coordinator, submitted.case_id)
    reference = submitted.reference

    # Priya invites a police representative; the link reaches "Sam Okafor".
    invite = await runtime.services.invites.issue(
        coordinator, area_id=area.area_id, role=Role.AGENCY_REP, agency_id=police
    )
    sam = driver.user(602, "Sam", last_name="Okafor")
    welcome, home = await redeem(sam, invite.code)
    assert "Welcome, Sam Okafor" in (welcome.text or "")
    assert texts.TWO_STEP_VERIFICATION in (welcome.text or "")
    assert home.text == texts.home_awaiting_confirmation(
        "Sam Okafor", Role.AGENCY_REP, f"{POLICE}, Northamptonshire"
    )
    assert home.buttons == []
    # Choosing English or Cymraeg (/language) is for everyone, confirmed or not.
    assert [name for name, _ in driver.commands_for(sam.chat_id)] == [
        "start",
        "help",
        "language",
        "cancel",
    ]

    # Both coordinators are asked, with Confirm and Remove; the name is in the sent text only.
    expected = texts.enrolment_check("Sam Okafor", "agency representative", POLICE)
    question = await question_for(driver, priya, "Sam Okafor")
    cora_question = await question_for(driver, cora, "Sam Okafor")
    assert question.text == cora_question.text == expected
    assert question.protect_content
    assert [b.text for row in question.buttons for b in row] == ["Confirm", "Remove"]
    async with runtime.sessions() as session:
        stored = list(
            await session.scalars(
                select(OutboxMessage.text).where(OutboxMessage.kind == "enrolment_check")
            )
        )
    assert len(stored) == 2 and not any("Sam" in text or "Okafor" in text for text in stored)

    # Before Confirm: the agenda is published; Nia is asked for research, Sam is sent nothing.
    await runtime.services.meetings.publish(coordinator, meeting.id, area.area_id)
    await wait_for_text(driver, nia, "Research for the MARAC")
    await wait_for_text(driver, nia, "Will your agency attend")
    (refused,) = await sam.send_and_wait(f"/case {reference}")
    assert refused.text == texts.AWAITING_CONFIRMATION
    (help_reply,) = await sam.send_and_wait("/help")
    assert (help_reply.text or "").startswith(texts.AWAITING_CONFIRMATION)
    assert "/case" not in (help_reply.text or "")
    assert not any(reference in (m.text or "") for m in sam.bot_messages())
    assert not any("Research" in (m.text or "") for m in sam.bot_messages())
    async with runtime.sessions() as session:
        sam_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == sam.id))
        held = list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.person_id == sam_id))
        )
    # Nothing naming the case was even queued for Sam; what names no case waits for Confirm.
    assert held and all(row.case_ids is None and row.sent_at is None for row in held)

    # Priya confirms: Sam is told, gets his menu, and what was waiting arrives.
    done = await priya.press_and_wait("Confirm", message=question, expect_edit=True)
    assert done.message.text == texts.enrolment_confirmed(
        "Sam Okafor", "agency representative", POLICE
    )
    assert done.message.buttons == []
    await wait_for_text(driver, sam, "A coordinator has confirmed your enrolment")
    await wait_for_text(driver, sam, "Will your agency attend")
    names = [name for name, _ in driver.commands_for(sam.chat_id)]
    assert "case" in names and "actions" in names
    (card,) = await sam.send_and_wait(f"/case {reference}")
    assert reference in (card.text or "") and card.text != texts.AWAITING_CONFIRMATION

    # Cora presses her own copy afterwards: she is told who decided, and when.
    second = await cora.press_and_wait("Confirm", message=cora_question, expect_edit=True)
    assert "already confirmed by Priya Shah on" in (second.message.text or "")

    # From now on Sam receives the case's notices like any colleague.
    await runtime.services.actions.record(
        coordinator,
        meeting.id,
        submitted.case_id,
        ActionDraft(POLICE, "check bail conditions", None, "normal"),
    )
    await runtime.services.actions.close_meeting(coordinator, meeting.id)
    await wait_for_text(driver, sam, f"New MARAC action for your agency on {reference}")

    async with runtime.sessions() as session:
        confirmed = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "person.confirmed", AuditEvent.subject == f"person:{sam_id}"
            )
        )
        sam_row = await session.get(Person, sam_id)
    assert confirmed is not None and confirmed.actor_person_id == coordinator.person_id
    assert sam_row is not None and sam_row.confirmed_by_id == coordinator.person_id
    assert sam_row.confirmed_at == runtime.clock.now()


async def test_remove_takes_access_away_and_a_later_press_says_who_did_it(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    police = await add_agency(runtime, area.area_id, POLICE, AgencyKind.POLICE, runtime.clock.now())
    priya = await area.enrol(501, "Priya", "Shah")
    cora = await area.enrol(502, "Cora", "Ord")
    nia = await area.enrol(601, "Nia", "Brown", Role.AGENCY_REP, police)
    coordinator = await actor_of(runtime, priya)
    invite = await runtime.services.invites.issue(
        coordinator, area_id=area.area_id, role=Role.AGENCY_REP, agency_id=police
    )
    mallory = driver.user(666, "Mallory", last_name="Fake")
    await redeem(mallory, invite.code)
    question = await question_for(driver, priya, "Mallory Fake")
    cora_question = await question_for(driver, cora, "Mallory Fake")

    # A forged press by a representative, and a stale one naming another enrolment.
    data = next(b.callback_data for row in question.buttons for b in row if b.text == "Confirm")
    assert data is not None
    query = await nia.press_data(nia.last_bot_message().message_id, data)
    assert (await driver.wait_for_answer(query)).text == texts.NOT_ALLOWED
    person_id = int(data.split(":")[2])
    home = priya.bot_messages()[1]  # pressed elsewhere: a refusal takes that keyboard away
    stale = await priya.press_data(home.message_id, f"enr:ok:{person_id}:{invite.invite_id + 1}")
    assert (await driver.wait_for_answer(stale)).text == texts.BUTTON_NOT_RECOGNISED

    # Remove asks once more, then takes the access away.
    asked = await priya.press_and_wait("Remove", message=question, expect_edit=True)
    assert asked.message.text == texts.confirm_enrolment_removal("Mallory Fake")
    back = await priya.press_and_wait("Back", message=question, expect_edit=True)
    assert back.message.text == texts.enrolment_check(
        "Mallory Fake", "agency representative", POLICE
    )
    await priya.press_and_wait("Remove", message=question, expect_edit=True)
    done = await priya.press_and_wait("Yes, remove", message=question, expect_edit=True)
    assert done.message.text == texts.enrolment_removed("Mallory Fake")
    (reply,) = await mallory.send_and_wait("/help")
    assert reply.text == texts.NEUTRAL_UNKNOWN
    assert driver.commands_for(mallory.chat_id) == []

    later = await cora.press_and_wait("Remove", message=cora_question, expect_edit=True)
    assert "already removed by Priya Shah on" in (later.message.text or "")
    async with runtime.sessions() as session:
        row = await session.get(Person, person_id)
        removed = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.action == "person.deactivated",
                AuditEvent.subject == f"person:{person_id}",
            )
        )
    assert row is not None and row.deactivated_by_id == coordinator.person_id
    assert row.confirmed_at is None
    assert removed is not None and '"via":"enrolment check"' in removed.details

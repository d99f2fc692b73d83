"""Nothing with case details is left behind in a Telegram chat.

Chats with a bot are not end-to-end encrypted: what stays in a chat stays on Telegram's
servers and on every device the person uses. What a person types about a case is deleted
as soon as the bot has stored it; what the bot shows is protected and deleted after its
time; a deletion Telegram refuses is reported to the person; calendar invitations (sent
unprotected to every invitee) leave out the meeting's place unless the area chooses.
"""

from __future__ import annotations

from datetime import timedelta

import icalendar
from sqlalchemy import select

from bot import texts
from bot.adapter import metrics
from bot.adapter.local import running_bot
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver, RecordedMessage, SimulatedUser
from bot.sandbox.scenarios import Referral, make_referral, press, say
from bot.vocabulary import AgencyKind, Role
from storage.models import Meeting
from tests.support.e2e import Area, _agency, refer_and_accept, schedule, submit, wait_for_text

REFERRAL = Referral()
# Everything the referrer types in make_referral that identifies someone or tells their story.
PERSONAL = (
    "07700 900123",
    "mother must not be told",
    REFERRAL.victim,
    REFERRAL.victim_dob,
    "12 Elm Road",
    REFERRAL.perpetrator,
    "01/01/1985",
    REFERRAL.perpetrator_address,
    REFERRAL.summary,
    REFERRAL.checklist,
)


def holding_personal_data(messages: list[RecordedMessage]) -> list[RecordedMessage]:
    return [
        m for m in messages if not m.deleted and any(value in (m.text or "") for value in PERSONAL)
    ]


def typed(user: SimulatedUser) -> list[RecordedMessage]:
    """What the person typed that is not a command."""
    return [m for m in user.messages() if not m.from_bot and not (m.text or "").startswith("/")]


async def cast(runtime: Runtime, area: Area) -> tuple[SimulatedUser, SimulatedUser]:
    police = await _agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    return priya, sam


async def test_a_whole_referral_leaves_no_personal_data_in_the_referrers_chat(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    _priya, sam = await cast(runtime, area)
    await make_referral(sam, REFERRAL)
    # Each answer was deleted before the next question came: none is left to read.
    assert typed(sam) and all(m.deleted for m in typed(sam))
    await submit(sam)

    # What the bot showed with case details (the quick-entry read-back, the review) is
    # protected from forwarding and saving while it is there ...
    shown = holding_personal_data(sam.bot_messages())
    assert shown, "the read-back and the review show what was typed"
    assert all(m.protect_content for m in shown)
    # ... and goes after the sensitive-message time.
    clock.advance(timedelta(minutes=runtime.settings.sensitive_message_ttl_minutes, seconds=1))
    await driver.wait_for(
        lambda: not holding_personal_data(sam.messages()),
        description="every message with personal data to be deleted",
    )

    # The help text says so.
    (help_message,) = await sam.send_and_wait("/help")
    assert "deleted from this chat" in (help_message.text or "")


async def test_notes_actions_places_and_reasons_are_deleted_once_stored(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam = await cast(runtime, area)
    health = await _agency(runtime, area, "NGH Hospital", AgencyKind.HEALTH)
    nia = await area.enrol(602, "Nia", "Brown", Role.AGENCY_REP, health)
    await schedule(priya, repeat="Once only")  # types the meeting's place
    reference, _ = await refer_and_accept(driver, priya, sam)
    listing = await priya.send_and_wait("/meetings")
    agenda = (await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages[-1]
    await priya.press_and_wait("Publish agenda", message=agenda, expect_edit=True)

    for rep in (sam, nia):  # the research request, attendance question and invitation
        await wait_for_text(driver, rep, "Research for the MARAC")
        await wait_for_text(driver, rep, "Will your agency attend")
        await wait_for_text(driver, rep, "You are invited to the MARAC meeting")
    await sam.press_and_wait(f"Research {reference}", count=1)
    await sam.press_and_wait("Add information", expect_edit=True)
    note = "Two call-outs in October; bail conditions not to contact."
    await sam.send_and_wait(note)

    await nia.press_and_wait("Apologies", count=1)
    reason = "On leave that week; Dr Patel will send our research."
    await nia.send_and_wait(reason)

    (plan,) = await priya.send_and_wait("/plan")
    (label,) = [b.text for row in plan.buttons for b in row if b.text.startswith("Actions for")]
    await priya.press_and_wait(label, message=plan, count=1)
    action = "Police: flag 12 Elm Road for an urgent response"
    (saved,) = await priya.send_and_wait(action)
    assert (saved.text or "").startswith("Saved action")

    for user, text in (
        (priya, "Room 2, County Hall"),
        (sam, note),
        (nia, reason),
        (priya, action),
    ):
        (message,) = [m for m in typed(user) if m.text == text]
        assert message.deleted, f"{user.display_name}'s message is still in the chat: {text}"


async def test_a_refused_answer_stays_to_be_corrected_then_goes(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    priya, sam = await cast(runtime, area)
    await make_referral(sam, REFERRAL)
    reference = await submit(sam)
    await wait_for_text(driver, priya, f"New referral {reference}")
    await priya.press_and_wait("Decline", expect_edit=True)
    await priya.send_and_wait("no")  # too short to be a reason: refused, kept to correct
    reason = "Below threshold; her sister says he has moved away. Refer to IDVA service."
    (done,) = await priya.send_and_wait(reason)
    assert done.text == texts.case_declined(reference)
    short, full = [m for m in typed(priya) if m.text in ("no", reason)]
    assert full.deleted and not short.deleted
    clock.advance(timedelta(minutes=runtime.settings.sensitive_message_ttl_minutes, seconds=1))
    await driver.wait_for(lambda: short.deleted, description="the refused answer to go too")


async def test_a_deletion_telegram_could_not_do_survives_a_restart(
    runtime: Runtime, server: BotApiStandIn, area: Area, driver: Driver
) -> None:
    async with running_bot(runtime, server):
        _priya, sam = await cast(runtime, area)
        await sam.send_and_wait("/refer")
        await press(sam, "Yes")
        server.inject_failure("deleteMessage", status=502, times=10_000)
        await say(sam, "Mobile 07700 900123 after 6pm")
    (number,) = [m for m in typed(sam) if "07700 900123" in (m.text or "")]
    assert not number.deleted  # Telegram was away while the bot ran
    server.clear_failures()
    async with running_bot(runtime, server):
        await driver.wait_for(lambda: number.deleted, description="the retry after a restart")


async def test_a_message_telegram_will_no_longer_delete_is_reported_to_the_person(
    app: object, runtime: Runtime, server: BotApiStandIn, area: Area, driver: Driver
) -> None:
    _priya, sam = await cast(runtime, area)
    await sam.send_and_wait("/refer")
    await press(sam, "Yes")
    left_before = metrics.METRICS.sample("marac_typed_messages_left_total")
    server.inject_failure("deleteMessage", status=502, times=10_000)
    await say(sam, "Mobile 07700 900123 after 6pm")
    (number,) = [m for m in typed(sam) if "07700 900123" in (m.text or "")]
    number.sent_at -= 49 * 3600  # as if Telegram had been away for two days
    server.clear_failures()

    def report() -> RecordedMessage | None:
        found = [m for m in sam.bot_messages() if m.text == texts.TYPED_MESSAGE_NOT_REMOVED]
        return found[0] if found else None

    told = await driver.wait_for(report, description="the person to be asked to delete it")
    assert told.reply_to_message_id == number.message_id and not number.deleted
    assert metrics.METRICS.sample("marac_typed_messages_left_total") == left_before + 1
    # Asked once, and not tried again on every housekeeping run.
    await sam.send_and_wait("/help")
    calls = len(server.calls_of("deleteMessage"))
    await sam.send_and_wait("/help")
    assert len(server.calls_of("deleteMessage")) == calls
    assert [m.text for m in sam.bot_messages()].count(texts.TYPED_MESSAGE_NOT_REMOVED) == 1


async def test_calendar_invitations_leave_out_the_place_unless_the_area_chooses(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam = await cast(runtime, area)
    await schedule(priya, repeat="Once only")
    await refer_and_accept(driver, priya, sam)
    listing = await priya.send_and_wait("/meetings")
    agenda = (await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages[-1]
    assert "Room 2, County Hall" in (agenda.text or "") and agenda.protect_content
    await priya.press_and_wait("Publish agenda", message=agenda, expect_edit=True)
    sent = await driver.wait_for(
        lambda: next((m for m in sam.bot_messages() if m.document), None),
        description="the calendar invitation",
    )
    assert sent.document is not None
    assert "LOCATION" not in _event(icalendar.Calendar.from_ical(sent.document.content))
    assert b"County Hall" not in sent.document.content

    await runtime.services.policies.update("Northamptonshire", {"calendar_location": True})
    async with runtime.sessions() as session:
        meeting_id = await session.scalar(select(Meeting.id))
    assert meeting_id is not None
    found = await runtime.services.meetings.calendar_file(meeting_id)
    assert found is not None
    event = _event(icalendar.Calendar.from_ical(found[1]))
    assert str(event["LOCATION"]) == "Room 2, County Hall"


def _event(calendar: icalendar.Calendar) -> icalendar.Component:
    return next(c for c in calendar.walk() if c.name == "VEVENT")

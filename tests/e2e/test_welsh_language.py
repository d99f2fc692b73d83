"""English or Cymraeg end to end through the stand-in: a person switches with /language and
then reads the menu, /help and their replies in Welsh; every notice reaches its READER in the
reader's own language whoever caused it (a Welsh coordinator's move reaches an English agency
rep in English, an English coordinator's reaches a Welsh rep in Welsh); the calendar
invitation attached follows the reader too; switching back gives English again."""

from __future__ import annotations

from datetime import date

import icalendar

from bot import texts
from bot.clock import ManualClock
from bot.meetings.recurrence import format_day
from bot.meetings.workdays import AreaCalendar
from bot.runtime import Runtime
from bot.sandbox import Driver, RecordedMessage, SimulatedUser
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, _agency

WELSH_HOME_START = "Helo, "
AREA = "Northamptonshire"  # the area fixture's
HELP_AS_REP = "Fel cynrychiolydd asiantaeth gallwch ddefnyddio:"


def typed(day: date) -> str:
    return day.strftime("%d/%m/%Y")


def labels(message: RecordedMessage) -> list[str]:
    return [button.text for row in message.buttons for button in row]


async def choose(user: SimulatedUser, name: str) -> list[RecordedMessage]:
    """/language, then the button for ``name``: the chosen-language note and the menu."""
    (question,) = await user.send_and_wait("/language")
    # Asked in both languages, the reader's own first.
    assert "Which language would you like" in (question.text or "")
    assert "Pa iaith hoffech chi" in (question.text or "")
    assert labels(question) == ["English", "Cymraeg"]
    pressed = await user.press_and_wait(name, message=question, count=1, expect_edit=True)
    return [pressed.message, *pressed.new_messages]


def invitations(user: SimulatedUser) -> list[RecordedMessage]:
    return [m for m in user.bot_messages() if m.document is not None]


def calendar_of(message: RecordedMessage) -> icalendar.Calendar:
    assert message.document is not None and message.document.filename.endswith(".ics")
    return icalendar.Calendar.from_ical(message.document.content)


def event_of(message: RecordedMessage) -> icalendar.cal.Component:
    return next(c for c in calendar_of(message).walk() if c.name == "VEVENT")


async def test_language_switches_the_menu_help_and_replies_and_is_kept(
    app: object, runtime: Runtime, area: Area
) -> None:
    police = await _agency(runtime, area, "Heddlu Gwent", AgencyKind.POLICE)
    await area.enrol(501, "Priya", "Shah")
    nia = await area.enrol(601, "Nia", "Jones", Role.AGENCY_REP, police)

    said, home = await choose(nia, "Cymraeg")
    assert (said.text or "").startswith("Iaith: Cymraeg\n\nByddaf yn ysgrifennu atoch yn Gymraeg")
    assert "Lle nad yw testun wedi'i gyfieithu eto" in (said.text or "")
    assert (home.text or "").startswith(f"{WELSH_HOME_START}Nia Jones. Rydych wedi mewngofnodi")
    assert "cynrychiolydd asiantaeth" in (home.text or "")
    assert "Cyfarfodydd" in labels(home)

    (help_text,) = await nia.send_and_wait("/help")
    lines = (help_text.text or "").split("\n")
    assert lines[0] == HELP_AS_REP
    assert "/help — Beth y gallwch ei wneud yma" in lines
    assert "/language — Dewis Cymraeg neu Saesneg" in lines
    assert "Beth sy'n digwydd i fanylion achosion yma:" in lines
    (confused,) = await nia.send_and_wait("helo?")
    assert confused.text == (
        "Mae'n ddrwg gennyf, nid oeddwn yn deall hynny. "
        "Anfonwch /help i weld beth y gallwch ei wneud."
    )

    # Kept on the person: read afresh on the next update, and by anything written to her.
    actor = await runtime.services.enrolment.identify(nia.id)
    assert actor is not None and actor.language == "cy"
    (start,) = await nia.send_and_wait("/start")
    assert (start.text or "").startswith(WELSH_HOME_START)

    said, home = await choose(nia, "English")
    assert (said.text or "").startswith("Language: English\n\nI will write to you in English")
    assert (home.text or "").startswith("Hello, Nia Jones.")
    (help_text,) = await nia.send_and_wait("/help")
    assert (help_text.text or "").startswith("As agency representative you can use:")


async def test_each_reader_gets_a_notice_and_its_invitation_in_their_own_language(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    police = await _agency(runtime, area, "Gwent Police", AgencyKind.POLICE)
    health = await _agency(runtime, area, "Aneurin Bevan Health Board", AgencyKind.HEALTH)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    nia = await area.enrol(602, "Nia", "Jones", Role.AGENCY_REP, health)
    await choose(priya, "Cymraeg")
    await choose(nia, "Cymraeg")

    # The Welsh coordinator schedules a meeting, on Welsh buttons where they are translated.
    # Working days on the area's calendar, worked out from the clock (no bank holiday warnings).
    calendar = AreaCalendar()
    first_day = calendar.add_working_days(clock.now().date(), 12)
    (listing,) = await priya.send_and_wait("/meetings")
    await priya.press_and_wait("Cyfarfod newydd", message=listing, expect_edit=True)
    await priya.send_and_wait(typed(first_day))
    await priya.send_and_wait("10:00")
    await priya.press_and_wait("Unwaith yn unig", expect_edit=True)
    await priya.send_and_wait("none", count=2)

    # She moves it: Sam (English) is told in English, Nia (Welsh) in Welsh.
    moved_to = calendar.add_working_days(first_day, 1)
    listing = await priya.send_and_wait("/meetings")
    opened = await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)
    await priya.press_and_wait(
        "Symud y cyfarfod", message=opened.new_messages[-1], expect_edit=True
    )
    await priya.send_and_wait(typed(moved_to))
    (done,) = await priya.send_and_wait("11:00")
    when = f"{format_day(moved_to)} 11:00"
    # Her own reply is in her language...
    assert done.text == (
        f"Mae'r cyfarfod nawr ar {when}. Mae pawb a wahoddwyd wedi cael gwybod, "
        "gyda gwahoddiad newydd."
    )

    english = await driver.wait_for(
        lambda: next(iter(invitations(sam)), None), description="Sam's notice of the move"
    )
    welsh = await driver.wait_for(
        lambda: next(iter(invitations(nia)), None), description="Nia's notice of the move"
    )
    assert english.text == texts.meeting_moved(when)
    assert english.text.startswith("The MARAC meeting has moved to")
    assert welsh.text == (
        f"Mae'r cyfarfod MARAC wedi symud i {when}. "
        "Mae'r gwahoddiad calendr wedi'i ddiweddaru ynghlwm."
    )
    # The calendar invitation is each reader's document, in their language.
    assert str(event_of(english)["SUMMARY"]) == f"MARAC meeting, {AREA}"
    assert str(event_of(welsh)["SUMMARY"]) == f"Cyfarfod MARAC, {AREA}"
    assert str(event_of(welsh)["DESCRIPTION"]).startswith("Cyfarfod MARAC. Mae'r agenda")
    assert str(event_of(english)["DESCRIPTION"]) == texts.CALENDAR_DESCRIPTION

    # And the other way: the coordinator back in English, the Welsh rep still in Welsh.
    await choose(priya, "English")
    moved_again = calendar.add_working_days(moved_to, 1)
    listing = await priya.send_and_wait("/meetings")
    opened = await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)
    await priya.press_and_wait("Move meeting", message=opened.new_messages[-1], expect_edit=True)
    await priya.send_and_wait(typed(moved_again))
    await priya.send_and_wait("11:00")
    when = f"{format_day(moved_again)} 11:00"
    second = await driver.wait_for(
        lambda: next((m for m in invitations(nia) if when in (m.text or "")), None),
        description="Nia's notice of the second move",
    )
    assert (second.text or "").startswith("Mae'r cyfarfod MARAC wedi symud i")
    assert str(event_of(second)["SUMMARY"]) == f"Cyfarfod MARAC, {AREA}"
    first_sam = await driver.wait_for(
        lambda: next((m for m in invitations(sam) if when in (m.text or "")), None),
        description="Sam's notice of the second move",
    )
    assert first_sam.text == texts.meeting_moved(when)

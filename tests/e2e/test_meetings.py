"""Meetings end to end: schedule a series, list accepted cases, publish, research, attendance,
calendar invitations, reminders at the right simulated times, moving and cancelling."""

from __future__ import annotations

from datetime import UTC, datetime

import icalendar

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, RecordedMessage, SimulatedUser
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, _agency, refer_and_accept, schedule, wait_for_text


async def cast(runtime: Runtime, area: Area) -> tuple[SimulatedUser, SimulatedUser, SimulatedUser]:
    police = await _agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    health = await _agency(runtime, area, "NGH Hospital", AgencyKind.HEALTH)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    nia = await area.enrol(602, "Nia", "Brown", Role.AGENCY_REP, health)
    return priya, sam, nia


async def open_first_meeting(priya: SimulatedUser) -> RecordedMessage:
    listing = await priya.send_and_wait("/meetings")
    return (await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages[-1]


def invitation(user: SimulatedUser) -> icalendar.Calendar:
    document = next(m.document for m in reversed(user.bot_messages()) if m.document)
    assert document is not None and document.filename.endswith(".ics")
    return icalendar.Calendar.from_ical(document.content)


async def test_series_agenda_research_attendance_and_reminders(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    priya, sam, nia = await cast(runtime, area)
    await schedule(priya)
    reference, accepted = await refer_and_accept(driver, priya, sam)
    assert "listed for the MARAC on Thu 10 Dec 2026 10:00" in accepted

    agenda = await open_first_meeting(priya)
    assert reference in (agenda.text or "") and "Jane Doe" not in (agenda.text or "")
    assert agenda.protect_content and "Room 2, County Hall" in (agenda.text or "")
    published = await priya.press_and_wait("Publish agenda", message=agenda, expect_edit=True)
    assert "published with 1 case" in (published.message.text or "")

    for rep in (sam, nia):
        await wait_for_text(driver, rep, "Research for the MARAC on Thu 10 Dec 2026 10:00")
        await wait_for_text(driver, rep, "Will your agency attend")
        await wait_for_text(driver, rep, "You are invited to the MARAC meeting")
    event = next(c for c in invitation(sam).walk() if c.name == "VEVENT")
    start = event.decoded("DTSTART")
    assert (start.hour, start.minute, str(start.tzinfo)) == (10, 0, "Europe/London")
    assert "Jane Doe" not in invitation(sam).to_ical().decode()

    await nia.press_and_wait(f"Research {reference}", count=1)
    done = await nia.press_and_wait("Nothing known", expect_edit=True)
    assert done.message.text == texts.research_recorded(reference, True)
    await sam.press_and_wait(f"Research {reference}", count=1)
    await sam.press_and_wait("Add information", expect_edit=True)
    (reply,) = await sam.send_and_wait("Two call-outs in October; bail conditions not to contact.")
    assert reply.text == texts.research_recorded(reference, False)

    await sam.press_and_wait("Attending", expect_edit=True)
    await nia.press_and_wait("Apologies", count=1)
    (reply,) = await nia.send_and_wait("Clinic day; notes sent in advance")
    assert "apologies" in (reply.text or "")

    (card,) = await priya.send_and_wait(f"/case {reference}")
    assert "Research from Northamptonshire Police" in (card.text or "")
    assert "bail conditions not to contact" in (card.text or "")
    assert "Research from NGH Hospital" in (card.text or "") and "nothing known" in (
        card.text or ""
    )
    (own,) = await sam.send_and_wait(f"/case {reference}")
    assert "Research from" not in (own.text or "")  # research is for the coordinator and chair

    grid = await open_first_meeting(priya)
    assert f"{reference}: 2 of 2" in (grid.text or "")
    assert "Northamptonshire Police: attending" in (grid.text or "")
    assert "NGH Hospital: apologies (Clinic day; notes sent in advance)" in (grid.text or "")

    clock.set(datetime(2026, 12, 8, 10, 0, 1, tzinfo=UTC))
    await wait_for_text(driver, sam, "Reminder: the MARAC meeting is on Thu 10 Dec 2026 10:00")
    clock.set(datetime(2026, 12, 10, 8, 0, 1, tzinfo=UTC))
    await wait_for_text(driver, nia, "starts in 2 hours")


async def test_moving_a_meeting_sends_a_new_invitation_with_the_same_uid(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    priya, sam, _ = await cast(runtime, area)
    await schedule(priya, repeat="Once only")
    agenda = await open_first_meeting(priya)
    await priya.press_and_wait("Publish agenda", message=agenda, expect_edit=True)
    await wait_for_text(driver, sam, "You are invited")
    first = next(c for c in invitation(sam).walk() if c.name == "VEVENT")

    agenda = await open_first_meeting(priya)
    await priya.press_and_wait("Move meeting", message=agenda, expect_edit=True)
    await priya.send_and_wait("17/12/2026")
    (done,) = await priya.send_and_wait("14:00")
    assert "Thu 17 Dec 2026 14:00" in (done.text or "")
    await wait_for_text(driver, sam, "has moved to Thu 17 Dec 2026 14:00")
    moved = next(c for c in invitation(sam).walk() if c.name == "VEVENT")
    assert str(moved["UID"]) == str(first["UID"])
    assert int(moved["SEQUENCE"]) == int(first["SEQUENCE"]) + 1
    assert moved.decoded("DTSTART").hour == 14

    # The reminder for the old date was replaced: at the old time, nothing arrives.
    before = len(sam.bot_messages())
    clock.set(datetime(2026, 12, 8, 10, 0, 1, tzinfo=UTC))
    await sam.send_and_wait("/help")
    assert not any("Reminder: the MARAC" in (m.text or "") for m in sam.bot_messages()[before:])
    clock.set(datetime(2026, 12, 15, 14, 0, 1, tzinfo=UTC))
    await wait_for_text(driver, sam, "Reminder: the MARAC meeting is on Thu 17 Dec 2026 14:00")


async def test_cancelled_meeting_sends_no_reminders_and_its_case_moves_on(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    priya, sam, _ = await cast(runtime, area)
    await schedule(priya)
    reference, _ = await refer_and_accept(driver, priya, sam)
    agenda = await open_first_meeting(priya)
    await priya.press_and_wait("Publish agenda", message=agenda, expect_edit=True)
    await wait_for_text(driver, sam, "You are invited")
    agenda = await open_first_meeting(priya)
    await priya.press_and_wait("Cancel", message=agenda, expect_edit=True)
    done = await priya.press_and_wait("Yes, cancel it", message=agenda, expect_edit=True)
    assert "is cancelled" in (done.message.text or "")
    await wait_for_text(driver, sam, "is cancelled")

    before = len(sam.bot_messages())
    clock.set(datetime(2026, 12, 10, 8, 0, 1, tzinfo=UTC))
    await sam.send_and_wait("/help")
    assert not any("MARAC meeting starts" in (m.text or "") for m in sam.bot_messages()[before:])
    nxt = await open_first_meeting(priya)
    assert "Thu 24 Dec 2026" in (nxt.text or "") and reference in (nxt.text or "")


async def test_agency_rep_sees_references_only_and_cannot_manage(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam, nia = await cast(runtime, area)
    await schedule(priya)
    reference, _ = await refer_and_accept(driver, priya, sam)
    listing = await nia.send_and_wait("/meetings")
    assert listing[-1].find_button("New meeting") is None
    # Before the agenda is published, another agency is not told which cases are on it,
    # not even how many.
    assert "(0/20)" in listing[-1].buttons[0][0].text
    agenda = (await nia.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages[-1]
    assert reference not in (agenda.text or "") and "Cases: 0 of 20" in (agenda.text or "")
    assert agenda.find_button("Publish agenda") is None
    query = await nia.press_data(agenda.message_id, "mtg:pub:1")
    assert (await driver.wait_for_answer(query)).text == texts.NOT_ALLOWED
    # Once it is published, the agency sees the case's reference and summary, not who it is.
    published = await open_first_meeting(priya)
    await priya.press_and_wait("Publish agenda", message=published, expect_edit=True)
    for sent_meanwhile in ("Research for the MARAC", "Will your agency attend", "You are invited"):
        await wait_for_text(driver, nia, sent_meanwhile)
    listing = await nia.send_and_wait("/meetings")
    agenda = (await nia.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages[-1]
    assert reference in (agenda.text or "") and "Jane Doe" not in (agenda.text or "")


async def test_chair_is_chosen_and_cases_can_be_reordered(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam, _ = await cast(runtime, area)
    await area.enrol(701, "Carol", "Chair", Role.CHAIR)
    await priya.send_and_wait("/meetings")
    await priya.press_and_wait("New meeting", expect_edit=True)
    await priya.send_and_wait("10/12/2026")
    await priya.send_and_wait("10:00")
    await priya.press_and_wait("Once only", expect_edit=True)
    (ask,) = await priya.send_and_wait("Room 2")
    assert ask.text == texts.ASK_MEETING_CHAIR
    await priya.press_and_wait("Carol Chair", count=1, expect_edit=True)
    first, _ = await refer_and_accept(driver, priya, sam)
    second, _ = await refer_and_accept(driver, priya, sam)
    agenda = await open_first_meeting(priya)
    assert (agenda.text or "").index(first) < (agenda.text or "").index(second)
    await priya.press_and_wait(f"Change {second}", message=agenda, expect_edit=True)
    moved = await priya.press_and_wait("Move up the agenda", message=agenda, expect_edit=True)
    assert moved.message.text == texts.case_moved_up(second, 1)
    agenda = await open_first_meeting(priya)
    assert (agenda.text or "").index(second) < (agenda.text or "").index(first)

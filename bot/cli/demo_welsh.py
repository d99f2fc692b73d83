"""Demo scene: the IDVA chooses Cymraeg and uses the bot in Welsh; the English-speaking
coordinator moves the next meeting and the notice, with its calendar invitation, reaches the
IDVA in Welsh while the police officer reads it in English (the reader's language, always)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import icalendar

if TYPE_CHECKING:
    from bot.cli.demo import Demo

MOVED_IN_WELSH = "Mae'r cyfarfod MARAC wedi symud i"
MOVED_IN_ENGLISH = "The MARAC meeting has moved to"


async def welsh_language(demo: Demo) -> None:
    from bot.meetings.recurrence import format_day

    jo, priya, sam = demo.cast.idva, demo.cast.coordinator, demo.cast.police
    await jo.send_and_wait("/language")
    # Another notice may arrive meanwhile: press the button on the question itself.
    question, button = await demo.button_starting(jo, "Cymraeg")
    await jo.press_and_wait(button, message=question, count=1, expect_edit=True)
    await jo.send_and_wait("/help")
    demo.flush()

    demo.out.write("[the coordinator, who reads English, moves the next meeting]\n")
    listing = await priya.send_and_wait("/meetings")
    held = format_day(demo.first_meeting)
    # The meetings' buttons read "Mon 4 Jan 2027 10:00 (0/20)": the first one not yet held.
    upcoming = next(
        button.text
        for row in listing[-1].buttons
        for button in row
        if button.text.endswith(")") and not button.text.startswith(held)
    )
    opened = await priya.press_and_wait(upcoming, count=1)
    await priya.press_and_wait("Move meeting", message=opened.new_messages[-1], expect_edit=True)
    day = demo.calendar.add_working_days(demo.calendar.local_date(demo.clock.now()), 5)
    await priya.send_and_wait(day.strftime("%d/%m/%Y"))
    await priya.send_and_wait("10:00")
    await demo.wait_for_text(jo, MOVED_IN_WELSH)
    await demo.wait_for_text(sam, MOVED_IN_ENGLISH)
    demo.flush()
    for person in (jo, sam):
        message = next(
            m
            for m in reversed(person.bot_messages())
            if m.document is not None and m.document.filename.endswith(".ics")
        )
        assert message.document is not None
        calendar = icalendar.Calendar.from_ical(message.document.content)
        event = next(c for c in calendar.walk() if c.name == "VEVENT")
        demo.out.write(
            f"  ({person.display_name}'s calendar invitation reads: {event['SUMMARY']})\n"
        )

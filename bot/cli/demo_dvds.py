"""The demo's Clare's Law scene: the police officer records a right-to-ask application
linked to the demo's case, his force's check is requested and done, the panel decides to
disclose, the safety plan is recorded, and the coordinator sees the status on the case card.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import texts

if TYPE_CHECKING:
    from bot.cli.demo import Demo

# Made-up people, as every name in the demo is.
APPLICANT = "Jane Doe, 12/05/1991"
SUBJECT = "Mark Doe, 03/09/1988"
PLAN = "Disclosure in person with the IDVA; refuge place held; marker on her address."


async def clares_law(demo: Demo) -> None:
    sam, priya = demo.cast.police, demo.cast.coordinator
    (menu,) = await sam.send_and_wait("/dvds")
    await sam.press_and_wait(texts.BUTTON_DVDS_NEW_ASK, message=menu, count=1)
    await sam.send_and_wait(demo.reference)
    # Who applied and whom it is about, typed once, stored sealed and deleted from the chat.
    (card,) = await sam.send_and_wait(f"{APPLICANT}\n{SUBJECT}")
    chooser = await sam.press_and_wait(texts.BUTTON_DVDS_CHECK, message=card, count=1)
    await sam.press_and_wait(
        "Northamptonshire Police", message=chooser.new_messages[-1], expect_edit=True
    )
    await demo.wait_for_text(sam, "check its records for Clare's Law")
    request = next(m for m in reversed(sam.bot_messages()) if "check its records" in (m.text or ""))
    await sam.press_and_wait(texts.BUTTON_DVDS_CHECK_DONE, message=request, expect_edit=True)
    await demo.wait_for_text(sam, texts.dvds_check_done_notice("CL-1", "Northamptonshire Police"))
    (listing,) = await sam.send_and_wait("/dvds")
    opened = await sam.press_and_wait(f"{texts.BUTTON_DVDS_OPEN} CL-1", message=listing, count=1)
    screen = opened.new_messages[-1]
    days = await sam.press_and_wait(texts.BUTTON_DVDS_PANEL, message=screen, count=1)
    choice = days.new_messages[-1]
    panel = await sam.press_and_wait(choice.buttons[0][0].text, message=choice, expect_edit=True)
    decided = await sam.press_and_wait(
        texts.BUTTON_DVDS_DISCLOSE, message=panel.message, expect_edit=True
    )
    await sam.press_and_wait(texts.BUTTON_DVDS_SAFETY_PLAN, message=decided.message, count=1)
    await sam.send_and_wait(PLAN)
    # The coordinator sees where it stands on the case card: not who, not the plan.
    await priya.send_and_wait(f"/case {demo.reference}")

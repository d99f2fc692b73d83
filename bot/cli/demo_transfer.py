"""The demo's MARAC-to-MARAC transfer scene: the victim has moved to another area of the
service. The operator has created Leicestershire and its coordinator opens her own invite;
the IDVA writes her handover note; the coordinator transfers the case from its card with a
reason (typed once, stored sealed, deleted from the chat); Leicestershire's coordinator is
sent the reference, criterion, DASH score and date only, accepts, and reads the handover
with the case opened in her MARAC."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot import texts
from bot.vocabulary import Role

if TYPE_CHECKING:
    from bot.cli.demo import Demo

SECOND_AREA = "Leicestershire"


async def transfer(demo: Demo) -> None:
    """Both coordinators act: one asks, the other accepts; nothing crosses before that."""
    priya, jo = demo.cast.coordinator, demo.cast.idva
    area = await demo.runtime.services.areas.ensure_area(SECOND_AREA)
    issued = await demo.runtime.services.invites.issue(None, area_id=area.id, role=Role.COORDINATOR)
    lei = demo.driver.user(7101, "Lei", last_name="Chen", role=f"coordinator, {SECOND_AREA}")
    await lei.send_and_wait(f"/start {issued.code}", count=2)

    (card,) = await jo.send_and_wait(f"/case {demo.reference}")
    await jo.press_and_wait(texts.BUTTON_HANDOVER_NOTE, message=card, count=1)
    await jo.send(
        "She is in a refuge in Leicester; contact by text after 6pm only. Locks and a "
        "non-molestation order are in hand; she wants help with rehousing."
    )
    await demo.wait_for_text(jo, f"Handover note for {demo.reference} saved")

    (card,) = await priya.send_and_wait(f"/case {demo.reference}")
    chosen = await priya.press_and_wait(texts.BUTTON_TRANSFER, message=card, count=1)
    await priya.press_and_wait(SECOND_AREA, message=chosen.new_messages[-1], expect_edit=True)
    await priya.send("The victim has moved to a refuge in Leicester to escape him.")
    await demo.wait_for_text(priya, f"Transfer of {demo.reference} to {SECOND_AREA} asked")

    await demo.wait_for_text(lei, "Transfer request from Northamptonshire MARAC")
    request, button = await demo.button_starting(lei, texts.BUTTON_ACCEPT_TRANSFER)
    accepted = await lei.press_and_wait(button, message=request, expect_edit=True)
    new_reference = next(
        found
        for found in demo.reference_pattern.findall(accepted.message.text or "")
        if found != demo.reference
    )
    await demo.wait_for_text(priya, f"{SECOND_AREA} MARAC accepted the transfer")
    (card,) = await lei.send_and_wait(f"/case {new_reference}")
    await lei.press_and_wait(texts.BUTTON_TRANSFER_PACK, message=card, count=1)

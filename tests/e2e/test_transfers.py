"""MARAC-to-MARAC transfer end to end through the stand-in: the sending coordinator transfers a
case from its card (the typed reason deleted), the sending IDVA writes a handover note (the
same), the receiving coordinator is sent the reference, criterion, DASH score and date only,
and accepts; the case is opened there and closed here as transferred; the receiving IDVA
service is told; the handover is read there. Refusals: a coordinator of a third area forging
the accept button; the receiving side opening the case before accepting; a declined transfer
leaves the case open with its sender."""

from __future__ import annotations

from sqlalchemy import select

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, RecordedMessage, SimulatedUser
from bot.vocabulary import AgencyKind, Role
from storage.models import CaseTransfer
from tests.e2e.test_victim_voice import heard_case
from tests.support.e2e import REFERENCE, Area, _agency, wait_for_text

REASON = "She has moved to a refuge in Leicester for her safety"
NOTE = "Texts only after six; locks changed; she wants help with rehousing there"


class Receiving:
    """Leicestershire, with its coordinator and an IDVA; Rutland, a third area."""

    async def enrol(self, runtime: Runtime, driver: Driver) -> None:
        leics = Area(runtime, driver)
        await leics.create("Leicestershire")
        idva = await _agency(runtime, leics, "Leicester IDVA", AgencyKind.IDVA)
        self.lei = await leics.enrol(701, "Lei", "Coord")
        self.ola = await leics.enrol(702, "Ola", "Advocate", Role.AGENCY_REP, idva)
        rutland = Area(runtime, driver)
        await rutland.create("Rutland")
        self.rue = await rutland.enrol(801, "Rue", "Third")


async def ask_transfer(user: SimulatedUser, reference: str) -> RecordedMessage:
    (card,) = await user.send_and_wait(f"/case {reference}")
    chosen = await user.press_and_wait(texts.BUTTON_TRANSFER, message=card, count=1)
    areas = chosen.new_messages[-1]
    assert "Which MARAC should take this case?" in (areas.text or "")
    assert areas.find_button("Rutland") is not None
    await user.press_and_wait("Leicestershire", message=areas, expect_edit=True)
    assert texts.ASK_TRANSFER_REASON in (areas.text or "")
    (done,) = await user.send_and_wait(REASON)
    return done


async def transfer_id(runtime: Runtime) -> int:
    async with runtime.sessions() as session:
        found = await session.scalar(select(CaseTransfer.id).order_by(CaseTransfer.id.desc()))
    assert found is not None
    return int(found)


def anywhere(users: list[SimulatedUser], fragment: str) -> list[str]:
    return [
        f"{u.display_name}: {m.text}"
        for u in users
        for m in u.bot_messages(include_deleted=True)
        if fragment in (m.text or "")
    ]


async def test_a_case_is_transferred_with_both_coordinators_action(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast, reference, case_id, _ = await heard_case(runtime, driver, area, clock)
    other = Receiving()
    await other.enrol(runtime, driver)

    # Jo, the allocated IDVA, writes her handover note from the case card; it leaves the chat.
    (card,) = await cast.jo.send_and_wait(f"/case {reference}")
    asked = await cast.jo.press_and_wait(texts.BUTTON_HANDOVER_NOTE, message=card, count=1)
    assert texts.ASK_HANDOVER_NOTE in (asked.new_messages[-1].text or "")
    (saved,) = await cast.jo.send_and_wait(NOTE)
    assert saved.text == texts.handover_written(reference)
    (typed,) = [m for m in cast.jo.messages() if not m.from_bot and m.text == NOTE]
    await driver.wait_for(lambda: typed.deleted, description="Jo's typed note to be deleted")

    # Priya asks Leicestershire to take it; her typed reason is deleted.
    done = await ask_transfer(cast.priya, reference)
    assert done.text == texts.transfer_requested(reference, "Leicestershire")
    (reason,) = [m for m in cast.priya.messages() if not m.from_bot and m.text == REASON]
    await driver.wait_for(lambda: reason.deleted, description="Priya's typed reason deleted")

    # Lei is sent the four facts: no name, no reason.
    request_text = await wait_for_text(
        driver, other.lei, "Transfer request from Northamptonshire MARAC"
    )
    assert reference in request_text and "DASH" in request_text and "referred" in request_text
    assert "Jane" not in request_text and REASON not in request_text
    # Before accepting, the case itself is not hers to open.
    request = other.lei.bot_messages()[-1]
    (help_text,) = await other.lei.send_and_wait("/help")
    query = await other.lei.press_data(help_text.message_id, f"cas:open:{case_id}")
    assert (await driver.wait_for_answer(query)).text == texts.CASE_NOT_FOUND
    (refused,) = await other.lei.send_and_wait(f"/case {reference}")
    assert refused.text == texts.CASE_NOT_FOUND
    # And the sending side still has it open, with the request in its history.
    (still,) = await cast.priya.send_and_wait(f"/case {reference}")
    assert "Status: accepted for MARAC" in (still.text or "")
    assert "transfer to another MARAC asked" in (still.text or "")

    # Rue, coordinator of a third area, forges Lei's Accept: refused, nothing shown.
    (start,) = await other.rue.send_and_wait("/help")
    forged = await other.rue.press_data(start.message_id, f"trf:acc:{await transfer_id(runtime)}")
    assert (await driver.wait_for_answer(forged)).text == texts.TRANSFER_NOT_FOUND
    assert anywhere([other.rue], reference) == []

    accepted = await other.lei.press_and_wait(
        texts.BUTTON_ACCEPT_TRANSFER, message=request, expect_edit=True
    )
    found = REFERENCE.findall(accepted.message.text or "")
    new_reference = next(r for r in found if r != reference)
    assert accepted.message.text == texts.transfer_accepted(new_reference, reference)
    await wait_for_text(
        driver, cast.priya, texts.transfer_accepted_notice(reference, "Leicestershire")
    )
    await wait_for_text(driver, other.ola, f"{new_reference} has been transferred to this MARAC")
    # Closed here as transferred; the new case is Lei's, with the handover.
    (closed,) = await cast.priya.send_and_wait(f"/case {reference}")
    assert "Status: closed: transferred to another MARAC" in (closed.text or "")
    assert closed.find_button(texts.BUTTON_TRANSFER) is None
    (new_card,) = await other.lei.send_and_wait(f"/case {new_reference}")
    assert "Jane Doe" in (new_card.text or "")
    assert "transferred in from another MARAC" in (new_card.text or "")
    pack = await other.lei.press_and_wait(texts.BUTTON_TRANSFER_PACK, message=new_card, count=1)
    handover = pack.new_messages[-1].text or ""
    assert f"Transferred from Northamptonshire MARAC ({reference})" in handover
    assert REASON in handover and NOTE in handover
    # The typed words never came back into any chat but the protected handover itself.
    everyone = [*cast.everyone, other.lei, other.ola, other.rue]
    assert [t for t in anywhere(everyone, NOTE[:25]) if "transfer handover" not in t] == []


async def test_a_declined_transfer_leaves_the_case_with_its_sender(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast, reference, _, _ = await heard_case(runtime, driver, area, clock)
    other = Receiving()
    await other.enrol(runtime, driver)
    await ask_transfer(cast.priya, reference)
    await wait_for_text(driver, other.lei, "Transfer request from Northamptonshire MARAC")
    request = other.lei.bot_messages()[-1]
    declined = await other.lei.press_and_wait(
        texts.BUTTON_DECLINE_TRANSFER, message=request, expect_edit=True
    )
    assert declined.message.text == texts.transfer_declined(reference)
    await wait_for_text(
        driver, cast.priya, texts.transfer_declined_notice(reference, "Leicestershire")
    )
    (card,) = await cast.priya.send_and_wait(f"/case {reference}")
    assert "Status: accepted for MARAC" in (card.text or "")
    assert card.find_button(texts.BUTTON_TRANSFER) is not None
    # Pressing Accept afterwards changes nothing, and opens nothing.
    again = await other.lei.press_data(request.message_id, f"trf:acc:{await transfer_id(runtime)}")
    assert (await driver.wait_for_answer(again)).text == texts.transfer_already_decided("declined")
    (refused,) = await other.lei.send_and_wait(f"/case {reference}")
    assert refused.text == texts.CASE_NOT_FOUND

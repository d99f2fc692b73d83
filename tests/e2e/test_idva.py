"""The IDVA service end to end: every IDVA told of a referral by reference only, one takes it,
a colleague pressing afterwards is told who holds it, a colleague cannot read the case or
record contact, the holder records contact; a coordinator reallocates and the holder gets the
case's updates; an IDVA on the must-not-receive list is sent nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from sqlalchemy import select

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.records import RecordedMessage
from bot.sandbox.scenarios import make_referral
from bot.services.outbox import RECIPIENT_MAY_NOT_RECEIVE
from bot.vocabulary import AgencyKind, Role
from storage.models import OutboxMessage
from tests.support.e2e import Area, agency, schedule, submit, wait_for_text


class Cast:
    async def enrol(self, runtime: Runtime, area: Area) -> None:
        police = await agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
        health = await agency(runtime, area, "NGH Hospital", AgencyKind.HEALTH)
        idva = await agency(runtime, area, "Sunflower IDVA", AgencyKind.IDVA)
        self.priya = await area.enrol(501, "Priya", "Shah")
        self.sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
        self.nia = await area.enrol(602, "Nia", "Brown", Role.AGENCY_REP, health)
        self.jo = await area.enrol(604, "Jo", "Evans", Role.AGENCY_REP, idva)
        self.ann = await area.enrol(605, "Ann", "Other", Role.AGENCY_REP, idva)


async def referral_notice(driver: Driver, user: SimulatedUser, reference: str) -> RecordedMessage:
    return await driver.wait_for(
        lambda: next(
            (
                m
                for m in user.bot_messages()
                if f"referral {reference} for the IDVA service" in (m.text or "")
            ),
            None,
        ),
        description=f"the IDVA notice of {reference} for {user.display_name}",
    )


def case_id_of(notice: RecordedMessage) -> int:
    button = notice.find_button(texts.BUTTON_TAKE_CASE)
    assert button is not None and button.callback_data is not None
    return int(button.callback_data.rsplit(":", 1)[1])


async def test_every_idva_is_told_and_one_takes_the_case(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    cast = Cast()
    await cast.enrol(runtime, area)
    await make_referral(cast.sam)
    reference = await submit(cast.sam)

    jo_notice = await referral_notice(driver, cast.jo, reference)
    ann_notice = await referral_notice(driver, cast.ann, reference)
    for notice in (jo_notice, ann_notice):
        assert notice.text == texts.idva_referral_notice(reference, False)
        assert "Jane" not in (notice.text or "") and "Doe" not in (notice.text or "")
        assert notice.find_button(texts.BUTTON_OPEN_CASE) is not None
    assert not any(reference in (m.text or "") for m in cast.nia.bot_messages())
    case_id = case_id_of(jo_notice)

    taken = await cast.jo.press_and_wait(
        texts.BUTTON_TAKE_CASE, message=jo_notice, expect_edit=True
    )
    assert taken.message.text == texts.idva_taken(reference)

    # Ann pressed too late: told, politely, who holds it; nothing changes.
    late = await cast.ann.press_and_wait(texts.BUTTON_TAKE_CASE, message=ann_notice)
    assert late.answer is not None
    assert late.answer.text == texts.idva_held_by(reference, "Jo Evans")

    # Ann now sees that the case exists and who holds it, not the victim.
    opened = await cast.ann.press_and_wait(texts.BUTTON_OPEN_CASE, message=ann_notice, count=1)
    (card,) = opened.new_messages
    assert card.protect_content
    assert "IDVA: Jo Evans" in (card.text or "")
    assert "Jane Doe" not in (card.text or "")
    assert card.find_button(texts.BUTTON_RECORD_CONTACT) is None
    # Nor can she record contact, even with a button made by hand.
    query = await cast.ann.press_data(card.message_id, f"idv:rec:{case_id}")
    assert (await driver.wait_for_answer(query)).text == texts.CASE_NOT_FOUND
    query = await cast.ann.press_data(card.message_id, f"idv:con:{case_id}:0")
    assert (await driver.wait_for_answer(query)).text == texts.CASE_NOT_FOUND
    # Someone outside the IDVA service cannot take it.
    (nia_card,) = await cast.nia.send_and_wait(f"/case {reference}")
    query = await cast.nia.press_data(nia_card.message_id, f"idv:take:{case_id}")
    assert (await driver.wait_for_answer(query)).text == texts.IDVA_SERVICE_ONLY

    # Jo, the holder, reads the whole case and records her attempts.
    (jo_card,) = await cast.jo.send_and_wait(f"/case {reference}")
    assert "Jane Doe" in (jo_card.text or "")
    assert "IDVA: Jo Evans; no contact recorded yet" in (jo_card.text or "")
    prompt = await cast.jo.press_and_wait(texts.BUTTON_RECORD_CONTACT, message=jo_card, count=1)
    (menu,) = prompt.new_messages
    assert menu.text == texts.contact_prompt(reference, [])
    done = await cast.jo.press_and_wait("Could not contact", message=menu, expect_edit=True)
    assert done.message.text == texts.contact_recorded(reference, "not_reached")
    (again,) = await cast.jo.send_and_wait(f"/case {reference}")
    prompt = await cast.jo.press_and_wait(texts.BUTTON_RECORD_CONTACT, message=again, count=1)
    (menu,) = prompt.new_messages
    assert "could not contact (Jo Evans)" in (menu.text or "")
    done = await cast.jo.press_and_wait("Contacted", message=menu, expect_edit=True)
    assert done.message.text == texts.contact_recorded(reference, "contacted")
    (priya_card,) = await cast.priya.send_and_wait(f"/case {reference}")
    assert "IDVA: Jo Evans; last contact: contacted" in (priya_card.text or "")


async def test_a_coordinator_reallocates_and_the_holder_hears_the_updates(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    cast = Cast()
    await cast.enrol(runtime, area)
    await schedule(cast.priya, repeat="Once only")
    await make_referral(cast.sam)
    reference = await submit(cast.sam)
    notice = await referral_notice(driver, cast.jo, reference)
    await cast.jo.press_and_wait(texts.BUTTON_TAKE_CASE, message=notice, expect_edit=True)

    (card,) = await cast.priya.send_and_wait(f"/case {reference}")
    assert "IDVA: Jo Evans" in (card.text or "")
    chosen = await cast.priya.press_and_wait(texts.BUTTON_REALLOCATE_IDVA, message=card, count=1)
    (menu,) = chosen.new_messages
    assert menu.text == texts.choose_idva(reference, "Jo Evans")
    assert menu.find_button("Jo Evans") is None  # she holds it already
    moved = await cast.priya.press_and_wait("Ann Other", message=menu, expect_edit=True)
    assert moved.message.text == texts.idva_reallocated(reference, "Ann Other")
    await wait_for_text(driver, cast.ann, texts.idva_allocated_notice(reference))
    await wait_for_text(driver, cast.jo, texts.idva_moved_notice(reference))

    # Ann, now the holder, hears of the triage decision and of the meeting it is listed for;
    # Jo no longer does.
    await cast.priya.press_and_wait("Accept", message=card, expect_edit=True)
    await wait_for_text(driver, cast.ann, texts.idva_triage_notice(reference, "accepted"))
    listed = await wait_for_text(
        driver, cast.ann, f"{reference}, which you hold as IDVA, is listed"
    )
    assert "Thu 10 Dec 2026 10:00" in listed
    assert not any("which you hold as IDVA" in (m.text or "") for m in cast.jo.bot_messages())


async def test_an_idva_on_the_must_not_receive_list_is_sent_nothing(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = Cast()
    await cast.enrol(runtime, area)
    clock.set(datetime(2026, 11, 26, 21, 30, tzinfo=UTC))  # quiet hours: notices wait
    await make_referral(cast.sam)
    reference = await submit(cast.sam)
    priya = await runtime.services.enrolment.identify(cast.priya.id)
    ann = await runtime.services.enrolment.identify(cast.ann.id)
    assert priya is not None and ann is not None
    card = await runtime.services.cases.card(priya, reference)
    await runtime.services.cases.exclude(priya, card.id, ann.person_id)

    clock.set(datetime(2026, 11, 27, 7, 0, tzinfo=UTC))  # the morning
    await referral_notice(driver, cast.jo, reference)
    await _settled(runtime, f"case:{card.id}:idva_referral:{ann.person_id}")
    assert not any(reference in (m.text or "") for m in cast.ann.bot_messages())
    # And pressing a Take button made by hand is refused as if there were no case.
    (start,) = await cast.ann.send_and_wait("/help")
    query = await cast.ann.press_data(start.message_id, f"idv:take:{card.id}")
    assert (await driver.wait_for_answer(query)).text == texts.CASE_NOT_FOUND


async def _settled(runtime: Runtime, key: str) -> None:
    """Wait until the dispatcher has settled the row (it re-asks the policy before sending)."""
    for _ in range(200):
        async with runtime.sessions() as session:
            row = await session.scalar(select(OutboxMessage).where(OutboxMessage.dedupe_key == key))
        assert row is not None
        if row.failed_at is not None or row.sent_at is not None:
            assert row.sent_at is None and row.last_error == RECIPIENT_MAY_NOT_RECEIVE
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{key} was never settled")

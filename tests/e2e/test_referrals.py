"""Referrals end to end: the form with buttons, restart and resume, repeats, urgent alerts,
triage, who may open a case, and that no victim name reaches the database file or the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from bot import texts
from bot.adapter.local import running_bot
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver, SimulatedUser
from bot.sandbox.scenarios import Referral, make_referral, press, say
from bot.vocabulary import AgencyKind, Role
from storage.models import Case
from tests.support.e2e import Area, agency, submit, wait_for_text


async def cast(runtime: Runtime, area: Area) -> tuple[SimulatedUser, SimulatedUser, SimulatedUser]:
    police = await agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    health = await agency(runtime, area, "NGH Hospital", AgencyKind.HEALTH)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    nia = await area.enrol(602, "Nia", "Brown", Role.AGENCY_REP, health)
    return priya, sam, nia


async def test_full_referral_triage_and_case_card(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam, nia = await cast(runtime, area)
    review = await make_referral(sam)
    assert review.protect_content
    assert "Jane Doe" in (review.text or "") and "DASH: 14 yes, 1 not known" in (review.text or "")
    reference = await submit(sam)
    assert reference.startswith("NOR-2026-")

    notice = await wait_for_text(driver, priya, f"New referral {reference}")
    assert "Jane Doe" not in notice and "John Doe" not in notice
    assert "Visible high risk" in notice

    (card,) = await priya.send_and_wait(f"/case {reference}")
    assert card.protect_content and "Jane Doe" in (card.text or "")
    assert "awaiting triage" in (card.text or "")
    done = await priya.press_and_wait("Accept", message=card, expect_edit=True)
    assert done.message.text == texts.case_listed(reference, None, False, None)
    assert "has been accepted" in await wait_for_text(driver, sam, f"{reference} has been accepted")

    # A second press (a colleague, or a stale card) is refused and says who did it.
    (card2,) = await priya.send_and_wait(f"/case {reference}")
    assert card2.find_button("Accept") is None
    query = await priya.press_data(card2.message_id, f"tri:acc:{_case_id(card2)}")
    assert "already accepted for MARAC by Priya Shah" in (
        (await driver.wait_for_answer(query)).text or ""
    )

    # The referrer sees the details; a rep of another agency cannot open the case at all.
    (own,) = await sam.send_and_wait(f"/case {reference}")
    assert "Jane Doe" in (own.text or "")
    (other,) = await nia.send_and_wait(f"/case {reference}")
    assert other.text == texts.CASE_NOT_FOUND


def _case_id(message: object) -> int:
    for row in getattr(message, "buttons", []):
        for button in row:
            if button.callback_data and button.callback_data.startswith("cas:exc:"):
                return int(button.callback_data.rsplit(":", 1)[1])
    return 1


async def test_restart_in_the_middle_then_resume(
    runtime: Runtime, server: BotApiStandIn, area: Area, driver: Driver
) -> None:
    async with running_bot(runtime, server):
        _priya, sam, _ = await cast(runtime, area)
        await sam.send_and_wait("/refer")
        await press(sam, "Yes")
        await say(sam, "Only after 6pm")
    async with running_bot(runtime, server):
        # The conversation survived the restart: a typed answer is read as an answer.
        correction, question = await sam.send_and_wait("Anything", count=2)
        assert correction.text == texts.USE_THE_BUTTONS
        assert question.text == texts.REFERRAL_PROMPTS["victim_aware"]
        (offer,) = await sam.send_and_wait("/refer")
        assert "You have a draft referral" in (offer.text or "")
        result = await sam.press_and_wait("Continue", count=1, expect_edit=True)
        assert "Does the victim know about this referral?" in (result.new_messages[-1].text or "")


async def test_bad_answers_get_a_specific_correction_and_nothing_is_lost(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    _priya, sam, _ = await cast(runtime, area)
    await sam.send_and_wait("/refer")
    await press(sam, "Yes")
    await say(sam, "none")
    await press(sam, "Yes")
    await press(sam, "Yes")
    await press(sam, "I have a completed checklist")
    await press(sam, "SafeLives DASH (24 questions)")
    reply = await say(sam, "yes 1 25")
    assert "24 questions" in (reply.text or "")
    reply = await say(sam, "x" * 20_000)
    assert reply.text is not None and len(reply.text) < 300
    await say(sam, "yes 1-14")
    criterion = await press(sam, "That is right")
    await press(sam, criterion.buttons[0][0].text)
    reply = await say(sam, "🙂🙂")
    assert "letters" in (reply.text or "")
    await say(sam, "Jane Doe")
    reply = await say(sam, "31/02/1990")
    assert "not a real date" in (reply.text or "") or "not a date" in (reply.text or "")
    reply = await say(sam, "01/01/2090")
    assert "future" in (reply.text or "").lower()
    reply = await say(sam, "14/03/1990")
    assert "other names" in (reply.text or "").lower()


async def test_repeat_referral_is_detected_and_confirmed(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam, _ = await cast(runtime, area)
    await make_referral(sam)
    first = await submit(sam)
    await make_referral(sam, Referral(victim="  jane   DOE "))
    second = await submit(sam)
    thanks = sam.bot_messages()[-1].text or ""
    assert f"may be a repeat of {first}" in thanks
    notice = await wait_for_text(driver, priya, f"New referral {second}")
    assert f"Possible repeat of {first}" in notice
    result = await priya.press_and_wait(f"Confirm repeat of {first}", count=1)
    assert result.new_messages[-1].text == texts.repeat_decided(second, first, True)
    (card,) = await priya.send_and_wait(f"/case {second}")
    assert f"Repeat of {first}" in (card.text or "")


async def test_urgent_referral_alerts_coordinator_and_on_call_at_once(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam, nia = await cast(runtime, area)
    async with runtime.sessions.begin() as session:
        from storage.models import Person

        person = await session.scalar(select(Person).where(Person.telegram_user_id == 602))
        assert person is not None
        person.on_call = True
    await make_referral(sam, Referral(urgent=True))
    reference = await submit(sam)
    for user in (priya, nia):
        alert = await wait_for_text(driver, user, f"URGENT referral {reference}")
        assert "not an emergency service" in alert
        assert "Jane Doe" not in alert


async def test_decline_with_reason_reaches_the_referrer(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam, _ = await cast(runtime, area)
    await make_referral(sam)
    reference = await submit(sam)
    await wait_for_text(driver, priya, f"New referral {reference}")
    await priya.press_and_wait("Decline", expect_edit=True)
    (done,) = await priya.send_and_wait("Below threshold and no escalation; refer to IDVA service.")
    assert done.text == texts.case_declined(reference)
    await wait_for_text(driver, sam, f"{reference} was not accepted")
    (card,) = await sam.send_and_wait(f"/case {reference}")
    assert "refer to IDVA service" in (card.text or "") and "declined" in (card.text or "")


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_no_victim_name_in_database_file_or_logs(
    app: object,
    runtime: Runtime,
    area: Area,
    driver: Driver,
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    priya, sam, _ = await cast(runtime, area)
    await make_referral(sam, Referral(victim="Zenobia Quartermaine", perpetrator="Barnaby Smythe"))
    reference = await submit(sam)
    await wait_for_text(driver, priya, reference)
    await priya.send_and_wait(f"/case {reference}")
    async with runtime.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None and case.victim_sealed is not None
    await runtime.engine.dispose()
    path = Path(database_url.split("///", 1)[1])
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in ("Zenobia", "Quartermaine", "Barnaby", "Smythe", "Elm Road", "07700"):
        assert secret.encode() not in raw
        assert secret not in caplog.text


async def test_person_on_must_not_receive_list_cannot_see_or_hear_of_the_case(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    priya, sam, _ = await cast(runtime, area)
    await make_referral(sam)
    reference = await submit(sam)
    await wait_for_text(driver, priya, f"New referral {reference}")
    (card,) = await priya.send_and_wait(f"/case {reference}")
    chooser = await priya.press_and_wait("Must not receive…", message=card, count=1)
    picker = chooser.new_messages[-1]
    done = await priya.press_and_wait(
        "Sam Okafor (Northamptonshire Police)", message=picker, expect_edit=True
    )
    assert done.message.text == texts.person_excluded("Sam Okafor", reference)

    (reply,) = await sam.send_and_wait(f"/case {reference}")
    assert reply.text == texts.CASE_NOT_FOUND
    before = len(sam.bot_messages())
    await priya.press_and_wait("Accept", message=card, expect_edit=True)
    await priya.send_and_wait("/help")
    (check,) = await sam.send_and_wait("/help")  # the acceptance notice never comes
    assert check.text is not None and check.text.startswith("As agency representative")
    assert all(reference not in (m.text or "") for m in sam.bot_messages()[before:])


async def test_five_digit_reference_opens_and_audits(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    """After 9,999 referrals in a year the number grows to five digits; it must still open."""
    from storage.models import CaseCounter

    priya, sam, _ = await cast(runtime, area)
    async with runtime.sessions.begin() as session:
        session.add(CaseCounter(area_id=area.area_id, year=2026, last=9999))
    await make_referral(sam)
    reference = await submit(sam)
    assert reference == "NOR-2026-10000"
    await wait_for_text(driver, priya, f"New referral {reference}")
    (card,) = await priya.send_and_wait(f"/case {reference}")
    assert f"Case {reference}" in (card.text or "")
    (trail,) = await priya.send_and_wait(f"/audit {reference}")
    assert "case.viewed" in (trail.text or "")

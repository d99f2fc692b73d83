"""DASH through the real bot: quick entry from each form, the concerns against the answers,
and a new DASH on an open case shown on the card and the agenda; refused to who may not."""

from __future__ import annotations

from sqlalchemy import select

from bot import texts
from bot.actor import Actor
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.scenarios import Referral, make_referral, press, say
from bot.vocabulary import AgencyKind, Role
from storage.models import AuditEvent, Case, CaseEvent, DashAssessment, IdvaAllocation
from tests.support.e2e import Area, agency, schedule, submit, wait_for_text


async def actor_of(runtime: Runtime, user: SimulatedUser) -> Actor:
    actor = await runtime.services.enrolment.identify(user.id)
    assert actor is not None
    return actor


async def start_quick_entry(sam: SimulatedUser, form: str) -> None:
    (first,) = await sam.send_and_wait("/refer")
    if first.find_button(texts.BUTTON_DISCARD_AND_START_AGAIN):  # the last form's draft
        await press(sam, texts.BUTTON_DISCARD_AND_START_AGAIN)
    await press(sam, "Yes")
    await say(sam, "none")
    await press(sam, "Yes")
    await press(sam, "Yes")
    question = await press(sam, "I have a completed checklist")
    assert question.find_button("Police ACPO DASH 2009 (27 questions)")
    assert question.find_button("A police DARA assessment")
    await press(sam, form)


async def test_quick_entry_from_each_form_reads_back_the_questions_of_that_form(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    police = await agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)

    await start_quick_entry(sam, "Police ACPO DASH 2009 (27 questions)")
    read_back = (await say(sam, "yes 1-9 13-18, not known 11")).text or ""
    assert "Police ACPO DASH 2009 (27 questions), as numbered on that form:" in read_back
    assert "18. Strangled, choked, suffocated or drowned" in read_back
    assert "16. Weapons or objects used to hurt" in read_back
    assert "11. Person causing harm has hurt the children or dependants: not known" in read_back
    assert "MARAC score (the 24 SafeLives questions): 15 yes" in read_back
    criterion = await press(sam, "That is right")
    assert "15" in (criterion.text or "")  # visible high risk on the SafeLives count

    await start_quick_entry(sam, "SafeLives DASH (24 questions)")
    reply = await say(sam, "yes 27")  # a police number, on the SafeLives form
    assert "24 questions" in (reply.text or "")
    read_back = (await say(sam, "yes 18")).text or ""
    assert "18. Person causing harm has hurt others" in read_back
    assert "Strangled" not in read_back

    await start_quick_entry(sam, "A police DARA assessment")
    question = sam.bot_messages()[-1]
    assert question.text == texts.DARA_LEVEL_PROMPT
    criterion = await press(sam, "High")
    labels = [b.text for row in criterion.buttons for b in row]
    assert "Professional judgement" in " ".join(labels)
    assert not any("Visible high risk" in label for label in labels)


async def test_the_concerns_mention_strangulation_and_the_tap_changes_or_keeps_it(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    police = await agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)

    prompt = await make_referral(sam, Referral(story_choice="none: stop at the prompt"))
    assert prompt.text == (
        "Your concerns mention strangulation; question 15 is answered no. Change it, or keep it?"
    )
    assert prompt.find_button("Change to yes") and prompt.find_button("Keep")
    review = await press(sam, "Keep")
    assert "DASH: 14 yes, 1 not known" in (review.text or "")
    review = await press(sam, "Back")  # asked again, as it was
    assert review.find_button("Change to yes")
    review = await press(sam, "Change to yes")
    assert "DASH: 15 yes, 1 not known" in (review.text or "")
    reference = await submit(sam)
    await wait_for_text(driver, priya, f"New referral {reference}")

    async with runtime.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None and case.dash_yes == 15
        kinds = list(
            await session.scalars(select(CaseEvent.kind).where(CaseEvent.case_id == case.id))
        )
        assert "dash_story_checked" in kinds
        audit = await session.scalar(
            select(AuditEvent.details).where(
                AuditEvent.action == "case.referred", AuditEvent.subject == reference
            )
        )
    assert audit is not None and "strangulation:q15:changed" in audit
    assert "Strangled" not in audit and "scene" not in audit

    (card,) = await priya.send_and_wait(f"/case {reference}")
    assert "checklist reviewed against the concerns" in (card.text or "")
    assert "Risk form: SafeLives DASH (24 questions)" in (card.text or "")


async def test_a_new_dash_is_shown_on_the_card_and_the_agenda_and_refused_to_others(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    police = await agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    idva_service = await agency(runtime, area, "Sunflower IDVA", AgencyKind.IDVA)
    health = await agency(runtime, area, "NGH Hospital", AgencyKind.HEALTH)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    jo = await area.enrol(602, "Jo", "Evans", Role.AGENCY_REP, idva_service)
    kit = await area.enrol(603, "Kit", "Moss", Role.AGENCY_REP, idva_service)
    nia = await area.enrol(604, "Nia", "Brown", Role.AGENCY_REP, health)
    await schedule(priya)
    await make_referral(sam)
    reference = await submit(sam)
    await wait_for_text(driver, priya, f"New referral {reference}")
    await priya.press_and_wait("Accept", expect_edit=True)
    jo_id = (await actor_of(runtime, jo)).person_id
    async with runtime.sessions.begin() as session:
        case = await session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None
        session.add(
            IdvaAllocation(case_id=case.id, person_id=jo_id, allocated_at=runtime.clock.now())
        )

    # The IDVA service's notice of the referral first, so it is not taken for the card.
    await wait_for_text(driver, jo, f"New referral {reference} for the IDVA service")
    # The allocated IDVA records a new DASH from the case card's button.
    (card,) = await jo.send_and_wait(f"/case {reference}")
    assert card.find_button("New DASH")
    question = (await jo.press_and_wait("New DASH", message=card, count=1)).new_messages[-1]
    assert question.text == texts.DASH_REASSESS_WHICH_FORM.format(reference=reference)
    await jo.press_and_wait("Police ACPO DASH 2009 (27 questions)", expect_edit=True)
    read_back = (await say(jo, "yes 1-9 13-21, not known 24")).text or ""
    assert "21. Person causing harm has hurt others" in read_back
    assert "MARAC score (the 24 SafeLives questions): 18 yes" in read_back
    done = await jo.press_and_wait("That is right", expect_edit=True)
    assert done.message.text == f"New DASH recorded for {reference}: 18 of 24 yes (was 14)."

    # The referrer too, with /dash: a DARA level, which is not a count.
    await sam.send_and_wait(f"/dash {reference}")
    await sam.press_and_wait("A police DARA assessment", expect_edit=True)
    await sam.press_and_wait("High", expect_edit=True)
    await wait_for_text(driver, sam, f"New DARA assessment recorded for {reference}.")

    (card,) = await priya.send_and_wait(f"/case {reference}")
    text = card.text or ""
    assert "DASH assessments:" in text
    assert "14 of 24 yes, 1 not known (SafeLives DASH), by Sam Okafor" in text
    assert "18 of 24 yes, 1 not known (ACPO DASH 2009), by Jo Evans" in text
    assert "DARA high risk, by Sam Okafor" in text
    assert "new DASH recorded" in text

    listing = await priya.send_and_wait("/meetings")
    agenda = (await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages[-1]
    assert f"{reference}: Visible high risk (DASH), DASH 14 → 18" in (agenda.text or "")

    # Not the allocated IDVA's colleague, not another agency, not someone on the list.
    coordinator = await actor_of(runtime, priya)
    sam_id = (await actor_of(runtime, sam)).person_id
    await runtime.services.cases.exclude(coordinator, case.id, sam_id)
    for who in (kit, nia, sam):
        (refused,) = await who.send_and_wait(f"/dash {reference}")
        assert refused.text == texts.CASE_NOT_FOUND, who.display_name
    async with runtime.sessions() as session:
        rows = list(
            await session.scalars(
                select(DashAssessment.form).where(DashAssessment.case_id == case.id)
            )
        )
    assert rows == ["safelives", "acpo_2009", "dara"]

"""Children as people, end to end: the referrer lists each child, an invited agency reads them
with the case, children's social care is asked about every case with children, and the
coordinator is told when no children's social care agency can be asked."""

from __future__ import annotations

from datetime import timedelta

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.scenarios import Referral, make_referral, press, say
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, agency, schedule, submit, wait_for_text


async def cast(runtime: Runtime, area: Area) -> tuple[SimulatedUser, SimulatedUser, SimulatedUser]:
    police = await agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    health = await agency(runtime, area, "NGH Hospital", AgencyKind.HEALTH)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    nia = await area.enrol(602, "Nia", "Brown", Role.AGENCY_REP, health)
    return priya, sam, nia


def two_children(clock: ManualClock) -> tuple[str, str]:
    """What the referrer types, and Mia's date of birth as the bot writes it back."""
    born = clock.now().date() - timedelta(days=7 * 365 + 40)
    typed = (
        f"Mia Doe, {born.strftime('%d/%m/%Y')}, Oak Primary School, lives with victim, "
        "CSC involved\nLeo Doe, 18 months, Little Acorns Nursery, lives with victim, no CSC"
    )
    return typed, f"{born.day} {born.strftime('%b %Y')}"


MIA = "Mia Doe, born {}, Oak Primary School, lives with the victim, children's social care involved"
LEO = "Leo Doe, age 1 at referral, Little Acorns Nursery, lives with the victim, no children's"


async def refer_accept_and_open_agenda(
    driver: Driver, priya: SimulatedUser, sam: SimulatedUser, children: str
) -> tuple[str, str]:
    """Sam refers with the children, Priya accepts and opens the agenda, then publishes it:
    the reference, and what Priya was told as the case went onto the agenda, on the agenda
    before publishing and on publishing it."""
    await schedule(priya, repeat="Once only")
    review = await make_referral(sam, Referral(children=children))
    assert "Children (2):" in (review.text or "")
    reference = await submit(sam)
    await wait_for_text(driver, priya, f"New referral {reference}")
    accepted = await priya.press_and_wait("Accept", expect_edit=True)
    listing = await priya.send_and_wait("/meetings")
    agenda = (await priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages
    published = await priya.press_and_wait("Publish agenda", message=agenda[-1], expect_edit=True)
    told = [accepted.message.text or "", agenda[-1].text or "", published.message.text or ""]
    return reference, "\n---\n".join(told)


async def test_the_referrer_lists_two_children_and_an_invited_agency_reads_them(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    priya, sam, nia = await cast(runtime, area)
    typed, born = two_children(clock)

    # A mistyped date is corrected by the child's place in the list; the answer stays in
    # the chat to be copied, and nothing of the draft is lost.
    await sam.send_and_wait("/refer")
    await press(sam, "Yes")
    await say(sam, "none")
    await press(sam, "Yes")
    await press(sam, "Yes")
    await press(sam, "I have a completed checklist")
    await press(sam, "SafeLives DASH (24 questions)")
    await say(sam, "yes 1-14")
    criterion = await press(sam, "That is right")
    await press(sam, criterion.buttons[0][0].text)
    for answer in ("Jane Doe", "14/03/1990", "none", "12 Elm Road"):
        await say(sam, answer)
    for label in ("Female", "No", "No", "Not known"):
        await press(sam, label)
    for answer in ("John Doe", "01/01/1985", "4 Mill Lane"):
        await say(sam, answer)
    await press(sam, "Ex-partner")
    wrong = "Mia Doe, age 7\nLeo Doe, 31/02/2024"
    (correction,) = await sam.send_and_wait(wrong)
    assert (correction.text or "").startswith("Child 2: 31/02/2024 is not a real date.")
    assert "Mia Doe" not in (correction.text or "")
    kept = next(m for m in sam.messages() if not m.from_bot and m.text == wrong)
    assert not kept.deleted  # refused answers stay for their time, to be corrected
    read_back = await say(sam, typed)
    assert (read_back.text or "").startswith(f"Children (2):\n• {MIA.format(born)}")
    assert texts.REFERRAL_PROMPTS["summary"] in (read_back.text or "")
    stored = next(m for m in sam.messages() if not m.from_bot and m.text == typed)
    await driver.wait_for(lambda: stored.deleted, description="the children's answer deleted")
    await say(sam, "Threatened to take the children.")
    review = await press(sam, "No")
    assert f"• {MIA.format(born)}" in (review.text or "") and LEO in (review.text or "")
    await sam.press_and_wait("Discard draft", expect_edit=True)

    reference, told = await refer_accept_and_open_agenda(driver, priya, sam, typed)
    # No children's social care agency in the area: the coordinator is told as the case goes
    # onto the agenda, on the agenda, and when publishing it.
    assert told.count(texts.no_csc_for_children([reference])) == 3

    # The invited agency (no workspace here: a protected message) reads the children.
    await wait_for_text(driver, nia, "Research for the MARAC")
    for also in ("Will your agency attend", "You are invited"):  # all that publication sends
        await wait_for_text(driver, nia, also)
    pressed = await nia.press_and_wait(f"Research {reference}", count=1)
    (shown,) = pressed.new_messages
    assert shown.protect_content
    assert MIA.format(born) in (shown.text or "") and LEO in (shown.text or "")

    # The coordinator's case card lists them too.
    (card,) = await priya.send_and_wait(f"/case {reference}")
    assert MIA.format(born) in (card.text or "")


async def test_childrens_social_care_is_asked_about_every_case_with_children(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    priya, sam, nia = await cast(runtime, area)
    csc = await agency(
        runtime, area, "Northamptonshire Children's Trust", AgencyKind.CHILDRENS_SOCIAL_CARE
    )
    cara = await area.enrol(603, "Cara", "Jones", Role.AGENCY_REP, csc)
    typed, born = two_children(clock)

    reference, told = await refer_accept_and_open_agenda(driver, priya, sam, typed)
    assert texts.NO_CSC_REP not in told

    # Children's social care's research request says which cases have children (the count
    # only: names stay out of the chat); other agencies' requests are as before.
    request = await wait_for_text(driver, cara, "Research for the MARAC")
    assert texts.research_children_note([(reference, 2)]) in request
    assert "Mia Doe" not in request
    other = await wait_for_text(driver, nia, "Research for the MARAC")
    assert "Cases with children" not in other

    for also in ("Will your agency attend", "You are invited"):
        await wait_for_text(driver, cara, also)
    pressed = await cara.press_and_wait(f"Research {reference}", count=1)
    (shown,) = pressed.new_messages
    assert MIA.format(born) in (shown.text or "") and LEO in (shown.text or "")

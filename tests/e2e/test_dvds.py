"""Clare's Law end to end through the stand-in: a police officer records a right-to-ask
application linked to a case (the typed identifiers deleted once stored), asks probation to
check (probation gets the request with its due day and a "Check done" button), sets the
panel, decides to disclose and records the safety plan; the coordinator sees the one-line
status on the case card, never who applied or whom it is about. Refused: a non-police rep
creating or deciding, an agency not asked pressing "Check done", a police officer of
another area pressing a forged button, and a colleague on the case's must-not-receive list."""

from __future__ import annotations

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, _agency, refer_and_accept, schedule, wait_for_text

APPLICANT = "Jane Doe 01/02/1990"
SUBJECT = "John Smith 03/04/1985"
PLAN = "Refuge place held, marker on the address, IDVA visit the day after disclosure"


class Cast:
    def __init__(self, runtime: Runtime, area: Area) -> None:
        self.runtime, self.area = runtime, area

    async def enrol(self, driver: Driver) -> None:
        police = await _agency(self.runtime, self.area, "Northants Police", AgencyKind.POLICE)
        probation = await _agency(self.runtime, self.area, "Probation", AgencyKind.PROBATION)
        housing = await _agency(self.runtime, self.area, "Housing", AgencyKind.HOUSING)
        a = self.area
        self.priya = await a.enrol(501, "Priya", "Shah")
        self.sam = await a.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
        self.kim = await a.enrol(603, "Kim", "Lee", Role.AGENCY_REP, police)
        self.pru = await a.enrol(604, "Pru", "Bation", Role.AGENCY_REP, probation)
        self.hal = await a.enrol(605, "Hal", "Ward", Role.AGENCY_REP, housing)
        other = Area(self.runtime, driver)
        await other.create("Leicestershire")
        leics = await _agency(self.runtime, other, "Leics Police", AgencyKind.POLICE)
        self.lei = await other.enrol(701, "Lei", "Cole", Role.AGENCY_REP, leics)

    @property
    def everyone(self) -> list[SimulatedUser]:
        return [self.priya, self.sam, self.kim, self.pru, self.hal, self.lei]


def identifiers_in_any_chat(cast: Cast, *, but: SimulatedUser | None = None) -> list[str]:
    """Messages the bot sent that carry an identifier, except to ``but`` (who may read them)."""
    return [
        f"{user.display_name}: {m.text}"
        for user in cast.everyone
        if user is not but
        for m in user.bot_messages(include_deleted=True)
        if any(part in (m.text or "") for part in (APPLICANT, SUBJECT, PLAN))
    ]


async def test_a_right_to_ask_goes_from_received_to_a_disclosure_with_its_safety_plan(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = Cast(runtime, area)
    await cast.enrol(driver)
    await schedule(cast.priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, cast.priya, cast.sam)
    kim = await runtime.services.enrolment.identify(cast.kim.id)
    priya = await runtime.services.enrolment.identify(cast.priya.id)
    assert kim is not None and priya is not None
    case = await runtime.services.cases.card(priya, reference)
    await runtime.services.cases.exclude(priya, case.id, kim.person_id)
    # The notice that his referral was accepted comes from the outbox: let it land first, so
    # the reply to /dvds below is the one message that follows.
    await wait_for_text(driver, cast.sam, f"Your referral {reference} has been accepted")

    # Sam records it: the case, then who applied and whom it is about in one message.
    (menu,) = await cast.sam.send_and_wait("/dvds")
    asked = await cast.sam.press_and_wait(texts.BUTTON_DVDS_NEW_ASK, message=menu, count=1)
    assert texts.DVDS_ASK_CASE in (asked.new_messages[-1].text or "")
    (prompt,) = await cast.sam.send_and_wait(reference)
    assert texts.DVDS_ASK_APPLICANT in (prompt.text or "")
    (card,) = await cast.sam.send_and_wait(f"{APPLICANT}\n{SUBJECT}")
    assert (card.text or "").startswith(texts.dvds_created("CL-1"))
    # Not echoed back into the chat: stored sealed.
    assert SUBJECT not in (card.text or "") and reference in (card.text or "")
    (typed,) = [m for m in cast.sam.messages() if not m.from_bot and SUBJECT in (m.text or "")]
    await driver.wait_for(lambda: typed.deleted, description="Sam's typed identifiers deleted")

    # Probation is asked; Pru gets the request with its due day and the button.
    chooser = await cast.sam.press_and_wait(texts.BUTTON_DVDS_CHECK, message=card, count=1)
    await cast.sam.press_and_wait("Probation", message=chooser.new_messages[-1], expect_edit=True)
    request = await wait_for_text(driver, cast.pru, "check its records for Clare's Law")
    assert "CL-1" in request and reference not in request and SUBJECT not in request
    asked_pru = next(m for m in cast.pru.bot_messages() if m.text == request)

    # Hal's agency was not asked: a press on "Check done" is refused as if nothing existed.
    (hal_menu,) = await cast.hal.send_and_wait("/dvds")
    query = await cast.hal.press_data(hal_menu.message_id, "cl:done:1")
    assert (await driver.wait_for_answer(query)).text == texts.DVDS_NOT_FOUND
    # Nor may Hal or the coordinator record the application's steps.
    for user, data, refusal in (
        (cast.hal, "cl:disc:1", texts.DVDS_NOT_FOUND),
        (cast.priya, "cl:disc:1", texts.DVDS_POLICE_ONLY),
        (cast.lei, "cl:open:1", texts.DVDS_NOT_FOUND),  # a forged button from another area
        (cast.lei, "cl:disc:1", texts.DVDS_NOT_FOUND),
        (cast.kim, "cl:open:1", texts.DVDS_NOT_FOUND),  # on the case's must-not-receive list
    ):
        (menu,) = await user.send_and_wait("/dvds")
        assert "CL-1" not in (menu.text or "") or user is cast.priya
        query = await user.press_data(menu.message_id, data)
        assert (await driver.wait_for_answer(query)).text == refusal, (user.display_name, data)
    # A non-police rep is not offered, and cannot start, a new application.
    (hal_menu,) = await cast.hal.send_and_wait("/dvds")
    assert hal_menu.find_button(texts.BUTTON_DVDS_NEW_ASK) is None
    query = await cast.hal.press_data(hal_menu.message_id, "cl:ask")
    assert (await driver.wait_for_answer(query)).text == texts.DVDS_POLICE_ONLY

    done = await cast.pru.press_and_wait(
        texts.BUTTON_DVDS_CHECK_DONE, message=asked_pru, expect_edit=True
    )
    assert (done.message.text or "") == texts.dvds_check_recorded("CL-1")

    # Sam is told, so he knows when to convene the panel.
    await wait_for_text(driver, cast.sam, texts.dvds_check_done_notice("CL-1", "Probation"))

    # The panel, the decision and the safety plan.
    (card,) = await cast.sam.send_and_wait("/dvds")
    opened = await cast.sam.press_and_wait(f"{texts.BUTTON_DVDS_OPEN} CL-1", message=card, count=1)
    screen = opened.new_messages[-1]
    days = await cast.sam.press_and_wait(texts.BUTTON_DVDS_PANEL, message=screen, count=1)
    choice = days.new_messages[-1]
    panel = await cast.sam.press_and_wait(
        choice.buttons[0][0].text, message=choice, expect_edit=True
    )
    screen = panel.message
    assert "panel date set" in (screen.text or "")
    decided = await cast.sam.press_and_wait(
        texts.BUTTON_DVDS_DISCLOSE, message=screen, expect_edit=True
    )
    screen = decided.message
    assert "decided: disclose" in (screen.text or "")
    ask = await cast.sam.press_and_wait(texts.BUTTON_DVDS_SAFETY_PLAN, message=screen, count=1)
    assert texts.DVDS_ASK_SAFETY_PLAN in (ask.new_messages[-1].text or "")
    (saved,) = await cast.sam.send_and_wait(PLAN)
    assert saved.text == texts.dvds_safety_plan_recorded("CL-1")
    (typed,) = [m for m in cast.sam.messages() if not m.from_bot and m.text == PLAN]
    await driver.wait_for(lambda: typed.deleted, description="Sam's typed plan deleted")

    # The coordinator sees the status on the case card: not who, not the plan.
    (case_card,) = await cast.priya.send_and_wait(f"/case {reference}")
    assert "Clare's Law CL-1" in (case_card.text or "")
    assert texts.DVDS_STAGES["safety_plan"] in (case_card.text or "")
    assert identifiers_in_any_chat(cast, but=cast.sam) == []

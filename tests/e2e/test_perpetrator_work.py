"""A perpetrator service working its referral, end to end through the local Bot API stand-in.

First contact is planned (a date typed in the chat) and the case's allocated IDVA is told at
once, before contact can be recorded; another IDVA of the same service is not told; with no
IDVA allocated the coordinators are told, and every text says who was told. Sessions attended
and missed and the coded end reason are recorded step by step. The service never receives the
victim's address or safe-contact details, whatever it asks.
"""

from __future__ import annotations

import aiohttp
import pytest
from sqlalchemy import select

from bot import texts
from bot.actions.entry import ActionDraft
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.scenarios import Referral, make_referral
from bot.vocabulary import Role
from config import Settings
from storage.models import (
    Agency,
    AgendaItem,
    Case,
    OutboxMessage,
    PerpetratorReferral,
    PerpetratorStep,
    Person,
)
from tests.e2e.test_actions import Cast, close, record_actions
from tests.support.e2e import Area, schedule, submit, wait_for_text
from tests.support.idva import allocate_idva
from tests.support.workspace import launch_data, serving, with_workspace

DRIVE_TASK = [ActionDraft("Drive Project", "Assess for the programme", None, "normal")]


class WithSecondIdva(Cast):
    """The actions cast, and Ali: a second IDVA at the same service, never allocated."""

    async def enrol(self) -> None:
        await super().enrol()
        async with self.runtime.sessions() as session:
            idva = await session.scalar(select(Agency.id).where(Agency.name == "Sunflower IDVA"))
        assert idva is not None
        self.ali = await self.area.enrol(606, "Ali", "Khan", Role.AGENCY_REP, idva)


async def ids(runtime: Runtime, reference: str, telegram_user_id: int) -> tuple[int, int]:
    """The case's id and a person's id, by the reference and their Telegram id."""
    async with runtime.sessions() as session:
        case_id = await session.scalar(select(Case.id).where(Case.reference == reference))
        person_id = await session.scalar(
            select(Person.id).where(Person.telegram_user_id == telegram_user_id)
        )
    assert case_id is not None and person_id is not None
    return case_id, person_id


async def press_step(user: SimulatedUser, reference: str, step: str, count: int = 1) -> str:
    (listing,) = await user.send_and_wait("/actions")
    result = await user.press_and_wait(f"{reference}: {step}", message=listing, count=count)
    return result.new_messages[-1].text or ""


def perpetrator_news(user: SimulatedUser) -> list[str]:
    return [
        m.text or ""
        for m in user.bot_messages()
        if "person causing harm on" in (m.text or "")
        or "Perpetrator-service referral on" in (m.text or "")
    ]


async def queued_for(runtime: Runtime, person_id: int) -> list[str]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(
                select(OutboxMessage.kind).where(
                    OutboxMessage.person_id == person_id,
                    OutboxMessage.kind == "perpetrator_update",
                )
            )
        )


async def test_contact_planned_tells_the_allocated_idva_first_and_no_other_idva(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = WithSecondIdva(runtime, area)
    reference = await record_actions(runtime, driver, cast, DRIVE_TASK)
    await wait_for_text(driver, cast.pat, "New MARAC action for your agency")
    case_id, jo_id = await ids(runtime, reference, cast.jo.id)
    _, ali_id = await ids(runtime, reference, cast.ali.id)
    await allocate_idva(runtime.sessions, case_id, jo_id, clock.now())

    (listing,) = await cast.pat.send_and_wait("/actions")
    # Contact cannot be recorded before it is planned: there is no button for it.
    assert listing.find_button(f"{reference}: Contact attempted") is None
    asked = await cast.pat.press_and_wait(f"{reference}: Contact planned", message=listing, count=1)
    assert "On what date is first contact" in (asked.new_messages[-1].text or "")
    # A date that is not one, and one that has passed: asked again, nothing stored.
    (wrong,) = await cast.pat.send_and_wait("31/02/2027")
    assert "not a date in the calendar" in (wrong.text or "")
    (passed,) = await cast.pat.send_and_wait("01/01/2026")
    assert passed.text == texts.PERP_CONTACT_DATE_PASSED
    async with runtime.sessions() as session:
        steps = await session.scalars(select(PerpetratorStep.state))
        assert list(steps) == ["referred"]
    (planned,) = await cast.pat.send_and_wait("14/12/2026")
    assert planned.text == texts.perpetrator_contact_planned_moved(
        reference, "14 Dec 2026", texts.told_idva("Jo Evans")
    )
    told = await wait_for_text(
        driver, cast.jo, "Drive Project plans first contact with the person causing harm"
    )
    assert told == texts.perpetrator_contact_planned(reference, "Drive Project", "14 Dec 2026")
    async with runtime.sessions() as session:
        urgent = await session.scalar(
            select(OutboxMessage.urgent)
            .where(OutboxMessage.person_id == jo_id)
            .where(OutboxMessage.kind == "perpetrator_update")
        )
        step = await session.scalar(
            select(PerpetratorStep).where(PerpetratorStep.state == "contact_planned")
        )
    assert urgent is True
    assert step is not None and str(step.planned_on) == "2026-12-14"

    # Only now may contact be recorded, and Jo hears of that too.
    moved = await press_step(cast.pat, reference, "Contact attempted")
    assert moved == texts.perpetrator_moved(
        reference, "Contact attempted", texts.told_idva("Jo Evans")
    )
    await wait_for_text(
        driver, cast.jo, f"Perpetrator-service referral on {reference} (Drive Project): now"
    )
    # Ali works at the same IDVA service but does not hold this case: told nothing.
    assert await queued_for(runtime, ali_id) == []
    assert perpetrator_news(cast.ali) == []
    assert len(await queued_for(runtime, jo_id)) == 2


async def test_with_no_idva_allocated_the_coordinators_are_told_and_the_text_says_so(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = Cast(runtime, area)
    reference = await record_actions(runtime, driver, cast, DRIVE_TASK)
    await wait_for_text(driver, cast.pat, "New MARAC action for your agency")
    await press_step(cast.pat, reference, "Contact planned")
    (planned,) = await cast.pat.send_and_wait("14/12/2026")
    assert planned.text == texts.perpetrator_contact_planned_moved(
        reference, "14 Dec 2026", texts.TOLD_COORDINATORS_NO_IDVA
    )
    told = await wait_for_text(driver, cast.priya, "plans first contact")
    assert told == texts.perpetrator_contact_planned(
        reference, "Drive Project", "14 Dec 2026", texts.NOTE_NO_IDVA
    )
    _, jo_id = await ids(runtime, reference, cast.jo.id)
    assert await queued_for(runtime, jo_id) == []  # never every IDVA of the area


async def test_sessions_and_the_end_reason_are_recorded_and_told_to_the_idva(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = Cast(runtime, area)
    reference = await record_actions(runtime, driver, cast, DRIVE_TASK)
    await wait_for_text(driver, cast.pat, "New MARAC action for your agency")
    case_id, jo_id = await ids(runtime, reference, cast.jo.id)
    _, pat_id = await ids(runtime, reference, cast.pat.id)
    await allocate_idva(runtime.sessions, case_id, jo_id, clock.now())
    await press_step(cast.pat, reference, "Contact planned")
    await cast.pat.send_and_wait("27/11/2026")
    for step in ("Contact attempted", "Assessed", "Suitable", "Started", "Session attended"):
        await press_step(cast.pat, reference, step)
    missed = await press_step(cast.pat, reference, "Session missed")
    assert missed == texts.perpetrator_moved(
        reference, "Session missed", texts.told_idva("Jo Evans")
    )
    await wait_for_text(
        driver,
        cast.jo,
        f"Perpetrator-service referral on {reference} (Drive Project): now session missed.",
    )
    await press_step(cast.pat, reference, "Session attended")

    question = await press_step(cast.pat, reference, "Ended")
    assert question == texts.ASK_END_REASON
    choice = cast.pat.bot_messages()[-1]
    assert [row[0].text for row in choice.buttons] == [
        "Completed",
        "Disengaged",
        "Unsuitable",
        "Breached",
        "Moved away",
    ]
    ended = await cast.pat.press_and_wait("Breached", message=choice, expect_edit=True)
    assert ended.message.text == texts.perpetrator_moved(
        reference, "Ended (breached)", texts.told_idva("Jo Evans")
    )
    await wait_for_text(
        driver,
        cast.jo,
        f"Perpetrator-service referral on {reference} (Drive Project): now ended (breached).",
    )
    (listing,) = await cast.pat.send_and_wait("/actions")
    assert f"Perpetrator-service referral {reference}: ended (breached)" in (listing.text or "")
    assert listing.find_button(f"{reference}: Ended") is None

    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(
                    PerpetratorStep.state, PerpetratorStep.by_person_id, PerpetratorStep.end_reason
                ).order_by(PerpetratorStep.id)
            )
        ).all()
    sessions = [(state, by) for state, by, _ in rows if state.startswith("session")]
    assert sessions == [
        ("session_attended", pat_id),
        ("session_missed", pat_id),
        ("session_attended", pat_id),
    ]
    assert rows[-1] == ("ended", pat_id, "breached")

    (summary,) = await cast.priya.send_and_wait("/plan")
    text = summary.text or ""
    assert "Drive Project: 0 waiting to start" in text
    assert "1 ended: 0 completed (0%), 0 disengaged (0%)" in text
    assert texts.PLAN_DAYS_NOTE in text


# --- the victim's address, asked for every way a perpetrator service can -----------------

VICTIM_ADDRESS = "77 Quillfeather Close, Kettering"
SAFE_CONTACT = "07700 900123"


async def referred_and_published(driver: Driver, cast: Cast) -> str:
    """A case with a distinctive victim's address, on a published agenda."""
    await cast.enrol()
    await schedule(cast.priya, repeat="Once only")
    await make_referral(cast.sam, Referral(victim_address=VICTIM_ADDRESS))
    reference = await submit(cast.sam)
    await wait_for_text(driver, cast.priya, f"New referral {reference}")
    await cast.priya.press_and_wait("Accept", expect_edit=True)
    listing = await cast.priya.send_and_wait("/meetings")
    agenda = (await cast.priya.press_and_wait(listing[-1].buttons[0][0].text, count=1)).new_messages
    await cast.priya.press_and_wait("Publish agenda", message=agenda[-1], expect_edit=True)
    await wait_for_text(driver, cast.priya, "You are invited")  # all publication sends her
    for also in ("Research for the MARAC", "Will your agency attend", "You are invited"):
        await wait_for_text(driver, cast.pat, also)
    return reference


def never_told_the_victim(user: SimulatedUser) -> None:
    for message in user.bot_messages():
        text = message.text or ""
        assert "Quillfeather" not in text and SAFE_CONTACT not in text, text
        assert "Jane Doe" not in text, text


async def test_a_perpetrator_service_never_gets_the_victims_address_in_the_chat(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = Cast(runtime, area)
    reference = await referred_and_published(driver, cast)
    # The research request's button: whom the service is asked about, and only that.
    pressed = await cast.pat.press_and_wait(f"Research {reference}", count=1)
    shown = pressed.new_messages[-1].text or ""
    assert "John Doe" in shown and "4 Mill Lane" in shown
    # /case in the chat, the referral list, and every step's answer.
    await cast.pat.send_and_wait(f"/case {reference}")
    priya = await runtime.services.enrolment.identify(cast.priya.id)
    assert priya is not None
    ((meeting_id, _, _, ((case_id, _),)),) = await runtime.services.actions.plan_meetings(priya)
    await runtime.services.actions.record(priya, meeting_id, case_id, DRIVE_TASK[0])
    await close(cast)
    await wait_for_text(driver, cast.pat, "New MARAC action for your agency")
    await cast.pat.send_and_wait("/actions")
    await press_step(cast.pat, reference, "Contact planned")
    await cast.pat.send_and_wait("14/12/2026")
    await cast.pat.send_and_wait(f"/case {reference}")
    # The police officer who referred does see it: the address was there to be leaked.
    (own,) = await cast.sam.send_and_wait(f"/case {reference}")
    assert "Quillfeather" in (own.text or "")
    never_told_the_victim(cast.pat)


class TestThroughTheWorkspace:
    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return with_workspace(settings)

    async def test_no_workspace_page_gives_a_perpetrator_service_the_victims_address(
        self, app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
    ) -> None:
        cast = Cast(runtime, area)
        reference = await referred_and_published(driver, cast)
        async with runtime.sessions() as session:
            case_id = await session.scalar(select(Case.id).where(Case.reference == reference))
            item_id = await session.scalar(
                select(AgendaItem.id).where(AgendaItem.case_id == case_id)
            )
            referrals = await session.scalar(select(PerpetratorReferral.id))
        assert case_id is not None and item_id is not None and referrals is None
        priya = await runtime.services.enrolment.identify(cast.priya.id)
        assert priya is not None
        ((meeting_id, _, _, _),) = await runtime.services.actions.plan_meetings(priya)
        await runtime.services.actions.record(priya, meeting_id, case_id, DRIVE_TASK[0])
        await close(cast)
        await wait_for_text(driver, cast.pat, "New MARAC action for your agency")
        async with serving(runtime) as base, aiohttp.ClientSession() as http:
            signed = await http.post(
                f"{base}/api/session",
                json={"initData": launch_data(runtime, cast.pat.id, "Pat", clock.now())},
            )
            token = (await signed.json())["token"]
            headers = {"Authorization": f"Bearer {token}"}
            pages = {}
            for page in (
                f"research-item/{item_id}",
                f"research/{meeting_id}",
                "actions",
                f"case/{case_id}",
                f"board/{meeting_id}",
            ):
                async with http.get(f"{base}/api/page/{page}", headers=headers) as response:
                    pages[page] = (response.status, await response.text())
        assert pages[f"research-item/{item_id}"][0] == 200
        assert "John Doe" in pages["actions"][1]  # whom it assesses, on its actions page
        assert pages[f"case/{case_id}"][0] == 403
        for page, (_, html) in pages.items():
            assert "Quillfeather" not in html and SAFE_CONTACT not in html, page
            assert "Jane Doe" not in html, page
        await cast.pat.send_and_wait(f"/case {reference}")
        never_told_the_victim(cast.pat)

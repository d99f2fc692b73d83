"""Action plans and perpetrator-service referrals end to end: recorded at the meeting, sent on
close, accepted, done, not possible, raced, chased and escalated; a perpetrator-service referral
followed to completion with the IDVA told at every step; minutes as an OFFICIAL-SENSITIVE
document; a long list of open actions shown a page at a time."""

from __future__ import annotations

import asyncio
import io
import zipfile
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from bot import texts
from bot.actions.entry import ActionDraft
from bot.clock import ManualClock
from bot.dates import format_uk_date
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.vocabulary import AgencyKind, Role
from storage.models import Case, Person
from tests.support.e2e import Area, _agency, refer_and_accept, schedule, wait_for_text
from tests.support.idva import allocate_idva


class Cast:
    def __init__(self, runtime: Runtime, area: Area) -> None:
        self.runtime, self.area = runtime, area

    async def enrol(self) -> None:
        police = await _agency(
            self.runtime, self.area, "Northamptonshire Police", AgencyKind.POLICE
        )
        health = await _agency(self.runtime, self.area, "NGH Hospital", AgencyKind.HEALTH)
        idva = await _agency(self.runtime, self.area, "Sunflower IDVA", AgencyKind.IDVA)
        drive = await _agency(
            self.runtime, self.area, "Drive Project", AgencyKind.PERPETRATOR_SERVICE
        )
        a = self.area
        self.priya = await a.enrol(501, "Priya", "Shah")
        self.sam = await a.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
        self.kim = await a.enrol(603, "Kim", "Lee", Role.AGENCY_REP, police)
        self.nia = await a.enrol(602, "Nia", "Brown", Role.AGENCY_REP, health)
        self.jo = await a.enrol(604, "Jo", "Evans", Role.AGENCY_REP, idva)
        self.pat = await a.enrol(605, "Pat", "Quinn", Role.PERPETRATOR_REP, drive)


async def plan_actions(driver: Driver, cast: Cast, reference: str, lines: list[str]) -> None:
    priya = cast.priya
    (plan,) = await priya.send_and_wait("/plan")
    await priya.press_and_wait(
        f"Actions for {reference} (Thu 10 Dec 2026 10:00)", message=plan, count=1
    )
    for line in lines:
        (saved,) = await priya.send_and_wait(line)
        assert (saved.text or "").startswith("Saved action"), saved.text
        assert saved.protect_content  # it may name people
    (done,) = await priya.send_and_wait("/done")
    assert done.text == texts.actions_recorded(len(lines))


async def close(cast: Cast) -> None:
    (plan,) = await cast.priya.send_and_wait("/plan")
    done = await cast.priya.press_and_wait(
        "Close Thu 10 Dec 2026 10:00 and send actions", message=plan, expect_edit=True
    )
    assert "Meeting closed" in (done.message.text or "")


async def record_actions(
    runtime: Runtime, driver: Driver, cast: Cast, drafts: list[ActionDraft]
) -> str:
    """A case heard at a meeting with ``drafts`` recorded through the service (to keep a test
    short), the meeting closed so the actions go out; returns the case reference."""
    await cast.enrol()
    await schedule(cast.priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, cast.priya, cast.sam)
    priya = await runtime.services.enrolment.identify(cast.priya.id)
    assert priya is not None
    ((meeting_id, _, _, ((case_id, _),)),) = await runtime.services.actions.plan_meetings(priya)
    for draft in drafts:
        await runtime.services.actions.record(priya, meeting_id, case_id, draft)
    await close(cast)
    return reference


async def latest_with(driver: Driver, user: SimulatedUser, fragment: str):  # type: ignore[no-untyped-def]
    await wait_for_text(driver, user, fragment)
    return next(m for m in reversed(user.bot_messages()) if fragment in (m.text or ""))


async def test_action_plan_confirmed_raced_chased_and_escalated(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = Cast(runtime, area)
    await cast.enrol()
    await schedule(cast.priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, cast.priya, cast.sam)
    await plan_actions(
        driver,
        cast,
        reference,
        [
            "Police: check bail conditions and visit the victim by 14/12/2026 high",
            "NGH - GP to review the victim's medication",
        ],
    )
    await close(cast)

    sam_msg = await latest_with(driver, cast.sam, "New MARAC action for your agency")
    kim_msg = await latest_with(driver, cast.kim, "New MARAC action for your agency")
    assert "Jane Doe" not in (sam_msg.text or "")
    # Two police reps press Accept at the same moment: one wins, the other is told.
    first, second = await asyncio.gather(
        cast.sam.press_and_wait("Accept", message=sam_msg),
        cast.kim.press_and_wait("Accept", message=kim_msg),
    )
    answers = [first, second]
    # Handled side by side, the winner's message may be edited after the loser's alert.
    await driver.wait_for(
        lambda: any("accepted" in (m.message.text or "") for m in answers),
        description="the winning press to edit its message",
    )
    texts_seen = [
        (m.message.text or "") + " " + " ".join(x.text or "" for x in m.new_messages)
        for m in answers
    ]
    alerts = [a.answer.text for a in answers if a.answer and a.answer.text]
    assert any("accepted" in t for t in texts_seen)
    assert any("already accepted" in (t or "") for t in alerts + texts_seen), (alerts, texts_seen)

    nia_msg = await latest_with(driver, cast.nia, "New MARAC action for your agency")
    await cast.nia.press_and_wait("Not possible", message=nia_msg, count=1)
    (reply,) = await cast.nia.send_and_wait("Victim moved out of the area; GP changed")
    assert reply.text == texts.action_moved(reference, "Not possible")

    # Due 14 Dec: chased daily from the next working day at 09:00, escalated after 3.
    clock.set(datetime(2026, 12, 15, 9, 0, 1, tzinfo=UTC))
    await wait_for_text(driver, cast.sam, f"action on {reference} was due 14 Dec 2026")
    assert not any("was due" in (m.text or "") for m in cast.nia.bot_messages())
    clock.set(datetime(2026, 12, 17, 9, 0, 1, tzinfo=UTC))
    await wait_for_text(
        driver, cast.priya, f"Escalation: Northamptonshire Police's action on {reference}"
    )

    (listing,) = await cast.sam.send_and_wait("/actions")
    assert "1 open action" in (listing.text or "")
    opened = await cast.sam.press_and_wait(
        f"{reference}, due 14 Dec 2026 (overdue)", message=listing, count=1
    )
    await cast.sam.press_and_wait("Done", message=opened.new_messages[-1], count=1)
    (reply,) = await cast.sam.send_and_wait("Visited; bail conditions confirmed with the court")
    assert reply.text == texts.action_moved(reference, "Done")
    (listing,) = await cast.sam.send_and_wait("/actions")
    assert listing.text == texts.NO_OPEN_ACTIONS

    (summary,) = await cast.priya.send_and_wait("/plan")
    assert "Northamptonshire Police: 0 open (0 overdue), 1 done, 0 not possible" in (
        summary.text or ""
    )
    assert "NGH Hospital: 0 open (0 overdue), 0 done, 1 not possible" in (summary.text or "")


async def test_perpetrator_referral_followed_to_completion_with_idva_told(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = Cast(runtime, area)
    await cast.enrol()
    await schedule(cast.priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, cast.priya, cast.sam)
    await plan_actions(
        driver,
        cast,
        reference,
        ["Drive: assess the person causing harm for intensive case management"],
    )
    await close(cast)
    await wait_for_text(driver, cast.pat, "New MARAC action for your agency")
    async with runtime.sessions() as session:
        case_id = await session.scalar(select(Case.id).where(Case.reference == reference))
        jo_id = await session.scalar(select(Person.id).where(Person.telegram_user_id == cast.jo.id))
    assert case_id is not None and jo_id is not None
    await allocate_idva(runtime.sessions, case_id, jo_id, clock.now())
    told = texts.told_idva("Jo Evans")

    (listing,) = await cast.pat.send_and_wait("/actions")
    await cast.pat.press_and_wait(f"{reference}: Contact planned", message=listing, count=1)
    (planned,) = await cast.pat.send_and_wait("27/11/2026")
    assert planned.text == texts.perpetrator_contact_planned_moved(reference, "27 Nov 2026", told)
    await wait_for_text(driver, cast.jo, "plans first contact with the person causing harm on 27")
    steps = ("Contact attempted", "Assessed", "Suitable", "Started", "Session attended")
    for step in steps:
        (listing,) = await cast.pat.send_and_wait("/actions")
        result = await cast.pat.press_and_wait(f"{reference}: {step}", message=listing, count=1)
        assert result.new_messages[-1].text == texts.perpetrator_moved(reference, step, told)
        await wait_for_text(
            driver,
            cast.jo,
            f"Perpetrator-service referral on {reference} (Drive Project): now {step.lower()}",
        )
    (listing,) = await cast.pat.send_and_wait("/actions")
    asked = await cast.pat.press_and_wait(f"{reference}: Ended", message=listing, count=1)
    await cast.pat.press_and_wait("Completed", message=asked.new_messages[-1], expect_edit=True)
    await wait_for_text(driver, cast.jo, "now ended (completed)")
    (listing,) = await cast.pat.send_and_wait("/actions")
    assert f"Perpetrator-service referral {reference}: ended (completed)" in (listing.text or "")
    assert listing.find_button(f"{reference}: Ended") is None

    (summary,) = await cast.priya.send_and_wait("/plan")
    assert "Drive Project: 0 waiting to start" in (summary.text or "")
    assert "median 0 days to first contact; median 0 days to start" in (summary.text or "")
    assert "1 ended: 1 completed (100%), 0 disengaged (0%)" in (summary.text or "")


async def test_stale_perpetrator_referral_is_chased_and_escalated(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    cast = Cast(runtime, area)
    await cast.enrol()
    await schedule(cast.priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, cast.priya, cast.sam)
    await plan_actions(driver, cast, reference, ["Drive: assess for the programme"])
    await close(cast)
    # No first contact within 10 working days of 26 Nov: chased on Thu 10 Dec.
    clock.set(datetime(2026, 12, 10, 9, 0, 1, tzinfo=UTC))
    await wait_for_text(
        driver,
        cast.pat,
        f"perpetrator-service referral on {reference} has had no contact planned or recorded",
    )
    # No change for 20 working days: the service and the coordinator hear of it.
    clock.set(datetime(2026, 12, 29, 9, 0, 1, tzinfo=UTC))
    clock.set(datetime(2027, 1, 4, 9, 0, 1, tzinfo=UTC))
    await wait_for_text(
        driver, cast.priya, f"perpetrator-service referral on {reference} has not changed for 20"
    )


async def test_minutes_are_an_official_sensitive_document_with_references_only(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    cast = Cast(runtime, area)
    await cast.enrol()
    await schedule(cast.priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, cast.priya, cast.sam)
    await plan_actions(driver, cast, reference, ["Police: check bail conditions & <review> risk"])
    (plan,) = await cast.priya.send_and_wait("/plan")
    result = await cast.priya.press_and_wait("Minutes Thu 10 Dec 2026 10:00", message=plan, count=2)
    document = next(m for m in result.new_messages if m.document)
    assert document.protect_content and document.document is not None
    archive = zipfile.ZipFile(io.BytesIO(document.document.content))
    body = archive.read("word/document.xml").decode()
    assert "OFFICIAL-SENSITIVE" in body and reference in body and "&amp;" in body
    assert "Jane Doe" not in body


async def document_body(driver: Driver, user: SimulatedUser) -> bytes:
    """The text part of the newest Word document sent to ``user`` (waited for: other
    notices may arrive around it), which must be protected from forwarding."""

    def found() -> bytes | None:
        for message in reversed(user.bot_messages()):
            if message.document is not None:
                assert message.protect_content
                archive = zipfile.ZipFile(io.BytesIO(message.document.content))
                return archive.read("word/document.xml")
        return None

    return await driver.wait_for(found, description=f"a document for {user.display_name}")


async def test_the_chair_records_risks_and_the_agreement_and_the_police_get_their_copy(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    cast = Cast(runtime, area)
    await cast.enrol()
    await schedule(cast.priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, cast.priya, cast.sam)
    priya = cast.priya
    (plan,) = await priya.send_and_wait("/plan")
    assert texts.RUNNING_ORDER_NOTE in (plan.text or "") and f"1. {reference}" in (plan.text or "")
    await priya.press_and_wait(
        "Confidentiality statement Thu 10 Dec 2026 10:00", message=plan, count=1
    )
    agreed = await priya.press_and_wait(texts.BUTTON_CONFIDENTIALITY_AGREED, expect_edit=True)
    assert "everyone present agreed" in (agreed.message.text or "")
    (plan,) = await priya.send_and_wait("/plan")
    pressed = await priya.press_and_wait(f"Risks: {reference}", message=plan, count=1)
    (asked,) = pressed.new_messages
    assert asked.text == texts.ASK_RISK_SUMMARY
    (saved,) = await priya.send_and_wait("Escalating; strangled last week; bail ends Friday.")
    assert saved.text == texts.risk_summary_saved(reference)
    typed = [m for m in priya.messages() if (m.text or "").startswith("Escalating;")]
    assert typed and all(m.deleted for m in typed)  # sealed, and gone from the chat
    await plan_actions(driver, cast, reference, ["Police: check bail conditions"])
    await close(cast)
    (plan,) = await priya.send_and_wait("/plan")
    await priya.press_and_wait("Minutes Thu 10 Dec 2026 10:00", message=plan, count=1)
    body = await document_body(driver, priya)
    assert b"strangled last week" in body and b"Confidentiality statement" in body
    await priya.send_and_wait("/plan")
    await priya.press_and_wait(texts.BUTTON_SEND_MINUTES, expect_edit=True)
    await wait_for_text(driver, cast.sam, "are ready")
    await cast.sam.press_and_wait(texts.BUTTON_MY_MINUTES, count=1)
    body = await document_body(driver, cast.sam)
    assert b"Copy for Northamptonshire Police" in body and b"check bail conditions" in body


async def test_a_long_action_list_is_shown_a_page_at_a_time(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    cast = Cast(runtime, area)
    # Thirteen actions for the police, recorded newest due first.
    dues = [date(2026, 12, 14) + timedelta(days=n) for n in range(13)]
    words = "check the records and call the victim back " * 8
    drafts = [
        ActionDraft("Northamptonshire Police", f"Task {number}: {words}", due, "normal")
        for number, due in reversed(list(enumerate(dues, start=1)))
    ]
    reference = await record_actions(runtime, driver, cast, drafts)
    await driver.wait_for(
        lambda: sum("New MARAC action" in (m.text or "") for m in cast.sam.bot_messages()) >= 13,
        description="the 13 actions sent to Sam",
    )

    def action_buttons(labels: list[str]) -> list[str]:
        return [label for label in labels if label.startswith(reference)]

    def labels(days: list[date]) -> list[str]:
        return [f"{reference}, due {format_uk_date(day)}" for day in days]

    (listing,) = await cast.sam.send_and_wait("/actions")
    text = listing.text or ""
    assert listing.protect_content and len(text) <= 4096
    assert "13 open action(s), oldest due first" in text
    assert texts.open_actions_showing(1, 10, 13) in text
    assert "1. " + reference in text and "Task 1: check the records" in text
    assert "11. " not in text
    assert action_buttons(listing.button_texts) == labels(dues[:10])
    assert texts.PREVIOUS_ACTIONS not in listing.button_texts

    turned = await cast.sam.press_and_wait(texts.MORE_ACTIONS, message=listing, expect_edit=True)
    page = turned.message.text or ""
    assert texts.open_actions_showing(11, 13, 13) in page
    assert "11. " + reference in page and "Task 13:" in page and "Task 1:" not in page
    assert action_buttons(turned.message.button_texts) == labels(dues[10:])
    assert texts.MORE_ACTIONS not in turned.message.button_texts

    opened = await cast.sam.press_and_wait(labels(dues[12:])[0], message=turned.message, count=1)
    card = opened.new_messages[-1]
    assert "Task 13:" in (card.text or "") and card.protect_content

    back = await cast.sam.press_and_wait(
        texts.PREVIOUS_ACTIONS, message=turned.message, expect_edit=True
    )
    assert texts.open_actions_showing(1, 10, 13) in (back.message.text or "")
    assert action_buttons(back.message.button_texts) == labels(dues[:10])


async def test_many_perpetrator_referrals_are_shown_open_ones_first_a_page_at_a_time(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    cast = Cast(runtime, area)
    drafts = [ActionDraft("Drive Project", f"Assessment {n}", None, "normal") for n in range(1, 7)]
    reference = await record_actions(runtime, driver, cast, drafts)
    await driver.wait_for(
        lambda: sum("New MARAC action" in (m.text or "") for m in cast.pat.bot_messages()) >= 6,
        description="the 6 referrals sent to Pat",
    )
    # The oldest referral is ended: it moves behind the five still open.
    (listing,) = await cast.pat.send_and_wait("/actions")
    ended = await cast.pat.press_and_wait(f"{reference}: Ended", message=listing, count=1)
    assert ended.new_messages[-1].text == texts.ASK_END_REASON
    await cast.pat.press_and_wait("Disengaged", message=ended.new_messages[-1], expect_edit=True)

    (listing,) = await cast.pat.send_and_wait("/actions")
    text = listing.text or ""
    assert texts.referrals_showing(1, 5, 6) in text
    assert f"Perpetrator-service referral {reference}: ended" not in text
    assert text.count(f"Perpetrator-service referral {reference}: referred") == 5
    assert texts.MORE_REFERRALS in listing.button_texts
    turned = await cast.pat.press_and_wait(texts.MORE_REFERRALS, message=listing, expect_edit=True)
    page = turned.message.text or ""
    assert texts.referrals_showing(6, 6, 6) in page
    assert f"Perpetrator-service referral {reference}: ended" in page
    assert texts.PREVIOUS_REFERRALS in turned.message.button_texts
    assert not any(label.startswith(f"{reference}: ") for label in turned.message.button_texts)


async def test_done_counts_the_actions_left_after_an_undo(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    cast = Cast(runtime, area)
    await cast.enrol()
    await schedule(cast.priya, repeat="Once only")
    reference, _ = await refer_and_accept(driver, cast.priya, cast.sam)
    priya = cast.priya
    (plan,) = await priya.send_and_wait("/plan")
    await priya.press_and_wait(
        f"Actions for {reference} (Thu 10 Dec 2026 10:00)", message=plan, count=1
    )
    await priya.send_and_wait("Police: check bail conditions within 5 working days")
    (mistyped,) = await priya.send_and_wait("NGH - GP to review medication for the wrong case")
    undone = await priya.press_and_wait("Undo", message=mistyped, expect_edit=True)
    assert undone.message.text == texts.action_undone(reference)
    (done,) = await priya.send_and_wait("/done")
    assert done.text == texts.actions_recorded(1)

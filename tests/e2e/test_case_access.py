"""The must-not-receive list holds on the paths that used to leak, through the real bot.

A chair on a case's list used to see it under /plan ("Actions for NOR-...") and receive
the minutes with its actions; an agency rep pressing Reassign was offered a colleague on
the list, who was then sent the action. Both now go through the one access policy.
"""

from __future__ import annotations

import io
import zipfile

from bot import texts
from bot.meetings.workdays import AreaCalendar
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, add_agency
from tests.support.service_scenarios import refer

ACTION = "Police: check bail conditions and flag the address within 5 working days"


async def _case_with_actions(
    runtime: Runtime, area: Area, driver: Driver
) -> tuple[dict[str, SimulatedUser], str]:
    now = runtime.clock.now()
    police = await add_agency(runtime, area.area_id, "Police", AgencyKind.POLICE, now)
    people = {
        "priya": await area.enrol(501, "Priya", "Shah"),
        "chas": await area.enrol(502, "Chas", "Chair", Role.CHAIR),
        "sam": await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police),
        "kim": await area.enrol(602, "Kim", "Lee", Role.AGENCY_REP, police),
    }
    priya = people["priya"]
    await priya.send_and_wait("/meetings")
    await priya.press_and_wait("New meeting", expect_edit=True)
    day = runtime.clock.now().date()
    meeting_day = AreaCalendar().add_working_days(day, 10)
    await priya.send_and_wait(meeting_day.strftime("%d/%m/%Y"))
    await priya.send_and_wait("10:00")
    await priya.press_and_wait("Once only", expect_edit=True)
    (chair_question,) = await priya.send_and_wait("Room 2")
    assert chair_question.text == texts.ASK_MEETING_CHAIR
    await priya.press_and_wait("Chas Chair", count=1, expect_edit=True)
    sam = await runtime.services.enrolment.identify(people["sam"].id)
    coordinator = await runtime.services.enrolment.identify(priya.id)
    assert sam is not None and coordinator is not None
    submitted = await refer(runtime, sam)
    await runtime.services.cases.accept(coordinator, submitted.case_id)
    for name in ("chas", "kim"):
        excluded = await runtime.services.enrolment.identify(people[name].id)
        assert excluded is not None
        await runtime.services.cases.exclude(coordinator, submitted.case_id, excluded.person_id)
    # The notices the referral and the triage queued arrive before anyone types again.
    for who, text in ((priya, "New referral"), (people["sam"], "has been accepted")):
        await driver.wait_for(
            lambda who=who, text=text: any(text in (m.text or "") for m in who.bot_messages()),
            description=text,
        )
    return people, submitted.reference


async def test_a_chair_on_the_list_sees_no_plan_and_gets_no_actions_in_the_minutes(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    people, reference = await _case_with_actions(runtime, area, driver)
    priya, chas = people["priya"], people["chas"]
    (plan,) = await priya.send_and_wait("/plan")
    record = next(b.text for row in plan.buttons for b in row if b.text.startswith("Actions for"))
    assert reference in record
    await priya.press_and_wait(record, message=plan, count=1)
    await priya.send_and_wait(ACTION)
    await priya.send_and_wait("/done")

    (chair_plan,) = await chas.send_and_wait("/plan")
    labels = [b.text for row in chair_plan.buttons for b in row]
    assert not any(reference in label for label in labels), labels
    assert reference not in (chair_plan.text or "")
    minutes = next(label for label in labels if label.startswith("Minutes"))
    result = await chas.press_and_wait(minutes, message=chair_plan, count=2)
    document = next(m for m in result.new_messages if m.document)
    assert document.document is not None
    body = zipfile.ZipFile(io.BytesIO(document.document.content)).read("word/document.xml")
    assert reference.encode() not in body and b"bail conditions" not in body
    # A forged "record actions" button for the case is refused as if it did not exist.
    meeting_id, case_id = (int(part) for part in record_ids(plan, record))
    query = await chas.press_data(chair_plan.message_id, f"act:rec:{meeting_id}:{case_id}")
    refused = await driver.wait_for_answer(query)
    assert refused.text == texts.AGENDA_ITEM_NOT_FOUND, refused.text

    # The coordinator's own minutes still carry the case, and the chair's copy is on record.
    (plan,) = await priya.send_and_wait("/plan")
    result = await priya.press_and_wait(minutes, message=plan, count=2)
    document = next(m for m in result.new_messages if m.document)
    assert document.document is not None
    body = zipfile.ZipFile(io.BytesIO(document.document.content)).read("word/document.xml")
    assert reference.encode() in body
    (trail,) = await priya.send_and_wait(f"/audit {reference}")
    assert "minutes" in (trail.text or "")


def record_ids(plan: object, label: str) -> list[str]:
    for row in plan.buttons:  # type: ignore[attr-defined]
        for button in row:
            if button.text == label:
                return str(button.callback_data).split(":")[2:]
    raise AssertionError(label)


async def test_reassign_never_offers_or_reaches_a_colleague_on_the_list(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    people, reference = await _case_with_actions(runtime, area, driver)
    priya, sam, kim = people["priya"], people["sam"], people["kim"]
    (plan,) = await priya.send_and_wait("/plan")
    record = next(b.text for row in plan.buttons for b in row if b.text.startswith("Actions for"))
    await priya.press_and_wait(record, message=plan, count=1)
    await priya.send_and_wait(ACTION)
    await priya.send_and_wait("/done")
    (plan,) = await priya.send_and_wait("/plan")
    close = next(b.text for row in plan.buttons for b in row if b.text.startswith("Close"))
    await priya.press_and_wait(close, message=plan, expect_edit=True)
    await driver.wait_for(
        lambda: any("New MARAC action" in (m.text or "") for m in sam.bot_messages()),
        description="the action sent to Sam",
    )
    assert not any(reference in (m.text or "") for m in kim.bot_messages())
    notice = next(m for m in sam.bot_messages() if "New MARAC action" in (m.text or ""))
    result = await sam.press_and_wait("Reassign", message=notice, count=1)
    (answer,) = result.new_messages
    # Kim is Sam's only colleague, and on the list: there is nobody to offer.
    assert answer.text == texts.NO_COLLEAGUES, answer.text
    action_id = int(str(notice.buttons[0][0].callback_data).rsplit(":", 1)[-1])
    kim_id = (await runtime.services.enrolment.identify(kim.id)).person_id  # type: ignore[union-attr]
    query = await sam.press_data(notice.message_id, f"act:rto:{action_id}:{kim_id}")
    await driver.wait_for_answer(query)
    await driver.wait_for(
        lambda: (
            any(texts.PERSON_NOT_FOUND in (m.text or "") for m in sam.bot_messages())
            or (query.answer is not None and texts.PERSON_NOT_FOUND in (query.answer.text or ""))
        ),
        description="the forged reassignment refused",
    )
    assert not any(reference in (m.text or "") for m in kim.bot_messages())

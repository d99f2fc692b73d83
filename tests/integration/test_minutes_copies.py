"""The minutes as each reader receives them, and the coordinators' reminder to send them.

The world (``tests.support.access_world``): one case heard at a meeting, with actions for
the police, health and a perpetrator service. Here the chair records the risks and that
everyone agreed the confidentiality statement, the IDVA the victim's views, the police and
health their research, and health its apologies. The coordinator's copy holds everything;
the police's copy its parts; the perpetrator service's nothing of the victim; a person on
the case's must-not-receive list no trace of the case.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from docx import Document
from sqlalchemy import select

from bot import texts
from bot.clock import ManualClock
from bot.errors import NotFound
from bot.runtime import Runtime
from storage.models import CaseRiskSummary
from tests.support.access_world import World, build

RISKS = "Strangled at the scene last month; escalating; threats about the children."
VIEWS = "She wants to stay in her home with a new lock and no contact."
POLICE_NOTE = "Three callouts since March, bail until January."
HEALTH_NOTE = "GP saw injuries to her arm in October."
APOLOGY = "On leave; notes sent."


def text_of(content: bytes) -> str:
    """Everything a reader of the document sees: paragraphs, tables, header and footer."""
    document = Document(io.BytesIO(content))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    section = document.sections[0]
    parts += [p.text for p in section.header.paragraphs]
    parts += [p.text for p in section.footer.paragraphs]
    return "\n".join(parts)


async def _meeting_record(runtime: Runtime, world: World) -> None:
    s, people = runtime.services, world.people
    priya = people["coordinator"]
    await s.meetings.reply_attendance(people["referrer"], world.meeting_id, "attending")
    await s.meetings.reply_attendance(
        people["other agency"], world.meeting_id, "apologies", APOLOGY
    )
    await s.meetings.record_research(people["referrer"], world.item_id, "information", POLICE_NOTE)
    await s.meetings.record_research(
        people["other agency"], world.item_id, "information", HEALTH_NOTE
    )
    await s.victim_voice.record_wishes(people["idva"], world.case_id, VIEWS)
    await s.actions.agree_confidentiality(priya, world.meeting_id)
    assert await s.actions.record_risks(priya, world.meeting_id, world.case_id, RISKS) == (
        world.reference
    )


async def test_the_coordinators_copy_holds_the_whole_record(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    await _meeting_record(runtime, world)
    _, content = await runtime.services.actions.minutes(
        world.people["coordinator"], world.meeting_id
    )
    text = text_of(content)
    for wanted in (
        texts.MINUTES_MARKING,
        texts.MINUTES_COPY_FULL,
        texts.CONFIDENTIALITY_STATEMENT,
        "Agreed by everyone present; recorded by Priya Shah",
        "Sam Okafor",  # attended for the police
        APOLOGY,  # the reason, in the coordinator's copy only
        world.reference,
        texts.MINUTES_HEADING_WHY,
        RISKS,
        VIEWS,
        POLICE_NOTE,
        HEALTH_NOTE,
        "check bail conditions",
        "GP to review the medication",
        "assess the person causing harm",
    ):
        assert wanted in text, wanted
    assert "Jane Doe" not in text  # references only, never names


async def test_the_polices_copy_holds_its_parts(runtime: Runtime, clock: ManualClock) -> None:
    world = await build(runtime, clock)
    await _meeting_record(runtime, world)
    _, content = await runtime.services.actions.minutes_copy(
        world.people["referrer"], world.meeting_id
    )
    text = text_of(content)
    for wanted in (
        texts.MINUTES_MARKING,
        texts.minutes_copy_for("Police"),
        texts.CONFIDENTIALITY_STATEMENT,
        world.reference,
        texts.MINUTES_HEADING_WHY,
        RISKS,
        POLICE_NOTE,
        "check bail conditions",
        texts.MINUTES_REASON_WITHHELD,  # health's apologies, without the reason
    ):
        assert wanted in text, wanted
    for unwanted in (VIEWS, HEALTH_NOTE, "GP to review", "assess the person", APOLOGY, "Jane Doe"):
        assert unwanted not in text, unwanted
    assert texts.MINUTES_HEADING_VIEWS not in text


async def test_the_perpetrator_service_never_reads_of_the_victim(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    await _meeting_record(runtime, world)
    _, content = await runtime.services.actions.minutes_copy(
        world.people["perpetrator service"], world.meeting_id
    )
    text = text_of(content)
    assert world.reference in text and "assess the person causing harm" in text
    for unwanted in (VIEWS, RISKS, POLICE_NOTE, HEALTH_NOTE, "check bail", "GP to review"):
        assert unwanted not in text, unwanted
    assert "Jane Doe" not in text
    assert texts.MINUTES_HEADING_VIEWS not in text and texts.MINUTES_HEADING_RISKS not in text


async def test_a_person_on_the_must_not_receive_list_gets_no_trace_of_the_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    await _meeting_record(runtime, world)
    _, content = await runtime.services.actions.minutes_copy(
        world.people["excluded colleague"], world.meeting_id
    )
    text = text_of(content)
    assert texts.MINUTES_NO_CASES in text
    for unwanted in (world.reference, RISKS, VIEWS, POLICE_NOTE, "check bail", "Jane Doe"):
        assert unwanted not in text, unwanted


async def _reminders(runtime: Runtime) -> list[str]:
    claimed = await runtime.services.outbox.claim_due(limit=500)
    return [m.text for m in claimed if m.kind == "minutes_due"]


async def test_the_coordinator_is_reminded_on_the_third_working_day(
    runtime: Runtime, clock: ManualClock
) -> None:
    # The meeting is on Thu 10 Dec 2026 and was closed; the weekend does not count.
    world = await build(runtime, clock)
    clock.set(datetime(2026, 12, 14, 17, 0, tzinfo=UTC))  # Monday: the second working day
    assert await _reminders(runtime) == []
    clock.set(datetime(2026, 12, 15, 9, 0, 1, tzinfo=UTC))  # Tuesday: the third
    reminders = await _reminders(runtime)
    assert reminders and all("have not been sent" in text for text in reminders)
    assert all(world.reference not in text for text in reminders)  # names no case


async def test_no_reminder_once_the_minutes_are_sent(runtime: Runtime, clock: ManualClock) -> None:
    world = await build(runtime, clock)
    told = await runtime.services.actions.send_minutes(
        world.people["coordinator"], world.meeting_id
    )
    assert told >= 4  # the agencies' active, confirmed representatives
    clock.set(datetime(2026, 12, 15, 9, 0, 1, tzinfo=UTC))
    assert await _reminders(runtime) == []


async def test_the_risk_summary_is_sealed_and_kept_from_the_must_not_receive_list(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    s = runtime.services.actions
    with pytest.raises(NotFound):
        await s.record_risks(
            world.people["excluded coordinator"], world.meeting_id, world.case_id, RISKS
        )
    await s.record_risks(world.people["coordinator"], world.meeting_id, world.case_id, RISKS)
    async with runtime.sessions() as session:
        rows = list(await session.scalars(select(CaseRiskSummary)))
    assert len(rows) == 1 and rows[0].recorded_by_id == world.people["coordinator"].person_id
    assert rows[0].summary_sealed is not None and b"Strangled" not in rows[0].summary_sealed

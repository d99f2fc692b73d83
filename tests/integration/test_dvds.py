"""Clare's Law through the services: the police own an application (identifiers sealed), ask
agencies to check, set the panel, decide and record the safety plan, each a step; the
coordinator sees the status only; an agency asked sees whom it is about while its check is
open; everyone on the must-not-receive list, and everyone not asked, sees nothing; overdue
checks and decisions are chased once on working days from 09:00; /stats counts them."""

from __future__ import annotations

import json
from collections.abc import Awaitable
from datetime import timedelta
from typing import TypeVar

import pytest
from sqlalchemy import select

from bot import texts
from bot.access import DvdsPart
from bot.actor import Actor
from bot.clock import ManualClock
from bot.dvds import CURRENT_GUIDANCE
from bot.errors import NotFound, ServiceError
from bot.permissions import PermissionDenied
from bot.runtime import Runtime
from bot.services.retention import CASE_RETENTION_YEARS, RetentionService
from bot.stats.figures import last_12_months
from bot.vocabulary import AgencyKind, DvdsDecision, DvdsRoute, DvdsStepKind, Role
from storage.models import Agency, Case, DvdsApplication, DvdsStep, OutboxMessage
from tests.support.access_world import KEPT_OUT, World, build
from tests.support.retention import build_world
from tests.support.service_scenarios import enrol

APPLICANT = "Jane Doe, 01/02/1990"
SUBJECT = "John Smith, 03/04/1985"
T = TypeVar("T")
# Long past the retention period of a case closed today.
ERASE_AFTER = timedelta(days=366 * (CASE_RETENTION_YEARS + 2))
PLAN = "Refuge space held; police marker on the address; IDVA to visit after disclosure."


async def _agency(runtime: Runtime, area_id: int, name: str, kind: AgencyKind) -> int:
    async with runtime.sessions.begin() as session:
        row = Agency(area_id=area_id, name=name, kind=kind, created_at=runtime.clock.now())
        session.add(row)
        await session.flush()
        return row.id


async def _setup(runtime: Runtime, clock: ManualClock) -> tuple[World, dict[str, Actor], int]:
    world = await build(runtime, clock)
    area = world.people["coordinator"].area_id
    probation = await _agency(runtime, area, "Probation", AgencyKind.PROBATION)
    housing = await _agency(runtime, area, "Housing", AgencyKind.HOUSING)
    extra = {
        "probation": await enrol(runtime, area, 801, "Pru Bation", Role.AGENCY_REP, probation),
        "housing": await enrol(runtime, area, 802, "Hal Housing", Role.AGENCY_REP, housing),
    }
    view = await runtime.services.dvds.create(
        world.people["referrer"], DvdsRoute.RIGHT_TO_ASK, APPLICANT, SUBJECT, world.reference
    )
    return world, extra, view.id


async def test_the_police_record_it_sealed_and_the_coordinator_sees_the_status_only(
    runtime: Runtime, clock: ManualClock
) -> None:
    world, _, app = await _setup(runtime, clock)
    s = runtime.services.dvds
    sam = await s.get(world.people["referrer"], app)
    assert (sam.applicant, sam.subject) == (APPLICANT, SUBJECT)
    assert sam.may_record and sam.reference == world.reference
    assert sam.progress.due_on == sam.progress.received_on + timedelta(
        days=CURRENT_GUIDANCE.days_to_decision
    )
    priya = await s.get(world.people["coordinator"], app)
    assert priya.parts == {DvdsPart.STATUS}
    assert (priya.applicant, priya.subject, priya.safety_plan) == (None, None, None)
    assert not priya.may_record
    (line,) = await s.for_case(world.people["coordinator"], world.case_id)
    assert line.id == app and line.progress.stage() == "received"
    # Sealed: neither identifier is in any column in the clear.
    async with runtime.sessions() as session:
        row = await session.scalar(select(DvdsApplication))
        assert row is not None
        assert SUBJECT.encode() not in (row.subject_sealed or b"")
        assert APPLICANT.encode() not in (row.applicant_sealed or b"")
    # Non-police cannot create or decide; the coordinator is told it is the police's.
    for name in ("coordinator", "other agency", "idva"):
        with pytest.raises(ServiceError, match="Only the police"):
            await s.create(world.people[name], DvdsRoute.RIGHT_TO_KNOW, "A B", "C D")
    with pytest.raises(ServiceError, match="Only the police"):
        await s.decide(world.people["coordinator"], app, DvdsDecision.DISCLOSE)
    with pytest.raises(NotFound):
        await s.decide(world.people["other agency"], app, DvdsDecision.DISCLOSE)


async def _seen(call: Awaitable[T]) -> T | None:
    """What the call showed, or None when it was refused as if nothing existed."""
    try:
        return await call
    except (NotFound, PermissionDenied):
        return None


async def test_no_one_kept_out_sees_anything_through_any_path(
    runtime: Runtime, clock: ManualClock
) -> None:
    world, extra, app = await _setup(runtime, clock)
    s = runtime.services.dvds
    shut_out = [*KEPT_OUT, "other agency", "idva colleague", "perpetrator service"]
    for name in shut_out:
        actor = world.people[name]
        assert await _seen(s.get(actor, app)) is None, name
        assert await _seen(s.listing(actor)) in (None, []), name
        assert await _seen(s.for_case(actor, world.case_id)) in (None, []), name
        with pytest.raises((NotFound, PermissionDenied)):
            await s.complete_check(actor, app)
    # The police colleague on the case's must-not-receive list, above all.
    with pytest.raises(NotFound):
        await s.request_check(world.people["excluded colleague"], app, 1)
    # A housing rep whose agency was never asked sees nothing either.
    with pytest.raises(NotFound):
        await s.get(extra["housing"], app)


async def test_an_agency_asked_checks_and_is_chased_once_when_late(
    runtime: Runtime, clock: ManualClock
) -> None:
    world, extra, app = await _setup(runtime, clock)
    s, sam = runtime.services.dvds, world.people["referrer"]
    agencies = dict((name, agency_id) for agency_id, name in await s.checking_agencies(sam, app))
    assert "Probation" in agencies and "Housing" not in agencies and "Drive" not in agencies
    view = await s.request_check(sam, app, agencies["Probation"])
    (check,) = view.checks
    async with runtime.sessions() as session:
        asked = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "dvds_check_ask")
            )
        )
    assert [m.person_id for m in asked] == [extra["probation"].person_id]
    assert SUBJECT not in asked[0].text and world.reference not in asked[0].text
    pru = await s.get(extra["probation"], app)
    assert pru.subject == SUBJECT and pru.applicant is None and pru.safety_plan is None
    assert pru.check_open
    # Housing was not asked: it cannot say it checked.
    with pytest.raises(NotFound):
        await s.complete_check(extra["housing"], app)
    # Past the due day, on a working day after 09:00: chased once.
    clock.advance(timedelta(days=(check.due_on - clock.now().date()).days + 1))
    queued = 0
    for _ in range(7):  # to the next working day at 09:00 or later
        queued = await s.chase_overdue()
        if queued:
            break
        clock.advance(timedelta(days=1))
    assert queued == 1
    assert await s.chase_overdue() == 0  # once
    done = await s.complete_check(extra["probation"], app)
    assert done.checks[0].completed_on is not None
    async with runtime.sessions() as session:
        told = list(
            await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "dvds_check_done")
            )
        )
    assert [m.person_id for m in told] == [sam.person_id]
    assert told[0].text == texts.dvds_check_done_notice("CL-1", "Probation")
    with pytest.raises(NotFound):  # the subject closes with the check
        await s.get(extra["probation"], app)


async def test_decision_safety_plan_statistics_and_the_late_decision_chase(
    runtime: Runtime, clock: ManualClock
) -> None:
    world, _, app = await _setup(runtime, clock)
    s, sam = runtime.services.dvds, world.people["referrer"]
    with pytest.raises(ServiceError, match="only when the panel decides to disclose"):
        await s.record_safety_plan(sam, app, PLAN)
    received = (await s.get(sam, app)).progress.received_on
    await s.set_panel(sam, app, received + timedelta(days=7))
    await s.decide(sam, app, DvdsDecision.DISCLOSE)
    with pytest.raises(ServiceError, match="decided already"):
        await s.decide(sam, app, DvdsDecision.NOT_DISCLOSE)
    view = await s.record_safety_plan(sam, app, PLAN)
    assert view.progress.stage() == "safety_plan"
    # The allocated IDVA supports the victim through it: the plan, not the identifiers.
    jo = await s.get(world.people["idva"], app)
    assert jo.safety_plan == PLAN and jo.subject is None and jo.applicant is None
    assert (await s.get(world.people["coordinator"], app)).safety_plan is None
    async with runtime.sessions() as session:
        kinds = [step.kind for step in await session.scalars(select(DvdsStep))]
    assert kinds == [
        DvdsStepKind.RECEIVED,
        DvdsStepKind.PANEL_SET,
        DvdsStepKind.DECIDED,
        DvdsStepKind.SAFETY_PLAN,
    ]
    # A second, standalone application nobody decides: the decision is chased once.
    late = await s.create(sam, DvdsRoute.RIGHT_TO_KNOW, APPLICANT, SUBJECT)
    assert late.reference is None
    clock.advance(timedelta(days=CURRENT_GUIDANCE.days_to_decision + 1))
    queued = 0
    for _ in range(7):
        queued = await s.chase_overdue()
        if queued:
            break
        clock.advance(timedelta(days=1))
    async with runtime.sessions() as session:
        chased = {
            m.person_id
            for m in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == "dvds_decision_chase")
            )
        }
    assert sam.person_id in chased and world.people["coordinator"].person_id in chased
    assert world.people["excluded coordinator"].person_id in chased  # not linked to the case
    stats = runtime.services.statistics
    figures = await stats.dvds_figures(
        world.people["coordinator"], last_12_months(stats.today(world.people["coordinator"]))
    )
    assert figures.received == {DvdsRoute.RIGHT_TO_ASK: 1, DvdsRoute.RIGHT_TO_KNOW: 1}
    assert (figures.decided, figures.in_time, figures.disclosed) == (1, 1, 1)
    assert figures.median_days == 0
    summary = await stats.summary(
        world.people["coordinator"], last_12_months(stats.today(world.people["coordinator"]))
    )
    assert texts.dvds_guidance_note() in summary


async def test_erasing_the_case_unlinks_the_police_record_and_exports_it_before(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    reference = await _reference(runtime, world.full)
    s = runtime.services.dvds
    view = await s.create(world.police_rep, DvdsRoute.RIGHT_TO_ASK, APPLICANT, SUBJECT, reference)
    await s.decide(world.police_rep, view.id, DvdsDecision.DISCLOSE)
    await s.record_safety_plan(world.police_rep, view.id, PLAN)
    # The data subject's export has it, opened with the application's own key.
    export = json.loads(await runtime.services.subject_access.export(reference))
    (found,) = export["clares_law"]
    assert (found["applicant"], found["subject"]) == (APPLICANT, SUBJECT)
    assert [step["kind"] for step in found["steps"]] == ["received", "decided", "safety_plan"]
    assert found["steps"][-1]["safety_plan"] == PLAN
    erased = await RetentionService(runtime.deps).erase_due(clock.now().date() + ERASE_AFTER)
    assert world.full in {item.case_id for item in erased}
    async with runtime.sessions() as session:
        row = await session.get(DvdsApplication, view.id)
    assert row is not None and row.case_id is None  # the police's record stays, unlinked
    assert (await s.get(world.police_rep, view.id)).subject == SUBJECT


async def _reference(runtime: Runtime, case_id: int) -> str:
    async with runtime.sessions() as session:
        found = await session.scalar(select(Case.reference).where(Case.id == case_id))
    assert found is not None
    return found

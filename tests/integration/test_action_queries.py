"""Agencies' action lists, chasing and the coordinator's counts, read with few queries (issue #8).

The answers must be the ones the step-by-step reading gave: open means the steps do not end
in done or not possible, people on a case's must-not-receive list never see or hear of it,
and a chase already queued today is never queued again. Run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from bot.actions.entry import ActionDraft
from bot.actions.states import ACTION_FINAL, ActionState, PerpState, action_state
from bot.actor import Actor
from bot.clock import ManualClock
from bot.errors import NotFound, ServiceError
from bot.meetings.recurrence import Repeat
from bot.runtime import Runtime
from bot.services.enrolment import Redemption
from bot.services.outbox import cancel
from bot.vocabulary import AgencyKind, Role
from storage.models import Action, ActionStep, Agency, OutboxMessage, PerpetratorStep
from tests.support.service_scenarios import refer

POLICE, HEALTH, DRIVE = "Northamptonshire Police", "NGH Hospital", "Drive Project"


@dataclass(frozen=True)
class Scene:
    priya: Actor  # coordinator
    cora: Actor  # second coordinator
    sam: Actor  # police rep, refers the cases
    kim: Actor  # police rep
    nia: Actor  # health rep
    pat: Actor  # perpetrator-service rep
    meeting_id: int
    first_case: int
    second_case: int


async def _enrol(
    runtime: Runtime,
    user_id: int,
    name: str,
    area_id: int,
    role: Role,
    agency_id: int | None = None,
) -> Actor:
    services = runtime.services
    issued = await services.invites.issue(None, area_id=area_id, role=role, agency_id=agency_id)
    result = await services.enrolment.redeem(user_id, name, issued.code)
    assert result.outcome is Redemption.ENROLLED and result.actor is not None
    return result.actor


async def _agency(runtime: Runtime, area_id: int, name: str, kind: AgencyKind) -> int:
    async with runtime.sessions.begin() as session:
        agency = Agency(area_id=area_id, name=name, kind=kind, created_at=runtime.clock.now())
        session.add(agency)
        await session.flush()
        return agency.id


async def build(runtime: Runtime) -> Scene:
    """Two accepted cases on a meeting on Thursday 10 December 2026, and the people around it."""
    services = runtime.services
    area = (await services.areas.ensure_area("Northamptonshire")).id
    police = await _agency(runtime, area, POLICE, AgencyKind.POLICE)
    health = await _agency(runtime, area, HEALTH, AgencyKind.HEALTH)
    drive = await _agency(runtime, area, DRIVE, AgencyKind.PERPETRATOR_SERVICE)
    priya = await _enrol(runtime, 501, "Priya Shah", area, Role.COORDINATOR)
    cora = await _enrol(runtime, 502, "Cora Hill", area, Role.COORDINATOR)
    sam = await _enrol(runtime, 601, "Sam Okafor", area, Role.AGENCY_REP, police)
    kim = await _enrol(runtime, 603, "Kim Lee", area, Role.AGENCY_REP, police)
    nia = await _enrol(runtime, 602, "Nia Brown", area, Role.AGENCY_REP, health)
    pat = await _enrol(runtime, 605, "Pat Quinn", area, Role.PERPETRATOR_REP, drive)
    (meeting,) = (
        await services.meetings.create(
            priya, first_date=date(2026, 12, 10), start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    cases = []
    for victim, perpetrator in (("Jane Doe", "John Doe"), ("Ann Smith", "Bob Smith")):
        submitted = await refer(
            runtime, sam, typed={"victim_name": victim, "perp_name": perpetrator}
        )
        _, listing = await services.cases.accept(priya, submitted.case_id)
        assert listing is not None and listing.meeting_id == meeting.id
        cases.append(submitted.case_id)
    return Scene(priya, cora, sam, kim, nia, pat, meeting.id, cases[0], cases[1])


async def record(
    runtime: Runtime,
    scene: Scene,
    case_id: int,
    agency: str,
    text: str,
    due: date | None = None,
) -> int:
    draft = ActionDraft(agency, text, due, "normal")
    return (await runtime.services.actions.record(scene.priya, scene.meeting_id, case_id, draft)).id


async def test_closed_at_is_set_exactly_when_the_steps_close_the_action(
    runtime: Runtime, clock: ManualClock
) -> None:
    scene = await build(runtime)
    actions = runtime.services.actions
    ids = {
        name: await record(runtime, scene, scene.first_case, POLICE, f"Action {name}")
        for name in ("untouched", "accepted", "done", "not_possible", "passed_on", "passed_done")
    }
    ids["raced"] = await record(runtime, scene, scene.second_case, POLICE, "Action raced")
    await actions.close_meeting(scene.priya, scene.meeting_id)

    def later() -> None:
        clock.advance(timedelta(minutes=7))

    await actions.move(scene.sam, ids["accepted"], ActionState.ACCEPTED)
    later()
    await actions.move(scene.sam, ids["done"], ActionState.ACCEPTED)
    later()
    await actions.move(scene.kim, ids["done"], ActionState.DONE, "Visited")
    later()
    await actions.move(scene.sam, ids["not_possible"], ActionState.NOT_POSSIBLE, "Moved away")
    later()
    await actions.reassign(scene.sam, ids["passed_on"], scene.kim.person_id)
    await actions.move(scene.kim, ids["passed_on"], ActionState.ACCEPTED)
    later()
    await actions.reassign(scene.sam, ids["passed_done"], scene.kim.person_id)
    later()
    await actions.move(scene.kim, ids["passed_done"], ActionState.DONE)
    later()
    await actions.move(scene.kim, ids["raced"], ActionState.DONE, "Done already")
    later()
    # The second press is refused and must not move the time the action was closed.
    with pytest.raises(ServiceError, match="already done"):
        await actions.move(scene.sam, ids["raced"], ActionState.NOT_POSSIBLE, "Too late")

    async with runtime.sessions() as session:
        for name, action_id in ids.items():
            action = await session.get(Action, action_id)
            assert action is not None
            steps = list(
                await session.scalars(
                    select(ActionStep)
                    .where(ActionStep.action_id == action_id)
                    .order_by(ActionStep.id)
                )
            )
            state = action_state([ActionState(s.state) for s in steps])
            assert (action.closed_at is not None) == (state in ACTION_FINAL), name
            if state in ACTION_FINAL:
                assert action.closed_at == steps[-1].at, name
            assert action.closed_state == (state.value if state in ACTION_FINAL else None), name

    listed = {view.id for view in await actions.open_for_agency(scene.sam)}
    assert listed == {ids["untouched"], ids["accepted"], ids["passed_on"]}


async def test_open_list_is_paged_oldest_due_first_without_excluded_cases(
    runtime: Runtime,
) -> None:
    scene = await build(runtime)
    actions = runtime.services.actions
    first_due = date(2026, 12, 14)
    recorded: list[tuple[date, int, int]] = []
    for number in range(12):
        case_id = scene.first_case if number % 2 else scene.second_case
        due = first_due + timedelta(days=(number * 5) % 12)
        action_id = await record(runtime, scene, case_id, POLICE, f"Police task {number}", due)
        recorded.append((due, action_id, case_id))
    await record(runtime, scene, scene.first_case, HEALTH, "Health task")
    # Nothing is listed before the meeting is closed and the actions sent.
    assert await actions.open_for_agency(scene.sam) == []
    await actions.close_meeting(scene.priya, scene.meeting_id)
    await runtime.services.cases.exclude(scene.priya, scene.second_case, scene.kim.person_id)

    expected = [action_id for _, action_id, _ in sorted(recorded)]
    first = await actions.open_page(scene.sam, 0, 5)
    assert (first.total, first.offset) == (12, 0)
    assert [v.id for v in first.views] == expected[:5]
    assert first.views[0].text.startswith("Police task")
    assert first.views[0].last_by == "Priya Shah"
    second = await actions.open_page(scene.sam, 5, 5)
    assert [v.id for v in second.views] == expected[5:10]
    # A page past the end (the list got shorter since the button was made) shows the last one.
    beyond = await actions.open_page(scene.sam, 500, 5)
    assert (beyond.offset, [v.id for v in beyond.views]) == (10, expected[10:])
    assert [v.id for v in await actions.open_for_agency(scene.sam)] == expected

    # Kim must not receive anything about the second case: its actions are not in her list.
    on_first_case = [a for _, a, c in sorted(recorded) if c == scene.first_case]
    kims = await actions.open_page(scene.kim, 0, 10)
    assert kims.total == len(on_first_case) == 6
    assert [v.id for v in kims.views] == on_first_case
    assert [v.text for v in await actions.open_for_agency(scene.nia)] == ["Health task"]

    # Closing one takes it off the list at once.
    await actions.move(scene.sam, expected[0], ActionState.DONE)
    after = await actions.open_page(scene.sam, 0, 5)
    assert after.total == 11 and [v.id for v in after.views] == expected[1:6]


async def _queued(runtime: Runtime) -> list[tuple[str, int | None]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.kind, OutboxMessage.person_id)
            .where(OutboxMessage.kind.in_(("action_overdue", "action_escalated")))
            .order_by(OutboxMessage.id)
        )
        return [(str(kind), person) for kind, person in rows.all()]


async def test_overdue_chases_once_a_day_and_escalation_once(
    runtime: Runtime, clock: ManualClock
) -> None:
    scene = await build(runtime)
    actions = runtime.services.actions
    due = date(2026, 12, 14)
    police_open = await record(runtime, scene, scene.first_case, POLICE, "Check bail", due)
    police_done = await record(runtime, scene, scene.first_case, POLICE, "Flag address", due)
    health_open = await record(runtime, scene, scene.second_case, HEALTH, "GP review", due)
    await actions.close_meeting(scene.priya, scene.meeting_id)
    await actions.move(scene.sam, police_done, ActionState.DONE)
    await runtime.services.cases.exclude(scene.priya, scene.first_case, scene.kim.person_id)
    await runtime.services.cases.exclude(scene.priya, scene.first_case, scene.cora.person_id)

    # Tuesday 15 December before 09:00 (London is on UTC in winter): nothing yet.
    clock.set(datetime(2026, 12, 15, 8, 59, tzinfo=UTC))
    assert await actions.chase_overdue() == 0
    clock.set(datetime(2026, 12, 15, 9, 0, 1, tzinfo=UTC))
    assert await actions.chase_overdue() == 2
    # Kim is excluded from the first case and the done action is not chased.
    assert await _queued(runtime) == [
        ("action_overdue", scene.sam.person_id),
        ("action_overdue", scene.nia.person_id),
    ]
    # Every later tick that day finds them queued and queues nothing.
    clock.set(datetime(2026, 12, 15, 9, 0, 31, tzinfo=UTC))
    assert await actions.chase_overdue() == 0
    assert len(await _queued(runtime)) == 2

    # A chase cancelled before it went is queued again, as enqueue itself would do.
    async with runtime.sessions.begin() as session:
        prefix = f"action:{health_open}:overdue:2026-12-15:"
        assert await cancel(session, dedupe_key_prefix=prefix, now=clock.now()) == 1
    assert await actions.chase_overdue() == 1
    assert await actions.chase_overdue() == 0

    # Thursday 17 December, three working days after the due date: escalated to the
    # coordinators (Cora is excluded from the first case), once, besides the daily chase.
    clock.set(datetime(2026, 12, 17, 10, 0, tzinfo=UTC))
    assert await actions.chase_overdue() == 5
    assert (await _queued(runtime))[2:] == [
        ("action_overdue", scene.sam.person_id),
        ("action_escalated", scene.priya.person_id),
        ("action_overdue", scene.nia.person_id),
        ("action_escalated", scene.priya.person_id),
        ("action_escalated", scene.cora.person_id),
    ]
    assert await actions.chase_overdue() == 0
    # Friday: the daily chases again, the escalations not.
    clock.set(datetime(2026, 12, 18, 9, 30, tzinfo=UTC))
    assert await actions.chase_overdue() == 2
    # Saturday: nobody is chased at the weekend.
    clock.set(datetime(2026, 12, 19, 9, 30, tzinfo=UTC))
    assert await actions.chase_overdue() == 0
    # Once done, an action is not chased any more.
    clock.set(datetime(2026, 12, 21, 9, 30, tzinfo=UTC))
    await actions.move(scene.sam, police_open, ActionState.DONE)
    assert await actions.chase_overdue() == 1
    assert (await _queued(runtime))[-1] == ("action_overdue", scene.nia.person_id)


async def test_summary_referrals_and_minutes_read_the_recorded_steps(
    runtime: Runtime, clock: ManualClock
) -> None:
    scene = await build(runtime)
    actions = runtime.services.actions
    due = date(2026, 12, 14)
    police_open = await record(runtime, scene, scene.first_case, POLICE, "Check bail", due)
    police_done = await record(runtime, scene, scene.first_case, POLICE, "Flag address")
    health = await record(runtime, scene, scene.second_case, HEALTH, "GP review")
    await record(runtime, scene, scene.first_case, DRIVE, "Assess for the programme")
    await record(runtime, scene, scene.second_case, DRIVE, "Assess the second one")
    await actions.close_meeting(scene.priya, scene.meeting_id)
    await actions.move(scene.sam, police_open, ActionState.ACCEPTED)
    await actions.move(scene.sam, police_done, ActionState.DONE)
    await actions.move(scene.nia, health, ActionState.NOT_POSSIBLE, "Moved out of the area")

    first, second = await actions.perpetrator_referrals(scene.pat)
    today = clock.now().date()
    await actions.move_perpetrator(scene.pat, first.id, PerpState.CONTACT_PLANNED, planned_on=today)
    for step in (PerpState.CONTACT_ATTEMPTED, PerpState.ASSESSED, PerpState.SUITABLE):
        await actions.move_perpetrator(scene.pat, first.id, step)
    clock.advance(timedelta(days=9))
    await actions.move_perpetrator(scene.pat, first.id, PerpState.STARTED)
    await actions.move_perpetrator(scene.pat, first.id, PerpState.SESSION_ATTENDED)
    await actions.move_perpetrator(
        scene.pat, second.id, PerpState.CONTACT_PLANNED, planned_on=clock.now().date()
    )
    await actions.move_perpetrator(scene.pat, second.id, PerpState.CONTACT_ATTEMPTED)

    listed = {view.id: view for view in await actions.perpetrator_referrals(scene.pat)}
    assert listed[first.id].state is PerpState.SESSION_ATTENDED
    assert listed[first.id].options == [
        PerpState.SESSION_ATTENDED,
        PerpState.SESSION_MISSED,
        PerpState.ENDED,
    ]
    assert (listed[first.id].sessions_attended, listed[first.id].planned_on) == (1, today)
    assert listed[second.id].state is PerpState.CONTACT_ATTEMPTED

    clock.set(datetime(2026, 12, 16, 12, 0, tzinfo=UTC))
    agencies, services = await actions.summary(scene.priya)
    counts = {a.agency: (a.open, a.done, a.not_possible, a.overdue) for a in agencies}
    assert counts == {
        DRIVE: (2, 0, 0, 0),
        HEALTH: (0, 0, 1, 0),
        POLICE: (1, 1, 0, 1),
    }
    assert [a.agency for a in agencies] == sorted(counts)
    (drive,) = services
    assert (drive.service, drive.waiting_referrals, drive.median_days_to_start) == (DRIVE, 1, 9.0)
    # First contact on the day of referral for one, nine days later for the other.
    assert drive.median_days_to_first_contact == 4.5
    assert (drive.ended, drive.completed, drive.disengaged) == (0, 0, 0)

    _, content = await actions.minutes(scene.priya, scene.meeting_id)
    body = zipfile.ZipFile(io.BytesIO(content)).read("word/document.xml").decode()
    for text in ("Check bail", "Flag address", "GP review", "Not possible (circumstances changed)"):
        assert text in body


async def test_a_perpetrator_service_rep_on_the_must_not_receive_list_never_sees_the_referral(
    runtime: Runtime,
) -> None:
    scene = await build(runtime)
    actions = runtime.services.actions
    await record(runtime, scene, scene.first_case, DRIVE, "Assess for the programme")
    await record(runtime, scene, scene.second_case, DRIVE, "Assess the second one")
    await actions.close_meeting(scene.priya, scene.meeting_id)
    first, second = await actions.perpetrator_referrals(scene.pat)

    await runtime.services.cases.exclude(scene.priya, scene.first_case, scene.pat.person_id)

    assert [view.id for view in await actions.perpetrator_referrals(scene.pat)] == [second.id]
    with pytest.raises(NotFound):
        await actions.move_perpetrator(
            scene.pat, first.id, PerpState.CONTACT_PLANNED, planned_on=runtime.clock.now().date()
        )
    async with runtime.sessions() as session:
        steps = await session.scalars(
            select(PerpetratorStep.state).where(PerpetratorStep.referral_id == first.id)
        )
        assert list(steps) == [PerpState.REFERRED]  # nothing recorded for the hidden one
    moved = await actions.move_perpetrator(
        scene.pat, second.id, PerpState.CONTACT_PLANNED, planned_on=runtime.clock.now().date()
    )
    assert moved.state is PerpState.CONTACT_PLANNED

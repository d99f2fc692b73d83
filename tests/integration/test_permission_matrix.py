"""The whole permission matrix, checked against the services on both databases.

Every role x operation cell calls the service methods that perform the
operation: an allowed cell must work and have its effect, a refused one must
raise ``PermissionDenied`` and leave the database exactly as it was. Separate
tests check that nothing crosses areas (even for a coordinator) and that
agency-scoped roles only ever see their own agency.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, time
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.actor import Actor
from bot.errors import NotFound
from bot.meetings.closures import ClosureInput
from bot.meetings.recurrence import Repeat
from bot.permissions import MATRIX, Operation, PermissionDenied, Scope, scope_for
from bot.runtime import Runtime
from bot.services.agencies import AgencyView
from bot.services.enrolment import Redemption
from bot.services.invites import IssuedInvite
from bot.services.people import PersonView
from bot.stats.figures import quarter
from bot.vocabulary import AgencyKind, Role
from storage.models import Agency, AuditEvent, Invite, Person
from tests.support.service_scenarios import refer

AREA_1 = "Northamptonshire"
AREA_2 = "Leicestershire"
MISSING_ID = 987_654_321

# ---------------------------------------------------------------------------
# The world every test starts from
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    area1: int
    area2: int
    police: int
    idva: int
    perpetrator_service: int
    area2_agency: int
    actors: dict[Role, Actor]  # one person of every role in area 1
    idva_rep: Actor  # a second agency rep in area 1, in the IDVA service
    leaver: Actor  # a police rep in area 1: the target of MANAGE_PEOPLE
    area2_actors: dict[Role, Actor]
    open_invite1: int  # an open invite in area 1
    open_invite2: int  # an open invite in area 2
    case_id: int  # a referral made by the police rep in area 1
    case_reference: str
    meeting_id: int  # a one-off meeting in area 1

    def everyone(self) -> list[Actor]:
        return [
            *self.actors.values(),
            self.idva_rep,
            self.leaver,
            *self.area2_actors.values(),
        ]


async def enrol(
    runtime: Runtime,
    telegram_user_id: int,
    name: str,
    *,
    area_id: int,
    role: Role,
    agency_id: int | None = None,
) -> Actor:
    services = runtime.services
    issued = await services.invites.issue(None, area_id=area_id, role=role, agency_id=agency_id)
    result = await services.enrolment.redeem(telegram_user_id, name, issued.code)
    assert result.outcome is Redemption.ENROLLED and result.actor is not None
    return result.actor


async def build_world(runtime: Runtime) -> World:
    services = runtime.services
    area1 = (await services.areas.ensure_area(AREA_1)).id
    area2 = (await services.areas.ensure_area(AREA_2)).id

    coordinator1 = await enrol(
        runtime, 1001, "Cora Ordinator", area_id=area1, role=Role.COORDINATOR
    )
    coordinator2 = await enrol(
        runtime, 2001, "Lei Coordinator", area_id=area2, role=Role.COORDINATOR
    )

    police = await services.agencies.add(coordinator1, "Northants Police", AgencyKind.POLICE)
    idva = await services.agencies.add(coordinator1, "Sunflower IDVA Service", AgencyKind.IDVA)
    perpetrator = await services.agencies.add(
        coordinator1, "Change Pathways", AgencyKind.PERPETRATOR_SERVICE
    )
    area2_agency = await services.agencies.add(
        coordinator2, "Leicestershire Police", AgencyKind.POLICE
    )

    actors = {
        Role.COORDINATOR: coordinator1,
        Role.CHAIR: await enrol(runtime, 1002, "Chas Chair", area_id=area1, role=Role.CHAIR),
        Role.AGENCY_REP: await enrol(
            runtime, 1003, "Pat Police", area_id=area1, role=Role.AGENCY_REP, agency_id=police.id
        ),
        Role.PERPETRATOR_REP: await enrol(
            runtime,
            1004,
            "Perry Pathways",
            area_id=area1,
            role=Role.PERPETRATOR_REP,
            agency_id=perpetrator.id,
        ),
        Role.GOVERNANCE: await enrol(
            runtime, 1005, "Gov Ernance", area_id=area1, role=Role.GOVERNANCE
        ),
    }
    idva_rep = await enrol(
        runtime, 1006, "Ida Advocate", area_id=area1, role=Role.AGENCY_REP, agency_id=idva.id
    )
    leaver = await enrol(
        runtime, 1007, "Lee Leaver", area_id=area1, role=Role.AGENCY_REP, agency_id=police.id
    )
    area2_actors = {
        Role.COORDINATOR: coordinator2,
        Role.CHAIR: await enrol(runtime, 2002, "Leo Chair", area_id=area2, role=Role.CHAIR),
        Role.AGENCY_REP: await enrol(
            runtime,
            2003,
            "Lena Police",
            area_id=area2,
            role=Role.AGENCY_REP,
            agency_id=area2_agency.id,
        ),
    }
    referral = await refer(runtime, actors[Role.AGENCY_REP])
    (meeting,) = (
        await services.meetings.create(
            coordinator1, first_date=date(2026, 12, 10), start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    open1 = await services.invites.issue(None, area_id=area1, role=Role.CHAIR)
    open2 = await services.invites.issue(None, area_id=area2, role=Role.CHAIR)
    return World(
        area1=area1,
        area2=area2,
        police=police.id,
        idva=idva.id,
        perpetrator_service=perpetrator.id,
        area2_agency=area2_agency.id,
        actors=actors,
        idva_rep=idva_rep,
        leaver=leaver,
        area2_actors=area2_actors,
        open_invite1=open1.invite_id,
        open_invite2=open2.invite_id,
        case_id=referral.case_id,
        case_reference=referral.reference,
        meeting_id=meeting.id,
    )


async def snapshot(runtime: Runtime) -> dict[str, Any]:
    """Everything a refused call might have changed, read straight from the tables."""
    async with runtime.sessions() as session:
        agencies = sorted(
            (a.id, a.area_id, a.name, a.kind, a.isa_signed_on, a.isa_review_on)
            for a in await session.scalars(select(Agency))
        )
        people = sorted(
            (p.id, p.area_id, p.agency_id, p.role, p.deactivated_at, p.deactivated_by_id)
            for p in await session.scalars(select(Person))
        )
        invites = sorted(
            (i.id, i.area_id, i.agency_id, i.role, i.redeemed_at, i.revoked_at)
            for i in await session.scalars(select(Invite))
        )
        audit = (await session.execute(select(func.count(), func.max(AuditEvent.seq)))).one()
    return {"agencies": agencies, "people": people, "invites": invites, "audit": tuple(audit)}


async def agency_row(runtime: Runtime, agency_id: int) -> Agency:
    async with runtime.sessions() as session:
        agency = await session.get(Agency, agency_id)
        assert agency is not None
        return agency


async def active_people(runtime: Runtime, area_id: int) -> dict[int, int | None]:
    """person id -> agency id of everyone active in the area, from the table."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Person.id, Person.agency_id).where(
                Person.area_id == area_id, Person.deactivated_at.is_(None)
            )
        )
        return {pid: agency_id for pid, agency_id in rows.all()}


async def expected_visible(runtime: Runtime, actor: Actor) -> set[int]:
    people = await active_people(runtime, actor.area_id)
    if scope_for(actor.role, Operation.VIEW_PEOPLE) is Scope.AGENCY:
        return {pid for pid, agency_id in people.items() if agency_id == actor.agency_id}
    return set(people)


# ---------------------------------------------------------------------------
# Operation -> the service calls that perform it
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    runtime: Runtime
    world: World
    actor: Actor


@dataclass(frozen=True)
class ServiceCall:
    name: str
    perform: Callable[[Cell], Awaitable[Any]]
    verify: Callable[[Cell, Any], Awaitable[None]]


async def verify_identify(cell: Cell, found: Actor | None) -> None:
    assert found is not None
    assert (found.person_id, found.role, found.area_id, found.agency_id) == (
        cell.actor.person_id,
        cell.actor.role,
        cell.actor.area_id,
        cell.actor.agency_id,
    )


async def verify_agency_list(cell: Cell, views: list[AgencyView]) -> None:
    w = cell.world
    assert {v.id for v in views} == {w.police, w.idva, w.perpetrator_service}
    counts = {v.id: v.active_people for v in views}
    assert counts == {w.police: 2, w.idva: 1, w.perpetrator_service: 1}


async def verify_agency_get(cell: Cell, view: AgencyView) -> None:
    assert (view.id, view.name, view.kind) == (
        cell.world.police,
        "Northants Police",
        AgencyKind.POLICE,
    )


async def verify_agency_add(cell: Cell, view: AgencyView) -> None:
    row = await agency_row(cell.runtime, view.id)
    assert (row.area_id, row.name, row.kind) == (
        cell.actor.area_id,
        "Northants Housing",
        AgencyKind.HOUSING,
    )
    listed = await cell.runtime.services.agencies.list_for(cell.actor)
    assert view.id in {v.id for v in listed}


async def verify_agency_rename(cell: Cell, view: AgencyView) -> None:
    assert view.name == "Sunflower IDVA"
    assert (await agency_row(cell.runtime, cell.world.idva)).name == "Sunflower IDVA"


async def verify_agreement(cell: Cell, view: AgencyView) -> None:
    row = await agency_row(cell.runtime, cell.world.police)
    assert (row.isa_signed_on, row.isa_review_on) == (date(2026, 1, 5), date(2027, 1, 5))


async def perform_issue(cell: Cell) -> IssuedInvite:
    return await cell.runtime.services.invites.issue(
        cell.actor, area_id=cell.actor.area_id, role=Role.AGENCY_REP, agency_id=cell.world.police
    )


async def verify_issue(cell: Cell, issued: IssuedInvite) -> None:
    assert (issued.area_id, issued.role, issued.agency_id) == (
        cell.world.area1,
        Role.AGENCY_REP,
        cell.world.police,
    )
    listed = await cell.runtime.services.invites.list_open(cell.actor)
    assert issued.invite_id in {i.id for i in listed}


async def verify_list_open(cell: Cell, listed: list[Any]) -> None:
    ids = {i.id for i in listed}
    assert cell.world.open_invite1 in ids
    assert cell.world.open_invite2 not in ids


async def verify_revoke(cell: Cell, _: None) -> None:
    async with cell.runtime.sessions() as session:
        invite = await session.get(Invite, cell.world.open_invite1)
        assert invite is not None
        assert invite.revoked_at is not None and invite.revoked_by_id == cell.actor.person_id
    listed = await cell.runtime.services.invites.list_open(cell.actor)
    assert cell.world.open_invite1 not in {i.id for i in listed}


async def verify_people_list(cell: Cell, views: list[PersonView]) -> None:
    seen = {v.id for v in views}
    assert seen == await expected_visible(cell.runtime, cell.actor)
    other_area = {a.person_id for a in cell.world.area2_actors.values()}
    assert not seen & other_area
    assert all(v.active for v in views)


async def verify_person_get(cell: Cell, view: PersonView) -> None:
    assert (view.id, view.name, view.role, view.active) == (
        cell.world.leaver.person_id,
        "Lee Leaver",
        Role.AGENCY_REP,
        True,
    )
    assert view.agency_name == "Northants Police"


async def verify_deactivate(cell: Cell, view: PersonView) -> None:
    leaver = cell.world.leaver
    assert view.id == leaver.person_id and not view.active
    assert await cell.runtime.services.enrolment.identify(leaver.telegram_user_id) is None
    async with cell.runtime.sessions() as session:
        person = await session.get(Person, leaver.person_id)
        assert person is not None and person.deactivated_by_id == cell.actor.person_id


async def verify_audit(cell: Cell, lines: list[Any]) -> None:
    async with cell.runtime.sessions() as session:
        own_area = set(
            await session.scalars(
                select(AuditEvent.seq).where(AuditEvent.area_id == cell.actor.area_id)
            )
        )
    # limit=50 covers the whole of area 1's trail, so it must be exactly that (bar this view).
    seen = {line.seq for line in lines}
    assert seen <= own_area
    assert len(seen) == len(own_area) - 1  # the newest is this very audit.viewed event
    actions = {line.action for line in lines}
    assert {"area.created", "agency.added", "person.enrolled", "invite.issued"} <= actions


async def verify_draft(cell: Cell, state: Any) -> None:
    draft = await cell.runtime.services.referrals.current_draft(cell.actor)
    assert draft is not None and draft.payload["step"] == "safe_contact"


async def verify_accepted(cell: Cell, result: Any) -> None:
    reference, listing = result
    assert reference == cell.world.case_reference
    assert listing.meeting_id == cell.world.meeting_id  # listed for the next open meeting
    card = await cell.runtime.services.cases.card(cell.actor, reference)
    assert card.status.value == "accepted"


async def verify_card(cell: Cell, card: Any) -> None:
    assert card.reference == cell.world.case_reference
    sees_names = cell.actor.role in (Role.COORDINATOR, Role.CHAIR) or (
        cell.actor.person_id == cell.world.actors[Role.AGENCY_REP].person_id
    )
    assert (card.identifying is not None) == sees_names
    if sees_names:
        assert card.identifying.victim["name"] == "Jane Doe"


async def verify_scheduled(cell: Cell, schedule: Any) -> None:
    (meeting,) = schedule.meetings
    upcoming = await cell.runtime.services.meetings.upcoming(cell.actor)
    assert meeting.id in [m.id for m in upcoming]


async def verify_closures(cell: Cell, added: Any) -> None:
    assert added.added == [date(2026, 12, 24)]
    upcoming = await cell.runtime.services.closures.upcoming(cell.actor)
    assert [(c.day, c.note) for c in upcoming] == [(date(2026, 12, 24), "Christmas Eve")]
    # The closure is the area's own: the other area's calendar has none.
    other = cell.world.area2_actors[Role.COORDINATOR]
    assert await cell.runtime.services.closures.upcoming(other) == []


async def verify_upcoming(cell: Cell, meetings: Any) -> None:
    assert [m.id for m in meetings] == [cell.world.meeting_id]


async def verify_attendance(cell: Cell, when: str) -> None:
    detail = await cell.runtime.services.meetings.detail(cell.actor, cell.world.meeting_id)
    assert detail.attendance[cell.actor.agency_id] == "attending"  # type: ignore[index]


async def verify_plan_meetings(cell: Cell, meetings: Any) -> None:
    assert [m[0] for m in meetings] == [cell.world.meeting_id]


async def verify_open_actions(cell: Cell, views: Any) -> None:
    assert views == []  # nothing has been sent to this agency yet


async def verify_statistics(cell: Cell, result: Any) -> None:
    figures, suppressed = result
    assert suppressed is (cell.actor.role is Role.GOVERNANCE)
    assert figures.period.label == "2026 Q4"


CALLS: dict[Operation, list[ServiceCall]] = {
    Operation.VIEW_STATISTICS: [
        ServiceCall(
            "statistics.figures",
            lambda c: c.runtime.services.statistics.figures(c.actor, quarter(2026, 4)),
            verify_statistics,
        ),
    ],
    Operation.RECORD_ACTIONS: [
        ServiceCall(
            "actions.plan_meetings",
            lambda c: c.runtime.services.actions.plan_meetings(c.actor),
            verify_plan_meetings,
        ),
    ],
    Operation.WORK_ACTIONS: [
        ServiceCall(
            "actions.open_for_agency",
            lambda c: c.runtime.services.actions.open_for_agency(c.actor),
            verify_open_actions,
        ),
    ],
    Operation.MANAGE_MEETINGS: [
        ServiceCall(
            "meetings.create",
            lambda c: c.runtime.services.meetings.create(
                c.actor, first_date=date(2026, 12, 17), start=time(10), repeat=Repeat.ONE_OFF
            ),
            verify_scheduled,
        ),
        ServiceCall(
            "closures.add",
            lambda c: c.runtime.services.closures.add(
                c.actor, ClosureInput(date(2026, 12, 24), date(2026, 12, 24), "Christmas Eve")
            ),
            verify_closures,
        ),
    ],
    Operation.VIEW_MEETINGS: [
        ServiceCall(
            "meetings.upcoming",
            lambda c: c.runtime.services.meetings.upcoming(c.actor),
            verify_upcoming,
        ),
    ],
    Operation.RETURN_RESEARCH: [
        ServiceCall(
            "meetings.reply_attendance",
            lambda c: c.runtime.services.meetings.reply_attendance(
                c.actor, c.world.meeting_id, "attending"
            ),
            verify_attendance,
        ),
    ],
    Operation.REFER_CASE: [
        ServiceCall(
            "referrals.start",
            lambda c: c.runtime.services.referrals.start(c.actor),
            verify_draft,
        ),
    ],
    Operation.TRIAGE_CASES: [
        ServiceCall(
            "cases.accept",
            lambda c: c.runtime.services.cases.accept(c.actor, c.world.case_id),
            verify_accepted,
        ),
    ],
    Operation.VIEW_CASES: [
        ServiceCall(
            "cases.card",
            lambda c: c.runtime.services.cases.card(c.actor, c.world.case_reference),
            verify_card,
        ),
    ],
    Operation.USE_BOT: [
        ServiceCall(
            "enrolment.identify",
            lambda c: c.runtime.services.enrolment.identify(c.actor.telegram_user_id),
            verify_identify,
        ),
    ],
    Operation.MANAGE_AGENCIES: [
        ServiceCall(
            "agencies.list_for",
            lambda c: c.runtime.services.agencies.list_for(c.actor),
            verify_agency_list,
        ),
        ServiceCall(
            "agencies.get",
            lambda c: c.runtime.services.agencies.get(c.actor, c.world.police),
            verify_agency_get,
        ),
        ServiceCall(
            "agencies.add",
            lambda c: c.runtime.services.agencies.add(
                c.actor, "Northants Housing", AgencyKind.HOUSING
            ),
            verify_agency_add,
        ),
        ServiceCall(
            "agencies.rename",
            lambda c: c.runtime.services.agencies.rename(c.actor, c.world.idva, "Sunflower IDVA"),
            verify_agency_rename,
        ),
        ServiceCall(
            "agencies.set_agreement",
            lambda c: c.runtime.services.agencies.set_agreement(
                c.actor, c.world.police, date(2026, 1, 5), date(2027, 1, 5)
            ),
            verify_agreement,
        ),
    ],
    Operation.INVITE_PEOPLE: [
        ServiceCall("invites.issue", perform_issue, verify_issue),
        ServiceCall(
            "invites.list_open",
            lambda c: c.runtime.services.invites.list_open(c.actor),
            verify_list_open,
        ),
        ServiceCall(
            "invites.revoke",
            lambda c: c.runtime.services.invites.revoke(c.actor, c.world.open_invite1),
            verify_revoke,
        ),
    ],
    Operation.VIEW_PEOPLE: [
        ServiceCall(
            "people.list_for",
            lambda c: c.runtime.services.people.list_for(c.actor),
            verify_people_list,
        ),
    ],
    Operation.MANAGE_PEOPLE: [
        ServiceCall(
            "people.get",
            lambda c: c.runtime.services.people.get(c.actor, c.world.leaver.person_id),
            verify_person_get,
        ),
        ServiceCall(
            "people.deactivate",
            lambda c: c.runtime.services.people.deactivate(c.actor, c.world.leaver.person_id),
            verify_deactivate,
        ),
    ],
    Operation.VIEW_AUDIT: [
        ServiceCall(
            "audit.latest",
            lambda c: c.runtime.services.audit.latest(c.actor, limit=50),
            verify_audit,
        ),
    ],
}


def cell_param(role: Role, operation: Operation) -> Any:
    return pytest.param(role, operation, id=f"{role.value}-{operation.name}")


CELLS = [cell_param(role, operation) for role in Role for operation in Operation]


def test_the_table_matches_the_matrix() -> None:
    assert set(MATRIX) == set(Role)
    assert set(CALLS) == set(Operation)  # a new operation needs its service calls here
    assert all(CALLS.values())


@pytest.mark.parametrize(("role", "operation"), CELLS)
async def test_matrix_cell(runtime: Runtime, role: Role, operation: Operation) -> None:
    world = await build_world(runtime)
    cell = Cell(runtime, world, world.actors[role])
    allowed = scope_for(role, operation) is not None
    for call in CALLS[operation]:
        before = await snapshot(runtime)
        if allowed:
            result = await call.perform(cell)
            await call.verify(cell, result)
        else:
            with pytest.raises(PermissionDenied) as refused:
                await call.perform(cell)
            assert refused.value.operation is operation, call.name
            assert await snapshot(runtime) == before, f"{call.name} changed data when refused"
    if not allowed:
        # The things the refused calls aimed at are untouched.
        assert (await agency_row(runtime, world.idva)).name == "Sunflower IDVA Service"
        assert await runtime.services.enrolment.identify(world.leaver.telegram_user_id)


# ---------------------------------------------------------------------------
# Nothing crosses areas, not even for a coordinator
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Targets:
    """Ids of things in one area, for someone from the other area to aim at."""

    agency: int
    person: int
    invite: int


def targets_in_area2(world: World) -> Targets:
    return Targets(
        world.area2_agency, world.area2_actors[Role.AGENCY_REP].person_id, world.open_invite2
    )


def targets_in_area1(world: World) -> Targets:
    return Targets(world.police, world.leaver.person_id, world.open_invite1)


MISSING = Targets(MISSING_ID, MISSING_ID, MISSING_ID)

CrossAreaCall = Callable[[Runtime, Actor, Targets], Awaitable[Any]]

CROSS_AREA_CALLS: dict[str, CrossAreaCall] = {
    "agencies.get": lambda rt, a, t: rt.services.agencies.get(a, t.agency),
    "agencies.rename": lambda rt, a, t: rt.services.agencies.rename(a, t.agency, "Hijacked"),
    "agencies.set_agreement": lambda rt, a, t: rt.services.agencies.set_agreement(
        a, t.agency, date(2026, 1, 5), date(2027, 1, 5)
    ),
    "people.get": lambda rt, a, t: rt.services.people.get(a, t.person),
    "people.deactivate": lambda rt, a, t: rt.services.people.deactivate(a, t.person),
    "invites.revoke": lambda rt, a, t: rt.services.invites.revoke(a, t.invite),
    "invites.issue-own-area-other-agency": lambda rt, a, t: rt.services.invites.issue(
        a, area_id=a.area_id, role=Role.AGENCY_REP, agency_id=t.agency
    ),
}


async def assert_untouched(runtime: Runtime, world: World) -> None:
    assert (await agency_row(runtime, world.area2_agency)).name == "Leicestershire Police"
    assert (await agency_row(runtime, world.police)).name == "Northants Police"
    for person in (world.area2_actors[Role.AGENCY_REP], world.leaver):
        assert await runtime.services.enrolment.identify(person.telegram_user_id) is not None
    for coordinator, invite in (
        (world.area2_actors[Role.COORDINATOR], world.open_invite2),
        (world.actors[Role.COORDINATOR], world.open_invite1),
    ):
        still_open = await runtime.services.invites.list_open(coordinator)
        assert invite in {i.id for i in still_open}


async def test_coordinator_cannot_reach_into_another_area(runtime: Runtime) -> None:
    """Each call on another area's id is NotFound, worded as for a missing id, and changes nothing.

    All the calls are refusals, so they share one world; the message names the failing call.
    """
    world = await build_world(runtime)
    before = await snapshot(runtime)
    for name, call in CROSS_AREA_CALLS.items():
        for coordinator, targets in (
            (world.actors[Role.COORDINATOR], targets_in_area2(world)),
            (world.area2_actors[Role.COORDINATOR], targets_in_area1(world)),
        ):
            where = f"{name} by the coordinator of area {coordinator.area_id}"
            try:
                await call(runtime, coordinator, targets)
            except NotFound as refused:
                cross_message = refused.user_message
            else:
                pytest.fail(f"{where} reached into the other area")
            assert await snapshot(runtime) == before, f"{where} changed data"
            # Another area's thing looks exactly like one that does not exist.
            with pytest.raises(NotFound) as absent:
                await call(runtime, coordinator, MISSING)
            assert cross_message == absent.value.user_message, where
            assert await snapshot(runtime) == before, where
    await assert_untouched(runtime, world)


async def test_nobody_may_invite_into_another_area(runtime: Runtime) -> None:
    world = await build_world(runtime)
    before = await snapshot(runtime)
    for actor in world.everyone():
        other = world.area2 if actor.area_id == world.area1 else world.area1
        for role in Role:
            with pytest.raises(PermissionDenied) as refused:
                await runtime.services.invites.issue(actor, area_id=other, role=role)
            assert refused.value.operation is Operation.INVITE_PEOPLE, (actor.role, role)
        with pytest.raises(PermissionDenied):
            await runtime.services.invites.issue(
                actor,
                area_id=other,
                role=Role.AGENCY_REP,
                agency_id=world.area2_agency if other == world.area2 else world.police,
            )
    assert await snapshot(runtime) == before


async def test_listings_never_show_another_area(runtime: Runtime) -> None:
    world = await build_world(runtime)
    services = runtime.services
    for mine, theirs in (
        (world.actors[Role.COORDINATOR], world.area2_actors),
        (world.area2_actors[Role.COORDINATOR], {**world.actors, Role.AGENCY_REP: world.leaver}),
    ):
        foreign_people = {a.person_id for a in theirs.values()}
        people = {v.id for v in await services.people.list_for(mine)}
        assert people == set(await active_people(runtime, mine.area_id))
        assert not people & foreign_people
        agencies = {v.id for v in await services.agencies.list_for(mine)}
        async with runtime.sessions() as session:
            own_agencies = set(
                await session.scalars(select(Agency.id).where(Agency.area_id == mine.area_id))
            )
        assert agencies == own_agencies
        invites = {i.id for i in await services.invites.list_open(mine)}
        assert (world.open_invite1 in invites) is (mine.area_id == world.area1)
        assert (world.open_invite2 in invites) is (mine.area_id == world.area2)
        async with runtime.sessions() as session:
            own_events = set(
                await session.scalars(
                    select(AuditEvent.seq).where(AuditEvent.area_id == mine.area_id)
                )
            )
        lines = await services.audit.latest(mine, limit=50)
        assert {line.seq for line in lines} <= own_events


# ---------------------------------------------------------------------------
# Own agency vs other agency for VIEW_PEOPLE
# ---------------------------------------------------------------------------


async def test_view_people_for_every_enrolled_person(runtime: Runtime) -> None:
    """Agency roles see exactly their own agency, area roles the whole area, nobody the other."""
    world = await build_world(runtime)
    for actor in world.everyone():
        scope = scope_for(actor.role, Operation.VIEW_PEOPLE)
        if scope is None:
            before = await snapshot(runtime)
            with pytest.raises(PermissionDenied):
                await runtime.services.people.list_for(actor)
            assert await snapshot(runtime) == before
            continue
        seen = {v.id for v in await runtime.services.people.list_for(actor)}
        area_people = await active_people(runtime, actor.area_id)
        assert seen <= set(area_people), actor.display_name
        assert seen == await expected_visible(runtime, actor), actor.display_name
        assert actor.person_id in seen
        if scope is Scope.AGENCY:
            assert {area_people[pid] for pid in seen} == {actor.agency_id}, actor.display_name

    # Spelled out for the people in the set-up, so the helper above cannot hide a mistake.
    def names(views: list[PersonView]) -> set[str]:
        return {v.name for v in views}

    people = runtime.services.people
    assert names(await people.list_for(world.actors[Role.AGENCY_REP])) == {
        "Pat Police",
        "Lee Leaver",
    }
    assert names(await people.list_for(world.idva_rep)) == {"Ida Advocate"}
    assert names(await people.list_for(world.actors[Role.PERPETRATOR_REP])) == {"Perry Pathways"}
    assert names(await people.list_for(world.area2_actors[Role.AGENCY_REP])) == {"Lena Police"}
    assert names(await people.list_for(world.area2_actors[Role.CHAIR])) == {
        "Lei Coordinator",
        "Leo Chair",
        "Lena Police",
    }
    assert names(await people.list_for(world.actors[Role.CHAIR])) == {
        "Cora Ordinator",
        "Chas Chair",
        "Pat Police",
        "Perry Pathways",
        "Gov Ernance",
        "Ida Advocate",
        "Lee Leaver",
    }


async def test_agency_rep_does_not_see_a_colleague_once_deactivated(runtime: Runtime) -> None:
    world = await build_world(runtime)
    services = runtime.services
    police_rep = world.actors[Role.AGENCY_REP]
    assert world.leaver.person_id in {v.id for v in await services.people.list_for(police_rep)}
    await services.people.deactivate(world.actors[Role.COORDINATOR], world.leaver.person_id)
    assert {v.id for v in await services.people.list_for(police_rep)} == {police_rep.person_id}

"""A world for access tests: one case, everyone who might see it, and those kept out.

A case referred by Sam (police), accepted, on a published agenda, with actions for the
police, health and the perpetrator service sent; the must-not-receive list holds a
coordinator, the chair and one of Sam's police colleagues; a colleague who has left; a police
colleague who enrolled with a coordinator's invite that no coordinator has confirmed yet (a
forwarded link, perhaps: everything a police representative would see, they must not); a
governance reader; a coordinator of another area.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from sqlalchemy import select

from bot.actions.entry import ActionDraft
from bot.actor import Actor
from bot.clock import ManualClock
from bot.meetings.recurrence import Repeat
from bot.meetings.workdays import AreaCalendar
from bot.runtime import Runtime
from bot.vocabulary import AgencyKind, Role
from storage.models import Agency, AgendaItem
from tests.support.idva import allocate_idva
from tests.support.service_scenarios import enrol, refer

# Who must see nothing of the case, whatever the path.
KEPT_OUT = (
    "excluded coordinator",
    "excluded chair",
    "excluded colleague",
    "deactivated",
    "unconfirmed colleague",
    "governance",
    "other area",
)


@dataclass
class World:
    case_id: int
    reference: str
    repeat_case_id: int
    meeting_id: int
    item_id: int
    actions: dict[str, int]  # agency name -> action id
    people: dict[str, Actor]
    spare_id: int  # a health rep the coordinators may put on the list


async def _agency(runtime: Runtime, area_id: int, name: str, kind: AgencyKind) -> int:
    async with runtime.sessions.begin() as session:
        row = Agency(area_id=area_id, name=name, kind=kind, created_at=runtime.clock.now())
        session.add(row)
        await session.flush()
        return row.id


async def build(
    runtime: Runtime, clock: ManualClock, *, typed: dict[str, str] | None = None
) -> World:
    """The world; ``typed`` changes the referral's answers (``service_scenarios.TYPED``)."""
    s = runtime.services
    area = (await s.areas.ensure_area("Northamptonshire")).id
    other_area = (await s.areas.ensure_area("Leicestershire")).id
    police = await _agency(runtime, area, "Police", AgencyKind.POLICE)
    health = await _agency(runtime, area, "Health", AgencyKind.HEALTH)
    idva = await _agency(runtime, area, "IDVA service", AgencyKind.IDVA)
    drive = await _agency(runtime, area, "Drive", AgencyKind.PERPETRATOR_SERVICE)
    people = {
        "coordinator": await enrol(runtime, area, 501, "Priya Shah", Role.COORDINATOR, None),
        "excluded coordinator": await enrol(runtime, area, 502, "Cora Ord", Role.COORDINATOR, None),
        "excluded chair": await enrol(runtime, area, 503, "Chas Chair", Role.CHAIR, None),
        "referrer": await enrol(runtime, area, 601, "Sam Okafor", Role.AGENCY_REP, police),
        "excluded colleague": await enrol(runtime, area, 602, "Kim Lee", Role.AGENCY_REP, police),
        "deactivated": await enrol(runtime, area, 603, "Lee Leaver", Role.AGENCY_REP, police),
        "other agency": await enrol(runtime, area, 604, "Nia Brown", Role.AGENCY_REP, health),
        "idva": await enrol(runtime, area, 605, "Jo Evans", Role.AGENCY_REP, idva),
        "idva colleague": await enrol(runtime, area, 610, "Ann Other", Role.AGENCY_REP, idva),
        "perpetrator service": await enrol(
            runtime, area, 606, "Pat Quinn", Role.PERPETRATOR_REP, drive
        ),
        "governance": await enrol(runtime, area, 607, "Gov Ernance", Role.GOVERNANCE, None),
        "other area": await enrol(runtime, other_area, 701, "Lei Coord", Role.COORDINATOR, None),
    }
    spare = await enrol(runtime, area, 608, "Zed Spare", Role.AGENCY_REP, health)
    priya = people["coordinator"]
    # Invited by Priya, not by the operator: enrolled, and waiting for a coordinator's Confirm.
    invite = await s.invites.issue(priya, area_id=area, role=Role.AGENCY_REP, agency_id=police)
    unconfirmed = (await s.enrolment.redeem(609, "Una Known", invite.code)).actor
    assert unconfirmed is not None
    people["unconfirmed colleague"] = unconfirmed
    meeting_day = AreaCalendar().add_working_days(clock.now().date(), 10)
    (meeting,) = (
        await s.meetings.create(
            priya, first_date=meeting_day, start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    submitted = await refer(runtime, people["referrer"], typed=typed)
    await s.cases.accept(priya, submitted.case_id)
    await allocate_idva(runtime.sessions, submitted.case_id, people["idva"].person_id, clock.now())
    repeat = await refer(runtime, people["referrer"])  # the same victim: a repeat suggested
    for name in ("excluded coordinator", "excluded chair", "excluded colleague"):
        await s.cases.exclude(priya, submitted.case_id, people[name].person_id)
    await s.meetings.publish(priya, meeting.id, people["coordinator"].area_id)
    actions = {}
    for agency, line in (
        ("Police", "check bail conditions and flag the address"),
        ("Health", "GP to review the medication"),
        ("Drive", "assess the person causing harm for the programme"),
    ):
        view = await s.actions.record(
            priya, meeting.id, submitted.case_id, ActionDraft(agency, line, None, "normal")
        )
        actions[agency] = view.id
    await s.actions.close_meeting(priya, meeting.id)
    await s.people.deactivate(priya, people["deactivated"].person_id)
    async with runtime.sessions() as session:
        item_id = await session.scalar(
            select(AgendaItem.id).where(AgendaItem.case_id == submitted.case_id)
        )
    assert item_id is not None
    return World(
        submitted.case_id,
        submitted.reference,
        repeat.case_id,
        meeting.id,
        int(item_id),
        actions,
        people,
        spare.person_id,
    )

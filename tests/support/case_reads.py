"""Every service call that returns case content a person reads, for tests that check what
one person can obtain of a case through all of them at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from bot.access import CasePath
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.permissions import PermissionDenied
from bot.runtime import Runtime, Services
from bot.vocabulary import Role
from tests.support.access_world import World
from tests.support.service_scenarios import enrol

Read = Callable[[Services, Actor, World], Awaitable[object]]

# Every service call that returns case content a person reads (the workspace pages and the
# chat render exactly what these return).
READS: dict[str, Read] = {
    "case card": lambda s, a, w: s.cases.card(a, w.reference),
    "case status": lambda s, a, w: s.cases.status(a, w.reference),
    "case page": lambda s, a, w: s.cases.card_by_id(a, w.case_id, path=CasePath.CASE_PAGE),
    "research sheet": lambda s, a, w: s.meetings.research_sheet(a, w.meeting_id),
    "research message": lambda s, a, w: s.meetings.research_case(a, w.item_id),
    "agenda": lambda s, a, w: s.meetings.detail(a, w.meeting_id),
    "meeting board": lambda s, a, w: s.meetings.detail(
        a, w.meeting_id, path=CasePath.MEETING_BOARD
    ),
    "actions": lambda s, a, w: s.actions.open_for_agency(a),
    "actions page": lambda s, a, w: s.actions.open_page(a, path=CasePath.ACTIONS_PAGE),
    "perpetrator referrals": lambda s, a, w: s.actions.perpetrator_referrals(a),
    "minutes": lambda s, a, w: s.actions.minutes(a, w.meeting_id),
}


async def everything(services: Services, actor: Actor, world: World) -> str:
    """All that every read gave this person, as text (a refusal gives nothing)."""
    seen = []
    for read in READS.values():
        try:
            seen.append(repr(await read(services, actor, world)))
        except (NotFound, PermissionDenied, ServiceError):
            continue
    return "\n".join(seen)


async def drive_agency_rep(runtime: Runtime, world: World) -> Actor:
    """A second person at the perpetrator service, enrolled as an agency representative: the
    policy knows it by its agency, whatever the role."""
    drive = world.people["perpetrator service"].agency_id
    return await enrol(
        runtime, world.people["coordinator"].area_id, 620, "Dee Rive", Role.AGENCY_REP, drive
    )

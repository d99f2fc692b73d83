"""Driving services the way the handlers do, for tests that need a real case behind them."""

from __future__ import annotations

from dataclasses import dataclass

from bot.actor import Actor
from bot.referrals import flow
from bot.runtime import Runtime
from bot.services.referrals import Submitted
from bot.vocabulary import AgencyKind, Role
from storage.models import Agency

TYPED = {
    "safe_details": "Call after 6pm only",
    "consent_reason": "Risk of serious harm to the children",
    "dash_quick": "yes 1-13 16, not known 20",
    "judgement_reason": "Extreme fear and recent strangulation reported",
    "police_incidents": "4",
    "victim_name": "Jane Doe",
    "victim_dob": "14/03/1990",
    "victim_aliases": "none",
    "victim_address": "12 Elm Road",
    "perp_name": "John Doe",
    "perp_dob": "unknown",
    "perp_address": "unknown",
    "children": "Mia Doe, age 7, Oak Primary, lives with victim\nLeo Doe, age 4, no CSC",
    "summary": "Threatened with a knife last week.",
}
CHOSEN = {"dash_mode": 1, "urgent": 1, "dash_story": 1}  # quick entry; not urgent; keep


async def refer(
    runtime: Runtime, actor: Actor, *, typed: dict[str, str] | None = None
) -> Submitted:
    """A complete referral through the service, answering every step as the form asks."""
    answers = {**TYPED, **(typed or {})}
    referrals = runtime.services.referrals
    state = await referrals.start(actor)
    while state.payload["step"] != "review":
        key = str(state.payload["step"])
        if flow.kind_of(key) == "text":
            state = await referrals.answer(actor, answers[key])
        else:
            state = await referrals.choose(actor, flow.step_number(key), CHOSEN.get(key, 0))
    return await referrals.submit(actor, flow.step_number("review"))


@dataclass
class Cast:
    """An area with a coordinator and two agency reps, enrolled through the services."""

    area_id: int
    priya: Actor  # coordinator, Telegram user 501
    sam: Actor  # police rep, 601
    nia: Actor  # health rep, 602


async def enrol(
    runtime: Runtime, area_id: int, user: int, name: str, role: Role, agency_id: int | None
) -> Actor:
    services = runtime.services
    issued = await services.invites.issue(None, area_id=area_id, role=role, agency_id=agency_id)
    actor = (await services.enrolment.redeem(user, name, issued.code)).actor
    assert actor is not None
    return actor


async def cast(
    runtime: Runtime, area: str = "Northamptonshire", timezone: str | None = None
) -> Cast:
    summary = await runtime.services.areas.ensure_area(area, timezone)
    ids = []
    async with runtime.sessions.begin() as session:
        for name, kind in (("Police", AgencyKind.POLICE), ("Health", AgencyKind.HEALTH)):
            row = Agency(area_id=summary.id, name=name, kind=kind, created_at=runtime.clock.now())
            session.add(row)
            await session.flush()
            ids.append(row.id)
    return Cast(
        summary.id,
        await enrol(runtime, summary.id, 501, "Priya Shah", Role.COORDINATOR, None),
        await enrol(runtime, summary.id, 601, "Sam Okafor", Role.AGENCY_REP, ids[0]),
        await enrol(runtime, summary.id, 602, "Nia Brown", Role.AGENCY_REP, ids[1]),
    )

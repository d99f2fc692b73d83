"""A world for the retention, subject access and pruning tests: an area, its people, and a
case heard with notes of every kind."""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from sqlalchemy import func, select

from bot.actions.entry import ActionDraft
from bot.actions.states import ActionState, PerpState
from bot.actor import Actor
from bot.cli.governance import register
from bot.clock import ManualClock
from bot.meetings.recurrence import Repeat
from bot.runtime import Runtime
from bot.vocabulary import AgencyKind, PerpEndReason, Role
from storage.base import Base
from storage.models import (
    AuditEvent,
)
from tests.support.service_scenarios import refer

AREA = "Northamptonshire"


# Secrets typed into the full case; none may survive erasure or appear in the audit trail.
RESEARCH_NOTE = "Known to police: three call-outs since May"


ACTION_TEXT = "Visit and check bail conditions"


STEP_NOTE = "Bail conditions confirmed with custody"


PERP_REASON = "Declined to engage after two calls"


INFO_NOTE = "Please confirm the current address"


DECLINE_NOTE = "Below threshold; signposted to the IDVA service"


@dataclass(frozen=True)
class World:
    area_id: int
    cora: Actor  # coordinator
    colin: Actor  # a second coordinator
    chair: Actor
    police_rep: Actor
    perp_rep: Actor
    meeting1: int  # Thu 10 Dec 2026 10:00
    meeting2: int  # Thu 17 Dec 2026 10:00
    full: int  # heard at meeting 1, with research, actions, steps, a perpetrator referral
    moved: int  # listed at meeting 1, moved to meeting 2: last heard 17 Dec 2026
    declined: int  # never heard, referred 26 Nov 2026
    declined_later: int  # never heard, referred 28 Nov 2026

    @property
    def ids(self) -> dict[str, int]:
        return {
            "full": self.full,
            "moved": self.moved,
            "declined": self.declined,
            "declined_later": self.declined_later,
        }


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
    assert result.actor is not None
    return result.actor


def victim(name: str) -> dict[str, str]:
    return {"victim_name": name}


async def build_world(runtime: Runtime, clock: ManualClock) -> World:
    """Four cases at known dates; the clock starts on Thu 26 Nov 2026 09:00 UTC."""
    services = runtime.services
    area_id = (await services.areas.ensure_area(AREA)).id
    cora = await enrol(runtime, 1001, "Cora Ordinator", area_id=area_id, role=Role.COORDINATOR)
    colin = await enrol(runtime, 1002, "Colin Second", area_id=area_id, role=Role.COORDINATOR)
    chair = await enrol(runtime, 1003, "Chas Chair", area_id=area_id, role=Role.CHAIR)
    police = await services.agencies.add(cora, "Northants Police", AgencyKind.POLICE)
    pathways = await services.agencies.add(cora, "Change Pathways", AgencyKind.PERPETRATOR_SERVICE)
    police_rep = await enrol(
        runtime, 1004, "Pat Police", area_id=area_id, role=Role.AGENCY_REP, agency_id=police.id
    )
    perp_rep = await enrol(
        runtime,
        1005,
        "Perry Pathways",
        area_id=area_id,
        role=Role.PERPETRATOR_REP,
        agency_id=pathways.id,
    )
    (meeting1,) = (
        await services.meetings.create(
            cora, first_date=date(2026, 12, 10), start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    (meeting2,) = (
        await services.meetings.create(
            cora, first_date=date(2026, 12, 17), start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings

    full = await refer(runtime, police_rep)  # Jane Doe, person causing harm John Doe
    await services.cases.request_information(cora, full.case_id, INFO_NOTE)
    _, listing = await services.cases.accept(cora, full.case_id)
    assert listing is not None and listing.meeting_id == meeting1.id
    await services.cases.exclude(cora, full.case_id, chair.person_id)

    moved = await refer(runtime, police_rep, typed=victim("Mary Major"))
    await services.cases.accept(cora, moved.case_id)
    detail = await services.meetings.detail(cora, meeting1.id)
    item = next(line for line in detail.agenda if line.case_id == moved.case_id)
    await services.meetings.move_case(cora, item.item_id, meeting2.id)

    declined = await refer(runtime, police_rep, typed=victim("Ann Smith"))
    await services.cases.decline(cora, declined.case_id, DECLINE_NOTE)
    clock.advance(timedelta(days=2))  # Sat 28 Nov 2026
    declined_later = await refer(runtime, police_rep, typed=victim("Beth Jones"))
    await services.cases.decline(cora, declined_later.case_id, DECLINE_NOTE)

    await services.meetings.publish(cora, meeting1.id, area_id)
    detail = await services.meetings.detail(cora, meeting1.id)
    item = next(line for line in detail.agenda if line.case_id == full.case_id)
    await services.meetings.record_research(police_rep, item.item_id, "information", RESEARCH_NOTE)
    await services.actions.record(
        cora, meeting1.id, full.case_id, ActionDraft("Northants Police", ACTION_TEXT, None, "high")
    )
    await services.actions.record(
        cora,
        meeting1.id,
        full.case_id,
        ActionDraft("Change Pathways", "Refer to the perpetrator programme", None, "normal"),
    )
    assert (await services.actions.close_meeting(cora, meeting1.id)).sent == 2
    (police_action,) = await services.actions.open_for_agency(police_rep)
    await services.actions.move(police_rep, police_action.id, ActionState.ACCEPTED)
    await services.actions.move(police_rep, police_action.id, ActionState.DONE, STEP_NOTE)
    (perp_referral,) = await services.actions.perpetrator_referrals(perp_rep)
    await services.actions.move_perpetrator(
        perp_rep,
        perp_referral.id,
        PerpState.ENDED,
        PERP_REASON,
        end_reason=PerpEndReason.DISENGAGED,
    )
    return World(
        area_id=area_id,
        cora=cora,
        colin=colin,
        chair=chair,
        police_rep=police_rep,
        perp_rep=perp_rep,
        meeting1=meeting1.id,
        meeting2=meeting2.id,
        full=full.case_id,
        moved=moved.case_id,
        declined=declined.case_id,
        declined_later=declined_later.case_id,
    )


async def table_counts(runtime: Runtime) -> dict[str, Any]:
    """Every row count, plus the audit chain head: a fingerprint of the whole database."""
    async with runtime.sessions() as session:
        counts: dict[str, Any] = {}
        for table in Base.metadata.sorted_tables:
            counts[table.name] = await session.scalar(select(func.count()).select_from(table))
        counts["audit_tip"] = await session.scalar(select(func.max(AuditEvent.hash)))
        return counts


def governance(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="marac-bot")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    result = args.handler(args)
    if asyncio.iscoroutine(result):
        result = asyncio.run(result)
    assert isinstance(result, int)
    return result

"""Serial perpetrators: the same person causing harm in cases of different victims.

Matched on the perpetrator's blind index within 3 years in one area; the
coordinators are alerted by reference only, and the case card of both cases shows
the link to the coordinator and chair (never to an agency rep).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.actor import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.enrolment import Redemption
from bot.services.referrals import SERIAL_PERPETRATOR
from bot.vocabulary import AgencyKind, Role
from storage.models import CaseEvent, CaseExclusion, OutboxMessage
from tests.support.service_scenarios import refer

FIRST_VICTIM = {"victim_name": "Jane Doe", "victim_dob": "14/03/1990"}
SECOND_VICTIM = {"victim_name": "Mary Major", "victim_dob": "02/07/1988"}
SAME_PERPETRATOR = {"perp_name": "John Doe", "perp_dob": "01/01/1985"}
NAMES = ("Jane", "Mary", "Major", "John", "Doe")


@dataclass(frozen=True)
class Cast:
    coordinator: Actor
    second_coordinator: Actor
    chair: Actor
    rep: Actor  # a police rep in the area: refers the cases
    other_area_coordinator: Actor
    other_area_rep: Actor


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


async def build_cast(runtime: Runtime) -> Cast:
    services = runtime.services
    area = (await services.areas.ensure_area("Northamptonshire")).id
    other_area = (await services.areas.ensure_area("Leicestershire")).id
    coordinator = await enrol(runtime, 501, "Priya Shah", area_id=area, role=Role.COORDINATOR)
    other_coordinator = await enrol(
        runtime, 701, "Lei Coordinator", area_id=other_area, role=Role.COORDINATOR
    )
    police = await services.agencies.add(coordinator, "Northants Police", AgencyKind.POLICE)
    other_police = await services.agencies.add(
        other_coordinator, "Leicestershire Police", AgencyKind.POLICE
    )
    return Cast(
        coordinator=coordinator,
        second_coordinator=await enrol(
            runtime, 502, "Cora Ordinator", area_id=area, role=Role.COORDINATOR
        ),
        chair=await enrol(runtime, 503, "Chas Chair", area_id=area, role=Role.CHAIR),
        rep=await enrol(
            runtime, 601, "Sam Okafor", area_id=area, role=Role.AGENCY_REP, agency_id=police.id
        ),
        other_area_coordinator=other_coordinator,
        other_area_rep=await enrol(
            runtime,
            801,
            "Lena Police",
            area_id=other_area,
            role=Role.AGENCY_REP,
            agency_id=other_police.id,
        ),
    )


async def serial_events(runtime: Runtime) -> list[tuple[int, int | None]]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(CaseEvent).where(CaseEvent.kind == SERIAL_PERPETRATOR).order_by(CaseEvent.id)
        )
        return [(e.case_id, e.related_case_id) for e in rows]


async def serial_alerts(runtime: Runtime) -> list[OutboxMessage]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind == "serial_perpetrator")
            .order_by(OutboxMessage.id)
        )
        return list(rows)


async def links(runtime: Runtime, actor: Actor, reference: str) -> list[str]:
    return (await runtime.services.cases.card(actor, reference)).serial_links


async def test_two_victims_same_perpetrator_alerts_and_links_both_cases(
    runtime: Runtime, clock: ManualClock
) -> None:
    cast = await build_cast(runtime)
    first = await refer(runtime, cast.rep, typed={**FIRST_VICTIM, **SAME_PERPETRATOR})
    assert await serial_events(runtime) == [] and await serial_alerts(runtime) == []

    # The second coordinator must not receive anything about the first case.
    async with runtime.sessions.begin() as session:
        session.add(
            CaseExclusion(
                case_id=first.case_id,
                person_id=cast.second_coordinator.person_id,
                added_at=clock.now(),
                added_by_id=cast.coordinator.person_id,
            )
        )
    clock.advance(timedelta(days=400))
    # Spelling, case and spacing do not stop the match (the blind index normalises them).
    second = await refer(
        runtime,
        cast.rep,
        typed={**SECOND_VICTIM, "perp_name": "  JOHN   doe ", "perp_dob": "01/01/1985"},
    )
    assert second.possible_repeat_of is None  # a different victim: not a repeat

    assert await serial_events(runtime) == [(second.case_id, first.case_id)]
    alerts = await serial_alerts(runtime)
    assert [(a.person_id, a.dedupe_key, a.urgent) for a in alerts] == [
        (
            cast.coordinator.person_id,
            f"case:{second.case_id}:serial:{cast.coordinator.person_id}",
            False,
        )
    ]
    (alert,) = alerts
    assert alert.text == (
        f"Person causing harm in other cases: the person causing harm in {second.reference} also "
        f"appears in {first.reference} (a different victim). "
        f"Send /case {second.reference} to see the link."
    )
    assert not any(name in alert.text for name in NAMES)

    # Both cards link to each other, for the coordinator and the chair.
    for actor in (cast.coordinator, cast.chair):
        assert await links(runtime, actor, second.reference) == [first.reference]
        assert await links(runtime, actor, first.reference) == [second.reference]
    coordinator_card = await runtime.services.cases.card(cast.coordinator, second.reference)
    assert SERIAL_PERPETRATOR in [step for _, step, _ in coordinator_card.history]

    # The referring agency rep sees their cases, but neither the link nor that one exists.
    rep_card = await runtime.services.cases.card(cast.rep, second.reference)
    assert rep_card.identifying is not None and rep_card.serial_links == []
    assert SERIAL_PERPETRATOR not in [step for _, step, _ in rep_card.history]
    assert await links(runtime, cast.rep, first.reference) == []

    # The excluded coordinator is not told of the first case through the second one.
    assert await links(runtime, cast.second_coordinator, second.reference) == []
    hidden_card = await runtime.services.cases.card(cast.second_coordinator, second.reference)
    assert SERIAL_PERPETRATOR not in [step for _, step, _ in hidden_card.history]


async def test_third_victim_links_to_both_earlier_cases(
    runtime: Runtime, clock: ManualClock
) -> None:
    cast = await build_cast(runtime)
    first = await refer(runtime, cast.rep, typed={**FIRST_VICTIM, **SAME_PERPETRATOR})
    clock.advance(timedelta(days=30))
    second = await refer(runtime, cast.rep, typed={**SECOND_VICTIM, **SAME_PERPETRATOR})
    clock.advance(timedelta(days=30))
    third = await refer(
        runtime,
        cast.rep,
        typed={"victim_name": "Ada Third", "victim_dob": "05/05/1995", **SAME_PERPETRATOR},
    )
    assert await serial_events(runtime) == [
        (second.case_id, first.case_id),
        (third.case_id, second.case_id),  # the newest other case
    ]
    prefix = f"case:{third.case_id}:serial:"
    newest = [a for a in await serial_alerts(runtime) if a.dedupe_key.startswith(prefix)]
    assert len(newest) == 2  # both coordinators
    assert f"also appears in {second.reference}, {first.reference}" in newest[0].text
    assert await links(runtime, cast.chair, first.reference) == [third.reference, second.reference]
    assert await links(runtime, cast.chair, third.reference) == [second.reference, first.reference]


async def test_same_victim_twice_is_a_repeat_not_a_serial_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    cast = await build_cast(runtime)
    first = await refer(runtime, cast.rep, typed={**FIRST_VICTIM, **SAME_PERPETRATOR})
    clock.advance(timedelta(days=30))
    second = await refer(runtime, cast.rep, typed={**FIRST_VICTIM, **SAME_PERPETRATOR})
    assert second.possible_repeat_of == first.reference
    assert await serial_events(runtime) == [] and await serial_alerts(runtime) == []
    assert await links(runtime, cast.coordinator, second.reference) == []
    assert await links(runtime, cast.coordinator, first.reference) == []


@pytest.mark.parametrize(("days", "linked"), [(1095, True), (1097, False)])
async def test_only_cases_within_three_years_are_linked(
    runtime: Runtime, clock: ManualClock, days: int, linked: bool
) -> None:
    cast = await build_cast(runtime)
    first = await refer(runtime, cast.rep, typed={**FIRST_VICTIM, **SAME_PERPETRATOR})
    clock.advance(timedelta(days=days))
    second = await refer(runtime, cast.rep, typed={**SECOND_VICTIM, **SAME_PERPETRATOR})
    expected_events = [(second.case_id, first.case_id)] if linked else []
    assert await serial_events(runtime) == expected_events
    assert len(await serial_alerts(runtime)) == (2 if linked else 0)
    assert await links(runtime, cast.coordinator, second.reference) == (
        [first.reference] if linked else []
    )
    assert await links(runtime, cast.coordinator, first.reference) == (
        [second.reference] if linked else []
    )


async def test_unknown_perpetrator_never_matches(runtime: Runtime, clock: ManualClock) -> None:
    cast = await build_cast(runtime)
    unknown = {"perp_name": "unknown", "perp_dob": "unknown"}
    first = await refer(runtime, cast.rep, typed={**FIRST_VICTIM, **unknown})
    clock.advance(timedelta(days=1))
    second = await refer(runtime, cast.rep, typed={**SECOND_VICTIM, **unknown})
    assert await serial_events(runtime) == [] and await serial_alerts(runtime) == []
    assert await links(runtime, cast.coordinator, first.reference) == []
    assert await links(runtime, cast.coordinator, second.reference) == []


async def test_a_case_in_another_area_is_not_linked(runtime: Runtime, clock: ManualClock) -> None:
    cast = await build_cast(runtime)
    first = await refer(runtime, cast.rep, typed={**FIRST_VICTIM, **SAME_PERPETRATOR})
    clock.advance(timedelta(days=1))
    elsewhere = await refer(
        runtime, cast.other_area_rep, typed={**SECOND_VICTIM, **SAME_PERPETRATOR}
    )
    assert elsewhere.reference.startswith("LEI-")
    assert await serial_events(runtime) == [] and await serial_alerts(runtime) == []
    assert await links(runtime, cast.coordinator, first.reference) == []
    assert await links(runtime, cast.other_area_coordinator, elsewhere.reference) == []

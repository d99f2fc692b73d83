"""Who hears of a perpetrator-service step: the case's allocated IDVA only, as far as the
access policy lets them receive it; otherwise the coordinators, and the service is told which."""

from __future__ import annotations

from sqlalchemy import select

from bot.actions.states import PerpState, Told
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.vocabulary import AgencyKind, Role
from storage.models import OutboxMessage
from tests.integration.test_action_queries import DRIVE, _agency, _enrol, build, record
from tests.support.idva import allocate_idva


async def _told(runtime: Runtime) -> list[tuple[int | None, bool, str]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.person_id, OutboxMessage.urgent, OutboxMessage.text)
            .where(OutboxMessage.kind == "perpetrator_update")
            .order_by(OutboxMessage.id)
        )
        return [(person, urgent, text) for person, urgent, text in rows.all()]


async def test_an_allocated_idva_on_the_must_not_receive_list_is_not_told_the_coordinators_are(
    runtime: Runtime, clock: ManualClock
) -> None:
    scene = await build(runtime)
    idva = await _agency(runtime, scene.priya.area_id, "Sunflower IDVA", AgencyKind.IDVA)
    jo = await _enrol(runtime, 604, "Jo Evans", scene.priya.area_id, Role.AGENCY_REP, idva)
    ali = await _enrol(runtime, 606, "Ali Khan", scene.priya.area_id, Role.AGENCY_REP, idva)
    actions = runtime.services.actions
    await record(runtime, scene, scene.first_case, DRIVE, "Assess for the programme")
    await actions.close_meeting(scene.priya, scene.meeting_id)
    (referral,) = await actions.perpetrator_referrals(scene.pat)
    await allocate_idva(runtime.sessions, scene.first_case, jo.person_id, clock.now())

    moved = await actions.move_perpetrator(
        scene.pat, referral.id, PerpState.CONTACT_PLANNED, planned_on=clock.now().date()
    )
    assert (moved.told, moved.told_name) == (Told.IDVA, "Jo Evans")
    ((person, urgent, text),) = await _told(runtime)
    assert (person, urgent) == (jo.person_id, True)
    assert "Plan the victim's safety before then." in text

    await runtime.services.cases.exclude(scene.priya, scene.first_case, jo.person_id)
    moved = await actions.move_perpetrator(scene.pat, referral.id, PerpState.CONTACT_ATTEMPTED)
    assert moved.told is Told.COORDINATORS_IDVA_UNREACHABLE
    later = (await _told(runtime))[1:]
    assert {person for person, *_ in later} == {scene.priya.person_id, scene.cora.person_id}
    assert all("allocated IDVA cannot be sent this" in text for *_, text in later)
    # Never Ali, who works at the IDVA service but does not hold the case.
    assert ali.person_id not in {person for person, *_ in await _told(runtime)}

"""A case heard again shows the actions still open from its earlier meeting."""

from __future__ import annotations

from datetime import date, time

from bot.actions.entry import ActionDraft
from bot.actions.states import ActionState
from bot.meetings.recurrence import Repeat
from bot.runtime import Runtime
from bot.vocabulary import AgencyKind, Role
from storage.models import Agency
from tests.support.service_scenarios import refer


async def test_outstanding_actions_follow_the_case_to_its_next_meeting(runtime: Runtime) -> None:
    services = runtime.services
    area = await services.areas.ensure_area("Northamptonshire")
    issued = await services.invites.issue(None, area_id=area.id, role=Role.COORDINATOR)
    priya = (await services.enrolment.redeem(501, "Priya Shah", issued.code)).actor
    assert priya is not None
    async with runtime.sessions.begin() as session:
        police = Agency(
            area_id=area.id, name="Police", kind=AgencyKind.POLICE, created_at=runtime.clock.now()
        )
        session.add(police)
        await session.flush()
        police_id = police.id
    rep_code = await services.invites.issue(
        None, area_id=area.id, role=Role.AGENCY_REP, agency_id=police_id
    )
    sam = (await services.enrolment.redeem(601, "Sam Okafor", rep_code.code)).actor
    assert sam is not None
    meetings = (
        await services.meetings.create(
            priya, first_date=date(2026, 12, 10), start=time(10), repeat=Repeat.FORTNIGHTLY
        )
    ).meetings
    first, second = meetings[0], meetings[1]
    submitted = await refer(runtime, sam)
    _, listing = await services.cases.accept(priya, submitted.case_id)
    assert listing is not None and listing.meeting_id == first.id
    await services.actions.record(
        priya,
        first.id,
        submitted.case_id,
        ActionDraft("Police", "Visit and check bail", None, "normal"),
    )
    await services.actions.record(
        priya,
        first.id,
        submitted.case_id,
        ActionDraft("Police", "Flag the address", None, "normal"),
    )
    assert (await services.actions.close_meeting(priya, first.id)).sent == 2
    done = (await services.actions.open_for_agency(sam))[0]
    await services.actions.move(sam, done.id, ActionState.DONE)

    detail = await services.meetings.detail(priya, first.id)
    item = detail.agenda[0]
    await services.meetings.move_case(priya, item.item_id, second.id)
    later = await services.meetings.detail(priya, second.id)
    assert [line.outstanding_actions for line in later.agenda] == [1]

"""/stats counts actions as the agencies left them, through the real action service.

The statistics read an action's outcome from its final step and whether it is still open
from ``Action.closed_at``, which the action service writes with that step. This drives
the service the way the buttons do, so the two stay in step.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from bot.actions.entry import ActionDraft
from bot.actions.states import ActionState
from bot.clock import ManualClock
from bot.meetings.recurrence import Repeat
from bot.runtime import Runtime
from bot.stats.figures import quarter
from bot.vocabulary import AgencyKind, Role
from storage.models import Agency
from tests.support.service_scenarios import refer


async def test_done_not_possible_open_and_overdue_actions_are_counted(
    runtime: Runtime, clock: ManualClock
) -> None:
    services = runtime.services
    area = await services.areas.ensure_area("Northamptonshire")
    issued = await services.invites.issue(None, area_id=area.id, role=Role.COORDINATOR)
    priya = (await services.enrolment.redeem(501, "Priya Shah", issued.code)).actor
    assert priya is not None
    async with runtime.sessions.begin() as session:
        police = Agency(
            area_id=area.id, name="Police", kind=AgencyKind.POLICE, created_at=clock.now()
        )
        session.add(police)
        await session.flush()
        police_id = police.id
    rep_code = await services.invites.issue(
        None, area_id=area.id, role=Role.AGENCY_REP, agency_id=police_id
    )
    sam = (await services.enrolment.redeem(601, "Sam Okafor", rep_code.code)).actor
    assert sam is not None
    (meeting,) = (
        await services.meetings.create(
            priya, first_date=date(2026, 12, 10), start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    submitted = await refer(runtime, sam)
    await services.cases.accept(priya, submitted.case_id)
    for text in ("Visit and check bail", "Flag the address", "Share the bail conditions"):
        await services.actions.record(
            priya, meeting.id, submitted.case_id, ActionDraft("Police", text, None, "normal")
        )
    assert (await services.actions.close_meeting(priya, meeting.id)).sent == 3
    done, impossible, _ = await services.actions.open_for_agency(sam)
    await services.actions.move(sam, done.id, ActionState.DONE)
    await services.actions.move(
        sam, impossible.id, ActionState.NOT_POSSIBLE, "The victim has moved out of the area"
    )

    clock.set(datetime(2027, 1, 5, 9, 0, tzinfo=UTC))  # the quarter is over
    figures, _ = await services.statistics.figures(priya, quarter(2026, 4))

    assert figures.actions_by_agency == {
        "Police": {"done": 1, "not_possible": 1, "open": 1, "overdue": 1}
    }
    assert figures.cases_heard == 1

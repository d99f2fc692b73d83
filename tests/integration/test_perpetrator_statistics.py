"""Commissioners' figures per perpetrator service, from referrals worked through the real
service: the waiting list, calendar days from referral to first contact and to start, and how
referrals ended; in /plan, in /stats and in the perpetrator services' CSV, coded counts only."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from bot.actions.states import PerpState
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.stats.dataset_csv import PERP_HEADER
from bot.stats.figures import last_12_months
from bot.vocabulary import AgencyKind, PerpEndReason, Role
from tests.integration.test_action_queries import DRIVE, _agency, _enrol, build, record


async def test_waiting_list_days_to_first_contact_and_start_and_outcomes(
    runtime: Runtime, clock: ManualClock
) -> None:
    scene = await build(runtime)
    actions = runtime.services.actions
    # A third case for Drive: referred and never worked (the waiting list).
    await record(runtime, scene, scene.first_case, DRIVE, "Assess for the programme")
    await record(runtime, scene, scene.second_case, DRIVE, "Assess the second one")
    await record(runtime, scene, scene.second_case, DRIVE, "A second referral, not worked")
    await actions.close_meeting(scene.priya, scene.meeting_id)
    first, second, third = await actions.perpetrator_referrals(scene.pat)

    def today() -> date:
        return clock.now().date()

    # First: contact planned and made the same day, started 4 days later, completed.
    await actions.move_perpetrator(
        scene.pat, first.id, PerpState.CONTACT_PLANNED, planned_on=today()
    )
    for step in (PerpState.CONTACT_ATTEMPTED, PerpState.ASSESSED, PerpState.SUITABLE):
        await actions.move_perpetrator(scene.pat, first.id, step)
    clock.advance(timedelta(days=4))
    await actions.move_perpetrator(scene.pat, first.id, PerpState.STARTED)
    await actions.move_perpetrator(scene.pat, first.id, PerpState.SESSION_ATTENDED)
    await actions.move_perpetrator(
        scene.pat, first.id, PerpState.ENDED, end_reason=PerpEndReason.COMPLETED
    )
    # Second: first contact 6 days after referral, started 10 days after, then disengaged.
    await actions.move_perpetrator(
        scene.pat, second.id, PerpState.CONTACT_PLANNED, planned_on=today() + timedelta(days=2)
    )
    clock.advance(timedelta(days=2))
    for step in (PerpState.CONTACT_ATTEMPTED, PerpState.ASSESSED, PerpState.SUITABLE):
        await actions.move_perpetrator(scene.pat, second.id, step)
    clock.advance(timedelta(days=4))
    await actions.move_perpetrator(scene.pat, second.id, PerpState.STARTED)
    await actions.move_perpetrator(scene.pat, second.id, PerpState.SESSION_MISSED)
    await actions.move_perpetrator(
        scene.pat, second.id, PerpState.ENDED, end_reason=PerpEndReason.DISENGAGED
    )
    # Third: only planned so far, so still on the waiting list.
    await actions.move_perpetrator(
        scene.pat, third.id, PerpState.CONTACT_PLANNED, planned_on=today()
    )

    _, services = await actions.summary(scene.priya)
    (drive,) = services
    assert drive.waiting_referrals == 1
    assert drive.median_days_to_first_contact == 3.0  # days 0 and 6
    assert drive.median_days_to_start == 7.0  # days 4 and 10
    assert (drive.ended, drive.completed, drive.disengaged) == (2, 1, 1)

    period = last_12_months(clock.now().date())
    figures, suppressed = await runtime.services.statistics.figures(scene.priya, period)
    assert not suppressed
    assert figures.perp_waiting == {DRIVE: 1}
    assert figures.median_days_to_first_contact == {DRIVE: 3.0}
    assert figures.perp_contacts == {DRIVE: 2}
    assert (figures.perp_ended, figures.perp_completed, figures.perp_disengaged) == (
        {DRIVE: 2},
        {DRIVE: 1},
        {DRIVE: 1},
    )
    summary = await runtime.services.statistics.summary(scene.priya, period)
    assert "median 3 days from referral to first contact (2 contacted)" in summary
    assert "ended: 2; completed 1 (50%), disengaged 1 (50%)" in summary
    assert "waiting to start: 1" in summary

    name, content = await runtime.services.statistics.perpetrator_dataset(scene.priya, period)
    assert name.startswith("marac-perpetrator-services-")
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert rows == [
        list(PERP_HEADER),
        [DRIVE, "3", "1", "2", "3", "2", "7", "2", "1", "50%", "1", "50%"],
    ]
    assert "Jane" not in content.decode() and "NOR-" not in content.decode()


async def test_governance_readers_get_small_counts_suppressed_in_the_csv(
    runtime: Runtime, clock: ManualClock
) -> None:
    scene = await build(runtime)
    actions = runtime.services.actions
    await record(runtime, scene, scene.first_case, DRIVE, "Assess for the programme")
    await actions.close_meeting(scene.priya, scene.meeting_id)
    (referral,) = await actions.perpetrator_referrals(scene.pat)
    await actions.move_perpetrator(
        scene.pat, referral.id, PerpState.CONTACT_PLANNED, planned_on=clock.now().date()
    )
    await actions.move_perpetrator(scene.pat, referral.id, PerpState.CONTACT_ATTEMPTED)
    area_id = scene.priya.area_id
    gov = await _enrol(runtime, 701, "Gov Ernance", area_id, Role.GOVERNANCE)
    period = last_12_months(clock.now().date())
    _, content = await runtime.services.statistics.perpetrator_dataset(gov, period)
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert rows[1] == [DRIVE, "<5", "<5", "<5", "suppressed", "0", "", "0", "0", "", "0", ""]


async def test_probation_involvement_is_shown_when_probation_has_an_action_on_the_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    scene = await build(runtime)
    await _agency(runtime, scene.priya.area_id, "National Probation Service", AgencyKind.PROBATION)
    actions = runtime.services.actions
    await record(runtime, scene, scene.first_case, DRIVE, "Assess for the programme")
    await record(runtime, scene, scene.second_case, DRIVE, "Assess the second one")
    await record(
        runtime, scene, scene.first_case, "National Probation Service", "Share licence conditions"
    )
    await actions.close_meeting(scene.priya, scene.meeting_id)
    first, second = await actions.perpetrator_referrals(scene.pat)
    assert (first.probation, second.probation) == (True, False)

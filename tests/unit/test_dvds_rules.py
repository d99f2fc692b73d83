"""Clare's Law rules: the timescale comes from the current statutory guidance as sourced
data; checks are due five working days on, never after the decision; chases go on working
days from 09:00; the status and the statistics are worked out from the steps; and the
access policy gives each person only their part."""

from __future__ import annotations

import inspect
import re
from datetime import date, datetime, timedelta

import pytest

from bot import dvds as rules
from bot import texts
from bot.access import CaseFacts, DvdsFacts, DvdsPart, Viewer, dvds_owner, dvds_parts
from bot.dvds import CURRENT_GUIDANCE, PREVIOUS_GUIDANCE, Step, figures, progress
from bot.vocabulary import AgencyKind, DvdsDecision, DvdsRoute, DvdsStepKind, Role

THURSDAY = date(2026, 12, 10)


def test_the_timescale_is_sourced_data_and_no_text_writes_it_by_hand() -> None:
    assert CURRENT_GUIDANCE.published == "April 2023"
    assert CURRENT_GUIDANCE.url.startswith("https://www.gov.uk/")
    assert CURRENT_GUIDANCE.verified and PREVIOUS_GUIDANCE.days_to_decision == 35
    assert CURRENT_GUIDANCE.days_to_decision < PREVIOUS_GUIDANCE.days_to_decision
    # The texts take the number from the guidance, never as a literal.
    block = inspect.getsource(texts).split("# --- Clare's Law")[1]
    assert not re.search(rf"\b{CURRENT_GUIDANCE.days_to_decision}\b", block)
    assert str(CURRENT_GUIDANCE.days_to_decision) in texts.dvds_guidance_note()


def test_the_decision_is_due_in_calendar_days_from_receipt() -> None:
    due = rules.decision_due(THURSDAY)
    assert due - THURSDAY == timedelta(days=CURRENT_GUIDANCE.days_to_decision)


def test_a_check_is_due_five_working_days_on_but_never_after_the_decision() -> None:
    # Thursday + 5 working days is the Thursday after.
    assert rules.check_due(THURSDAY, THURSDAY) == date(2026, 12, 17)
    # Over Christmas: the 25th, the weekend, the 28th and New Year's Day are not counted.
    assert rules.check_due(date(2026, 12, 24), date(2026, 12, 24)) == date(2027, 1, 5)
    # Asked late: capped at the decision's day.
    received = THURSDAY - timedelta(days=CURRENT_GUIDANCE.days_to_decision - 1)
    assert rules.check_due(THURSDAY, received) == rules.decision_due(received)


def test_chased_the_day_after_it_fell_due_on_working_days_from_nine() -> None:
    def chase(*moment: int) -> bool:
        return rules.chase_is_due(THURSDAY, datetime(*moment))

    assert not chase(2026, 12, 10, 12, 0)  # the due day itself
    assert not chase(2026, 12, 11, 8, 59)  # before nine
    assert chase(2026, 12, 11, 9, 0)
    assert not chase(2026, 12, 12, 10, 0)  # Saturday


def _steps(*extra: Step) -> list[Step]:
    return [Step(DvdsStepKind.RECEIVED, THURSDAY), *extra]


def test_the_stage_follows_the_steps_and_a_later_step_replaces_an_earlier() -> None:
    ask = Step(DvdsStepKind.CHECK_REQUESTED, THURSDAY, agency_id=7, due_on=date(2026, 12, 17))
    done = Step(DvdsStepKind.CHECK_COMPLETED, date(2026, 12, 14), agency_id=7)
    panel = Step(DvdsStepKind.PANEL_SET, date(2026, 12, 14), panel_on=date(2026, 12, 16))
    moved = Step(DvdsStepKind.PANEL_SET, date(2026, 12, 15), panel_on=date(2026, 12, 18))
    decided = Step(DvdsStepKind.DECIDED, date(2026, 12, 18), decision=DvdsDecision.DISCLOSE)
    plan = Step(DvdsStepKind.SAFETY_PLAN, date(2026, 12, 18))
    route = DvdsRoute.RIGHT_TO_ASK
    assert progress(route, _steps()).stage() == "received"
    assert progress(route, _steps(ask)).stage() == "checks"
    assert progress(route, _steps(ask, done)).stage() == "checks_done"
    assert progress(route, _steps(ask, done, panel, moved)).panel_on == date(2026, 12, 18)
    assert progress(route, _steps(ask, done, panel, decided)).stage() == "disclose"
    final = progress(route, _steps(ask, done, panel, decided, plan))
    assert final.stage() == "safety_plan"
    assert final.days_to_decision() == 8 and final.decided_in_time()
    # A check completed by an agency never asked changes nothing.
    stray = Step(DvdsStepKind.CHECK_COMPLETED, THURSDAY, agency_id=99)
    assert progress(route, _steps(ask, stray)).open_checks()[0].agency_id == 7
    for stage in ("received", "checks", "checks_done", "panel", "disclose", "not_disclose"):
        assert stage in texts.DVDS_STAGES


def test_overdue_and_the_statistics() -> None:
    days = CURRENT_GUIDANCE.days_to_decision
    undecided = progress(DvdsRoute.RIGHT_TO_KNOW, _steps())
    assert not undecided.decision_overdue(THURSDAY + timedelta(days=days))
    assert undecided.decision_overdue(THURSDAY + timedelta(days=days + 1))
    late = progress(
        DvdsRoute.RIGHT_TO_ASK,
        _steps(
            Step(
                DvdsStepKind.DECIDED,
                THURSDAY + timedelta(days=days + 2),
                decision=DvdsDecision.NOT_DISCLOSE,
            )
        ),
    )
    quick = progress(
        DvdsRoute.RIGHT_TO_ASK,
        _steps(Step(DvdsStepKind.DECIDED, THURSDAY, decision=DvdsDecision.DISCLOSE)),
    )
    found = figures([undecided, late, quick])
    assert found.received == {DvdsRoute.RIGHT_TO_ASK: 2, DvdsRoute.RIGHT_TO_KNOW: 1}
    assert (found.decided, found.in_time, found.disclosed, found.not_disclosed) == (2, 1, 1, 1)
    assert found.median_days == (days + 2) / 2
    assert figures([]).median_days is None


AREA, OTHER_AREA = 1, 2
POLICE, PROBATION, HOUSING, IDVA, DRIVE = 10, 11, 12, 13, 14


def _viewer(
    person: int,
    role: Role,
    agency: int | None = None,
    kind: AgencyKind | None = None,
    *,
    active: bool = True,
    confirmed: bool = True,
    other: bool = False,
) -> Viewer:
    area = OTHER_AREA if other else AREA
    return Viewer(person, role, area, agency, kind, active=active, confirmed=confirmed)


OFFICER = _viewer(1, Role.AGENCY_REP, POLICE, AgencyKind.POLICE)
COORDINATOR = _viewer(2, Role.COORDINATOR)
PROBATION_REP = _viewer(3, Role.AGENCY_REP, PROBATION, AgencyKind.PROBATION)
HOUSING_REP = _viewer(4, Role.AGENCY_REP, HOUSING, AgencyKind.HOUSING)
IDVA_REP = _viewer(5, Role.AGENCY_REP, IDVA, AgencyKind.IDVA)
DRIVE_REP = _viewer(6, Role.PERPETRATOR_REP, DRIVE, AgencyKind.PERPETRATOR_SERVICE)
RELATED_OFFICER = _viewer(7, Role.AGENCY_REP, POLICE, AgencyKind.POLICE)
LEAVER = _viewer(8, Role.AGENCY_REP, POLICE, AgencyKind.POLICE, active=False)
UNCONFIRMED = _viewer(9, Role.AGENCY_REP, POLICE, AgencyKind.POLICE, confirmed=False)
ELSEWHERE = _viewer(10, Role.AGENCY_REP, POLICE, AgencyKind.POLICE, other=True)
GOVERNANCE = _viewer(11, Role.GOVERNANCE)

CASE = CaseFacts(1, AREA, 1, POLICE, excluded=frozenset({7}), allocated_idva=5)
APPLICATION = DvdsFacts(AREA, CASE, open_checks=frozenset({PROBATION, DRIVE}))


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        (OFFICER, set(DvdsPart)),
        (COORDINATOR, {DvdsPart.STATUS}),
        (PROBATION_REP, {DvdsPart.STATUS, DvdsPart.SUBJECT}),
        (IDVA_REP, {DvdsPart.STATUS, DvdsPart.SAFETY_PLAN}),
        # Nothing at all: never told its client was asked about, even if asked by mistake.
        (DRIVE_REP, set()),
        (HOUSING_REP, set()),  # not asked
        (RELATED_OFFICER, set()),  # police, but on the case's must-not-receive list
        (LEAVER, set()),
        (UNCONFIRMED, set()),
        (ELSEWHERE, set()),  # another area
        (GOVERNANCE, set()),
    ],
    ids=lambda value: str(getattr(value, "person_id", "")),
)
def test_each_person_gets_only_their_part(viewer: Viewer, expected: set[DvdsPart]) -> None:
    assert dvds_parts(viewer, APPLICATION) == expected
    assert dvds_owner(viewer, APPLICATION) is (viewer is OFFICER)


def test_a_standalone_application_and_a_check_once_done() -> None:
    standalone = DvdsFacts(AREA)
    assert dvds_parts(OFFICER, standalone) == set(DvdsPart)
    assert dvds_parts(RELATED_OFFICER, standalone) == set(DvdsPart)  # no case, no list
    assert dvds_parts(COORDINATOR, standalone) == {DvdsPart.STATUS}
    assert dvds_parts(IDVA_REP, standalone) == set()
    done = DvdsFacts(AREA, CASE, open_checks=frozenset())
    assert dvds_parts(PROBATION_REP, done) == set()

"""Clare's Law (the Domestic Violence Disclosure Scheme): its timescale and its steps.

The police own an application ("right to ask", when someone asks about a partner; "right to
know", when the police have reason to tell). Each thing that happens to it is a step with
who and when: received, a check requested of an agency and completed, the decision panel's
date set, the decision, the safety plan at disclosure. What an application's status is, how
late it is and the statistics are all worked out from the steps here.

The timescale comes from the statutory guidance as data, with its source, never as a bare
number in a text, so that when the Home Office revises the guidance one entry changes.

Pure functions only: no clock, no database, no Telegram.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from bot.meetings.workdays import NO_CLOSURES, add_working_days, is_working_day
from bot.vocabulary import AgencyKind, DvdsDecision, DvdsRoute, DvdsStepKind


@dataclass(frozen=True, kw_only=True)
class Guidance:
    """One edition of the Home Office DVDS guidance and the timescale it sets."""

    title: str
    published: str
    url: str
    # Calendar days from receiving an application to the decision on disclosure.
    days_to_decision: int
    # How the figure was checked: where it was read, or that it was not found.
    verified: str


CURRENT_GUIDANCE = Guidance(
    title="Domestic Violence Disclosure Scheme (DVDS) Statutory Guidance",
    published="April 2023",
    url=(
        "https://www.gov.uk/government/publications/"
        "domestic-violence-disclosure-scheme-pilot-guidance"
    ),
    days_to_decision=28,
    verified=(
        "yes, from the Home Office consultation page that led to it ('Police will have 28 days "
        "to disclose the information', gov.uk, 'Updating the Domestic Violence Disclosure "
        "Scheme guidance', outcome 7 July 2023) and two reports of it (Police Oracle; Family "
        "Law Week: '28 days ... hitherto 35'); the guidance's own paragraph was not read, so "
        "that the days are calendar days is an assumption (no source said working days)"
    ),
)

# Superseded: kept so the statistics can say what changed, never used to count.
PREVIOUS_GUIDANCE = Guidance(
    title="Domestic Violence Disclosure Scheme (DVDS) guidance",
    published="December 2016",
    url=CURRENT_GUIDANCE.url,
    days_to_decision=35,
    verified="from the issue (#22) and press reports of the 2023 change; not read in the source",
)

# The agencies a police officer may ask to check their records (the scheme's partner
# checks: police forces elsewhere, probation, children's services). A perpetrator service
# or an IDVA service is never asked: they would learn whom the police are asked about.
CHECKING_AGENCIES = frozenset(
    {
        AgencyKind.POLICE,
        AgencyKind.PROBATION,
        AgencyKind.CHILDRENS_SOCIAL_CARE,
        AgencyKind.ADULT_SOCIAL_CARE,
    }
)

# A local default, not the guidance's: a check is due five working days after it is asked
# for, and never later than the decision itself.
CHECK_WORKING_DAYS = 5
CHASE_HOUR = time(9, 0)


def decision_due(received: date, guidance: Guidance = CURRENT_GUIDANCE) -> date:
    """The day the decision is due: the guidance counts calendar days from receipt."""
    return received + timedelta(days=guidance.days_to_decision)


def check_due(
    requested: date, received: date, extra_closures: frozenset[date] = NO_CLOSURES
) -> date:
    """When an agency's check is due: five working days, but not after the decision is."""
    return min(
        add_working_days(requested, CHECK_WORKING_DAYS, extra_closures), decision_due(received)
    )


def chase_is_due(
    due: date, local_now: datetime, extra_closures: frozenset[date] = NO_CLOSURES
) -> bool:
    """Whether something due on ``due`` may be chased at ``local_now`` on the area's clock:
    the day after it fell due or later, on a working day, from 09:00."""
    today = local_now.date()
    if not is_working_day(today, extra_closures) or local_now.time() < CHASE_HOUR:
        return False
    return today > due


@dataclass(frozen=True)
class Step:
    """One step as stored (without its sealed text)."""

    kind: DvdsStepKind
    on: date  # the day it happened, on the area's calendar
    agency_id: int | None = None
    due_on: date | None = None
    panel_on: date | None = None
    decision: DvdsDecision | None = None


@dataclass(frozen=True)
class Check:
    agency_id: int
    requested_on: date
    due_on: date
    completed_on: date | None = None


@dataclass(frozen=True)
class Progress:
    """Where an application stands, worked out from its steps."""

    route: DvdsRoute
    received_on: date
    checks: tuple[Check, ...] = ()
    panel_on: date | None = None
    decision: DvdsDecision | None = None
    decided_on: date | None = None
    safety_plan: bool = False
    due_on: date = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "due_on", decision_due(self.received_on))

    def open_checks(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if check.completed_on is None)

    def stage(self) -> str:
        """A key of ``texts.DVDS_STAGES``: where the application stands."""
        if self.decision is DvdsDecision.DISCLOSE:
            return "safety_plan" if self.safety_plan else "disclose"
        if self.decision is DvdsDecision.NOT_DISCLOSE:
            return "not_disclose"
        if self.panel_on is not None:
            return "panel"
        if self.open_checks():
            return "checks"
        return "checks_done" if self.checks else "received"

    def decision_overdue(self, today: date) -> bool:
        return self.decision is None and today > self.due_on

    def days_to_decision(self) -> int | None:
        if self.decided_on is None:
            return None
        return (self.decided_on - self.received_on).days

    def decided_in_time(self) -> bool | None:
        days = self.days_to_decision()
        return None if days is None else days <= CURRENT_GUIDANCE.days_to_decision


def progress(route: DvdsRoute, steps: Sequence[Step]) -> Progress:
    """The application's progress from its steps, in the order they were recorded; a later
    step of the same kind (a panel date moved, a check asked again) replaces the earlier."""
    received = next(step.on for step in steps if step.kind is DvdsStepKind.RECEIVED)
    checks: dict[int, Check] = {}
    panel_on: date | None = None
    decision: DvdsDecision | None = None
    decided_on: date | None = None
    safety_plan = False
    for step in steps:
        if step.kind is DvdsStepKind.CHECK_REQUESTED and step.agency_id is not None:
            assert step.due_on is not None
            checks[step.agency_id] = Check(step.agency_id, step.on, step.due_on)
        elif step.kind is DvdsStepKind.CHECK_COMPLETED and step.agency_id in checks:
            asked = checks[step.agency_id]
            checks[step.agency_id] = Check(
                asked.agency_id, asked.requested_on, asked.due_on, step.on
            )
        elif step.kind is DvdsStepKind.PANEL_SET:
            panel_on = step.panel_on
        elif step.kind is DvdsStepKind.DECIDED:
            decision, decided_on = step.decision, step.on
        elif step.kind is DvdsStepKind.SAFETY_PLAN:
            safety_plan = True
    return Progress(
        route,
        received,
        tuple(checks.values()),
        panel_on,
        decision,
        decided_on,
        safety_plan,
    )


@dataclass(frozen=True)
class Figures:
    """The statistics of applications received in a period."""

    received: dict[DvdsRoute, int]
    decided: int
    in_time: int
    median_days: float | None
    disclosed: int
    not_disclosed: int
    days_allowed: int = CURRENT_GUIDANCE.days_to_decision


def figures(applications: Iterable[Progress]) -> Figures:
    received = dict.fromkeys(DvdsRoute, 0)
    days: list[int] = []
    in_time = disclosed = not_disclosed = 0
    for application in applications:
        received[application.route] += 1
        taken = application.days_to_decision()
        if taken is None:
            continue
        days.append(taken)
        in_time += bool(application.decided_in_time())
        disclosed += application.decision is DvdsDecision.DISCLOSE
        not_disclosed += application.decision is DvdsDecision.NOT_DISCLOSE
    return Figures(
        received,
        len(days),
        in_time,
        float(statistics.median(days)) if days else None,
        disclosed,
        not_disclosed,
    )

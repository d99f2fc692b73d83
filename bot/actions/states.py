"""Where a MARAC action and a perpetrator-service referral stand, read from their recorded steps.

Each step is stored as a row with who made it and when (as the MoJ interventions
service does, ADR 0004), never as one mutable status: the history is the audit
trail the minutes rely on, and replaying it gives the current state. These
functions only decide which steps are allowed and what a history adds up to.

SafeLives' example minutes separate an action that was *not possible* because
circumstances changed from one the agency simply did *not do*. "Not possible" is
therefore a step someone records; "not done" is never recorded, it is what an
open action past its due date is (see ``is_not_done``).

Follow-up dates are counted in working days (weekends and English bank holidays
off, plus the area's own closures), because a chase that lands on Boxing Day
reaches nobody.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from enum import StrEnum
from typing import TypeVar

from bot import texts
from bot.meetings.workdays import NO_CLOSURES, add_working_days
from bot.referrals.validation import InputError
from bot.vocabulary import PerpEndReason

S = TypeVar("S", bound=StrEnum)

# --- MARAC actions ---------------------------------------------------------------------------


class ActionState(StrEnum):
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    DONE = "done"
    NOT_POSSIBLE = "not_possible"
    # Handed to a colleague in the same agency: still open, and the new owner has to accept it.
    REASSIGNED = "reassigned"


ACTION_TRANSITIONS: dict[ActionState, frozenset[ActionState]] = {
    ActionState.ASSIGNED: frozenset(
        {
            ActionState.ACCEPTED,
            ActionState.DONE,
            ActionState.NOT_POSSIBLE,
            ActionState.REASSIGNED,
        }
    ),
    ActionState.ACCEPTED: frozenset(
        {ActionState.DONE, ActionState.NOT_POSSIBLE, ActionState.REASSIGNED}
    ),
    ActionState.REASSIGNED: frozenset(
        {
            ActionState.ACCEPTED,
            ActionState.DONE,
            ActionState.NOT_POSSIBLE,
            ActionState.REASSIGNED,
        }
    ),
    ActionState.DONE: frozenset(),
    ActionState.NOT_POSSIBLE: frozenset(),
}

ACTION_FINAL: frozenset[ActionState] = frozenset(
    state for state, targets in ACTION_TRANSITIONS.items() if not targets
)

# How each state reads in a list, a button or the minutes.
ACTION_LABELS: dict[ActionState, str] = {
    ActionState.ASSIGNED: "Assigned",
    ActionState.ACCEPTED: "Accepted",
    ActionState.DONE: "Done",
    ActionState.NOT_POSSIBLE: "Not possible",
    ActionState.REASSIGNED: "Reassigned",
}


class TransitionRefused(Exception):
    """A step that the current state does not allow; ``str()`` can be shown to the person.

    ``state`` is the state the refusal was judged against, so a handler can show the
    right buttons again without reading the history twice.
    """

    def __init__(self, state: StrEnum, message: str) -> None:
        super().__init__(message)
        self.state = state
        self.message = message

    def __str__(self) -> str:
        return self.message


def _replay(steps: Sequence[S], start: S, transitions: Mapping[S, frozenset[S]], kind: str) -> S:
    # A history that breaks the rules means a bug or a hand-edited row; carrying on would
    # show people a state that no sequence of real decisions produced.
    if not steps:
        raise ValueError(f"a {kind} history needs at least one step")
    if steps[0] != start:
        raise ValueError(f"a {kind} history must start with {start.value}, not {steps[0]}")
    current = steps[0]
    for index, step in enumerate(steps[1:], start=1):
        if step not in transitions[current]:
            raise ValueError(f"{kind} step {index} ({step}) is not allowed after {current.value}")
        current = step
    return current


def action_state(steps: Sequence[ActionState]) -> ActionState:
    """The state an action's recorded steps add up to; ValueError if no legal path gives them."""
    return _replay(steps, ActionState.ASSIGNED, ACTION_TRANSITIONS, "action")


def can_move(current: ActionState, target: ActionState) -> bool:
    return target in ACTION_TRANSITIONS[current]


def is_open(state: ActionState) -> bool:
    """Open actions are reviewed at the next meeting and chased; closed ones only reported."""
    return state not in ACTION_FINAL


def is_not_done(state: ActionState, due: date, today: date) -> bool:
    """SafeLives' "not done": still open after its due date, as opposed to "not possible"."""
    return is_open(state) and today > due


def check_move(current: ActionState, target: ActionState) -> None:
    """Refuse a step the action cannot take now, saying why in words the person can act on.

    Two people often tap buttons on the same action (an owner and the coordinator),
    so the usual refusal is "someone already closed it", not a mistake.
    """
    if can_move(current, target):
        return
    if current is ActionState.DONE:
        message = "This action is already done."
    elif current is ActionState.NOT_POSSIBLE:
        message = "This action is already marked not possible."
    elif target is ActionState.ACCEPTED:
        message = "This action is already accepted."
    elif target is ActionState.ASSIGNED:
        message = "This action is already assigned. To pass it to a colleague, reassign it."
    else:
        message = "That change is not possible for this action now."
    raise TransitionRefused(current, message)


# --- perpetrator-service referrals -----------------------------------------------------------


class PerpState(StrEnum):
    REFERRED = "referred"
    CONTACT_ATTEMPTED = "contact_attempted"
    ASSESSED = "assessed"
    SUITABLE = "suitable"
    NOT_SUITABLE = "not_suitable"
    STARTED = "started"
    # Kept for histories recorded before sessions were counted one by one; never offered now.
    ATTENDING = "attending"
    DISENGAGED = "disengaged"
    COMPLETED = "completed"
    ENDED = "ended"
    # The first contact with the person causing harm is planned for a date, so that the
    # victim's IDVA can plan her safety before it happens.
    CONTACT_PLANNED = "contact_planned"
    # One step per programme session: attendance is counted from the rows, not a counter.
    SESSION_ATTENDED = "session_attended"
    SESSION_MISSED = "session_missed"


_SESSIONS: tuple[PerpState, ...] = (
    PerpState.SESSION_ATTENDED,
    PerpState.SESSION_MISSED,
    PerpState.ENDED,
)

# The next steps from each state, in the order buttons should show them: the usual next
# step first, the ones that close the referral last. Ended is always last so that it is
# never the thumb's first target. Nothing reaches "contact attempted" without "contact
# planned" first: the victim's IDVA must hear of a contact before it is made.
_PERP_NEXT: dict[PerpState, tuple[PerpState, ...]] = {
    PerpState.REFERRED: (PerpState.CONTACT_PLANNED, PerpState.ENDED),
    PerpState.CONTACT_PLANNED: (
        PerpState.CONTACT_ATTEMPTED,
        PerpState.CONTACT_PLANNED,
        PerpState.ENDED,
    ),
    PerpState.CONTACT_ATTEMPTED: (
        PerpState.ASSESSED,
        PerpState.CONTACT_ATTEMPTED,
        PerpState.CONTACT_PLANNED,
        PerpState.ENDED,
    ),
    PerpState.ASSESSED: (PerpState.SUITABLE, PerpState.NOT_SUITABLE, PerpState.ENDED),
    PerpState.SUITABLE: (PerpState.STARTED, PerpState.ENDED),
    PerpState.STARTED: _SESSIONS,
    PerpState.SESSION_ATTENDED: _SESSIONS,
    # A missed session does not end the referral: re-engagement is common.
    PerpState.SESSION_MISSED: _SESSIONS,
    # Older histories may stand here; they carry on with the sessions.
    PerpState.ATTENDING: _SESSIONS,
    PerpState.DISENGAGED: _SESSIONS,
    PerpState.NOT_SUITABLE: (),
    PerpState.COMPLETED: (),
    PerpState.ENDED: (),
}

PERP_TRANSITIONS: dict[PerpState, frozenset[PerpState]] = {
    state: frozenset(targets) for state, targets in _PERP_NEXT.items()
}

# Steps recorded before "contact planned" and session counting: a stored history may hold
# them, so replaying it accepts them, but no new step may take them.
_PERP_EARLIER_STEPS: frozenset[tuple[PerpState, PerpState]] = frozenset(
    {
        (PerpState.REFERRED, PerpState.CONTACT_ATTEMPTED),
        (PerpState.STARTED, PerpState.ATTENDING),
        (PerpState.STARTED, PerpState.DISENGAGED),
        (PerpState.ATTENDING, PerpState.DISENGAGED),
        (PerpState.ATTENDING, PerpState.COMPLETED),
        (PerpState.DISENGAGED, PerpState.ATTENDING),
    }
)

_PERP_REPLAY: dict[PerpState, frozenset[PerpState]] = {
    state: targets | {b for a, b in _PERP_EARLIER_STEPS if a is state}
    for state, targets in PERP_TRANSITIONS.items()
}

PERP_FINAL: frozenset[PerpState] = frozenset(
    state for state, targets in PERP_TRANSITIONS.items() if not targets
)

# A rejected referral must say why in words: the victim's worker is told, and the Home
# Office standards expect the reason to be documented. An ended referral says why with a
# coded reason (``PerpEndReason``), which commissioners count.
PERP_NEEDS_REASON: frozenset[PerpState] = frozenset({PerpState.NOT_SUITABLE})

# Still waiting for the programme to start (the commissioners' waiting list).
PERP_WAITING: tuple[PerpState, ...] = (
    PerpState.REFERRED,
    PerpState.CONTACT_PLANNED,
    PerpState.CONTACT_ATTEMPTED,
    PerpState.ASSESSED,
    PerpState.SUITABLE,
)

PERP_LABELS: dict[PerpState, str] = {
    PerpState.REFERRED: "Referred",
    PerpState.CONTACT_PLANNED: "Contact planned",
    PerpState.CONTACT_ATTEMPTED: "Contact attempted",
    PerpState.ASSESSED: "Assessed",
    PerpState.SUITABLE: "Suitable",
    PerpState.NOT_SUITABLE: "Not suitable",
    PerpState.STARTED: "Started",
    PerpState.ATTENDING: "Attending",
    PerpState.SESSION_ATTENDED: "Session attended",
    PerpState.SESSION_MISSED: "Session missed",
    PerpState.DISENGAGED: "Disengaged",
    PerpState.COMPLETED: "Completed",
    PerpState.ENDED: "Ended",
}

END_REASON_LABELS: dict[PerpEndReason, str] = {
    PerpEndReason.COMPLETED: "Completed",
    PerpEndReason.DISENGAGED: "Disengaged",
    PerpEndReason.UNSUITABLE: "Unsuitable",
    PerpEndReason.BREACHED: "Breached",
    PerpEndReason.MOVED_AWAY: "Moved away",
}


class Told(StrEnum):
    """Who was told of a perpetrator-service step: the case's allocated IDVA, or, failing
    that, the area's coordinators (and why), or nobody at all."""

    IDVA = "idva"
    COORDINATORS_NO_IDVA = "coordinators_no_idva"
    COORDINATORS_IDVA_UNREACHABLE = "coordinators_idva_unreachable"
    NOBODY = "nobody"


# How far ahead a first contact may be planned: further than this is more likely a
# mistyped year than a plan.
CONTACT_PLAN_MAX_DAYS = 366


def perp_state(steps: Sequence[PerpState]) -> PerpState:
    """The state a referral's recorded steps add up to; ValueError if no legal path gives them."""
    return _replay(steps, PerpState.REFERRED, _PERP_REPLAY, "perpetrator-service referral")


def perp_can_move(current: PerpState, target: PerpState) -> bool:
    return target in PERP_TRANSITIONS[current]


def perp_next_options(current: PerpState) -> list[PerpState]:
    return list(_PERP_NEXT[current])


def end_reason_of(state: PerpState, end_reason: str | None) -> PerpEndReason | None:
    """Why a closed referral ended: its coded reason, or what an earlier closing step meant."""
    if end_reason is not None:
        return PerpEndReason(end_reason)
    if state is PerpState.COMPLETED:
        return PerpEndReason.COMPLETED
    if state is PerpState.NOT_SUITABLE:
        return PerpEndReason.UNSUITABLE
    return None


def check_contact_date(planned_on: date, today: date) -> None:
    """A planned first contact is today or later, and within the year (InputError if not)."""
    if planned_on < today:
        raise InputError(texts.PERP_CONTACT_DATE_PASSED)
    if (planned_on - today).days > CONTACT_PLAN_MAX_DAYS:
        raise InputError(texts.PERP_CONTACT_DATE_TOO_FAR)


def check_perp_move(
    current: PerpState,
    target: PerpState,
    reason: str | None = None,
    *,
    planned_on: date | None = None,
    end_reason: PerpEndReason | None = None,
) -> None:
    """Refuse an illegal step (TransitionRefused) or one missing what it must record (InputError).

    The two are different exceptions because the first means the buttons were stale,
    while the second means the person should give something and try again.
    """
    if not perp_can_move(current, target):
        if current in PERP_FINAL:
            message = f"This referral is already closed ({PERP_LABELS[current].lower()})."
        elif target is PerpState.CONTACT_ATTEMPTED:
            message = texts.PERP_CONTACT_BEFORE_ATTEMPT
        else:
            message = (
                f"A referral that is {PERP_LABELS[current].lower()} cannot be marked "
                f"{PERP_LABELS[target].lower()}."
            )
        raise TransitionRefused(current, message)
    if target in PERP_NEEDS_REASON and not (reason and reason.strip()):
        raise InputError(
            f"Please give a short reason for marking this referral {PERP_LABELS[target].lower()}."
        )
    if target is PerpState.CONTACT_PLANNED and planned_on is None:
        raise InputError(texts.PERP_NEEDS_CONTACT_DATE)
    if target is PerpState.ENDED and end_reason is None:
        raise InputError(texts.PERP_NEEDS_END_REASON)


# --- follow-up dates -------------------------------------------------------------------------

DEFAULT_ACTION_WORKING_DAYS = 10
ACCEPTANCE_CHASE_WORKING_DAYS = 2
OVERDUE_ESCALATION_WORKING_DAYS = 3
FIRST_CONTACT_CHASE_WORKING_DAYS = 10
STALE_CHASE_WORKING_DAYS = 20


def action_due_date(
    meeting_day: date,
    working_days: int = DEFAULT_ACTION_WORKING_DAYS,
    extra_closures: frozenset[date] = NO_CLOSURES,
) -> date:
    """The area's default deadline for an action agreed without a date of its own."""
    return add_working_days(meeting_day, working_days, extra_closures)


def acceptance_chase_due(assigned_on: date, extra_closures: frozenset[date] = NO_CLOSURES) -> date:
    """When to chase an owner who has not accepted: unowned actions are the ones that get lost."""
    return add_working_days(assigned_on, ACCEPTANCE_CHASE_WORKING_DAYS, extra_closures)


def overdue_escalation_due(due: date, extra_closures: frozenset[date] = NO_CLOSURES) -> date:
    """When an overdue action goes to the coordinator, after the owner has had a few days' grace."""
    return add_working_days(due, OVERDUE_ESCALATION_WORKING_DAYS, extra_closures)


def first_contact_chase_due(
    referred_on: date, extra_closures: frozenset[date] = NO_CLOSURES
) -> date:
    """When to chase a perpetrator service that has not yet tried to make contact."""
    return add_working_days(referred_on, FIRST_CONTACT_CHASE_WORKING_DAYS, extra_closures)


def stale_chase_due(last_change_on: date, extra_closures: frozenset[date] = NO_CLOSURES) -> date:
    """When to ask about a referral with no news: silence often means disengagement unrecorded."""
    return add_working_days(last_change_on, STALE_CHASE_WORKING_DAYS, extra_closures)


def median_days(pairs: Iterable[tuple[date, date | None]]) -> float | None:
    """Median calendar days from referral to start, over the referrals that have started.

    Referrals not yet started are left out rather than counted as "so far", which would
    pull the figure down just when the waits are growing; report how many are waiting
    alongside it. A start before its referral is a data error and raises ValueError,
    since quietly including it would flatter the figure.
    """
    waits: list[int] = []
    for referred_on, started_on in pairs:
        if started_on is None:
            continue
        wait = (started_on - referred_on).days
        if wait < 0:
            raise ValueError(f"a referral started on {started_on}, before it was made")
        waits.append(wait)
    if not waits:
        return None
    return float(statistics.median(waits))

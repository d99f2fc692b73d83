"""Action plans and perpetrator referrals: the views, rules and queries every part uses.

An action is recorded at the meeting, sent to its agency when the meeting is closed, and
then accepted, done, found not possible or passed to a colleague; every step is stored as
who did it and when, and the state is read from the steps. Who may be told or shown an
action is the access policy's decision (``bot.services.case_access``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    ScalarSelect,
    bindparam,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import NEEDS, CasePath, Level, case_access
from bot.actions.states import (
    ActionState,
    PerpState,
    Told,
    action_state,
    first_contact_chase_due,
    is_open,
    perp_state,
    stale_chase_due,
)
from bot.actor import Actor
from bot.buttons import action_buttons
from bot.errors import NotFound
from bot.meetings.recurrence import local_to_utc
from bot.services.case_access import (
    Receivers,
    case_facts,
    not_excluded,
    receivers,
    require,
    viewers,
)
from bot.services.case_identifiers import PersonDetails
from bot.services.deps import ServiceDeps
from bot.services.names import name_context, person_name
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar
from bot.vocabulary import PerpEndReason, Role
from storage.crypto import FieldContext
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgendaItem,
    Area,
    Case,
    Meeting,
    OutboxMessage,
    PerpetratorReferral,
    PerpetratorStep,
    Person,
)

CHASE_HOUR = time(9, 0)

# Ids per IN (...) list. Far below SQLite's and asyncpg's bound-parameter limits (32,766 and
# 32,767), so a long list costs a few more statements instead of failing outright.
IN_CHUNK = 500

T = TypeVar("T")


@dataclass(frozen=True)
class ActionView:
    id: int
    reference: str
    agency: str
    text: str
    due_on: date
    priority: str
    state: ActionState
    last_by: str | None
    overdue: bool
    # Nobody at the agency may receive the case (nobody enrolled, or everyone excluded):
    # the coordinator is told when the action is recorded.
    unreachable: bool = False


@dataclass(frozen=True)
class Closed:
    """A closed meeting: how many actions went out, and which reached nobody (reference,
    agency), because nobody at the agency may receive the case."""

    sent: int
    unreached: list[tuple[str, str]]


@dataclass(frozen=True)
class ActionMoved:
    """What a person is told after moving an action: which case's action, and where it is now.

    Not a whole ``ActionView``: building one re-reads the agency, the area, the steps and
    the names and opens the action's text, which nobody is shown after a press.
    """

    id: int
    reference: str
    state: ActionState


@dataclass(frozen=True)
class ActionPage:
    """One page of an agency's open actions, oldest due first.

    ``total`` counts every open action the person may see, so a list that shows ten can
    say how many more there are; ``offset`` is where this page starts (moved back onto the
    last page if the one asked for no longer exists, e.g. after actions were closed).
    """

    views: list[ActionView]
    total: int
    offset: int


@dataclass(frozen=True)
class PerpView:
    id: int
    reference: str
    service: str
    state: PerpState
    referred_at: datetime
    options: list[PerpState]
    # Whom the service is assessing: on the workspace page only, never in the chat.
    person_causing_harm: PersonDetails | None = None
    # The day first contact is (or was last) planned for, and why a closed referral ended.
    planned_on: date | None = None
    end_reason: PerpEndReason | None = None
    # Whether MARAC's records show probation involved with the case (False: not known).
    probation: bool = False
    sessions_attended: int = 0
    sessions_missed: int = 0
    # After a step: who was told of it (the allocated IDVA, by name, or the coordinators).
    told: Told | None = None
    told_name: str | None = None


@dataclass(frozen=True)
class AgencyCounts:
    agency: str
    open: int
    done: int
    not_possible: int
    overdue: int


@dataclass(frozen=True)
class ServiceWaiting:
    """A perpetrator service for commissioners: its waiting list, calendar days from
    referral to first contact and to start (medians), and how its referrals ended."""

    service: str
    waiting_referrals: int
    waiting_weeks: int | None
    median_days_to_start: float | None
    median_days_to_first_contact: float | None = None
    ended: int = 0
    completed: int = 0
    disengaged: int = 0


def action_context(action_id: int) -> FieldContext:
    return FieldContext("actions", "text", action_id)


def step_context(step_id: int) -> FieldContext:
    return FieldContext("action_steps", "note", step_id)


def perp_context(step_id: int) -> FieldContext:
    return FieldContext("perpetrator_steps", "reason", step_id)


def _chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Read for every list of actions (issue #20): built once.
_STEPS_OF = (
    select(ActionStep.action_id, ActionStep.state, ActionStep.by_person_id)
    .where(ActionStep.action_id.in_(bindparam("ids", expanding=True)))
    .order_by(ActionStep.action_id, ActionStep.id)
)
_SEALED_NAMES = select(Person.id, Person.data_key_id, Person.display_name_sealed).where(
    Person.id.in_(bindparam("ids", expanding=True))
)


def _open_for(
    agency_id: int | BindParameter[int] | None, person_id: int | BindParameter[int]
) -> list[ColumnElement[bool]]:
    """Sent, not closed, and not on a case this person must not hear about.

    ``closed_at`` is the projection written with the final step, so this is answered by
    the index ``ix_actions_agency_open`` rather than by replaying every action's steps.
    """
    return [
        Action.agency_id == agency_id,
        Action.sent_at.is_not(None),
        Action.closed_at.is_(None),
        not_excluded(person_id, Action.case_id),
    ]


def _perp_latest_state() -> ScalarSelect[str]:
    """A referral's current state: its latest step, which is what replaying a legal history
    gives. One correlated lookup on ``ix_perpetrator_steps_referral`` per referral, inside the
    statement that lists them."""
    return (
        select(PerpetratorStep.state)
        .where(PerpetratorStep.referral_id == PerpetratorReferral.id)
        .order_by(PerpetratorStep.id.desc())
        .limit(1)
        .correlate(PerpetratorReferral)
        .scalar_subquery()
    )


def _perp_started_at() -> ScalarSelect[datetime]:
    """When the referral's first "started" step was recorded, or NULL if it has not started."""
    return (
        select(PerpetratorStep.at)
        .where(
            PerpetratorStep.referral_id == PerpetratorReferral.id,
            PerpetratorStep.state == PerpState.STARTED,
        )
        .order_by(PerpetratorStep.id)
        .limit(1)
        .correlate(PerpetratorReferral)
        .scalar_subquery()
    )


def _perp_first_at(state: PerpState) -> ScalarSelect[datetime]:
    """When the referral's first step of this kind was recorded, or NULL if none was."""
    return (
        select(PerpetratorStep.at)
        .where(
            PerpetratorStep.referral_id == PerpetratorReferral.id,
            PerpetratorStep.state == state,
        )
        .order_by(PerpetratorStep.id)
        .limit(1)
        .correlate(PerpetratorReferral)
        .scalar_subquery()
    )


def _perp_latest_end_reason() -> ScalarSelect[str]:
    """The coded end reason on the referral's latest step (NULL unless that step closed it)."""
    return (
        select(PerpetratorStep.end_reason)
        .where(PerpetratorStep.referral_id == PerpetratorReferral.id)
        .order_by(PerpetratorStep.id.desc())
        .limit(1)
        .correlate(PerpetratorReferral)
        .scalar_subquery()
    )


class _Recipient(NamedTuple):
    id: int
    chat_id: int


@dataclass(frozen=True)
class _Audience:
    """Who may be told about a batch of cases: the agencies' active reps and the area's
    active coordinators (in person id order), as far as the access policy lets each of
    them receive each case, asked once for the whole batch."""

    reps: dict[int, list[_Recipient]]
    coordinators: list[_Recipient]
    allowed: Receivers

    def reps_for(self, agency_id: int, case_id: int) -> list[_Recipient]:
        return [p for p in self.reps.get(agency_id, []) if self.allowed.allows([case_id], p.id)]

    def coordinators_for(self, case_id: int) -> list[_Recipient]:
        return [p for p in self.coordinators if self.allowed.allows([case_id], p.id)]


@dataclass(frozen=True)
class _Chase:
    """A message chase_overdue may queue, before its text is built."""

    key: str
    recipient: _Recipient
    escalation: bool
    action_id: int
    case_id: int
    reference: str
    agency: str
    due_on: date


class ActionBase:
    """What the capabilities share: the dependencies and the queries they all use."""

    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def _may_plan(
        self,
        session: AsyncSession,
        actor: Actor,
        case_id: int,
        *,
        missing: str = texts.AGENDA_ITEM_NOT_FOUND,
    ) -> Level:
        """Recording or withdrawing a case's actions is for those who may see all of it."""
        return await require(
            session, actor, case_id, CasePath.ACTION_PLAN, self._deps.clock.now(), missing=missing
        )

    async def _anyone_may_receive(
        self, session: AsyncSession, area_id: int, case_id: int, agency_id: int, now: datetime
    ) -> bool:
        """Whether one of the agency's active reps may receive the case once the action is
        sent: asked as if it were sent already, since that is when they will be told."""
        reps, _ = await self._people_for(session, area_id, {agency_id})
        people = reps.get(agency_id, [])
        if not people:
            return False
        facts = await case_facts(session, [case_id])
        fact = replace(
            facts[case_id], working_agencies=facts[case_id].working_agencies | {agency_id}
        )
        found = await viewers(session, [p.id for p in people])
        return any(case_access(v, fact, now) >= NEEDS[CasePath.NOTICE] for v in found.values())

    async def _reference_and_agency(self, session: AsyncSession, action: Action) -> tuple[str, str]:
        case = await session.get(Case, action.case_id)
        agency = await session.get(Agency, action.agency_id)
        assert case is not None and agency is not None
        return case.reference, agency.name

    def _buttons(self, action_id: int) -> list[list[tuple[str, str]]]:
        return action_buttons(action_id)

    async def _queue_perp_follow_up(
        self,
        session: AsyncSession,
        referral: PerpetratorReferral,
        area: Area,
        today: date,
        now: datetime,
        audience: _Audience,
    ) -> None:
        case = await session.get(Case, referral.case_id)
        assert case is not None
        calendar = await area_calendar(session, area.id)
        due = local_to_utc(
            first_contact_chase_due(today, calendar.closed), CHASE_HOUR, area.timezone
        )
        for person in audience.reps_for(referral.service_agency_id, case.id):
            await enqueue(
                session,
                dedupe_key=f"perp:{referral.id}:first_contact:{person.id}",
                chat_id=person.chat_id,
                kind="perpetrator_chase",
                text=texts.perpetrator_first_contact_chase(case.reference),
                now=now,
                due_at=due,
                area_id=area.id,
                person_id=person.id,
                case_ids=[case.id],
                checked=audience.allowed,
            )
        await self._queue_stale_chase(session, referral, area, today, now, 0, audience)

    async def _queue_stale_chase(
        self,
        session: AsyncSession,
        referral: PerpetratorReferral,
        area: Area,
        today: date,
        now: datetime,
        step_id: int,
        audience: _Audience | None = None,
    ) -> None:
        """No change for 20 working days: chase the service, and tell the coordinator."""
        case = await session.get(Case, referral.case_id)
        assert case is not None
        if audience is None:
            audience = await self._audience(
                session, area.id, {(case.id, referral.service_agency_id)}, now
            )
        calendar = await area_calendar(session, area.id)
        due = local_to_utc(stale_chase_due(today, calendar.closed), CHASE_HOUR, area.timezone)
        people = [
            *audience.reps_for(referral.service_agency_id, case.id),
            *audience.coordinators_for(case.id),
        ]
        for person in people:
            await enqueue(
                session,
                dedupe_key=f"perp:{referral.id}:stale:{step_id}:{person.id}",
                chat_id=person.chat_id,
                kind="perpetrator_stale",
                text=texts.perpetrator_stale(case.reference),
                now=now,
                due_at=due,
                area_id=area.id,
                person_id=person.id,
                case_ids=[case.id],
                checked=audience.allowed,
            )

    async def _audience(
        self,
        session: AsyncSession,
        area_id: int,
        work: Iterable[tuple[int, int]],
        now: datetime,
    ) -> _Audience:
        """Reps of the agencies and the area's coordinators for (case id, agency id) pieces of
        work, with the policy's answer on who of them may receive which case."""
        work = set(work)
        reps, coordinators = await self._people_for(session, area_id, {a for _, a in work})
        pairs = {(case_id, p.id) for case_id, agency_id in work for p in reps.get(agency_id, [])}
        pairs |= {(case_id, p.id) for case_id, _ in work for p in coordinators}
        return _Audience(reps, coordinators, await receivers(session, pairs, now))

    async def _people_for(
        self, session: AsyncSession, area_id: int, agency_ids: Iterable[int]
    ) -> tuple[dict[int, list[_Recipient]], list[_Recipient]]:
        """The agencies' active reps and the area's active coordinators: two statements."""
        reps: dict[int, list[_Recipient]] = {}
        wanted = sorted(set(agency_ids))
        if wanted:
            rows = await session.execute(
                select(Person.id, Person.telegram_user_id, Person.agency_id)
                .where(
                    Person.agency_id.in_(wanted),
                    Person.deactivated_at.is_(None),
                    Person.role.in_((Role.AGENCY_REP, Role.PERPETRATOR_REP)),
                )
                .order_by(Person.id)
            )
            for person_id, chat_id, agency_id in rows.all():
                assert agency_id is not None
                reps.setdefault(agency_id, []).append(_Recipient(person_id, chat_id))
        coordinators = [
            _Recipient(person_id, chat_id)
            for person_id, chat_id in (
                await session.execute(
                    select(Person.id, Person.telegram_user_id)
                    .where(
                        Person.area_id == area_id,
                        Person.role == Role.COORDINATOR,
                        Person.deactivated_at.is_(None),
                    )
                    .order_by(Person.id)
                )
            ).all()
        ]
        return reps, coordinators

    async def _queued_already(self, session: AsyncSession, keys: Sequence[str]) -> set[str]:
        """Which of these dedupe keys ``enqueue`` would turn down: queued or sent already.

        A row that was cancelled and never sent does not count, because ``enqueue`` revives
        it; asking first, in one statement per 500 keys, is what keeps a repeated
        housekeeping tick from writing (or trying to write) anything at all.
        """
        found: set[str] = set()
        for chunk in _chunks(keys):
            rows = await session.scalars(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.dedupe_key.in_(chunk),
                    or_(OutboxMessage.cancelled_at.is_(None), OutboxMessage.sent_at.is_not(None)),
                )
            )
            found.update(rows)
        return found

    async def _referrals_of(
        self, session: AsyncSession, action_ids: list[int]
    ) -> list[PerpetratorReferral]:
        if not action_ids:
            return []
        rows = await session.scalars(
            select(PerpetratorReferral).where(PerpetratorReferral.action_id.in_(action_ids))
        )
        return list(rows)

    async def _meeting(
        self, session: AsyncSession, actor: Actor, meeting_id: int, *, lock: bool = False
    ) -> tuple[Meeting, Area]:
        meeting = await session.get(Meeting, meeting_id, with_for_update=lock)
        if meeting is None or meeting.area_id != actor.area_id or meeting.cancelled_at:
            raise NotFound(texts.MEETING_NOT_FOUND)
        area = await session.get(Area, actor.area_id)
        assert area is not None
        return meeting, area

    async def _listed_case(
        self, session: AsyncSession, actor: Actor, meeting_id: int, case_id: int
    ) -> tuple[Meeting, Area, Case, str]:
        """A case listed at the meeting, that the actor may plan for (the action plan, the
        risks): the meeting, its area, the case and its data key (what is recorded is sealed
        with it); otherwise NotFound, as if not listed."""
        meeting, area = await self._meeting(session, actor, meeting_id)
        listed = await session.scalar(
            select(AgendaItem.id).where(
                AgendaItem.meeting_id == meeting.id,
                AgendaItem.case_id == case_id,
                AgendaItem.removed_at.is_(None),
            )
        )
        case = await session.get(Case, case_id)
        if listed is None or case is None or case.data_key_id is None:
            raise NotFound(texts.AGENDA_ITEM_NOT_FOUND)
        await self._may_plan(session, actor, case.id)
        return meeting, area, case, case.data_key_id

    async def _action(self, session: AsyncSession, actor: Actor, action_id: int) -> Action:
        action = await session.get(Action, action_id)
        case = await session.get(Case, action.case_id) if action else None
        if action is None or case is None or case.area_id != actor.area_id:
            raise NotFound(texts.ACTION_NOT_FOUND)
        return action

    async def _own_action(
        self, session: AsyncSession, actor: Actor, action_id: int, *, lock: bool = False
    ) -> Action:
        """An action of the actor's own agency, already sent, on a case they may hear about."""
        action = await session.get(Action, action_id, with_for_update=lock)
        if action is None or action.agency_id != actor.agency_id or action.sent_at is None:
            raise NotFound(texts.ACTION_NOT_FOUND)
        await require(
            session,
            actor,
            action.case_id,
            CasePath.ACTION_CARD,
            self._deps.clock.now(),
            missing=texts.ACTION_NOT_FOUND,
        )
        return action

    async def _steps(self, session: AsyncSession, action_id: int) -> list[ActionStep]:
        rows = await session.scalars(
            select(ActionStep).where(ActionStep.action_id == action_id).order_by(ActionStep.id)
        )
        return list(rows)

    async def _perp_state(self, session: AsyncSession, referral_id: int) -> PerpState:
        rows = await session.scalars(
            select(PerpetratorStep.state)
            .where(PerpetratorStep.referral_id == referral_id)
            .order_by(PerpetratorStep.id)
        )
        return perp_state([PerpState(s) for s in rows])

    async def _view(
        self, session: AsyncSession, action: Action, case: Case, agency_name: str, today: date
    ) -> ActionView:
        (view,) = await self._views(
            session, [(action, case.reference, case.data_key_id, agency_name)], today, names=True
        )
        return view

    async def _views(
        self,
        session: AsyncSession,
        rows: Sequence[tuple[Action, str, str | None, str]],
        today: date,
        *,
        names: bool,
    ) -> list[ActionView]:
        """Views of these actions (action, case reference, case key, agency name), in order.

        Their steps come in one statement (per 500 actions) and, when ``names``, the people
        who made the latest steps in one more; only these actions' texts are opened.
        """
        if not rows:
            return []
        history: dict[int, list[tuple[ActionState, int | None]]] = {a.id: [] for a, *_ in rows}
        for chunk in _chunks(list(history)):
            steps = await session.execute(_STEPS_OF, {"ids": list(chunk)})
            for action_id, state, by in steps.all():
                history[action_id].append((ActionState(state), by))
        who: dict[int | None, str] = {}
        if names:
            who = await self._names(session, (h[-1][1] for h in history.values() if h))
        views = []
        for action, reference, data_key_id, agency_name in rows:
            steps_of = history[action.id]
            state = action_state([state for state, _ in steps_of])
            text = texts.NAME_ERASED
            if data_key_id and action.text_sealed:
                text = await self._deps.vault.open(
                    session, data_key_id, action_context(action.id), action.text_sealed
                )
            views.append(
                ActionView(
                    action.id,
                    reference,
                    agency_name,
                    text,
                    action.due_on,
                    action.priority,
                    state,
                    who[steps_of[-1][1]] if names and steps_of else None,
                    is_open(state) and action.due_on < today,
                )
            )
        return views

    async def _names(
        self, session: AsyncSession, person_ids: Iterable[int | None]
    ) -> dict[int | None, str]:
        """Display names as ``person_name`` gives them, for many people in one statement."""
        wanted = sorted({i for i in person_ids if i is not None})
        found: dict[int | None, str] = {None: await person_name(session, self._deps.vault, None)}
        found.update((person_id, texts.NAME_ERASED) for person_id in wanted)
        for chunk in _chunks(wanted):
            rows = await session.execute(_SEALED_NAMES, {"ids": list(chunk)})
            for person_id, data_key_id, sealed in rows.all():
                if data_key_id and sealed:
                    found[person_id] = await self._deps.vault.open(
                        session, data_key_id, name_context(person_id), sealed
                    )
        return found

    async def _name(self, session: AsyncSession, person_id: int | None) -> str:
        return await person_name(session, self._deps.vault, person_id)

    def _today(self, area: Area) -> date:
        return self._today_in(area.timezone)

    def _today_in(self, timezone: str) -> date:
        return self._deps.clock.now().astimezone(ZoneInfo(timezone)).date()

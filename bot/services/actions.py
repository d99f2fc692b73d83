"""Action plans agencies confirm, and perpetrator-service referrals followed to an outcome.

Actions are recorded per case at a meeting (sealed with the case's key: they may
identify people) and sent to each agency when the meeting is closed. Every step
is stored with who and when; states are read from the steps. Chasing and
escalation are outbox rows with keys, so a restart or a second instance never
doubles them. Notifications carry references only.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import NamedTuple, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    ScalarSelect,
    and_,
    delete,
    func,
    or_,
    select,
)
from sqlalchemy import case as sql_case
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import NEEDS, CasePath, Level, case_access
from bot.actions.entry import ActionDraft, parse_action_line
from bot.actions.minutes import MinutesRow, minutes_docx
from bot.actions.states import (
    ACTION_FINAL,
    PERP_LABELS,
    ActionState,
    PerpState,
    TransitionRefused,
    acceptance_chase_due,
    action_due_date,
    action_state,
    check_move,
    check_perp_move,
    first_contact_chase_due,
    is_open,
    median_days,
    overdue_escalation_due,
    perp_next_options,
    perp_state,
    stale_chase_due,
)
from bot.actor import Actor
from bot.dates import format_local, format_uk_date
from bot.meetings.recurrence import local_to_utc
from bot.meetings.workdays import AreaCalendar, is_working_day
from bot.permissions import Operation, authorise
from bot.referrals.validation import InputError
from bot.services.audited import audit_by
from bot.services.case_access import (
    Receivers,
    Shown,
    case_facts,
    not_excluded,
    receivers,
    record_views,
    require,
    viewers,
    visible,
)
from bot.services.deps import ServiceDeps
from bot.services.errors import NotFound, ServiceError
from bot.services.names import name_context, person_name
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar
from storage.audit import append_event
from storage.crypto import FieldContext
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgencyKind,
    AgendaItem,
    Area,
    Case,
    Meeting,
    OutboxMessage,
    PerpetratorReferral,
    PerpetratorStep,
    Person,
    Role,
)

CHASE_HOUR = time(9, 0)
# Ids per IN (...) list. Far below SQLite's and asyncpg's bound-parameter limits (32,766 and
# 32,767), so a long list costs a few more statements instead of failing outright.
IN_CHUNK = 500
# Perpetrator referrals still waiting for the programme to start, for the coordinator's summary.
PERP_WAITING: tuple[PerpState, ...] = (
    PerpState.REFERRED,
    PerpState.CONTACT_ATTEMPTED,
    PerpState.ASSESSED,
    PerpState.SUITABLE,
)

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


@dataclass(frozen=True)
class AgencyCounts:
    agency: str
    open: int
    done: int
    not_possible: int
    overdue: int


@dataclass(frozen=True)
class ServiceWaiting:
    service: str
    waiting_referrals: int
    waiting_weeks: int | None
    median_days_to_start: float | None


def action_context(action_id: int) -> FieldContext:
    return FieldContext("actions", "text", action_id)


def step_context(step_id: int) -> FieldContext:
    return FieldContext("action_steps", "note", step_id)


def perp_context(step_id: int) -> FieldContext:
    return FieldContext("perpetrator_steps", "reason", step_id)


def _chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _open_for(agency_id: int | None, person_id: int) -> list[ColumnElement[bool]]:
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


class ActionService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    # -- recording -------------------------------------------------------------------------------

    async def plan_meetings(
        self, actor: Actor
    ) -> list[tuple[int, datetime, bool, list[tuple[int, str]]]]:
        """Meetings of the last and next month, with their listed cases, to record actions on.

        Only cases the access policy lets this person plan for are listed; each is recorded
        against its case as seen."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meetings = await session.scalars(
                select(Meeting)
                .where(
                    Meeting.area_id == actor.area_id,
                    Meeting.cancelled_at.is_(None),
                    Meeting.starts_at > now - timedelta(days=31),
                    Meeting.starts_at < now + timedelta(days=31),
                )
                .order_by(Meeting.starts_at)
            )
            meetings_found = list(meetings)
            listed: dict[int, list[tuple[int, str]]] = {m.id: [] for m in meetings_found}
            if listed:
                # Every listed case of these few meetings in one statement, in agenda order.
                rows = await session.execute(
                    select(AgendaItem.meeting_id, Case.id, Case.reference)
                    .join(AgendaItem, AgendaItem.case_id == Case.id)
                    .where(AgendaItem.meeting_id.in_(listed), AgendaItem.removed_at.is_(None))
                    .order_by(AgendaItem.emergency.desc(), AgendaItem.position)
                )
                found = rows.all()
                seen = await visible(
                    session, actor, {int(row[1]) for row in found}, CasePath.ACTION_PLAN, now
                )
                for meeting_id, case_id, reference in found:
                    if case_id in seen:
                        listed[int(meeting_id)].append((int(case_id), str(reference)))
                references = {ref: seen[c] for cases in listed.values() for c, ref in cases}
                await record_views(
                    session,
                    actor,
                    [Shown(ref, level) for ref, level in references.items()],
                    CasePath.ACTION_PLAN,
                    now,
                )
            return [
                (m.id, m.starts_at, m.closed_at is not None, listed[m.id]) for m in meetings_found
            ]

    async def read_line(self, actor: Actor, text: str) -> ActionDraft:
        """One typed action line read against the area's agencies and working calendar.

        Raises ``InputError`` with what to type instead; nothing is stored.
        """
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            names = list(
                await session.scalars(
                    select(Agency.name).where(Agency.area_id == actor.area_id).order_by(Agency.name)
                )
            )
            calendar = await area_calendar(session, actor.area_id)
        today = calendar.local_date(self._deps.clock.now())
        return parse_action_line(text, names, today, calendar.closed)

    async def recorded_count(self, actor: Actor, meeting_id: int, case_id: int) -> int:
        """Actions recorded for a case at a meeting: what /done reports, after any Undo."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            meeting, _ = await self._meeting(session, actor, meeting_id)
            await self._may_plan(session, actor, case_id)
            count = await session.scalar(
                select(func.count())
                .select_from(Action)
                .where(Action.meeting_id == meeting.id, Action.case_id == case_id)
            )
            return int(count or 0)

    async def record(
        self, actor: Actor, meeting_id: int, case_id: int, draft: ActionDraft
    ) -> ActionView:
        """One action for one listed case; the due date defaults to 10 working days."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
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
            agency = await session.scalar(
                select(Agency).where(Agency.area_id == area.id, Agency.name == draft.agency)
            )
            if agency is None:
                raise NotFound(texts.AGENCY_NOT_FOUND)
            meeting_day = meeting.starts_at.astimezone(ZoneInfo(area.timezone)).date()
            action = Action(
                case_id=case.id,
                meeting_id=meeting.id,
                agency_id=agency.id,
                due_on=draft.due
                or action_due_date(
                    meeting_day, extra_closures=(await area_calendar(session, area.id)).closed
                ),
                priority=draft.priority,
                created_at=now,
                created_by_id=actor.person_id,
            )
            session.add(action)
            await session.flush()
            action.text_sealed = await self._deps.vault.seal(
                session, case.data_key_id, action_context(action.id), draft.text
            )
            session.add(
                ActionStep(
                    action_id=action.id,
                    state=ActionState.ASSIGNED,
                    at=now,
                    by_person_id=actor.person_id,
                )
            )
            if agency.kind is AgencyKind.PERPETRATOR_SERVICE:
                referral = PerpetratorReferral(
                    case_id=case.id,
                    action_id=action.id,
                    service_agency_id=agency.id,
                    referred_at=now,
                )
                session.add(referral)
                await session.flush()
                session.add(
                    PerpetratorStep(
                        referral_id=referral.id,
                        state=PerpState.REFERRED,
                        at=now,
                        by_person_id=actor.person_id,
                    )
                )
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="action.recorded",
                subject=case.reference,
                details={"agency": agency.id, "action": action.id},
            )
            reachable = await self._anyone_may_receive(session, area.id, case.id, agency.id, now)
            return ActionView(
                action.id,
                case.reference,
                agency.name,
                draft.text,
                action.due_on,
                action.priority,
                ActionState.ASSIGNED,
                None,
                False,
                unreachable=not reachable,
            )

    async def undo(self, actor: Actor, action_id: int) -> str:
        """Remove a mistyped action before the meeting is closed and it has been sent."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            action = await self._action(session, actor, action_id)
            await self._may_plan(session, actor, action.case_id, missing=texts.ACTION_NOT_FOUND)
            if action.sent_at is not None:
                raise ServiceError(texts.ACTION_ALREADY_SENT)
            case = await session.get(Case, action.case_id)
            assert case is not None
            await session.execute(
                delete(PerpetratorReferral).where(PerpetratorReferral.action_id == action.id)
            )
            await session.delete(action)
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="action.withdrawn",
                subject=case.reference,
            )
            return case.reference

    async def close_meeting(self, actor: Actor, meeting_id: int) -> Closed:
        """Send every agency its actions with buttons; queue acceptance chases and follow-ups.

        An action whose agency has nobody who may receive it (nobody enrolled, or everyone
        on the case's must-not-receive list) is reported back, so the coordinator can act.
        """
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, area = await self._meeting(session, actor, meeting_id, lock=True)
            if meeting.closed_at is not None:
                raise ServiceError(texts.MEETING_ALREADY_CLOSED)
            meeting.closed_at, meeting.closed_by_id = now, actor.person_id
            actions = list(
                await session.scalars(
                    select(Action).where(Action.meeting_id == meeting.id, Action.sent_at.is_(None))
                )
            )
            today = now.astimezone(ZoneInfo(area.timezone)).date()
            cases_of_meeting = select(Action.case_id).where(Action.meeting_id == meeting.id)
            # Loaded once so the per-action lookups below are answered from the session.
            (await session.scalars(select(Case).where(Case.id.in_(cases_of_meeting)))).all()
            referrals = await self._referrals_of(session, [a.id for a in actions])
            for action in actions:
                action.sent_at = now
            await session.flush()  # sent: the agencies now work on these cases
            work = {(a.case_id, a.agency_id) for a in actions}
            work |= {(r.case_id, r.service_agency_id) for r in referrals}
            audience = await self._audience(session, area.id, work, now)
            unreached: list[tuple[str, str]] = []
            for action in actions:
                if not await self._send_action(session, action, area, today, now, audience):
                    unreached.append(await self._reference_and_agency(session, action))
            for referral in referrals:
                await self._queue_perp_follow_up(session, referral, area, today, now, audience)
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="meeting.closed",
                subject=f"meeting:{meeting.id}",
                details={"actions": len(actions), "unreached": len(unreached)},
            )
            return Closed(len(actions), unreached)

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

    # -- agencies work their actions ----------------------------------------------------------

    async def open_for_agency(self, actor: Actor) -> list[ActionView]:
        """Every open action of the actor's agency they may see, oldest due first."""
        return (await self.open_page(actor)).views

    async def open_page(
        self, actor: Actor, offset: int = 0, limit: int | None = None
    ) -> ActionPage:
        """Open actions of the actor's agency, oldest due first, ``limit`` of them from ``offset``.

        Picked in SQL (sent, ``closed_at`` empty, not excluded: the index-friendly form of
        the policy's must-not-receive rule) so the closed history, which grows for ever, is
        never read; then the access policy decides each action's case, every case shown is
        recorded against it, and only these actions' texts are opened. The steps stay the
        record: an action whose steps say it is closed is left out even if the projection
        disagrees.
        """
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            area = await session.get(Area, actor.area_id)
            agency = await session.get(Agency, actor.agency_id)
            assert area is not None and agency is not None
            where = _open_for(actor.agency_id, actor.person_id)
            offset = max(offset, 0)
            query = (
                select(Action, Case.reference, Case.data_key_id)
                .join(Case, Case.id == Action.case_id)
                .where(*where)
                .order_by(Action.due_on, Action.id)
            )
            total: int | None = None
            if limit is not None:
                limit = max(limit, 1)
                total = int(
                    await session.scalar(select(func.count()).select_from(Action).where(*where))
                    or 0
                )
                if offset >= total:
                    offset = max(total - 1, 0) // limit * limit
                query = query.offset(offset).limit(limit)
            elif offset:
                query = query.offset(offset)
            found = (await session.execute(query)).all()
            seen = await visible(
                session, actor, {a.case_id for a, _, _ in found}, CasePath.ACTIONS_LIST, now
            )
            rows = [
                (action, str(reference), data_key_id, agency.name)
                for action, reference, data_key_id in found
                if action.case_id in seen
            ]
            views = await self._views(session, rows, self._today(area), names=True)
            open_views = [v for v in views if is_open(v.state)]
            shown = {
                (view.reference, seen[a.case_id])
                for view, (a, *_) in zip(views, rows, strict=True)
                if is_open(view.state)
            }
            await record_views(
                session,
                actor,
                [Shown(reference, level) for reference, level in sorted(shown)],
                CasePath.ACTIONS_LIST,
                now,
            )
            if total is None:
                total = offset + len(open_views)
            return ActionPage(open_views, total, offset)

    async def get(self, actor: Actor, action_id: int) -> ActionView:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            action = await self._own_action(session, actor, action_id)
            case = await session.get(Case, action.case_id)
            agency = await session.get(Agency, action.agency_id)
            area = await session.get(Area, actor.area_id)
            assert case is not None and agency is not None and area is not None
            view = await self._view(session, action, case, agency.name, self._today(area))
            level = (await visible(session, actor, [case.id], CasePath.ACTION_CARD, now))[case.id]
            await record_views(
                session, actor, [Shown(case.reference, level)], CasePath.ACTION_CARD, now
            )
            return view

    async def move(
        self, actor: Actor, action_id: int, target: ActionState, note: str | None = None
    ) -> ActionMoved:
        """Accept, done, not possible: re-checked on every press, so a stale button is refused.

        The action row is locked before its steps are read, so two presses at once are
        judged one after the other and the second is refused with who made the first.
        """
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        if target is ActionState.NOT_POSSIBLE and not (note and note.strip()):
            raise ServiceError(texts.NOT_POSSIBLE_NEEDS_REASON)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            action = await self._own_action(session, actor, action_id, lock=True)
            steps = await self._steps(session, action.id)
            current = action_state([ActionState(s.state) for s in steps])
            try:
                check_move(current, target)
            except TransitionRefused as refused:
                who = await self._name(session, steps[-1].by_person_id)
                raise ServiceError(texts.action_refused(str(refused), who)) from refused
            step = ActionStep(
                action_id=action.id, state=target, at=now, by_person_id=actor.person_id
            )
            session.add(step)
            if target in ACTION_FINAL:
                # The projection that lists open actions by index, written with the step that
                # closes the action (same transaction, same time) so the two never disagree.
                action.closed_at, action.closed_state = now, target.value
            await session.flush()
            case = await session.get(Case, action.case_id)
            assert case is not None and case.data_key_id is not None
            if note:
                step.note_sealed = await self._deps.vault.seal(
                    session, case.data_key_id, step_context(step.id), note
                )
            await cancel_outbox(
                session, dedupe_key_prefix=f"action:{action.id}:accept_chase:", now=now
            )
            if not is_open(target):
                await cancel_outbox(session, dedupe_key_prefix=f"action:{action.id}:", now=now)
            await audit_by(
                session,
                actor,
                at=now,
                action=f"action.{target.value}",
                subject=case.reference,
                details={"action": action.id},
            )
            return ActionMoved(action.id, case.reference, target)

    async def colleagues(self, actor: Actor, action_id: int) -> list[tuple[int, str]]:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions() as session:
            action = await self._own_action(session, actor, action_id)
            people = list(
                await session.scalars(
                    select(Person)
                    .where(
                        Person.agency_id == actor.agency_id,
                        Person.deactivated_at.is_(None),
                        Person.id != actor.person_id,
                    )
                    .order_by(Person.id)
                )
            )
            # Only colleagues the policy lets receive the case: never one on its list.
            allowed = await receivers(
                session, [(action.case_id, p.id) for p in people], self._deps.clock.now()
            )
            return [
                (p.id, await self._name(session, p.id))
                for p in people
                if allowed.allows([action.case_id], p.id)
            ]

    async def reassign(self, actor: Actor, action_id: int, person_id: int) -> ActionView:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            action = await self._own_action(session, actor, action_id, lock=True)
            colleague = await session.get(Person, person_id)
            if (
                colleague is None
                or colleague.agency_id != actor.agency_id
                or colleague.deactivated_at is not None
            ):
                raise NotFound(texts.PERSON_NOT_FOUND)
            allowed = await receivers(session, [(action.case_id, colleague.id)], now)
            if not allowed.allows([action.case_id], colleague.id):
                raise NotFound(texts.PERSON_NOT_FOUND)  # as if they were not a colleague
            steps = await self._steps(session, action.id)
            current = action_state([ActionState(s.state) for s in steps])
            try:
                check_move(current, ActionState.REASSIGNED)
            except TransitionRefused as refused:
                raise ServiceError(str(refused)) from refused
            session.add(
                ActionStep(
                    action_id=action.id,
                    state=ActionState.REASSIGNED,
                    at=now,
                    by_person_id=actor.person_id,
                    assigned_to_id=colleague.id,
                )
            )
            case = await session.get(Case, action.case_id)
            area = await session.get(Area, actor.area_id)
            assert case is not None and area is not None
            await enqueue(
                session,
                dedupe_key=f"action:{action.id}:reassigned:{len(steps)}:{colleague.id}",
                chat_id=colleague.telegram_user_id,
                kind="action_reassigned",
                text=texts.action_reassigned_to_you(case.reference),
                now=now,
                area_id=area.id,
                person_id=colleague.id,
                buttons=self._buttons(action.id),
                case_ids=[case.id],
                checked=allowed,
            )
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="action.reassigned",
                subject=case.reference,
                details={"to": colleague.id},
            )
            agency = await session.get(Agency, action.agency_id)
            assert agency is not None
            return await self._view(session, action, case, agency.name, self._today(area))

    # -- perpetrator referrals ------------------------------------------------------------------

    async def perpetrator_referrals(self, actor: Actor) -> list[PerpView]:
        """The service's referrals, oldest first, each with where it stands: one statement.

        The state is the latest step, looked up inside the statement, rather than one
        query per referral; a referral's history only ever grows by legal steps
        (``move_perpetrator`` checks each), so its latest step is what replaying gives.
        """
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            rows = await session.execute(
                select(
                    PerpetratorReferral.id,
                    PerpetratorReferral.referred_at,
                    Case.reference,
                    Agency.name,
                    _perp_latest_state(),
                    Case.id,
                )
                .join(Case, Case.id == PerpetratorReferral.case_id)
                .join(Agency, Agency.id == PerpetratorReferral.service_agency_id)
                .join(Action, Action.id == PerpetratorReferral.action_id)
                .where(
                    PerpetratorReferral.service_agency_id == actor.agency_id,
                    Action.sent_at.is_not(None),
                    not_excluded(
                        actor.person_id, Action.case_id
                    ),  # must-not-receive applies here too
                )
                .order_by(PerpetratorReferral.referred_at, PerpetratorReferral.id)
            )
            found = rows.all()
            seen = await visible(
                session, actor, {row[5] for row in found}, CasePath.PERPETRATOR_REFERRALS, now
            )
            views = []
            shown: dict[str, Level] = {}
            for referral_id, referred_at, reference, service, latest, case_id in found:
                if case_id not in seen:
                    continue
                shown[str(reference)] = seen[case_id]
                state = PerpState(latest)
                views.append(
                    PerpView(
                        int(referral_id),
                        str(reference),
                        str(service),
                        state,
                        referred_at,
                        perp_next_options(state),
                    )
                )
            await record_views(
                session,
                actor,
                [Shown(ref, level) for ref, level in shown.items()],
                CasePath.PERPETRATOR_REFERRALS,
                now,
            )
            return views

    async def move_perpetrator(
        self, actor: Actor, referral_id: int, target: PerpState, reason: str | None = None
    ) -> PerpView:
        """Each step is stored and told to the case's IDVA: the safety plan depends on it."""
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            referral = await session.get(PerpetratorReferral, referral_id, with_for_update=True)
            if referral is None or referral.service_agency_id != actor.agency_id:
                raise NotFound(texts.REFERRAL_NOT_FOUND)
            await require(
                session,
                actor,
                referral.case_id,
                CasePath.PERPETRATOR_REFERRALS,
                now,
                missing=texts.REFERRAL_NOT_FOUND,
            )
            case = await session.get(Case, referral.case_id)
            area = await session.get(Area, actor.area_id)
            assert case is not None and area is not None and case.data_key_id is not None
            current = await self._perp_state(session, referral.id)
            try:
                check_perp_move(current, target, reason)
            except TransitionRefused as refused:
                raise ServiceError(str(refused)) from refused
            except InputError as problem:
                raise ServiceError(str(problem)) from problem
            step = PerpetratorStep(
                referral_id=referral.id, state=target, at=now, by_person_id=actor.person_id
            )
            session.add(step)
            await session.flush()
            if reason:
                step.reason_sealed = await self._deps.vault.seal(
                    session, case.data_key_id, perp_context(step.id), reason
                )
            await cancel_outbox(session, dedupe_key_prefix=f"perp:{referral.id}:", now=now)
            today = self._today(area)
            if target not in (PerpState.NOT_SUITABLE, PerpState.COMPLETED, PerpState.ENDED):
                await self._queue_stale_chase(session, referral, area, today, now, step.id)
            service = await session.get(Agency, referral.service_agency_id)
            assert service is not None
            idvas, told = await self._idvas(session, area.id, case.id, now)
            for idva in idvas:
                await enqueue(
                    session,
                    dedupe_key=f"perpinfo:{referral.id}:{step.id}:{idva.id}",
                    chat_id=idva.telegram_user_id,
                    kind="perpetrator_update",
                    text=texts.perpetrator_update(
                        case.reference, service.name, PERP_LABELS[target]
                    ),
                    now=now,
                    area_id=area.id,
                    person_id=idva.id,
                    case_ids=[case.id],
                    checked=told,
                )
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action=f"perpetrator.{target.value}",
                subject=case.reference,
            )
            return PerpView(
                referral.id,
                case.reference,
                service.name,
                target,
                referral.referred_at,
                perp_next_options(target),
            )

    async def set_waiting_weeks(self, actor: Actor, weeks: int) -> str:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        if not 0 <= weeks <= 104:
            raise ServiceError(texts.WAITING_WEEKS_RANGE)
        async with self._deps.sessions.begin() as session:
            agency = await session.get(Agency, actor.agency_id)
            if agency is None or agency.kind is not AgencyKind.PERPETRATOR_SERVICE:
                raise NotFound(texts.AGENCY_NOT_FOUND)
            agency.waiting_weeks = weeks
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="agency.waiting_time",
                subject=f"agency:{agency.id}",
                details={"weeks": weeks},
            )
            return agency.name

    # -- the coordinator's view -------------------------------------------------------------------

    async def summary(self, actor: Actor) -> tuple[list[AgencyCounts], list[ServiceWaiting]]:
        """Open / done / not possible / overdue per agency, and perpetrator-service waiting.

        Counted by the database in two statements whatever the history: open is
        ``closed_at`` empty, and a closed action's outcome is ``closed_state``, the copy of
        its one final step written with it (nothing follows done or not possible).
        """
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            area = await session.get(Area, actor.area_id)
            assert area is not None
            today = self._today(area)
            is_open_ = Action.closed_at.is_(None)
            rows = await session.execute(
                select(
                    Agency.name,
                    func.sum(sql_case((is_open_, 1), else_=0)),
                    func.sum(sql_case((Action.closed_state == ActionState.DONE, 1), else_=0)),
                    func.sum(
                        sql_case((Action.closed_state == ActionState.NOT_POSSIBLE, 1), else_=0)
                    ),
                    func.sum(sql_case((and_(is_open_, Action.due_on < today), 1), else_=0)),
                )
                .select_from(Action)
                .join(Agency, Agency.id == Action.agency_id)
                .where(
                    Agency.area_id == area.id,
                    Action.sent_at.is_not(None),
                    # A case this person may not see is not counted either: the SQL form of
                    # the access policy's must-not-receive rule (coordinators see every
                    # other case in full).
                    not_excluded(actor.person_id, Action.case_id),
                )
                .group_by(Agency.name)
            )
            agencies = sorted(
                (
                    AgencyCounts(str(name), int(open_), int(done), int(np_), int(overdue))
                    for name, open_, done, np_, overdue in rows.all()
                ),
                key=lambda counts: counts.agency,
            )
            services = list(
                await session.scalars(
                    select(Agency).where(
                        Agency.area_id == area.id, Agency.kind == AgencyKind.PERPETRATOR_SERVICE
                    )
                )
            )
            waiting: dict[int, int] = {service.id: 0 for service in services}
            pairs: dict[int, list[tuple[date, date | None]]] = {s.id: [] for s in services}
            if services:
                referrals = await session.execute(
                    select(
                        PerpetratorReferral.service_agency_id,
                        PerpetratorReferral.referred_at,
                        _perp_latest_state(),
                        _perp_started_at(),
                    ).where(PerpetratorReferral.service_agency_id.in_(waiting))
                )
                for service_id, referred_at, latest, started_at in referrals.all():
                    if PerpState(latest) in PERP_WAITING:
                        waiting[service_id] += 1
                    started = started_at.date() if started_at is not None else None
                    pairs[service_id].append((referred_at.date(), started))
            return agencies, [
                ServiceWaiting(
                    service.name,
                    waiting[service.id],
                    service.waiting_weeks,
                    median_days(pairs[service.id]),
                )
                for service in services
            ]

    async def minutes(self, actor: Actor, meeting_id: int) -> tuple[str, bytes]:
        """The meeting's action plan as a document; steps of all its actions read at once.

        It holds only the cases the access policy lets this reader see in minutes, and
        each case in it is recorded against that case, as obtained by this reader.
        """
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, area = await self._meeting(session, actor, meeting_id)
            rows = (
                await session.execute(
                    select(Action, Case.reference, Case.data_key_id, Agency.name)
                    .join(Case, Case.id == Action.case_id)
                    .join(Agency, Agency.id == Action.agency_id)
                    .where(Action.meeting_id == meeting.id)
                    .order_by(Case.reference, Action.id)
                )
            ).all()
            seen = await visible(
                session, actor, {a.case_id for a, *_ in rows}, CasePath.MINUTES, now
            )
            found = [
                (action, str(reference), data_key_id, str(agency_name))
                for action, reference, data_key_id, agency_name in rows
                if action.case_id in seen
            ]
            in_minutes = {reference: seen[action.case_id] for action, reference, *_ in found}
            await record_views(
                session,
                actor,
                [Shown(ref, level) for ref, level in in_minutes.items()],
                CasePath.MINUTES,
                now,
                meeting=meeting.id,
            )
            # The minutes show no names, so none are opened.
            views = await self._views(session, found, self._today(area), names=False)
            lines = [
                MinutesRow(
                    reference=view.reference,
                    agency=view.agency,
                    action=view.text,
                    due=format_uk_date(view.due_on),
                    state=view.state.value,
                )
                for view in views
            ]
            when = format_local(meeting.starts_at, area.timezone)
            content = minutes_docx(
                area=area.name,
                meeting_when=when,
                rows=lines,
                generated_at=format_local(self._deps.clock.now(), area.timezone),
            )
            await append_event(
                session,
                at=self._deps.clock.now(),
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="minutes.produced",
                subject=f"meeting:{meeting.id}",
            )
            return f"marac-actions-{meeting.starts_at:%Y-%m-%d}.docx", content

    # -- daily chasing (housekeeping) ------------------------------------------------------------

    async def chase_overdue(self) -> int:
        """From 09:00 on working days: one chase a day per overdue action; escalate after 3.

        Housekeeping calls this every 30 seconds, and after the first tick of the day
        everything it would queue is queued already. So a tick is a handful of statements
        however many actions there are: open overdue actions by ``closed_at`` (one), the
        people to tell (three), and the dedupe keys already in the outbox (one per 500 keys);
        only the messages not yet queued are built and written.
        """
        now = self._deps.clock.now()
        queued = 0
        async with self._deps.sessions.begin() as session:
            for area in list(await session.scalars(select(Area))):
                local = now.astimezone(ZoneInfo(area.timezone))
                today = local.date()
                if local.time() < CHASE_HOUR or not is_working_day(today):
                    continue  # before 09:00, or a weekend or bank holiday: no query needed
                calendar = await area_calendar(session, area.id)
                if not calendar.is_working_day(today):
                    continue  # one of the area's own closure days
                queued += await self._chase_area(session, area, calendar, today, now)
        return queued

    async def _chase_area(
        self, session: AsyncSession, area: Area, calendar: AreaCalendar, today: date, now: datetime
    ) -> int:
        # By the area's agencies rather than the cases' area, so the open-actions index
        # (agency, closed_at, due_on) drives the query instead of a walk over every case.
        area_agencies = select(Agency.id).where(Agency.area_id == area.id)
        overdue = (
            Action.agency_id.in_(area_agencies),
            Action.sent_at.is_not(None),
            Action.closed_at.is_(None),
            Action.due_on < today,
        )
        rows = (
            await session.execute(
                select(Action.id, Action.case_id, Action.agency_id, Action.due_on)
                .add_columns(Case.reference, Agency.name)
                .join(Case, Case.id == Action.case_id)
                .join(Agency, Agency.id == Action.agency_id)
                .where(*overdue)
                .order_by(Action.id)
            )
        ).all()
        if not rows:
            return 0
        # Everyone who could be chased first; the policy is asked only about the chases not
        # queued yet, so the usual tick, after the day's chases are out, asks it nothing.
        reps, coordinators = await self._people_for(session, area.id, {r.agency_id for r in rows})
        escalate_from: dict[date, date] = {}
        chases: list[_Chase] = []
        for action_id, case_id, agency_id, due_on, reference, agency_name in rows:
            for person in reps.get(agency_id, []):
                key = f"action:{action_id}:overdue:{today.isoformat()}:{person.id}"
                chases.append(
                    _Chase(key, person, False, action_id, case_id, reference, agency_name, due_on)
                )
            if due_on not in escalate_from:
                escalate_from[due_on] = overdue_escalation_due(due_on, calendar.closed)
            if today >= escalate_from[due_on]:
                for person in coordinators:
                    key = f"action:{action_id}:escalated:{person.id}"
                    chases.append(
                        _Chase(
                            key, person, True, action_id, case_id, reference, agency_name, due_on
                        )
                    )
        queued_already = await self._queued_already(session, [c.key for c in chases])
        chases = [chase for chase in chases if chase.key not in queued_already]
        allowed = await receivers(session, {(c.case_id, c.recipient.id) for c in chases}, now)
        queued = 0
        for chase in chases:
            due = format_uk_date(chase.due_on)
            if chase.escalation:
                queued += await enqueue(
                    session,
                    dedupe_key=chase.key,
                    chat_id=chase.recipient.chat_id,
                    kind="action_escalated",
                    text=texts.action_escalated(chase.reference, chase.agency, due),
                    now=now,
                    area_id=area.id,
                    person_id=chase.recipient.id,
                    case_ids=[chase.case_id],
                    checked=allowed,
                )
            else:
                queued += await enqueue(
                    session,
                    dedupe_key=chase.key,
                    chat_id=chase.recipient.chat_id,
                    kind="action_overdue",
                    text=texts.action_overdue(chase.reference, due),
                    now=now,
                    area_id=area.id,
                    person_id=chase.recipient.id,
                    buttons=self._buttons(chase.action_id),
                    expires_at=now + timedelta(hours=12),
                    case_ids=[chase.case_id],
                    checked=allowed,
                )
        return queued

    # -- helpers ----------------------------------------------------------------------------------

    def _buttons(self, action_id: int) -> list[list[tuple[str, str]]]:
        return [
            [("Accept", f"act:acc:{action_id}"), ("Done", f"act:done:{action_id}")],
            [("Not possible", f"act:np:{action_id}"), ("Reassign", f"act:re:{action_id}")],
        ]

    async def _send_action(
        self,
        session: AsyncSession,
        action: Action,
        area: Area,
        today: date,
        now: datetime,
        audience: _Audience,
    ) -> bool:
        """Queue the action to every rep of its agency who may receive it; False for nobody."""
        case = await session.get(Case, action.case_id)
        assert case is not None
        calendar = await area_calendar(session, area.id)
        chase_at = local_to_utc(
            acceptance_chase_due(today, calendar.closed), CHASE_HOUR, area.timezone
        )
        reps = audience.reps_for(action.agency_id, case.id)
        for person in reps:
            await enqueue(
                session,
                dedupe_key=f"action:{action.id}:assigned:{person.id}",
                chat_id=person.chat_id,
                kind="action_assigned",
                text=texts.action_assigned(
                    case.reference, format_uk_date(action.due_on), action.priority == "high"
                ),
                now=now,
                area_id=area.id,
                person_id=person.id,
                buttons=self._buttons(action.id),
                case_ids=[case.id],
                checked=audience.allowed,
            )
            await enqueue(
                session,
                dedupe_key=f"action:{action.id}:accept_chase:{person.id}",
                chat_id=person.chat_id,
                kind="action_accept_chase",
                text=texts.action_accept_chase(case.reference),
                now=now,
                due_at=chase_at,
                area_id=area.id,
                person_id=person.id,
                buttons=self._buttons(action.id),
                case_ids=[case.id],
                checked=audience.allowed,
            )
        return bool(reps)

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

    async def _idvas(
        self, session: AsyncSession, area_id: int, case_id: int, now: datetime
    ) -> tuple[list[Person], Receivers]:
        """The area's IDVA service reps the policy lets hear of this case."""
        people = list(
            await session.scalars(
                select(Person)
                .join(Agency, Agency.id == Person.agency_id)
                .where(
                    Person.area_id == area_id,
                    Person.deactivated_at.is_(None),
                    Agency.kind == AgencyKind.IDVA,
                )
                .order_by(Person.id)
            )
        )
        allowed = await receivers(session, [(case_id, p.id) for p in people], now)
        return [p for p in people if allowed.allows([case_id], p.id)], allowed

    async def _meeting(
        self, session: AsyncSession, actor: Actor, meeting_id: int, *, lock: bool = False
    ) -> tuple[Meeting, Area]:
        meeting = await session.get(Meeting, meeting_id, with_for_update=lock)
        if meeting is None or meeting.area_id != actor.area_id or meeting.cancelled_at:
            raise NotFound(texts.MEETING_NOT_FOUND)
        area = await session.get(Area, actor.area_id)
        assert area is not None
        return meeting, area

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
            steps = await session.execute(
                select(ActionStep.action_id, ActionStep.state, ActionStep.by_person_id)
                .where(ActionStep.action_id.in_(chunk))
                .order_by(ActionStep.action_id, ActionStep.id)
            )
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
            rows = await session.execute(
                select(Person.id, Person.data_key_id, Person.display_name_sealed).where(
                    Person.id.in_(chunk)
                )
            )
            for person_id, data_key_id, sealed in rows.all():
                if data_key_id and sealed:
                    found[person_id] = await self._deps.vault.open(
                        session, data_key_id, name_context(person_id), sealed
                    )
        return found

    async def _name(self, session: AsyncSession, person_id: int | None) -> str:
        return await person_name(session, self._deps.vault, person_id)

    def _today(self, area: Area) -> date:
        return self._deps.clock.now().astimezone(ZoneInfo(area.timezone)).date()

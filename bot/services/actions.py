"""Action plans agencies confirm, and perpetrator-service referrals followed to an outcome.

Actions are recorded per case at a meeting (sealed with the case's key: they may
identify people) and sent to each agency when the meeting is closed. Every step
is stored with who and when; states are read from the steps. Chasing and
escalation are outbox rows with keys, so a restart or a second instance never
doubles them. Notifications carry references only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.actions.entry import ActionDraft
from bot.actions.minutes import MinutesRow, minutes_docx
from bot.actions.states import (
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
from bot.meetings.workdays import is_working_day
from bot.permissions import Operation, authorise
from bot.referrals.validation import InputError
from bot.services.deps import ServiceDeps
from bot.services.errors import NotFound, ServiceError
from bot.services.exclusions import is_excluded
from bot.services.names import person_name
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
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
    PerpetratorReferral,
    PerpetratorStep,
    Person,
    Role,
)

CHASE_HOUR = time(9, 0)


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


class ActionService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    # -- recording -------------------------------------------------------------------------------

    async def plan_meetings(
        self, actor: Actor
    ) -> list[tuple[int, datetime, bool, list[tuple[int, str]]]]:
        """Meetings of the last and next month, with their listed cases, to record actions on."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions() as session:
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
            found = []
            for meeting in meetings:
                rows = await session.execute(
                    select(Case.id, Case.reference)
                    .join(AgendaItem, AgendaItem.case_id == Case.id)
                    .where(AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None))
                    .order_by(AgendaItem.emergency.desc(), AgendaItem.position)
                )
                cases = [(int(i), str(r)) for i, r in rows.all()]
                found.append((meeting.id, meeting.starts_at, meeting.closed_at is not None, cases))
            return found

    async def agency_names(self, actor: Actor) -> list[str]:
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            rows = await session.scalars(
                select(Agency.name).where(Agency.area_id == actor.area_id).order_by(Agency.name)
            )
            return list(rows)

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
                due_on=draft.due or action_due_date(meeting_day),
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
            )

    async def undo(self, actor: Actor, action_id: int) -> str:
        """Remove a mistyped action before the meeting is closed and it has been sent."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            action = await self._action(session, actor, action_id)
            if action.sent_at is not None:
                raise ServiceError(texts.ACTION_ALREADY_SENT)
            case = await session.get(Case, action.case_id)
            assert case is not None
            await session.execute(
                delete(PerpetratorReferral).where(PerpetratorReferral.action_id == action.id)
            )
            await session.delete(action)
            await append_event(
                session,
                at=self._deps.clock.now(),
                area_id=actor.area_id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="action.withdrawn",
                subject=case.reference,
            )
            return case.reference

    async def close_meeting(self, actor: Actor, meeting_id: int) -> int:
        """Send every agency its actions with buttons; queue acceptance chases and follow-ups."""
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
            for action in actions:
                action.sent_at = now
                await self._send_action(session, action, area, today, now)
            for referral in await self._referrals_of(session, [a.id for a in actions]):
                await self._queue_perp_follow_up(session, referral, area, today, now)
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="meeting.closed",
                subject=f"meeting:{meeting.id}",
                details={"actions": len(actions)},
            )
            return len(actions)

    # -- agencies work their actions ----------------------------------------------------------

    async def open_for_agency(self, actor: Actor) -> list[ActionView]:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions() as session:
            area = await session.get(Area, actor.area_id)
            assert area is not None
            today = self._today(area)
            rows = await session.execute(
                select(Action, Case, Agency.name)
                .join(Case, Case.id == Action.case_id)
                .join(Agency, Agency.id == Action.agency_id)
                .where(Action.agency_id == actor.agency_id, Action.sent_at.is_not(None))
                .order_by(Action.due_on, Action.id)
            )
            views = []
            for action, case, agency_name in rows.all():
                if await self._excluded(session, case.id, actor.person_id):
                    continue
                view = await self._view(session, action, case, agency_name, today)
                if is_open(view.state):
                    views.append(view)
            return views

    async def get(self, actor: Actor, action_id: int) -> ActionView:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions() as session:
            action = await self._own_action(session, actor, action_id)
            case = await session.get(Case, action.case_id)
            agency = await session.get(Agency, action.agency_id)
            area = await session.get(Area, actor.area_id)
            assert case is not None and agency is not None and area is not None
            return await self._view(session, action, case, agency.name, self._today(area))

    async def move(
        self, actor: Actor, action_id: int, target: ActionState, note: str | None = None
    ) -> ActionView:
        """Accept, done, not possible: re-checked on every press, so a stale button is refused."""
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
            await append_event(
                session,
                at=now,
                area_id=actor.area_id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action=f"action.{target.value}",
                subject=case.reference,
                details={"action": action.id},
            )
            agency = await session.get(Agency, action.agency_id)
            area = await session.get(Area, actor.area_id)
            assert agency is not None and area is not None
            return await self._view(session, action, case, agency.name, self._today(area))

    async def colleagues(self, actor: Actor, action_id: int) -> list[tuple[int, str]]:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions() as session:
            await self._own_action(session, actor, action_id)
            people = await session.scalars(
                select(Person).where(
                    Person.agency_id == actor.agency_id,
                    Person.deactivated_at.is_(None),
                    Person.id != actor.person_id,
                )
            )
            return [(p.id, await self._name(session, p.id)) for p in people]

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
                timezone=area.timezone,
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
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions() as session:
            rows = await session.execute(
                select(PerpetratorReferral, Case.reference, Agency.name)
                .join(Case, Case.id == PerpetratorReferral.case_id)
                .join(Agency, Agency.id == PerpetratorReferral.service_agency_id)
                .join(Action, Action.id == PerpetratorReferral.action_id)
                .where(
                    PerpetratorReferral.service_agency_id == actor.agency_id,
                    Action.sent_at.is_not(None),
                )
                .order_by(PerpetratorReferral.referred_at)
            )
            views = []
            for referral, reference, service in rows.all():
                state = await self._perp_state(session, referral.id)
                views.append(
                    PerpView(
                        referral.id,
                        reference,
                        service,
                        state,
                        referral.referred_at,
                        perp_next_options(state),
                    )
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
            for idva in await self._idvas(session, area.id, case.id):
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
                    timezone=area.timezone,
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
            await append_event(
                session,
                at=self._deps.clock.now(),
                area_id=actor.area_id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="agency.waiting_time",
                subject=f"agency:{agency.id}",
                details={"weeks": weeks},
            )
            return agency.name

    # -- the coordinator's view -------------------------------------------------------------------

    async def summary(self, actor: Actor) -> tuple[list[AgencyCounts], list[ServiceWaiting]]:
        """Open / done / not possible / overdue per agency, and perpetrator-service waiting."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            area = await session.get(Area, actor.area_id)
            assert area is not None
            today = self._today(area)
            counts: dict[str, list[int]] = {}
            rows = await session.execute(
                select(Action, Agency.name)
                .join(Agency, Agency.id == Action.agency_id)
                .where(Agency.area_id == area.id, Action.sent_at.is_not(None))
            )
            for action, agency_name in rows.all():
                steps = await self._steps(session, action.id)
                state = action_state([ActionState(s.state) for s in steps])
                tally = counts.setdefault(agency_name, [0, 0, 0, 0])
                if state is ActionState.DONE:
                    tally[1] += 1
                elif state is ActionState.NOT_POSSIBLE:
                    tally[2] += 1
                else:
                    tally[0] += 1
                    if action.due_on < today:
                        tally[3] += 1
            agencies = [AgencyCounts(name, *values) for name, values in sorted(counts.items())]
            services = []
            for service in await session.scalars(
                select(Agency).where(
                    Agency.area_id == area.id, Agency.kind == AgencyKind.PERPETRATOR_SERVICE
                )
            ):
                waiting = 0
                pairs: list[tuple[date, date | None]] = []
                for referral in await session.scalars(
                    select(PerpetratorReferral).where(
                        PerpetratorReferral.service_agency_id == service.id
                    )
                ):
                    perp_steps = await session.scalars(
                        select(PerpetratorStep)
                        .where(PerpetratorStep.referral_id == referral.id)
                        .order_by(PerpetratorStep.id)
                    )
                    started = None
                    history = []
                    for step in perp_steps:
                        history.append(PerpState(step.state))
                        if step.state == PerpState.STARTED and started is None:
                            started = step.at.date()
                    if perp_state(history) in (
                        PerpState.REFERRED,
                        PerpState.CONTACT_ATTEMPTED,
                        PerpState.ASSESSED,
                        PerpState.SUITABLE,
                    ):
                        waiting += 1
                    pairs.append((referral.referred_at.date(), started))
                services.append(
                    ServiceWaiting(service.name, waiting, service.waiting_weeks, median_days(pairs))
                )
            return agencies, services

    async def minutes(self, actor: Actor, meeting_id: int) -> tuple[str, bytes]:
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            meeting, area = await self._meeting(session, actor, meeting_id)
            rows = await session.execute(
                select(Action, Case, Agency.name)
                .join(Case, Case.id == Action.case_id)
                .join(Agency, Agency.id == Action.agency_id)
                .where(Action.meeting_id == meeting.id)
                .order_by(Case.reference, Action.id)
            )
            lines = []
            for action, case, agency_name in rows.all():
                view = await self._view(session, action, case, agency_name, self._today(area))
                lines.append(
                    MinutesRow(
                        reference=case.reference,
                        agency=agency_name,
                        action=view.text,
                        due=format_uk_date(action.due_on),
                        state=view.state.value,
                    )
                )
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
        """From 09:00 on working days: one chase a day per overdue action; escalate after 3."""
        now = self._deps.clock.now()
        queued = 0
        async with self._deps.sessions.begin() as session:
            for area in await session.scalars(select(Area)):
                local = now.astimezone(ZoneInfo(area.timezone))
                today = local.date()
                if local.time() < CHASE_HOUR or not is_working_day(today):
                    continue
                rows = await session.execute(
                    select(Action, Case)
                    .join(Case, Case.id == Action.case_id)
                    .where(
                        Case.area_id == area.id,
                        Action.sent_at.is_not(None),
                        Action.due_on < today,
                    )
                )
                for action, case in rows.all():
                    steps = await self._steps(session, action.id)
                    if not is_open(action_state([ActionState(s.state) for s in steps])):
                        continue
                    for person in await self._reps_of(session, action.agency_id, case.id):
                        queued += await enqueue(
                            session,
                            dedupe_key=f"action:{action.id}:overdue:{today.isoformat()}:{person.id}",
                            chat_id=person.telegram_user_id,
                            kind="action_overdue",
                            text=texts.action_overdue(
                                case.reference, format_uk_date(action.due_on)
                            ),
                            now=now,
                            area_id=area.id,
                            person_id=person.id,
                            buttons=self._buttons(action.id),
                            timezone=area.timezone,
                            expires_at=now + timedelta(hours=12),
                        )
                    if today >= overdue_escalation_due(action.due_on):
                        agency = await session.get(Agency, action.agency_id)
                        assert agency is not None
                        for person in await self._coordinators(session, area.id, case.id):
                            queued += await enqueue(
                                session,
                                dedupe_key=f"action:{action.id}:escalated:{person.id}",
                                chat_id=person.telegram_user_id,
                                kind="action_escalated",
                                text=texts.action_escalated(
                                    case.reference, agency.name, format_uk_date(action.due_on)
                                ),
                                now=now,
                                area_id=area.id,
                                person_id=person.id,
                                timezone=area.timezone,
                            )
        return queued

    # -- helpers ----------------------------------------------------------------------------------

    def _buttons(self, action_id: int) -> list[list[tuple[str, str]]]:
        return [
            [("Accept", f"act:acc:{action_id}"), ("Done", f"act:done:{action_id}")],
            [("Not possible", f"act:np:{action_id}"), ("Reassign", f"act:re:{action_id}")],
        ]

    async def _send_action(
        self, session: AsyncSession, action: Action, area: Area, today: date, now: datetime
    ) -> None:
        case = await session.get(Case, action.case_id)
        assert case is not None
        chase_at = datetime.combine(
            acceptance_chase_due(today), CHASE_HOUR, ZoneInfo(area.timezone)
        )
        for person in await self._reps_of(session, action.agency_id, case.id):
            await enqueue(
                session,
                dedupe_key=f"action:{action.id}:assigned:{person.id}",
                chat_id=person.telegram_user_id,
                kind="action_assigned",
                text=texts.action_assigned(
                    case.reference, format_uk_date(action.due_on), action.priority == "high"
                ),
                now=now,
                area_id=area.id,
                person_id=person.id,
                buttons=self._buttons(action.id),
                timezone=area.timezone,
            )
            await enqueue(
                session,
                dedupe_key=f"action:{action.id}:accept_chase:{person.id}",
                chat_id=person.telegram_user_id,
                kind="action_accept_chase",
                text=texts.action_accept_chase(case.reference),
                now=now,
                due_at=chase_at,
                area_id=area.id,
                person_id=person.id,
                buttons=self._buttons(action.id),
                timezone=area.timezone,
            )

    async def _queue_perp_follow_up(
        self,
        session: AsyncSession,
        referral: PerpetratorReferral,
        area: Area,
        today: date,
        now: datetime,
    ) -> None:
        case = await session.get(Case, referral.case_id)
        assert case is not None
        due = datetime.combine(first_contact_chase_due(today), CHASE_HOUR, ZoneInfo(area.timezone))
        for person in await self._reps_of(session, referral.service_agency_id, case.id):
            await enqueue(
                session,
                dedupe_key=f"perp:{referral.id}:first_contact:{person.id}",
                chat_id=person.telegram_user_id,
                kind="perpetrator_chase",
                text=texts.perpetrator_first_contact_chase(case.reference),
                now=now,
                due_at=due,
                area_id=area.id,
                person_id=person.id,
                timezone=area.timezone,
            )
        await self._queue_stale_chase(session, referral, area, today, now, 0)

    async def _queue_stale_chase(
        self,
        session: AsyncSession,
        referral: PerpetratorReferral,
        area: Area,
        today: date,
        now: datetime,
        step_id: int,
    ) -> None:
        """No change for 20 working days: chase the service, and tell the coordinator."""
        case = await session.get(Case, referral.case_id)
        assert case is not None
        due = datetime.combine(stale_chase_due(today), CHASE_HOUR, ZoneInfo(area.timezone))
        people = [
            *await self._reps_of(session, referral.service_agency_id, case.id),
            *await self._coordinators(session, area.id, case.id),
        ]
        for person in people:
            await enqueue(
                session,
                dedupe_key=f"perp:{referral.id}:stale:{step_id}:{person.id}",
                chat_id=person.telegram_user_id,
                kind="perpetrator_stale",
                text=texts.perpetrator_stale(case.reference),
                now=now,
                due_at=due,
                area_id=area.id,
                person_id=person.id,
                timezone=area.timezone,
            )

    async def _referrals_of(
        self, session: AsyncSession, action_ids: list[int]
    ) -> list[PerpetratorReferral]:
        if not action_ids:
            return []
        rows = await session.scalars(
            select(PerpetratorReferral).where(PerpetratorReferral.action_id.in_(action_ids))
        )
        return list(rows)

    async def _reps_of(self, session: AsyncSession, agency_id: int, case_id: int) -> list[Person]:
        people = await session.scalars(
            select(Person).where(
                Person.agency_id == agency_id,
                Person.deactivated_at.is_(None),
                Person.role.in_((Role.AGENCY_REP, Role.PERPETRATOR_REP)),
            )
        )
        return [p for p in people if not await self._excluded(session, case_id, p.id)]

    async def _coordinators(
        self, session: AsyncSession, area_id: int, case_id: int
    ) -> list[Person]:
        people = await session.scalars(
            select(Person).where(
                Person.area_id == area_id,
                Person.role == Role.COORDINATOR,
                Person.deactivated_at.is_(None),
            )
        )
        return [p for p in people if not await self._excluded(session, case_id, p.id)]

    async def _idvas(self, session: AsyncSession, area_id: int, case_id: int) -> list[Person]:
        people = await session.scalars(
            select(Person)
            .join(Agency, Agency.id == Person.agency_id)
            .where(
                Person.area_id == area_id,
                Person.deactivated_at.is_(None),
                Agency.kind == AgencyKind.IDVA,
            )
        )
        return [p for p in people if not await self._excluded(session, case_id, p.id)]

    async def _excluded(self, session: AsyncSession, case_id: int, person_id: int) -> bool:
        return await is_excluded(session, case_id, person_id)

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
        if (
            action is None
            or action.agency_id != actor.agency_id
            or action.sent_at is None
            or await self._excluded(session, action.case_id, actor.person_id)
        ):
            raise NotFound(texts.ACTION_NOT_FOUND)
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
        steps = await self._steps(session, action.id)
        state = action_state([ActionState(s.state) for s in steps])
        text = texts.NAME_ERASED
        if case.data_key_id and action.text_sealed:
            text = await self._deps.vault.open(
                session, case.data_key_id, action_context(action.id), action.text_sealed
            )
        last_by = await self._name(session, steps[-1].by_person_id) if steps else None
        return ActionView(
            action.id,
            case.reference,
            agency_name,
            text,
            action.due_on,
            action.priority,
            state,
            last_by,
            is_open(state) and action.due_on < today,
        )

    async def _name(self, session: AsyncSession, person_id: int | None) -> str:
        return await person_name(session, self._deps.vault, person_id)

    def _today(self, area: Area) -> date:
        return self._deps.clock.now().astimezone(ZoneInfo(area.timezone)).date()

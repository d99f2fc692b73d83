"""Recording a case's action plan at the meeting, and sending it when the meeting closes."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    delete,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actions.entry import ActionDraft, parse_action_line
from bot.actions.states import (
    ActionState,
    PerpState,
    acceptance_chase_due,
    action_due_date,
)
from bot.actor import Actor
from bot.dates import format_uk_date
from bot.errors import NotFound, ServiceError
from bot.meetings.recurrence import local_to_utc
from bot.permissions import Operation, authorise
from bot.services.actions.common import (
    CHASE_HOUR,
    ActionBase,
    ActionView,
    Closed,
    _Audience,
    action_context,
)
from bot.services.actions.meeting_record import queue_minutes_reminder
from bot.services.audited import audit_by
from bot.services.case_access import (
    Shown,
    record_views,
    visible,
)
from bot.services.idva import tell_case_idva
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar
from bot.vocabulary import AgencyKind
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgendaItem,
    Area,
    Case,
    Meeting,
    PerpetratorReferral,
    PerpetratorStep,
)


class ActionPlans(ActionBase):
    """Recording, withdrawing and sending a meeting's actions."""

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
            meeting, area, case, key = await self._listed_case(session, actor, meeting_id, case_id)
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
                session, key, action_context(action.id), draft.text
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
            await audit_by(
                session,
                actor,
                at=now,
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
            # The victim's IDVA hears that the case's action plan is recorded.
            planned: dict[int, int] = {}
            for action in actions:
                planned[action.case_id] = planned.get(action.case_id, 0) + 1
            for case_id, count in sorted(planned.items()):
                case = await session.get(Case, case_id)
                assert case is not None
                await tell_case_idva(
                    session,
                    case,
                    key=f"plan:{meeting.id}",
                    kind="idva_plan",
                    text=texts.idva_plan_notice(case.reference, count),
                    now=now,
                )
            await queue_minutes_reminder(session, meeting, area, now)
            await audit_by(
                session,
                actor,
                at=now,
                action="meeting.closed",
                subject=f"meeting:{meeting.id}",
                details={"actions": len(actions), "unreached": len(unreached)},
            )
            return Closed(len(actions), unreached)

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

"""Perpetrator-service referrals followed step by step, with the case's IDVA told."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import (
    bindparam,
    select,
    union,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath, Level, Part, identifiers_shown
from bot.actions.states import (
    END_REASON_LABELS,
    PERP_FINAL,
    PERP_LABELS,
    PerpState,
    Told,
    TransitionRefused,
    check_contact_date,
    check_perp_move,
    end_reason_of,
    perp_next_options,
)
from bot.actor import Actor
from bot.dates import format_uk_date
from bot.errors import NotFound, ServiceError
from bot.meetings.recurrence import local_to_utc
from bot.meetings.workdays import add_working_days
from bot.permissions import Operation, authorise
from bot.referrals.validation import InputError
from bot.services.actions.common import (
    CHASE_HOUR,
    ActionBase,
    PerpView,
    _chunks,
    _perp_latest_state,
    _Recipient,
    perp_context,
)
from bot.services.audited import audit_by
from bot.services.case_access import (
    Receivers,
    Shown,
    not_excluded,
    receivers,
    record_views,
    require,
    visible,
)
from bot.services.case_identifiers import open_identifiers
from bot.services.idva_allocations import allocated_idvas
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar
from bot.vocabulary import AgencyKind, PerpEndReason
from storage.models import (
    Action,
    Agency,
    AgendaItem,
    Area,
    Case,
    PerpetratorReferral,
    PerpetratorStep,
    Person,
    ResearchReturn,
)

# Asked with every /actions (issue #20): built once.
_SERVICE_REFERRALS = (
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
        PerpetratorReferral.service_agency_id
        == bindparam("agency_id", type_=PerpetratorReferral.service_agency_id.type),
        Action.sent_at.is_not(None),
        not_excluded(bindparam("person_id"), Action.case_id),  # must-not-receive here too
    )
    .order_by(PerpetratorReferral.referred_at, PerpetratorReferral.id)
)


class PerpetratorWork(ActionBase):
    """A perpetrator service's referrals and their steps."""

    async def perpetrator_referrals(
        self, actor: Actor, *, path: CasePath = CasePath.PERPETRATOR_REFERRALS
    ) -> list[PerpView]:
        """The service's referrals, oldest first, each with where it stands: one statement.

        The state is the latest step, looked up inside the statement, rather than one
        query per referral; a referral's history only ever grows by legal steps
        (``move_perpetrator`` checks each), so its latest step is what replaying gives.
        """
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            rows = await session.execute(
                _SERVICE_REFERRALS, {"agency_id": actor.agency_id, "person_id": actor.person_id}
            )
            found = rows.all()
            seen = await visible(session, actor, {row[5] for row in found}, path, now)
            found = [row for row in found if row[5] in seen]
            history = await self._perp_histories(session, [int(row[0]) for row in found])
            probation = await self._probation_involved(session, set(seen))
            # The workspace page names the person being assessed; the chat list does not.
            named = path is CasePath.ACTIONS_PAGE
            views = []
            shown: dict[str, Level] = {}
            for referral_id, referred_at, reference, service, latest, case_id in found:
                shown[str(reference)] = seen[case_id]
                steps = history.get(int(referral_id), [])
                state = PerpState(latest)
                parts = identifiers_shown(seen[case_id], actor.role, actor.agency_kind)
                harm = None
                if named and Part.PERSON_CAUSING_HARM in parts:
                    case = await session.get(Case, case_id)
                    assert case is not None
                    opened = await open_identifiers(
                        session, self._deps.vault, case, frozenset({Part.PERSON_CAUSING_HARM})
                    )
                    harm = opened.person_causing_harm
                views.append(
                    PerpView(
                        int(referral_id),
                        str(reference),
                        str(service),
                        state,
                        referred_at,
                        perp_next_options(state),
                        harm,
                        planned_on=next(
                            (day for st, day, _ in reversed(steps) if day is not None), None
                        ),
                        end_reason=end_reason_of(state, steps[-1][2] if steps else None),
                        probation=case_id in probation,
                        sessions_attended=sum(st is PerpState.SESSION_ATTENDED for st, *_ in steps),
                        sessions_missed=sum(st is PerpState.SESSION_MISSED for st, *_ in steps),
                    )
                )
            await record_views(
                session,
                actor,
                [Shown(ref, level) for ref, level in shown.items()],
                path,
                now,
            )
            return views

    async def move_perpetrator(
        self,
        actor: Actor,
        referral_id: int,
        target: PerpState,
        reason: str | None = None,
        *,
        planned_on: date | None = None,
        end_reason: PerpEndReason | None = None,
    ) -> PerpView:
        """Each step is stored and told to the case's allocated IDVA: the safety plan depends
        on it. With no allocated IDVA who may receive the case, the coordinators are told
        instead, and the text says so; never every IDVA of the area.

        "Contact planned" carries the day first contact is planned for and goes out at
        once (the urgent lane), so the IDVA can plan the victim's safety before it; "ended"
        carries its coded reason.
        """
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
            today = self._today(area)
            current = await self._perp_state(session, referral.id)
            if target is not PerpState.CONTACT_PLANNED:
                planned_on = None
            if target is not PerpState.ENDED:
                end_reason = None
            try:
                check_perp_move(
                    current, target, reason, planned_on=planned_on, end_reason=end_reason
                )
                if planned_on is not None:
                    check_contact_date(planned_on, today)
            except TransitionRefused as refused:
                raise ServiceError(str(refused)) from refused
            except InputError as problem:
                raise ServiceError(str(problem)) from problem
            if target is PerpState.NOT_SUITABLE:
                end_reason = PerpEndReason.UNSUITABLE
            step = PerpetratorStep(
                referral_id=referral.id,
                state=target,
                at=now,
                by_person_id=actor.person_id,
                planned_on=planned_on,
                end_reason=end_reason,
            )
            session.add(step)
            await session.flush()
            if reason:
                step.reason_sealed = await self._deps.vault.seal(
                    session, case.data_key_id, perp_context(step.id), reason
                )
            await cancel_outbox(session, dedupe_key_prefix=f"perp:{referral.id}:", now=now)
            if target not in PERP_FINAL:
                await self._queue_stale_chase(session, referral, area, today, now, step.id)
            if planned_on is not None:
                await self._queue_planned_contact_chase(
                    session, referral, area, planned_on, now, step.id
                )
            service = await session.get(Agency, referral.service_agency_id)
            assert service is not None
            told = await self._told_of(session, area.id, case.id, now)
            note = ""
            if told.who is Told.COORDINATORS_NO_IDVA:
                note = texts.NOTE_NO_IDVA
            elif told.who is Told.COORDINATORS_IDVA_UNREACHABLE:
                note = texts.NOTE_IDVA_UNREACHABLE
            if planned_on is not None:
                text = texts.perpetrator_contact_planned(
                    case.reference, service.name, format_uk_date(planned_on), note
                )
            else:
                text = texts.perpetrator_update(
                    case.reference,
                    service.name,
                    PERP_LABELS[target],
                    end_reason=END_REASON_LABELS[end_reason] if end_reason else None,
                    note=note,
                )
            for person in told.people:
                await enqueue(
                    session,
                    dedupe_key=f"perpinfo:{referral.id}:{step.id}:{person.id}",
                    chat_id=person.chat_id,
                    kind="perpetrator_update",
                    text=text,
                    now=now,
                    area_id=area.id,
                    person_id=person.id,
                    # Before any contact: the safety plan cannot wait for the next batch.
                    urgent=planned_on is not None,
                    case_ids=[case.id],
                    checked=told.allowed,
                )
            await audit_by(
                session,
                actor,
                at=now,
                action=f"perpetrator.{target.value}",
                subject=case.reference,
                details={
                    "told": told.who.value,
                    "told_people": ",".join(str(p.id) for p in told.people),
                },
            )
            return PerpView(
                referral.id,
                case.reference,
                service.name,
                target,
                referral.referred_at,
                perp_next_options(target),
                planned_on=planned_on,
                end_reason=end_reason,
                told=told.who,
                told_name=told.name,
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

    async def _perp_histories(
        self, session: AsyncSession, referral_ids: list[int]
    ) -> dict[int, list[tuple[PerpState, date | None, str | None]]]:
        """Each referral's steps (state, planned day, end reason), oldest first: one
        statement per 500 referrals."""
        found: dict[int, list[tuple[PerpState, date | None, str | None]]] = {}
        for chunk in _chunks(referral_ids):
            rows = await session.execute(
                select(
                    PerpetratorStep.referral_id,
                    PerpetratorStep.state,
                    PerpetratorStep.planned_on,
                    PerpetratorStep.end_reason,
                )
                .where(PerpetratorStep.referral_id.in_(chunk))
                .order_by(PerpetratorStep.referral_id, PerpetratorStep.id)
            )
            for referral_id, state, planned_on, end_reason in rows.all():
                found.setdefault(referral_id, []).append((PerpState(state), planned_on, end_reason))
        return found

    async def _probation_involved(self, session: AsyncSession, case_ids: set[int]) -> set[int]:
        """The cases probation is known to be involved in, from what MARAC recorded: an
        action for a probation agency, or a probation research return with information.
        Anything else is "not known": MARAC's records cannot say probation is not involved."""
        if not case_ids:
            return set()
        probation = select(Agency.id).where(Agency.kind == AgencyKind.PROBATION)
        found: set[int] = set()
        for chunk in _chunks(sorted(case_ids)):
            acted = select(Action.case_id).where(
                Action.case_id.in_(chunk), Action.agency_id.in_(probation)
            )
            researched = (
                select(AgendaItem.case_id)
                .join(ResearchReturn, ResearchReturn.agenda_item_id == AgendaItem.id)
                .where(
                    AgendaItem.case_id.in_(chunk),
                    ResearchReturn.agency_id.in_(probation),
                    ResearchReturn.outcome == "information",
                )
            )
            found.update(int(c) for c in await session.scalars(union(acted, researched)))
        return found

    async def _told_of(
        self, session: AsyncSession, area_id: int, case_id: int, now: datetime
    ) -> _Told:
        """Who hears of a step on this case's referral: its allocated IDVA if the policy lets
        them receive it; otherwise the area's coordinators who may (and why them)."""
        allocated = (await allocated_idvas(session, [case_id])).get(case_id)
        if allocated is not None:
            person = await session.get(Person, allocated)
            if person is not None and person.deactivated_at is None and person.area_id == area_id:
                allowed = await receivers(session, [(case_id, person.id)], now)
                if allowed.allows([case_id], person.id):
                    name = await self._name(session, person.id)
                    recipient = _Recipient(person.id, person.telegram_user_id)
                    return _Told([recipient], allowed, Told.IDVA, name)
        _, coordinators = await self._people_for(session, area_id, ())
        allowed = await receivers(session, [(case_id, p.id) for p in coordinators], now)
        people = [p for p in coordinators if allowed.allows([case_id], p.id)]
        if not people:
            return _Told([], allowed, Told.NOBODY, None)
        if allocated is None:
            return _Told(people, allowed, Told.COORDINATORS_NO_IDVA, None)
        return _Told(people, allowed, Told.COORDINATORS_IDVA_UNREACHABLE, None)

    async def _queue_planned_contact_chase(
        self,
        session: AsyncSession,
        referral: PerpetratorReferral,
        area: Area,
        planned_on: date,
        now: datetime,
        step_id: int,
    ) -> None:
        """The working day after the planned contact, ask the service whether it happened;
        any later step on the referral cancels it."""
        case = await session.get(Case, referral.case_id)
        assert case is not None
        audience = await self._audience(
            session, area.id, {(case.id, referral.service_agency_id)}, now
        )
        calendar = await area_calendar(session, area.id)
        due = local_to_utc(
            add_working_days(planned_on, 1, calendar.closed), CHASE_HOUR, area.timezone
        )
        for person in audience.reps_for(referral.service_agency_id, case.id):
            await enqueue(
                session,
                dedupe_key=f"perp:{referral.id}:planned:{step_id}:{person.id}",
                chat_id=person.chat_id,
                kind="perpetrator_chase",
                text=texts.perpetrator_planned_contact_chase(
                    case.reference, format_uk_date(planned_on)
                ),
                now=now,
                due_at=due,
                area_id=area.id,
                person_id=person.id,
                case_ids=[case.id],
                checked=audience.allowed,
            )


@dataclass(frozen=True)
class _Told:
    people: list[_Recipient]
    allowed: Receivers
    who: Told
    name: str | None

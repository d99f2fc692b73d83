"""Perpetrator-service referrals followed step by step, with the case's IDVA told."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath, Level, Part, identifiers_shown
from bot.actions.states import (
    PERP_LABELS,
    PerpState,
    TransitionRefused,
    check_perp_move,
    perp_next_options,
)
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise
from bot.referrals.validation import InputError
from bot.services.actions.common import (
    ActionBase,
    PerpView,
    _perp_latest_state,
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
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
from bot.vocabulary import AgencyKind
from storage.models import (
    Action,
    Agency,
    Area,
    Case,
    PerpetratorReferral,
    PerpetratorStep,
    Person,
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
            seen = await visible(session, actor, {row[5] for row in found}, path, now)
            # The workspace page names the person being assessed; the chat list does not.
            named = path is CasePath.ACTIONS_PAGE
            views = []
            shown: dict[str, Level] = {}
            for referral_id, referred_at, reference, service, latest, case_id in found:
                if case_id not in seen:
                    continue
                shown[str(reference)] = seen[case_id]
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
            await audit_by(
                session,
                actor,
                at=now,
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

"""Referrals: sealed drafts, submission with a case reference, repeat detection, urgent alerts.

A person causing harm who appears in cases of different victims within 3 years
(matched on a blind index, as repeat victims are) is flagged to the coordinators.

Every step of a draft is sealed under the draft's own data key; on submit the
answers move into the case's sealed columns and the draft's key is destroyed.
Notifications go into the outbox in the same transaction, by reference only.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.actor import Actor
from bot.buttons import REPEAT_CONFIRM, REPEAT_REJECT, TRIAGE_ACCEPT, TRIAGE_ASK, TRIAGE_DECLINE
from bot.dates import format_local
from bot.errors import ServiceError
from bot.logging_setup import describe
from bot.permissions import Operation, authorise
from bot.referrals import flow
from bot.referrals.criteria import CriterionChoice, Thresholds, assess_urgency, determine_criterion
from bot.referrals.dash import Answer
from bot.referrals.dash_forms import DashForm
from bot.referrals.status import CaseStep, format_reference
from bot.referrals.validation import InputError, age_on
from bot.services.audited import audit_by
from bot.services.case_access import receivers
from bot.services.deps import ServiceDeps
from bot.services.idva import notify_idva_service
from bot.services.outbox import enqueue
from bot.services.policy import area_policy
from bot.vocabulary import Criterion, Role
from storage.audit import append_event
from storage.crypto import FieldContext
from storage.models import (
    Agency,
    Area,
    AreaPolicy,
    Case,
    CaseCounter,
    CaseEvent,
    CaseTransfer,
    DashAssessment,
    Person,
    ReferralDraft,
)
from storage.reclaim import reclaim_erased

log = logging.getLogger("marac.referrals")

SEALED_CASE_COLUMNS = (
    "victim_sealed",
    "perpetrator_sealed",
    "safety_sealed",
    "risk_sealed",
    "household_sealed",
    "summary_sealed",
)
# Cases of different victims with the same person causing harm are linked within 3 years.
SERIAL_WINDOW_DAYS = 1096
SERIAL_PERPETRATOR = "serial_perpetrator"  # the CaseEvent kind recording such a link
# The CaseEvent kind recording that the referrer reviewed the checklist against the concerns.
DASH_STORY_CHECKED = "dash_story_checked"


@dataclass(frozen=True)
class DraftState:
    payload: flow.Payload
    updated_at: datetime
    thresholds: Thresholds


@dataclass(frozen=True)
class Submitted:
    case_id: int
    reference: str
    criterion: Criterion
    urgent: bool
    possible_repeat_of: str | None


def draft_context(draft_id: int) -> FieldContext:
    return FieldContext("referral_drafts", "payload", draft_id)


def case_context(case_id: int, column: str) -> FieldContext:
    return FieldContext("cases", column, case_id)


def thresholds_of(policy: AreaPolicy) -> Thresholds:
    return Thresholds(dash=policy.dash_threshold, escalation=policy.escalation_threshold)


async def same_perpetrator_cases(session: AsyncSession, case: Case) -> list[Case]:
    """Other victims' cases in the area with the same person causing harm, newest first.

    Matched on the perpetrator's blind index (no index, e.g. "unknown", never matches)
    within 3 years either side of this case's referral; the same victim again is a
    repeat, not a serial case.
    """
    if case.perpetrator_index is None:
        return []
    window = timedelta(days=SERIAL_WINDOW_DAYS)
    rows = await session.scalars(
        select(Case)
        .where(
            Case.area_id == case.area_id,
            Case.perpetrator_index == case.perpetrator_index,
            Case.victim_index != case.victim_index,
            Case.id != case.id,
            Case.referred_at >= case.referred_at - window,
            Case.referred_at <= case.referred_at + window,
        )
        .order_by(Case.referred_at.desc(), Case.id.desc())
    )
    return list(rows)


async def recent_transfer_into(
    session: AsyncSession, area_id: int, victim_index: str, now: datetime, days: int
) -> CaseTransfer | None:
    """The latest transfer of the same victim into this area within the repeat window, asked
    or accepted (a declined one never came): matched on the victim's blind index under this
    area's key, which the request stores for the receiving area."""
    found: CaseTransfer | None = await session.scalar(
        select(CaseTransfer)
        .where(
            CaseTransfer.to_area_id == area_id,
            CaseTransfer.victim_index == victim_index,
            CaseTransfer.requested_at >= now - timedelta(days=days),
            (CaseTransfer.decision.is_(None)) | (CaseTransfer.decision == "accepted"),
        )
        .order_by(CaseTransfer.id.desc())
        .limit(1)
    )
    return found


async def next_reference(session: AsyncSession, area: Area, now: datetime) -> str:
    """The area's next case reference for the year on its clock (NOR-2026-0042)."""
    year = now.astimezone(ZoneInfo(area.timezone)).year
    for _ in range(3):
        number = await session.scalar(
            update(CaseCounter)
            .where(CaseCounter.area_id == area.id, CaseCounter.year == year)
            .values(last=CaseCounter.last + 1)
            .returning(CaseCounter.last)
        )
        if number is not None:
            return format_reference(area.code, year, int(number))
        try:
            async with session.begin_nested():
                session.add(CaseCounter(area_id=area.id, year=year, last=1))
            return format_reference(area.code, year, 1)
        except IntegrityError:
            continue
    raise RuntimeError("could not allocate a case reference")


class ReferralService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    # -- drafts ------------------------------------------------------------------------------

    async def current_draft(self, actor: Actor) -> DraftState | None:
        authorise(actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions.begin() as session:
            draft = await self._draft(session, actor)
            if draft is None:
                return None
            payload = await self._open_draft(session, draft)
            policy = await area_policy(session, actor.area_id)
            return DraftState(payload, draft.updated_at, thresholds_of(policy))

    async def start(self, actor: Actor) -> DraftState:
        """A fresh draft; an older one is erased first (crypto-shredded)."""
        authorise(actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            await self._erase_drafts(session, [actor.person_id])
            policy = await area_policy(session, actor.area_id)
            draft = ReferralDraft(
                person_id=actor.person_id,
                area_id=actor.area_id,
                started_at=now,
                updated_at=now,
                expires_at=now + timedelta(days=policy.draft_ttl_days),
            )
            session.add(draft)
            await session.flush()
            draft.data_key_id = await self._deps.vault.create_data_key(session, "draft")
            payload = flow.new_payload()
            await self._seal_draft(session, draft, payload)
            await audit_by(
                session, actor, at=now, action="referral.draft_started", subject=f"draft:{draft.id}"
            )
            return DraftState(payload, now, thresholds_of(policy))

    async def answer(self, actor: Actor, raw: str) -> DraftState:
        """Apply a typed answer to the current step and save at once; bad input changes nothing."""
        return await self._update(
            actor, None, lambda p, t: flow.answer(p, raw, today=self._today(), thresholds=t)
        )

    async def choose(self, actor: Actor, step_number: int, option: int) -> DraftState:
        """A pressed button: it only counts if it belongs to the question being asked now."""
        key = flow.ORDER[step_number] if 0 <= step_number < len(flow.ORDER) else ""

        def change(payload: flow.Payload, thresholds: Thresholds) -> flow.Payload:
            options = flow.options_for(key, payload, thresholds)
            if not 0 <= option < len(options):
                raise ServiceError(texts.STALE_QUESTION)
            value = options[option][0]
            return flow.answer(payload, value, today=self._today(), thresholds=thresholds)

        return await self._update(actor, key, change)

    async def back(self, actor: Actor, step_number: int) -> DraftState:
        key = flow.ORDER[step_number] if 0 <= step_number < len(flow.ORDER) else ""
        return await self._update(actor, key, lambda p, t: flow.back(p))

    async def discard(self, actor: Actor) -> bool:
        authorise(actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions.begin() as session:
            erased = await self._erase_drafts(session, [actor.person_id])
            if erased:
                await audit_by(
                    session, actor, at=self._deps.clock.now(), action="referral.draft_discarded"
                )
            return erased > 0

    async def erase_expired_drafts(self) -> int:
        """Drafts nobody finished are erased after their time (7 days by default)."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            owners = list(
                await session.scalars(
                    select(ReferralDraft.person_id).where(ReferralDraft.expires_at <= now)
                )
            )
            erased = await self._erase_drafts(session, owners)
            if erased:
                await append_event(
                    session,
                    at=now,
                    action="referral.drafts_expired",
                    details={"count": erased},
                )
        if erased:
            # The drafts' sealed answers and wrapped keys are dead rows until vacuumed.
            try:
                await reclaim_erased(self._deps.sessions, ("referral_drafts", "data_keys"))
            except Exception as error:  # erased already; autovacuum comes later anyway
                log.warning("could not vacuum after erasing drafts: %s", describe(error))
        return erased

    # -- submission ----------------------------------------------------------------------------

    async def submit(self, actor: Actor, step_number: int) -> Submitted:
        authorise(actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        ring = self._deps.vault.key_ring
        async with self._deps.sessions.begin() as session:
            draft = await self._draft(session, actor)
            if draft is None:
                raise ServiceError(texts.NO_DRAFT)
            payload = await self._open_draft(session, draft)
            if payload["step"] != "review" or step_number != flow.step_number("review"):
                raise ServiceError(texts.STALE_QUESTION)
            policy = await area_policy(session, actor.area_id)
            area = await session.get(Area, actor.area_id)
            assert area is not None
            answers = flow.dash_answers(payload)
            yes = sum(1 for a in answers.values() if a is Answer.YES)
            # Keyed per area: the same victim in another area gets an unrelated value.
            victim_index = ring.blind_index(
                "victim",
                str(payload["victim_name"]),
                str(payload["victim_dob"]),
                area_id=actor.area_id,
            )
            match = await self._recent_case_of(
                session, actor.area_id, victim_index, now, policy.repeat_window_days
            )
            transfer = await recent_transfer_into(
                session, actor.area_id, victim_index, now, policy.repeat_window_days
            )
            choice = CriterionChoice(
                chosen=Criterion(payload["criterion"]),
                judgement_reason=payload.get("judgement_reason"),
                police_incidents_12m=payload.get("police_incidents"),
                repeat_confirmed=match is not None,
            )
            try:
                criterion = determine_criterion(yes, choice, thresholds_of(policy))
            except InputError as problem:
                if choice.chosen is Criterion.REPEAT:
                    payload = flow.restart_criterion(payload)
                    await self._seal_draft(session, draft, payload)
                    raise ServiceError(texts.REFERRAL_NEEDS_REPEAT_MATCH) from problem
                raise ServiceError(str(problem)) from problem
            urgency = assess_urgency(answers, bool(payload.get("urgent")))

            reference = await self._next_reference(session, area, now)
            victim_dob = date.fromisoformat(str(payload["victim_dob"]))
            perp_dob = date.fromisoformat(payload["perp_dob"]) if payload.get("perp_dob") else None
            case = Case(
                area_id=actor.area_id,
                reference=reference,
                referred_at=now,
                referred_by_id=actor.person_id,
                referring_agency_id=actor.agency_id,
                criterion=criterion,
                dash_yes=yes,
                dash_not_known=sum(1 for a in answers.values() if a is Answer.NOT_KNOWN),
                police_incidents_12m=payload.get("police_incidents"),
                urgent=urgency.urgent,
                consent_given=bool(payload.get("consent")),
                children_count=(
                    len(payload["children"])
                    if isinstance(payload.get("children"), list)
                    else int(payload.get("children_count", 0))
                ),
                victim_gender=payload.get("victim_gender"),
                victim_lgbt=payload.get("victim_lgbt"),
                victim_disabled=payload.get("victim_disabled"),
                victim_minoritised=payload.get("victim_minoritised"),
                victim_aged_16_17=age_on(victim_dob, now.date()) < 18,
                perpetrator_under_18=(age_on(perp_dob, now.date()) < 18) if perp_dob else None,
                victim_index=victim_index,
                perpetrator_index=(
                    ring.blind_index(
                        "perpetrator",
                        payload["perp_name"],
                        payload.get("perp_dob") or "",
                        area_id=actor.area_id,
                    )
                    if payload.get("perp_name")
                    else None
                ),
            )
            session.add(case)
            await session.flush()
            case.data_key_id = await self._deps.vault.create_data_key(session, "case")
            await self._seal_case(session, case, payload, urgency.reasons)
            session.add(
                CaseEvent(
                    case_id=case.id, kind=CaseStep.SUBMITTED, at=now, by_person_id=actor.person_id
                )
            )
            form = flow.form_of(payload)
            session.add(
                DashAssessment(
                    case_id=case.id,
                    assessed_at=now,
                    by_person_id=actor.person_id,
                    form=form.value,
                    dash_yes=None if form is DashForm.DARA else case.dash_yes,
                    dash_not_known=None if form is DashForm.DARA else case.dash_not_known,
                    dara_level=payload.get("dara_level") if form is DashForm.DARA else None,
                )
            )
            checks = flow.story_checks(payload)
            if checks:
                session.add(
                    CaseEvent(
                        case_id=case.id,
                        kind=DASH_STORY_CHECKED,
                        at=now,
                        by_person_id=actor.person_id,
                    )
                )
            if match is not None:
                session.add(
                    CaseEvent(
                        case_id=case.id,
                        kind=CaseStep.REPEAT_SUGGESTED,
                        at=now,
                        related_case_id=match.id,
                    )
                )
            if urgency.urgent:
                session.add(CaseEvent(case_id=case.id, kind=CaseStep.URGENT_ALERTED, at=now))
            serial = await same_perpetrator_cases(session, case)
            if serial:
                session.add(
                    CaseEvent(
                        case_id=case.id,
                        kind=SERIAL_PERPETRATOR,
                        at=now,
                        related_case_id=serial[0].id,
                    )
                )
            await self._erase_drafts(session, [actor.person_id])
            await audit_by(
                session,
                actor,
                at=now,
                action="case.referred",
                subject=reference,
                details={
                    "criterion": criterion.value,
                    "urgent": urgency.urgent,
                    "repeat": match is not None,
                    "transfer": transfer is not None,
                    "serial": bool(serial),
                    "dash_form": form.value,
                    # Which mentions the referrer was asked to review and what they chose:
                    # the kind of concern and the question only, never the words.
                    "story_checks": ",".join(
                        f"{c['concern']}:q{c['question']}:{c['choice']}" for c in checks
                    ),
                },
            )
            await self._notify_submission(
                session, actor, case, match, urgency.reasons, policy, now, transfer
            )
            await self._notify_serial(session, case, serial, now)
            await notify_idva_service(session, case, now)
            return Submitted(
                case.id, reference, criterion, urgency.urgent, match.reference if match else None
            )

    async def _notify_submission(
        self,
        session: AsyncSession,
        actor: Actor,
        case: Case,
        match: Case | None,
        urgent_reasons: tuple[str, ...],
        policy: AreaPolicy,
        now: datetime,
        transfer: CaseTransfer | None = None,
    ) -> None:
        agency = await session.get(Agency, actor.agency_id) if actor.agency_id else None
        text = texts.new_referral(
            case.reference,
            texts.CRITERION_NAMES[case.criterion.value],
            case.dash_yes,
            agency.name if agency else actor.area_name,
            match.reference if match else None,
        )
        if transfer is not None:
            # The same victim was recently transferred here from another MARAC (asked, or
            # accepted): said by date and, once accepted, the case opened here; the sending
            # MARAC's reference is not this area's to hear.
            area = await session.get(Area, case.area_id)
            new = await session.get(Case, transfer.new_case_id) if transfer.new_case_id else None
            text += "\n" + texts.transfer_found_at_referral(
                format_local(transfer.requested_at, area.timezone if area else "Europe/London"),
                new.reference if new else None,
            )
        buttons = [
            [
                TRIAGE_ACCEPT(texts.BUTTON_ACCEPT, case.id),
                TRIAGE_ASK(texts.BUTTON_ASK_FOR_INFORMATION, case.id),
            ],
            [TRIAGE_DECLINE(texts.BUTTON_DECLINE, case.id)],
        ]
        if match is not None:
            buttons.append(
                [
                    REPEAT_CONFIRM(texts.button_confirm_repeat(match.reference), case.id, match.id),
                    REPEAT_REJECT(texts.BUTTON_NOT_THE_SAME_PERSON, case.id, match.id),
                ]
            )
        recipients = await self._people(session, case.area_id, roles={Role.COORDINATOR})
        for person in recipients:
            await enqueue(
                session,
                dedupe_key=f"case:{case.id}:triage:{person.id}",
                chat_id=person.telegram_user_id,
                kind="triage",
                text=text,
                now=now,
                area_id=case.area_id,
                person_id=person.id,
                buttons=buttons,
                urgent=case.urgent,
                case_ids=[case.id],
            )
        if case.urgent:
            alert = texts.urgent_alert(case.reference, urgent_reasons, policy.out_of_hours_route)
            on_call = await self._people(
                session, case.area_id, roles={Role.COORDINATOR}, on_call=True
            )
            for person in on_call:
                await enqueue(
                    session,
                    dedupe_key=f"case:{case.id}:urgent:{person.id}",
                    chat_id=person.telegram_user_id,
                    kind="urgent",
                    text=alert,
                    now=now,
                    area_id=case.area_id,
                    person_id=person.id,
                    urgent=True,
                    case_ids=[case.id],
                )

    async def _notify_serial(
        self, session: AsyncSession, case: Case, others: list[Case], now: datetime
    ) -> None:
        """Tell every active coordinator, by reference only, of other victims' cases."""
        if not others:
            return
        recipients = await self._people(session, case.area_id, roles={Role.COORDINATOR})
        case_ids = [case.id, *(other.id for other in others)]
        allowed = await receivers(
            session, [(c, person.id) for person in recipients for c in case_ids], now
        )
        for person in recipients:
            visible = [other for other in others if allowed.allows([other.id], person.id)]
            if not allowed.allows([case.id], person.id) or not visible:
                continue
            await enqueue(
                session,
                dedupe_key=f"case:{case.id}:serial:{person.id}",
                chat_id=person.telegram_user_id,
                kind="serial_perpetrator",
                text=texts.serial_perpetrator_alert(case.reference, [o.reference for o in visible]),
                now=now,
                area_id=case.area_id,
                person_id=person.id,
                urgent=False,
                case_ids=[case.id, *(o.id for o in visible)],
                checked=allowed,
            )

    async def _people(
        self, session: AsyncSession, area_id: int, *, roles: set[Role], on_call: bool = False
    ) -> list[Person]:
        """Active coordinators (plus on-call contacts); a brand-new case has no exclusions yet."""
        query = select(Person).where(Person.area_id == area_id, Person.deactivated_at.is_(None))
        if on_call:
            query = query.where((Person.role.in_(roles)) | (Person.on_call.is_(True)))
        else:
            query = query.where(Person.role.in_(roles))
        return list(await session.scalars(query.order_by(Person.id)))

    # -- helpers -------------------------------------------------------------------------------

    def _today(self) -> date:
        return self._deps.clock.now().astimezone(ZoneInfo(self._deps.default_timezone)).date()

    async def _update(
        self,
        actor: Actor,
        step_key: str | None,
        change: Callable[[flow.Payload, Thresholds], flow.Payload],
    ) -> DraftState:
        authorise(actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            draft = await self._draft(session, actor)
            if draft is None:
                raise ServiceError(texts.NO_DRAFT)
            payload = await self._open_draft(session, draft)
            if step_key is not None and payload["step"] != step_key:
                raise ServiceError(texts.STALE_QUESTION)
            policy = await area_policy(session, actor.area_id)
            thresholds = thresholds_of(policy)
            try:
                payload = change(payload, thresholds)
            except InputError as problem:
                raise ServiceError(str(problem)) from problem
            await self._seal_draft(session, draft, payload)
            draft.updated_at = now
            draft.expires_at = now + timedelta(days=policy.draft_ttl_days)
            return DraftState(payload, now, thresholds)

    async def _draft(self, session: AsyncSession, actor: Actor) -> ReferralDraft | None:
        draft = await session.scalar(
            select(ReferralDraft).where(ReferralDraft.person_id == actor.person_id)
        )
        if draft is not None and draft.expires_at <= self._deps.clock.now():
            await self._erase_drafts(session, [actor.person_id])
            return None
        return draft

    async def _open_draft(self, session: AsyncSession, draft: ReferralDraft) -> flow.Payload:
        assert draft.data_key_id is not None and draft.payload_sealed is not None
        raw = await self._deps.vault.open(
            session, draft.data_key_id, draft_context(draft.id), draft.payload_sealed
        )
        payload: flow.Payload = json.loads(raw)
        return payload

    async def _seal_draft(
        self, session: AsyncSession, draft: ReferralDraft, payload: flow.Payload
    ) -> None:
        assert draft.data_key_id is not None
        draft.payload_sealed = await self._deps.vault.seal(
            session, draft.data_key_id, draft_context(draft.id), json.dumps(payload)
        )

    async def _erase_drafts(self, session: AsyncSession, person_ids: list[int]) -> int:
        if not person_ids:
            return 0
        drafts = list(
            await session.scalars(
                select(ReferralDraft).where(ReferralDraft.person_id.in_(person_ids))
            )
        )
        keys = [d.data_key_id for d in drafts if d.data_key_id]
        await session.execute(
            delete(ReferralDraft).where(ReferralDraft.id.in_([d.id for d in drafts]))
        )
        await self._deps.vault.destroy(session, keys)
        return len(drafts)

    async def _seal_case(
        self,
        session: AsyncSession,
        case: Case,
        payload: flow.Payload,
        urgent_reasons: tuple[str, ...],
    ) -> None:
        parts: dict[str, dict[str, Any] | str] = {
            "victim_sealed": {
                "name": payload["victim_name"],
                "dob": payload["victim_dob"],
                "aliases": payload.get("victim_aliases"),
                "address": payload.get("victim_address"),
            },
            "perpetrator_sealed": {
                "name": payload.get("perp_name"),
                "dob": payload.get("perp_dob"),
                "address": payload.get("perp_address"),
            },
            "safety_sealed": {
                key: payload.get(key)
                for key in (
                    "safe_to_contact",
                    "safe_details",
                    "victim_aware",
                    "consent",
                    "consent_reason",
                )
            },
            "risk_sealed": {
                "dash": payload.get("dash", {}),
                "dash_form": flow.form_of(payload).value,
                "dash_extra": payload.get("dash_extra", {}),
                "dara_level": payload.get("dara_level"),
                "story_checks": flow.story_checks(payload),
                "judgement_reason": payload.get("judgement_reason"),
                "urgent_reasons": list(urgent_reasons),
            },
            "household_sealed": {
                # Each child as a person (a draft begun before they were asked for as people
                # holds a count and ages only, kept as they were).
                "children": payload.get("children"),
                "children_ages": payload.get("children_ages", []),
                "relationship": payload.get("relationship"),
            },
            "summary_sealed": str(payload.get("summary", "")),
        }
        assert case.data_key_id is not None
        for column, value in parts.items():
            plain = value if isinstance(value, str) else json.dumps(value)
            sealed = await self._deps.vault.seal(
                session, case.data_key_id, case_context(case.id, column), plain
            )
            setattr(case, column, sealed)

    async def _recent_case_of(
        self, session: AsyncSession, area_id: int, victim_index: str, now: datetime, days: int
    ) -> Case | None:
        found: Case | None = await session.scalar(
            select(Case)
            .where(
                Case.area_id == area_id,
                Case.victim_index == victim_index,
                Case.referred_at >= now - timedelta(days=days),
            )
            .order_by(Case.referred_at.desc())
            .limit(1)
        )
        return found

    async def _next_reference(self, session: AsyncSession, area: Area, now: datetime) -> str:
        return await next_reference(session, area, now)

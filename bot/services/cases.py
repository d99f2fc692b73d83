"""Triage of referrals and the case card, shown at the level the access policy allows.

``bot.access`` decides what a person may see of a case; the card opens only that: the
summary, then the identifiers agencies research on, then the referral as submitted
(safety details, concerns), then what every agency returned. People on a case's "must not
receive" list see nothing, as if the case did not exist. Links to other victims' cases
with the same person causing harm are shown, by reference, to those who see everything.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bot import texts
from bot.access import NEEDS, CasePath, Level, Part, identifiers_shown
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise, is_allowed
from bot.referrals.status import (
    CLOSED_STEPS,
    CaseStep,
    can_triage,
    repeat_decision,
    triage_status,
)
from bot.services.audited import audit_by
from bot.services.case_access import Shown, record_views, require, visible
from bot.services.case_identifiers import children_of, harm_address_shown
from bot.services.dash_assessments import assessments_of
from bot.services.deps import ServiceDeps
from bot.services.idva import tell_case_idva
from bot.services.idva_allocations import allocated_idvas
from bot.services.meetings import Listing, list_case, research_context
from bot.services.names import person_name
from bot.services.outbox import enqueue
from bot.services.referrals import (
    SERIAL_PERPETRATOR,
    case_context,
    same_perpetrator_cases,
)
from bot.vocabulary import AgencyKind, Role
from storage.crypto import FieldContext
from storage.models import (
    Agency,
    AgendaItem,
    Case,
    CaseEvent,
    CaseExclusion,
    Person,
    ResearchReturn,
    VictimContact,
)

# The case a case repeats. Made once: a new alias per call would cost more than the query,
# and would give every statement a new cache key, so it would be compiled afresh each time.
_REPEATED = aliased(Case, name="repeated")


@dataclass(frozen=True)
class Identifying:
    """What the card opens beyond the summary, as far as the reader's level allows."""

    # None where the reader may not see the victim (``identifiers_shown``: a perpetrator
    # service); the address is left out where they may not see it.
    victim: dict[str, object] | None
    perpetrator: dict[str, object]
    household: dict[str, object]
    # The referral as submitted (level REFERRAL and above); None for research identifiers only.
    safety: dict[str, object] | None = None
    summary: str | None = None
    judgement_reason: str | None = None
    notes: list[tuple[datetime, str, str]] = field(default_factory=list)  # (when, step, note)
    # (when, agency, note) of agencies' research: for those who see everything.
    research: list[tuple[datetime, str, str]] = field(default_factory=list)
    # Each child as the referral gave them; None when the reader may not see the children
    # (``identifiers_shown``: never a perpetrator service).
    children: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class CaseCard:
    id: int
    reference: str
    status: CaseStep
    criterion: str
    dash_yes: int
    dash_not_known: int
    referred_at: datetime
    referring_agency: str
    urgent: bool
    children_count: int
    repeat_of: str | None
    possible_repeats: list[tuple[int, str]]
    history: list[tuple[datetime, str, str]]  # (when, step, who)
    identifying: Identifying | None = None
    level: Level = Level.SUMMARY
    may_triage: bool = False
    may_decide_repeat: bool = False
    excluded_people: list[str] = field(default_factory=list)
    # References of other victims' cases with the same person causing harm (within 3 years);
    # only the coordinator and chair see them, and never names.
    serial_links: list[str] = field(default_factory=list)
    # The IDVA service: whether the reader sees who holds the case (coordinators, the chair and
    # the IDVA service do), who does, and the latest recorded contact (when, outcome).
    shows_idva: bool = False
    idva: str | None = None
    idva_contact: tuple[datetime, str] | None = None
    # What the reader may do about it: take it, reallocate it, record contact.
    may_take: bool = False
    may_reallocate: bool = False
    may_record_contact: bool = False
    # Each DASH (or DARA) assessment, oldest first: the referral's, then any reassessments.
    assessments: list[DashLine] = field(default_factory=list)
    # The form the referral's risk assessment came from (the first assessment's).
    dash_form: str = "safelives"
    dara_level: str | None = None
    # Whether the reader may record a new DASH (the REASSESSMENT path's level, and open).
    may_reassess: bool = False


@dataclass(frozen=True)
class DashLine:
    """One assessment on the card: when, by whom, on which form, with what result."""

    assessed_at: datetime
    by: str
    form: str
    dash_yes: int | None
    dash_not_known: int | None
    dara_level: str | None


def _str_or_none(value: object) -> str | None:
    return str(value).strip() or None if value is not None else None


class CaseService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def card(self, actor: Actor, reference: str) -> CaseCard:
        return await self._card_where(actor, Case.reference == reference.strip().upper())

    async def status(self, actor: Actor, reference: str) -> CaseCard:
        """The card without the identifiers or the referral (nothing of them is decrypted):
        what the chat shows where the case workspace does the reading."""
        return await self._card_where(
            actor, Case.reference == reference.strip().upper(), CasePath.CASE_CARD, details=False
        )

    async def card_by_id(
        self, actor: Actor, case_id: int, *, path: CasePath = CasePath.CASE_CARD
    ) -> CaseCard:
        """``path`` says where it is shown: the chat, or the case workspace's page."""
        return await self._card_where(actor, Case.id == case_id, path)

    async def _card_where(
        self,
        actor: Actor,
        which: ColumnElement[bool],
        path: CasePath = CasePath.CASE_CARD,
        *,
        details: bool = True,
    ) -> CaseCard:
        """The card, and the audit event saying who saw it, in one transaction.

        The case comes with its referring agency's name and the reference it repeats in one
        query, since ``/case`` is among the commonest updates.
        """
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            found = (
                await session.execute(
                    select(Case, Agency.name, _REPEATED.reference)
                    .outerjoin(Agency, Agency.id == Case.referring_agency_id)
                    .outerjoin(_REPEATED, _REPEATED.id == Case.repeat_of_case_id)
                    .where(which)
                )
            ).one_or_none()
            case, level = await self._visible(session, actor, found[0] if found else None, path)
            assert found is not None
            card = await self._card(
                session, actor, case, level, found[1], found[2], details=details
            )
            shown = level if details else min(level, Level.SUMMARY)
            await record_views(session, actor, [Shown(case.reference, shown)], path, now)
            return card

    # -- triage --------------------------------------------------------------------------------

    async def accept(self, actor: Actor, case_id: int) -> tuple[str, Listing | None]:
        """Accepted cases go straight onto the next meeting whose cut-off has not passed."""
        listing: list[Listing] = []
        reference = await self._triage(actor, case_id, CaseStep.ACCEPTED, None, listing)
        return reference, listing[0] if listing else None

    async def request_information(self, actor: Actor, case_id: int, note: str) -> str:
        return await self._triage(actor, case_id, CaseStep.INFO_REQUESTED, note)

    async def decline(self, actor: Actor, case_id: int, reason: str) -> str:
        return await self._triage(actor, case_id, CaseStep.DECLINED, reason)

    async def _triage(
        self,
        actor: Actor,
        case_id: int,
        step: CaseStep,
        note: str | None,
        listing: list[Listing] | None = None,
    ) -> str:
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await session.get(Case, case_id, with_for_update=True)
            case, _ = await self._visible(session, actor, case, CasePath.TRIAGE)
            events = await self._events(session, case.id)
            status = triage_status(e.kind for e in events)
            if not can_triage(status):
                last = next(e for e in reversed(events) if e.kind == status)
                who = await self._name(session, last.by_person_id)
                raise ServiceError(texts.already_triaged(case.reference, status.value, who))
            event = CaseEvent(case_id=case.id, kind=step, at=now, by_person_id=actor.person_id)
            session.add(event)
            await session.flush()
            if note is not None and case.data_key_id:
                event.note_sealed = await self._deps.vault.seal(
                    session, case.data_key_id, FieldContext("case_events", "note", event.id), note
                )
            await audit_by(
                session, actor, at=now, action=f"case.{step.value}", subject=case.reference
            )
            if step is CaseStep.ACCEPTED and listing is not None:
                await session.flush()
                listing.append(await list_case(session, case, now, actor.person_id))
            referrer = await session.get(Person, case.referred_by_id)
            if referrer is not None:
                await enqueue(
                    session,
                    dedupe_key=f"case:{case.id}:{step.value}:{event.id}",
                    chat_id=referrer.telegram_user_id,
                    kind=f"triage_{step.value}",
                    text=texts.triage_outcome(case.reference, step.value),
                    now=now,
                    area_id=case.area_id,
                    person_id=referrer.id,
                    case_ids=[case.id],
                )
            await tell_case_idva(
                session,
                case,
                key=f"{step.value}:{event.id}",
                kind="idva_triage",
                text=texts.idva_triage_notice(case.reference, step.value),
                now=now,
                skip=[case.referred_by_id],
            )
            return case.reference

    async def decide_repeat(
        self, actor: Actor, case_id: int, other_case_id: int, confirmed: bool
    ) -> str:
        """The referrer or a coordinator confirms or rejects a suggested repeat match."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await session.get(Case, case_id, with_for_update=True)
            case, _ = await self._visible(session, actor, case, CasePath.REPEAT_DECISION)
            if actor.role is not Role.COORDINATOR and case.referred_by_id != actor.person_id:
                raise NotFound(texts.CASE_NOT_FOUND)
            events = await self._events(session, case.id)
            suggested = any(
                e.kind == CaseStep.REPEAT_SUGGESTED and e.related_case_id == other_case_id
                for e in events
            )
            other = await session.get(Case, other_case_id)
            if not suggested or other is None:
                raise NotFound(texts.CASE_NOT_FOUND)
            # The decision names the other case too: only for someone who may hear of it.
            await require(
                session, actor, other.id, CasePath.NOTICE, now, missing=texts.CASE_NOT_FOUND
            )
            decided = repeat_decision(((e.kind, e.related_case_id) for e in events), other_case_id)
            if decided is not None:
                raise ServiceError(texts.repeat_already_decided(other.reference, decided))
            step = CaseStep.REPEAT_CONFIRMED if confirmed else CaseStep.REPEAT_REJECTED
            session.add(
                CaseEvent(
                    case_id=case.id,
                    kind=step,
                    at=now,
                    by_person_id=actor.person_id,
                    related_case_id=other_case_id,
                )
            )
            if confirmed:
                case.repeat_of_case_id = other_case_id
            await audit_by(
                session,
                actor,
                at=now,
                action=f"case.{step.value}",
                subject=case.reference,
                details={"other": other.reference},
            )
            return other.reference

    async def exclude(self, actor: Actor, case_id: int, person_id: int) -> str:
        """Put someone on the case's "must not receive" list (e.g. related to the perpetrator)."""
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case, _ = await self._visible(
                session, actor, await session.get(Case, case_id), CasePath.MUST_NOT_RECEIVE
            )
            person = await session.get(Person, person_id)
            if person is None or person.area_id != actor.area_id:
                raise NotFound(texts.PERSON_NOT_FOUND)
            if person.id == actor.person_id:
                raise ServiceError(texts.CANNOT_EXCLUDE_SELF)
            if not await self._excluded(session, case.id, person.id):
                session.add(
                    CaseExclusion(
                        case_id=case.id,
                        person_id=person.id,
                        added_at=now,
                        added_by_id=actor.person_id,
                    )
                )
                session.add(
                    CaseEvent(
                        case_id=case.id,
                        kind=CaseStep.PERSON_EXCLUDED,
                        at=now,
                        by_person_id=actor.person_id,
                    )
                )
                await audit_by(
                    session,
                    actor,
                    at=now,
                    action="case.person_excluded",
                    subject=case.reference,
                    details={"person": person.id},
                )
            return case.reference

    # -- helpers -------------------------------------------------------------------------------

    async def _visible(
        self, session: AsyncSession, actor: Actor, case: Case | None, path: CasePath
    ) -> tuple[Case, Level]:
        """The case and the reader's level on it, if ``path`` may show it to them; otherwise
        it does not exist for them (the same refusal as an unknown reference)."""
        if case is None:
            raise NotFound(texts.CASE_NOT_FOUND)
        level = await require(
            session, actor, case.id, path, self._deps.clock.now(), missing=texts.CASE_NOT_FOUND
        )
        return case, level

    async def _excluded(self, session: AsyncSession, case_id: int, person_id: int) -> bool:
        """Whether the person is on the case's list already (adding them twice does nothing)."""
        found = await session.scalar(
            select(CaseExclusion.person_id).where(
                CaseExclusion.case_id == case_id, CaseExclusion.person_id == person_id
            )
        )
        return found is not None

    async def _events(self, session: AsyncSession, case_id: int) -> list[CaseEvent]:
        rows = await session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
        return list(rows)

    async def _name(self, session: AsyncSession, person_id: int | None) -> str:
        return await person_name(session, self._deps.vault, person_id)

    async def _card(
        self,
        session: AsyncSession,
        actor: Actor,
        case: Case,
        level: Level,
        agency_name: str | None,
        repeat_of: str | None,
        *,
        details: bool = True,
    ) -> CaseCard:
        # The history with the people who made each step, in one query: their rows land in the
        # session, so naming them below (person_name) reads no row of its own.
        rows = (
            await session.execute(
                select(CaseEvent, Person)
                .outerjoin(Person, Person.id == CaseEvent.by_person_id)
                .where(CaseEvent.case_id == case.id)
                .order_by(CaseEvent.id)
            )
        ).all()
        events = [event for event, _person in rows]
        people = [person for _event, person in rows if person is not None]
        possible: list[tuple[int, str]] = []
        pairs = [(e.kind, e.related_case_id) for e in events]
        for event in events:
            related = event.related_case_id
            suggested = event.kind == CaseStep.REPEAT_SUGGESTED and related is not None
            if suggested and related is not None and repeat_decision(pairs, related) is None:
                other = await session.get(Case, related)
                if other is not None:
                    possible.append((other.id, other.reference))
        sees_serial = level >= Level.FULL
        others = await same_perpetrator_cases(session, case) if sees_serial else []
        linked = [e.related_case_id for e in events if e.kind == SERIAL_PERPETRATOR]
        # Other cases named on this card are named only to someone the policy lets hear of them.
        mentioned = {o.id for o in others} | {r for r in linked if r is not None}
        mentioned |= {other_id for other_id, _ in possible}
        known = await visible(session, actor, mentioned, CasePath.NOTICE, self._deps.clock.now())
        hidden = mentioned - set(known)  # other cases this person must not hear of
        possible = [(other_id, ref) for other_id, ref in possible if other_id in known]
        serial_links = [o.reference for o in others if o.id in known]
        excluded_ids: list[int] = []
        may_triage = level >= Level.FULL and actor.role is Role.COORDINATOR
        if may_triage:
            excluded_rows = await session.execute(
                select(CaseExclusion.person_id, Person)
                .outerjoin(Person, Person.id == CaseExclusion.person_id)
                .where(CaseExclusion.case_id == case.id)
            )
            for person_id, person in excluded_rows.all():
                excluded_ids.append(person_id)
                if person is not None:
                    people.append(person)
        sees_details = details and level >= Level.RESEARCH
        # Every key this card opens, unwrapped with one query rather than one per key.
        await self._deps.vault.preload(
            session,
            [case.data_key_id if sees_details else None] + [p.data_key_id for p in people],
        )
        history = [
            (e.at, e.kind, await self._name(session, e.by_person_id))
            for e in events
            if e.kind != SERIAL_PERPETRATOR or (sees_serial and e.related_case_id not in hidden)
        ]
        identifying = (
            await self._identifying(
                session,
                case,
                events,
                level,
                identifiers_shown(level, actor.role, actor.agency_kind),
            )
            if sees_details
            else None
        )
        if identifying is not None and level >= Level.FULL:
            identifying.research.extend(await self._research(session, case))
        excluded = [await self._name(session, pid) for pid in excluded_ids]
        idva_service = actor.role is Role.AGENCY_REP and actor.agency_kind is AgencyKind.IDVA
        shows_idva = actor.role in (Role.COORDINATOR, Role.CHAIR) or idva_service
        holder = (await allocated_idvas(session, [case.id])).get(case.id) if shows_idva else None
        contact = None
        if holder is not None:
            latest = (
                await session.execute(
                    select(VictimContact.at, VictimContact.outcome)
                    .where(VictimContact.case_id == case.id)
                    .order_by(VictimContact.id.desc())
                    .limit(1)
                )
            ).one_or_none()
            contact = (latest[0], latest[1].value) if latest else None
        assessed = (await assessments_of(session, [case.id]))[case.id]
        assessments = [
            DashLine(
                a.assessed_at,
                await self._name(session, a.by_person_id),
                a.form,
                a.dash_yes,
                a.dash_not_known,
                a.dara_level,
            )
            for a in assessed
        ]
        status = triage_status(e.kind for e in events)
        may_reassess = (
            level >= NEEDS[CasePath.REASSESSMENT]
            and is_allowed(
                actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id
            )
            and status not in CLOSED_STEPS
        )
        return CaseCard(
            id=case.id,
            reference=case.reference,
            status=status,
            criterion=case.criterion.value,
            dash_yes=case.dash_yes,
            dash_not_known=case.dash_not_known,
            referred_at=case.referred_at,
            referring_agency=agency_name or actor.area_name,
            urgent=case.urgent,
            children_count=case.children_count,
            repeat_of=repeat_of,
            possible_repeats=possible,
            history=history,
            identifying=identifying,
            level=level,
            may_triage=may_triage,
            may_decide_repeat=level >= Level.REFERRAL
            and (may_triage or case.referred_by_id == actor.person_id),
            excluded_people=excluded,
            serial_links=serial_links,
            shows_idva=shows_idva,
            idva=await self._name(session, holder) if holder is not None else None,
            idva_contact=contact,
            may_take=idva_service and holder is None,
            may_reallocate=(idva_service or actor.role is Role.COORDINATOR)
            and (holder is not None or actor.role is Role.COORDINATOR),
            may_record_contact=idva_service and holder == actor.person_id,
            assessments=assessments,
            dash_form=assessed[0].form if assessed else "safelives",
            dara_level=assessed[0].dara_level if assessed else None,
            may_reassess=may_reassess,
        )

    async def _research(self, session: AsyncSession, case: Case) -> list[tuple[datetime, str, str]]:
        """What each agency returned for this case, for every meeting it was listed at."""
        rows = await session.execute(
            select(ResearchReturn, Agency.name)
            .join(AgendaItem, AgendaItem.id == ResearchReturn.agenda_item_id)
            .join(Agency, Agency.id == ResearchReturn.agency_id)
            .where(AgendaItem.case_id == case.id)
            .order_by(ResearchReturn.id)
        )
        found: list[tuple[datetime, str, str]] = []
        for row, agency_name in rows.all():
            note = texts.NOTHING_KNOWN
            if row.note_sealed is not None and case.data_key_id:
                note = await self._deps.vault.open(
                    session, case.data_key_id, research_context(row.id), row.note_sealed
                )
            found.append((row.at, agency_name, note))
        return found

    async def _identifying(
        self,
        session: AsyncSession,
        case: Case,
        events: list[CaseEvent],
        level: Level,
        parts: frozenset[Part],
    ) -> Identifying | None:
        """The identifiers, and at REFERRAL and above the referral itself; nothing else is
        opened (its ciphertext stays sealed)."""
        if case.data_key_id is None:
            return None
        vault = self._deps.vault

        async def opened(column: str) -> str:
            sealed = getattr(case, column)
            assert case.data_key_id is not None and sealed is not None
            return await vault.open(
                session, case.data_key_id, case_context(case.id, column), sealed
            )

        household = json.loads(await opened("household_sealed"))
        children = children_of(household, case.children_count) if Part.CHILDREN in parts else None
        victim: dict[str, object] = json.loads(await opened("victim_sealed"))
        perpetrator: dict[str, object] = json.loads(await opened("perpetrator_sealed"))
        if Part.VICTIM_ADDRESS not in parts:
            perpetrator["address"] = harm_address_shown(
                _str_or_none(perpetrator.get("address")), _str_or_none(victim.get("address"))
            )
            victim.pop("address", None)
        identifiers = Identifying(
            victim=victim if Part.VICTIM in parts else None,
            perpetrator=perpetrator,
            # The children are read from ``children`` alone, which says who may see them.
            household={"relationship": household.get("relationship")},
            children=children,
        )
        if level < Level.REFERRAL:
            return identifiers
        risk = json.loads(await opened("risk_sealed"))
        notes: list[tuple[datetime, str, str]] = []
        for event in events:
            if event.note_sealed is not None:
                note = await vault.open(
                    session,
                    case.data_key_id,
                    FieldContext("case_events", "note", event.id),
                    event.note_sealed,
                )
                notes.append((event.at, event.kind, note))
        return replace(
            identifiers,
            safety=json.loads(await opened("safety_sealed")),
            summary=await opened("summary_sealed"),
            judgement_reason=risk.get("judgement_reason"),
            notes=notes,
        )

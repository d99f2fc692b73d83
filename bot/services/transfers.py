"""MARAC-to-MARAC transfer: a case moves with the victim to another area of the deployment.

SafeLives' Marac-to-Marac process: the sending MARAC passes the case, its risk and its
outstanding actions to the MARAC where the victim now lives, and the IDVA hands over. Here:

* the sending area's coordinator asks another area to take the case, with a reason (sealed
  with the case's key). The receiving area's coordinators are sent the request: reference,
  criterion, DASH score and date only, with Accept and Decline. The access policy lets them
  hear of the case by reference while the request is undecided, and nothing more;
* a receiving coordinator accepts: a case of the receiving area is opened from it (the
  victim's and the person causing harm's identifiers, the children, the safety details and
  the DASH answers re-sealed under the new case's key, the blind indexes worked out under
  the receiving area's key, the DASH history copied), the reason and the actions still
  outstanding go with it as information (not as actions of the new area's agencies), the
  two cases name each other in both audit trails, the sending case closes as transferred,
  and the receiving area's IDVA service is told as at referral. Declined, the case stays
  open where it was and the sending coordinator is told;
* the sending case's allocated IDVA writes a handover note (sealed), before or after the
  request; it goes with the case and is read, in the receiving area, by those who hold the
  new case in full. With none written, the receiving side reads "no handover note".

Each request and decision is a row with who and when (``CaseTransfer``); nothing is
overwritten but the decision's own columns, filled once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath, Level
from bot.actor import Actor
from bot.buttons import CASE_OPEN, TRANSFER_ACCEPT, TRANSFER_DECLINE
from bot.dates import format_uk_date
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise
from bot.referrals.status import CLOSED_STEPS, CaseStep, triage_status
from bot.services.actions.common import action_context
from bot.services.audited import audit_by
from bot.services.case_access import Shown, receivers, record_views, require, visible
from bot.services.deps import ServiceDeps
from bot.services.idva import notify_idva_service, tell_case_idva
from bot.services.idva_allocations import allocated_idvas
from bot.services.names import person_name
from bot.services.outbox import enqueue
from bot.services.referrals import case_context, next_reference
from bot.vocabulary import Role
from storage.audit import append_event
from storage.crypto import FieldContext
from storage.models import (
    Action,
    Agency,
    AgendaItem,
    Area,
    Case,
    CaseEvent,
    CaseTransfer,
    DashAssessment,
    HandoverNote,
    Meeting,
    Person,
)

ACCEPTED = "accepted"
DECLINED = "declined"
MAX_REASON_LENGTH = 1000
MAX_NOTE_LENGTH = 3000
# What a transferred case carries, re-sealed under its own key: the victim's and the person
# causing harm's identifiers, the safety details the IDVA needs to make contact safely, the
# DASH answers, the children and the relationship.
CARRIED_COLUMNS = (
    "victim_sealed",
    "perpetrator_sealed",
    "safety_sealed",
    "risk_sealed",
    "household_sealed",
)


def reason_context(transfer_id: int) -> FieldContext:
    return FieldContext("case_transfers", "reason", transfer_id)


def pack_context(transfer_id: int) -> FieldContext:
    return FieldContext("case_transfers", "pack", transfer_id)


def note_context(note_id: int) -> FieldContext:
    return FieldContext("handover_notes", "note", note_id)


@dataclass(frozen=True)
class Destinations:
    case_id: int
    reference: str
    areas: list[tuple[int, str]]


@dataclass(frozen=True)
class TransferRequest:
    """A request as its coordinators see it: the four facts, and where it stands."""

    id: int
    case_id: int
    reference: str
    criterion: str
    dash_yes: int
    referred_at: datetime
    from_area: str
    to_area: str
    requested_at: datetime
    decision: str | None = None
    # The receiving coordinators may decide it while it is undecided.
    may_decide: bool = False


@dataclass(frozen=True)
class Accepted:
    transfer_id: int
    case_id: int  # the new case, in the receiving area
    reference: str
    from_reference: str


@dataclass(frozen=True)
class CarriedAction:
    agency: str
    text: str
    due_on: date


@dataclass(frozen=True)
class Handover:
    """What a case carries from the MARAC it came from, and the IDVA's handover note."""

    case_id: int
    reference: str
    transferred_in: bool
    from_reference: str | None = None
    from_area: str | None = None
    transferred_at: datetime | None = None
    reason: str | None = None
    actions: list[CarriedAction] = field(default_factory=list)
    note: str | None = None
    note_by: str | None = None
    note_at: datetime | None = None
    may_write: bool = False


class TransferService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    # -- the sending coordinator ---------------------------------------------------------------

    async def destinations(self, actor: Actor, case_id: int) -> Destinations:
        """The other areas of the deployment the case may be transferred to."""
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._sendable(session, actor, case_id, now)
            areas = [
                (int(area_id), str(name))
                for area_id, name in await session.execute(
                    select(Area.id, Area.name).where(Area.id != case.area_id).order_by(Area.name)
                )
            ]
            await record_views(
                session, actor, [Shown(case.reference, Level.FULL)], CasePath.TRANSFER, now
            )
            return Destinations(case.id, case.reference, areas)

    async def request(
        self, actor: Actor, case_id: int, to_area_id: int, reason: str
    ) -> TransferRequest:
        """Ask another area to take the case; its coordinators are sent the request."""
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        text = reason.strip()
        if not text:
            raise ServiceError(texts.ASK_TRANSFER_REASON)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._sendable(session, actor, case_id, now, lock=True)
            to_area = await session.get(Area, to_area_id)
            if to_area is None or to_area.id == case.area_id:
                raise NotFound(texts.TRANSFER_AREA_NOT_FOUND)
            assert case.data_key_id is not None and case.victim_sealed is not None
            victim = json.loads(
                await self._deps.vault.open(
                    session,
                    case.data_key_id,
                    case_context(case.id, "victim_sealed"),
                    case.victim_sealed,
                )
            )
            transfer = CaseTransfer(
                case_id=case.id,
                from_area_id=case.area_id,
                to_area_id=to_area.id,
                victim_index=self._deps.vault.key_ring.blind_index(
                    "victim", str(victim.get("name")), str(victim.get("dob")), area_id=to_area.id
                ),
                requested_at=now,
                requested_by_id=actor.person_id,
            )
            session.add(transfer)
            await session.flush()
            transfer.reason_sealed = await self._deps.vault.seal(
                session, case.data_key_id, reason_context(transfer.id), text[:MAX_REASON_LENGTH]
            )
            session.add(
                CaseEvent(
                    case_id=case.id,
                    kind=CaseStep.TRANSFER_REQUESTED,
                    at=now,
                    by_person_id=actor.person_id,
                )
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="case.transfer_requested",
                subject=case.reference,
                details={"transfer": transfer.id, "to_area": to_area.name},
            )
            await session.flush()
            from_area = await session.get(Area, case.area_id)
            assert from_area is not None
            # The receiving coordinators: the policy now lets them hear of the case by
            # reference (the transfer is undecided), and asks again when it is sent.
            people = list(
                await session.scalars(
                    select(Person)
                    .where(
                        Person.area_id == to_area.id,
                        Person.role == Role.COORDINATOR,
                        Person.deactivated_at.is_(None),
                    )
                    .order_by(Person.id)
                )
            )
            allowed = await receivers(session, [(case.id, p.id) for p in people], now)
            for person in people:
                await enqueue(
                    session,
                    dedupe_key=f"transfer:{transfer.id}:request:{person.id}",
                    chat_id=person.telegram_user_id,
                    kind="transfer_request",
                    text=texts.transfer_request_notice(
                        case.reference,
                        from_area.name,
                        texts.CRITERION_NAMES.get(case.criterion.value, case.criterion.value),
                        case.dash_yes,
                        format_uk_date(case.referred_at.astimezone(ZoneInfo(to_area.timezone))),
                    ),
                    now=now,
                    area_id=to_area.id,
                    person_id=person.id,
                    buttons=transfer_buttons(transfer.id),
                    case_ids=[case.id],
                    checked=allowed,
                )
            return _request_view(transfer, case, from_area.name, to_area.name, may_decide=False)

    # -- the receiving coordinators ------------------------------------------------------------

    async def view_request(self, actor: Actor, transfer_id: int) -> TransferRequest:
        """The request, for a coordinator of either area while the policy lets them see it."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            transfer, case = await self._request_for(session, actor, transfer_id, now)
            names = await _area_names(session, transfer)
            await record_views(
                session,
                actor,
                [Shown(case.reference, Level.REFERENCE)],
                CasePath.TRANSFER_REQUEST,
                now,
                transfer=transfer.id,
            )
            return _request_view(
                transfer,
                case,
                *names,
                may_decide=actor.area_id == transfer.to_area_id and transfer.decided_at is None,
            )

    async def decline(self, actor: Actor, transfer_id: int) -> TransferRequest:
        """The receiving area does not take the case: it stays open where it is, and the
        sending coordinator is told."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            transfer, case = await self._decidable(session, actor, transfer_id, now)
            transfer.decided_at = now
            transfer.decided_by_id = actor.person_id
            transfer.decision = DECLINED
            session.add(
                CaseEvent(
                    case_id=case.id,
                    kind=CaseStep.TRANSFER_DECLINED,
                    at=now,
                    by_person_id=actor.person_id,
                )
            )
            names = await _area_names(session, transfer)
            await append_event(
                session,
                at=now,
                area_id=case.area_id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="case.transfer_declined",
                subject=case.reference,
                details={"transfer": transfer.id, "by_area": names[1]},
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="transfer.declined",
                subject=f"transfer:{transfer.id}",
            )
            await self._tell_sender(
                session,
                transfer,
                case,
                "declined",
                texts.transfer_declined_notice(case.reference, names[1]),
                now,
            )
            return _request_view(transfer, case, *names, may_decide=False)

    async def accept(self, actor: Actor, transfer_id: int) -> Accepted:
        """Open the case in the receiving area and close it, as transferred, where it was."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            transfer, case = await self._decidable(session, actor, transfer_id, now)
            if case.data_key_id is None:
                raise ServiceError(texts.TRANSFER_NOT_POSSIBLE)
            new = await self._open_case(session, actor, case, transfer, now)
            transfer.decided_at = now
            transfer.decided_by_id = actor.person_id
            transfer.decision = ACCEPTED
            transfer.new_case_id = new.id
            # The new case waits for the receiving MARAC's triage (no triage step yet: submitted).
            session.add_all(
                [
                    CaseEvent(
                        case_id=case.id,
                        kind=CaseStep.TRANSFERRED,
                        at=now,
                        by_person_id=actor.person_id,
                        related_case_id=new.id,
                    ),
                    CaseEvent(
                        case_id=new.id,
                        kind=CaseStep.TRANSFERRED_IN,
                        at=now,
                        by_person_id=actor.person_id,
                        related_case_id=case.id,
                    ),
                ]
            )
            # It is heard where the victim now lives: off the sending MARAC's coming agendas.
            await session.execute(
                update(AgendaItem)
                .where(
                    AgendaItem.case_id == case.id,
                    AgendaItem.removed_at.is_(None),
                    AgendaItem.meeting_id.in_(
                        select(Meeting.id).where(
                            Meeting.starts_at > now,
                            Meeting.closed_at.is_(None),
                            Meeting.cancelled_at.is_(None),
                        )
                    ),
                )
                .values(removed_at=now, removed_by_id=actor.person_id)
            )
            names = await _area_names(session, transfer)
            # Each case's trail names the other: the sending area's, then the receiving one's.
            await append_event(
                session,
                at=now,
                area_id=case.area_id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="case.transferred_out",
                subject=case.reference,
                details={"transfer": transfer.id, "other": new.reference, "to_area": names[1]},
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="case.transferred_in",
                subject=new.reference,
                details={"transfer": transfer.id, "other": case.reference, "from_area": names[0]},
            )
            await self._carry_note(session, case, new, now)
            await self._tell_sender(
                session,
                transfer,
                case,
                "accepted",
                texts.transfer_accepted_notice(case.reference, names[1]),
                now,
            )
            await tell_case_idva(
                session,
                case,
                key=f"transferred:{transfer.id}",
                kind="idva_transferred",
                text=texts.idva_transferred_out_notice(case.reference, names[1]),
                now=now,
            )
            await session.flush()
            await notify_idva_service(session, new, now, transferred_in=True)
            return Accepted(transfer.id, new.id, new.reference, case.reference)

    # -- the IDVA's handover note ----------------------------------------------------------------

    async def write_handover(self, actor: Actor, case_id: int, note: str) -> str:
        """The sending case's allocated IDVA writes (or rewrites) the handover note; once the
        transfer is accepted it goes to the new case at once too. Returns the reference."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        text = note.strip()
        if not text:
            raise ServiceError(texts.ASK_HANDOVER_NOTE)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            await require(
                session, actor, case_id, CasePath.HANDOVER, now, missing=texts.CASE_NOT_FOUND
            )
            if (await allocated_idvas(session, [case_id])).get(case_id) != actor.person_id:
                raise ServiceError(texts.HANDOVER_ONLY_ALLOCATED_IDVA)
            case = await session.get(Case, case_id, with_for_update=True)
            if case is None or case.data_key_id is None:
                raise NotFound(texts.CASE_NOT_FOUND)
            row = HandoverNote(
                case_id=case.id, from_case_id=case.id, written_at=now, written_by_id=actor.person_id
            )
            session.add(row)
            await session.flush()
            row.note_sealed = await self._deps.vault.seal(
                session, case.data_key_id, note_context(row.id), text[:MAX_NOTE_LENGTH]
            )
            await audit_by(
                session, actor, at=now, action="case.handover_written", subject=case.reference
            )
            accepted = await session.scalar(
                select(CaseTransfer.new_case_id)
                .where(CaseTransfer.case_id == case.id, CaseTransfer.decision == ACCEPTED)
                .order_by(CaseTransfer.id.desc())
                .limit(1)
            )
            new = await session.get(Case, accepted) if accepted else None
            if new is not None:
                await self._carry_note(session, case, new, now)
            return case.reference

    async def read(self, actor: Actor, case_id: int) -> Handover | None:
        """The handover, for the case page of someone who holds the case in full, when there
        is one to show (the case came from another MARAC, or has a note); None otherwise."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            levels = await visible(session, actor, [case_id], CasePath.HANDOVER, now)
            if case_id not in levels:
                return None
            found = await self._handover(session, actor, case_id)
            if not found.transferred_in and found.note is None:
                return None
            shown = [Shown(found.reference, levels[case_id])]
            await record_views(session, actor, shown, CasePath.HANDOVER, now)
            return found

    async def handover(self, actor: Actor, case_id: int) -> Handover:
        """What the case carries from the MARAC it came from and the IDVA's handover note,
        for those who hold it in full; on a sending case, its own note."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            level = await require(
                session, actor, case_id, CasePath.HANDOVER, now, missing=texts.CASE_NOT_FOUND
            )
            found = await self._handover(session, actor, case_id)
            shown = [Shown(found.reference, level)]
            await record_views(session, actor, shown, CasePath.HANDOVER, now)
            return found

    async def _handover(self, session: AsyncSession, actor: Actor, case_id: int) -> Handover:
        case = await session.get(Case, case_id)
        if case is None:
            raise NotFound(texts.CASE_NOT_FOUND)
        found = Handover(
            case.id,
            case.reference,
            False,
            may_write=(await allocated_idvas(session, [case.id])).get(case.id) == actor.person_id,
        )
        transfer = await session.scalar(
            select(CaseTransfer)
            .where(CaseTransfer.new_case_id == case.id, CaseTransfer.decision == ACCEPTED)
            .order_by(CaseTransfer.id.desc())
            .limit(1)
        )
        if transfer is not None:
            sender = await session.get(Case, transfer.case_id)
            names = await _area_names(session, transfer)
            pack: dict[str, Any] = {}
            if transfer.pack_sealed is not None and case.data_key_id is not None:
                pack = json.loads(
                    await self._deps.vault.open(
                        session,
                        case.data_key_id,
                        pack_context(transfer.id),
                        transfer.pack_sealed,
                    )
                )
            found = Handover(
                case.id,
                case.reference,
                True,
                from_reference=sender.reference if sender else None,
                from_area=names[0],
                transferred_at=transfer.decided_at,
                reason=pack.get("reason"),
                actions=[
                    CarriedAction(a["agency"], a["text"], date.fromisoformat(a["due"]))
                    for a in pack.get("actions", [])
                ],
                may_write=False,
            )
        note = await session.scalar(
            select(HandoverNote)
            .where(HandoverNote.case_id == case.id)
            .order_by(HandoverNote.id.desc())
            .limit(1)
        )
        if note is not None and note.note_sealed is not None and case.data_key_id:
            found = _with_note(
                found,
                await self._deps.vault.open(
                    session, case.data_key_id, note_context(note.id), note.note_sealed
                ),
                await person_name(session, self._deps.vault, note.written_by_id),
                note.written_at,
            )
        return found

    # -- helpers -----------------------------------------------------------------------------

    async def _sendable(
        self,
        session: AsyncSession,
        actor: Actor,
        case_id: int,
        now: datetime,
        *,
        lock: bool = False,
    ) -> Case:
        """The case, for a coordinator who runs it, while it is open and no transfer of it
        is waiting for an answer."""
        await require(session, actor, case_id, CasePath.TRANSFER, now, missing=texts.CASE_NOT_FOUND)
        if actor.role is not Role.COORDINATOR:
            raise NotFound(texts.CASE_NOT_FOUND)
        case = await session.get(Case, case_id, with_for_update=lock)
        if case is None:
            raise NotFound(texts.CASE_NOT_FOUND)
        steps = await session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
        if triage_status(steps) in CLOSED_STEPS:
            raise ServiceError(texts.transfer_case_closed(case.reference))
        waiting = await session.scalar(
            select(func.count())
            .select_from(CaseTransfer)
            .where(CaseTransfer.case_id == case.id, CaseTransfer.decided_at.is_(None))
        )
        if waiting:
            raise ServiceError(texts.transfer_already_asked(case.reference))
        return case

    async def _request_for(
        self,
        session: AsyncSession,
        actor: Actor,
        transfer_id: int,
        now: datetime,
        *,
        lock: bool = False,
    ) -> tuple[CaseTransfer, Case]:
        """The transfer, for a coordinator of the sending or the receiving area whom the
        policy lets hear of the case; to anyone else it does not exist."""
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        transfer = await session.get(CaseTransfer, transfer_id, with_for_update=lock)
        if transfer is None or actor.area_id not in (transfer.from_area_id, transfer.to_area_id):
            raise NotFound(texts.TRANSFER_NOT_FOUND)
        if actor.area_id == transfer.to_area_id and transfer.decided_at is not None:
            raise ServiceError(texts.transfer_already_decided(transfer.decision or ""))
        await require(
            session,
            actor,
            transfer.case_id,
            CasePath.TRANSFER_REQUEST,
            now,
            missing=texts.TRANSFER_NOT_FOUND,
        )
        case = await session.get(Case, transfer.case_id)
        if case is None:
            raise NotFound(texts.TRANSFER_NOT_FOUND)
        return transfer, case

    async def _decidable(
        self, session: AsyncSession, actor: Actor, transfer_id: int, now: datetime
    ) -> tuple[CaseTransfer, Case]:
        transfer, case = await self._request_for(session, actor, transfer_id, now, lock=True)
        if actor.area_id != transfer.to_area_id:
            raise ServiceError(texts.TRANSFER_RECEIVING_ONLY)
        await session.refresh(case, with_for_update=True)
        return transfer, case

    async def _open_case(
        self, session: AsyncSession, actor: Actor, case: Case, transfer: CaseTransfer, now: datetime
    ) -> Case:
        """The receiving area's case, opened from the sending one."""
        area = await session.get(Area, transfer.to_area_id)
        assert area is not None and case.data_key_id is not None
        vault, ring = self._deps.vault, self._deps.vault.key_ring
        plain: dict[str, str] = {}
        for column in CARRIED_COLUMNS:
            sealed = getattr(case, column)
            if sealed is not None:
                plain[column] = await vault.open(
                    session, case.data_key_id, case_context(case.id, column), sealed
                )
        victim = json.loads(plain.get("victim_sealed", "{}"))
        harm = json.loads(plain.get("perpetrator_sealed", "{}"))
        new = Case(
            area_id=area.id,
            reference=await next_reference(session, area, now),
            referred_at=now,
            referred_by_id=actor.person_id,
            referring_agency_id=None,
            criterion=case.criterion,
            dash_yes=case.dash_yes,
            dash_not_known=case.dash_not_known,
            police_incidents_12m=case.police_incidents_12m,
            urgent=case.urgent,
            consent_given=case.consent_given,
            children_count=case.children_count,
            victim_gender=case.victim_gender,
            victim_lgbt=case.victim_lgbt,
            victim_disabled=case.victim_disabled,
            victim_minoritised=case.victim_minoritised,
            victim_aged_16_17=case.victim_aged_16_17,
            perpetrator_under_18=case.perpetrator_under_18,
            victim_index=ring.blind_index(
                "victim", str(victim.get("name")), str(victim.get("dob")), area_id=area.id
            ),
            perpetrator_index=(
                ring.blind_index(
                    "perpetrator", str(harm["name"]), str(harm.get("dob") or ""), area_id=area.id
                )
                if harm.get("name")
                else None
            ),
        )
        session.add(new)
        await session.flush()
        new.data_key_id = await vault.create_data_key(session, "case")
        for column, value in plain.items():
            setattr(
                new,
                column,
                await vault.seal(session, new.data_key_id, case_context(new.id, column), value),
            )
        from_area = await session.get(Area, case.area_id)
        new.summary_sealed = await vault.seal(
            session,
            new.data_key_id,
            case_context(new.id, "summary_sealed"),
            texts.transferred_summary(case.reference, from_area.name if from_area else ""),
        )
        for row in await session.scalars(
            select(DashAssessment)
            .where(DashAssessment.case_id == case.id)
            .order_by(DashAssessment.id)
        ):
            session.add(
                DashAssessment(
                    case_id=new.id,
                    assessed_at=row.assessed_at,
                    by_person_id=row.by_person_id,
                    form=row.form,
                    dash_yes=row.dash_yes,
                    dash_not_known=row.dash_not_known,
                    dara_level=row.dara_level,
                )
            )
        reason = None
        if transfer.reason_sealed is not None:
            reason = await vault.open(
                session, case.data_key_id, reason_context(transfer.id), transfer.reason_sealed
            )
        actions = []
        for action, agency in (
            await session.execute(
                select(Action, Agency.name)
                .join(Agency, Agency.id == Action.agency_id)
                .where(
                    Action.case_id == case.id,
                    Action.sent_at.is_not(None),
                    Action.closed_at.is_(None),
                )
                .order_by(Action.due_on, Action.id)
            )
        ).all():
            what = ""
            if action.text_sealed is not None:
                what = await vault.open(
                    session, case.data_key_id, action_context(action.id), action.text_sealed
                )
            actions.append({"agency": agency, "text": what, "due": action.due_on.isoformat()})
        transfer.pack_sealed = await vault.seal(
            session,
            new.data_key_id,
            pack_context(transfer.id),
            json.dumps({"reason": reason, "actions": actions}),
        )
        return new

    async def _carry_note(
        self, session: AsyncSession, case: Case, new: Case, now: datetime
    ) -> None:
        """The sending IDVA's latest note, re-sealed onto the new case."""
        note = await session.scalar(
            select(HandoverNote)
            .where(HandoverNote.case_id == case.id)
            .order_by(HandoverNote.id.desc())
            .limit(1)
        )
        if note is None or note.note_sealed is None or not case.data_key_id or not new.data_key_id:
            return
        text = await self._deps.vault.open(
            session, case.data_key_id, note_context(note.id), note.note_sealed
        )
        copy = HandoverNote(
            case_id=new.id,
            from_case_id=case.id,
            written_at=note.written_at,
            written_by_id=note.written_by_id,
        )
        session.add(copy)
        await session.flush()
        copy.note_sealed = await self._deps.vault.seal(
            session, new.data_key_id, note_context(copy.id), text
        )

    async def _tell_sender(
        self,
        session: AsyncSession,
        transfer: CaseTransfer,
        case: Case,
        what: str,
        text: str,
        now: datetime,
    ) -> None:
        """The coordinator who asked (or, if she has left, her colleagues) hears the answer."""
        people = list(
            await session.scalars(
                select(Person)
                .where(
                    Person.area_id == case.area_id,
                    Person.role == Role.COORDINATOR,
                    Person.deactivated_at.is_(None),
                )
                .order_by(Person.id)
            )
        )
        asked = [p for p in people if p.id == transfer.requested_by_id] or people
        for person in asked:
            await enqueue(
                session,
                dedupe_key=f"transfer:{transfer.id}:{what}:{person.id}",
                chat_id=person.telegram_user_id,
                kind=f"transfer_{what}",
                text=text,
                now=now,
                area_id=case.area_id,
                person_id=person.id,
                buttons=[[CASE_OPEN(texts.BUTTON_OPEN_CASE, case.id)]],
                case_ids=[case.id],
            )


def transfer_buttons(transfer_id: int) -> list[list[tuple[str, str]]]:
    """Accept and Decline, under the request to the receiving coordinators."""
    return [
        [
            TRANSFER_ACCEPT(texts.BUTTON_ACCEPT_TRANSFER, transfer_id),
            TRANSFER_DECLINE(texts.BUTTON_DECLINE_TRANSFER, transfer_id),
        ]
    ]


async def _area_names(session: AsyncSession, transfer: CaseTransfer) -> tuple[str, str]:
    rows = await session.execute(
        select(Area.id, Area.name).where(Area.id.in_([transfer.from_area_id, transfer.to_area_id]))
    )
    names = {int(area_id): str(name) for area_id, name in rows.all()}
    return names.get(transfer.from_area_id, ""), names.get(transfer.to_area_id, "")


def _request_view(
    transfer: CaseTransfer, case: Case, from_area: str, to_area: str, *, may_decide: bool
) -> TransferRequest:
    return TransferRequest(
        id=transfer.id,
        case_id=case.id,
        reference=case.reference,
        criterion=case.criterion.value,
        dash_yes=case.dash_yes,
        referred_at=case.referred_at,
        from_area=from_area,
        to_area=to_area,
        requested_at=transfer.requested_at,
        decision=transfer.decision,
        may_decide=may_decide,
    )


def _with_note(found: Handover, note: str, by: str, at: datetime) -> Handover:
    return replace(found, note=note, note_by=by, note_at=at)

"""Subject access: everything held about the people in one case, for the data protection officer.

The export opens every sealed value of the case (victim, person causing harm, safety,
risk, household, summary, triage notes, research, actions and their notes, perpetrator
service steps, the victim's views and the reasons she could not be told an outcome, any
Clare's Law application linked to it with its safety plan), the
IDVA's allocations and contact attempts, and adds what is coded (criterion, counts,
equality flags), where the case was listed, who must not receive it, and the audit trail
of who did or saw what with it. Staff appear by person id and role only. Producing the
export is itself an audit event (``sar.exported``), written in the same transaction as the reading.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any, Final, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.errors import NotFound
from bot.services.actions import action_context, perp_context, step_context
from bot.services.actions.meeting_record import risk_context
from bot.services.deps import ServiceDeps
from bot.services.dvds import applicant_context, plan_context, subject_context
from bot.services.meetings import research_context
from bot.services.referrals import SEALED_CASE_COLUMNS, case_context
from bot.services.transfers import note_context, pack_context
from bot.services.transfers import reason_context as transfer_reason_context
from bot.services.victim_voice import reason_context, views_context
from storage.audit import append_event
from storage.crypto import FieldContext
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgendaItem,
    Area,
    AuditEvent,
    AuditHead,
    Case,
    CaseEvent,
    CaseExclusion,
    CaseRiskSummary,
    CaseTransfer,
    DashAssessment,
    DvdsApplication,
    DvdsStep,
    HandoverNote,
    IdvaAllocation,
    Meeting,
    PerpetratorReferral,
    PerpetratorStep,
    Person,
    ResearchReturn,
    VictimContact,
    VictimOutcomeReply,
    VictimVoiceEntry,
)

# A case's own rows of one table (each has ``id`` and ``case_id``), read in the order written.
_Row = TypeVar(
    "_Row",
    IdvaAllocation,
    VictimContact,
    VictimVoiceEntry,
    VictimOutcomeReply,
    DashAssessment,
    CaseRiskSummary,
)

EXPORTED_ACTION: Final = "sar.exported"
FORMAT: Final = "marac-bot subject access export v1"
KEY_ERASED: Final = "(not available: the case's data key was destroyed)"

# The case's coded columns, exported as they are stored.
CODED_COLUMNS: Final = (
    "criterion",
    "dash_yes",
    "dash_not_known",
    "police_incidents_12m",
    "urgent",
    "consent_given",
    "children_count",
    "victim_gender",
    "victim_lgbt",
    "victim_disabled",
    "victim_minoritised",
    "victim_aged_16_17",
    "perpetrator_under_18",
)


def _iso(value: date | datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _maybe_json(text: str | None) -> Any:
    """Sealed JSON documents are exported as structure; plain text stays text."""
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


class SubjectAccessService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def export(self, reference: str, *, actor_label: str = "cli") -> bytes:
        """The case as pretty UTF-8 JSON; NotFound if no case has this reference."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await session.scalar(
                select(Case).where(Case.reference == reference.strip().upper())
            )
            if case is None:
                raise NotFound(texts.CASE_NOT_FOUND)
            document = await self._document(session, case, now)
            await append_event(
                session,
                at=now,
                area_id=case.area_id,
                actor_label=actor_label,
                action=EXPORTED_ACTION,
                subject=case.reference,
                details={"audit_events": len(document["audit_trail"])},
            )
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode("utf-8")

    # -- building the document -----------------------------------------------------------------

    async def _open(
        self, session: AsyncSession, case: Case, context: FieldContext, sealed: bytes | None
    ) -> str | None:
        if sealed is None:
            return None
        if case.data_key_id is None:
            return KEY_ERASED
        return await self._deps.vault.open(session, case.data_key_id, context, sealed)

    async def _document(self, session: AsyncSession, case: Case, now: datetime) -> dict[str, Any]:
        area = await session.get(Area, case.area_id)
        agency = (
            await session.get(Agency, case.referring_agency_id)
            if case.referring_agency_id
            else None
        )
        repeat_of = (
            await session.get(Case, case.repeat_of_case_id) if case.repeat_of_case_id else None
        )
        coded: dict[str, Any] = {name: getattr(case, name) for name in CODED_COLUMNS}
        coded["criterion"] = case.criterion.value
        coded.update(
            referred_at=_iso(case.referred_at),
            referred_by_person_id=case.referred_by_id,
            referring_agency=agency.name if agency else None,
            repeat_of=repeat_of.reference if repeat_of else None,
            victim_index=case.victim_index,
            perpetrator_index=case.perpetrator_index,
        )
        sealed: dict[str, Any] = {}
        for column in SEALED_CASE_COLUMNS:
            opened = await self._open(
                session, case, case_context(case.id, column), getattr(case, column)
            )
            sealed[column.removesuffix("_sealed")] = _maybe_json(opened)
        return {
            "format": FORMAT,
            "reference": case.reference,
            "area": area.name if area else None,
            "exported_at": _iso(now),
            "note": texts.SAR_NOTE,
            "case": coded,
            **sealed,
            "case_events": await self._events(session, case),
            "agenda": await self._agenda(session, case),
            "research_returns": await self._research(session, case),
            "actions": await self._actions(session, case),
            "perpetrator_referrals": await self._perpetrator_referrals(session, case),
            **await self._victim_support(session, case),
            "clares_law": await self._clares_law(session, case),
            **await self._transfers(session, case),
            "exclusions": await self._exclusions(session, case),
            "related_cases": await self._related(session, case),
            "audit_trail": await self._audit(session, case),
            **await self._pruning_note(session),
        }

    async def _pruning_note(self, session: AsyncSession) -> dict[str, str]:
        """Tells the data protection officer when the trail's oldest part no longer exists."""
        head = await session.get(AuditHead, 1)
        if head is None or not head.pruned_seq:
            return {}
        return {"audit_trail_note": texts.sar_pruned_note(head.pruned_seq)}

    async def _events(self, session: AsyncSession, case: Case) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
        found = []
        for event in rows:
            related = (
                await session.get(Case, event.related_case_id) if event.related_case_id else None
            )
            found.append(
                {
                    "at": _iso(event.at),
                    "kind": event.kind,
                    "by_person_id": event.by_person_id,
                    "related_case": related.reference if related else None,
                    "note": await self._open(
                        session,
                        case,
                        FieldContext("case_events", "note", event.id),
                        event.note_sealed,
                    ),
                }
            )
        return found

    async def _agenda(self, session: AsyncSession, case: Case) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(AgendaItem, Meeting)
            .join(Meeting, Meeting.id == AgendaItem.meeting_id)
            .where(AgendaItem.case_id == case.id)
            .order_by(AgendaItem.id)
        )
        return [
            {
                "meeting_id": meeting.id,
                "meeting_starts_at": _iso(meeting.starts_at),
                "meeting_cancelled": meeting.cancelled_at is not None,
                "emergency": item.emergency,
                "added_at": _iso(item.added_at),
                "removed_at": _iso(item.removed_at),
            }
            for item, meeting in rows.all()
        ]

    async def _research(self, session: AsyncSession, case: Case) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(ResearchReturn, Agency.name, Meeting.starts_at)
            .join(AgendaItem, AgendaItem.id == ResearchReturn.agenda_item_id)
            .join(Meeting, Meeting.id == AgendaItem.meeting_id)
            .join(Agency, Agency.id == ResearchReturn.agency_id)
            .where(AgendaItem.case_id == case.id)
            .order_by(ResearchReturn.id)
        )
        found = []
        for row, agency_name, starts_at in rows.all():
            found.append(
                {
                    "at": _iso(row.at),
                    "agency": agency_name,
                    "meeting_starts_at": _iso(starts_at),
                    "outcome": row.outcome,
                    "by_person_id": row.by_person_id,
                    "note": await self._open(
                        session, case, research_context(row.id), row.note_sealed
                    ),
                }
            )
        return found

    async def _actions(self, session: AsyncSession, case: Case) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(Action, Agency.name)
            .join(Agency, Agency.id == Action.agency_id)
            .where(Action.case_id == case.id)
            .order_by(Action.id)
        )
        found = []
        for action, agency_name in rows.all():
            meeting = await session.get(Meeting, action.meeting_id) if action.meeting_id else None
            steps = await session.scalars(
                select(ActionStep).where(ActionStep.action_id == action.id).order_by(ActionStep.id)
            )
            found.append(
                {
                    "agency": agency_name,
                    "text": await self._open(
                        session, case, action_context(action.id), action.text_sealed
                    ),
                    "due_on": _iso(action.due_on),
                    "priority": action.priority,
                    "meeting_starts_at": _iso(meeting.starts_at) if meeting else None,
                    "created_at": _iso(action.created_at),
                    "created_by_person_id": action.created_by_id,
                    "sent_at": _iso(action.sent_at),
                    "steps": [
                        {
                            "state": step.state,
                            "at": _iso(step.at),
                            "by_person_id": step.by_person_id,
                            "assigned_to_person_id": step.assigned_to_id,
                            "note": await self._open(
                                session, case, step_context(step.id), step.note_sealed
                            ),
                        }
                        for step in steps
                    ],
                }
            )
        return found

    async def _perpetrator_referrals(
        self, session: AsyncSession, case: Case
    ) -> list[dict[str, Any]]:
        rows = await session.execute(
            select(PerpetratorReferral, Agency.name)
            .join(Agency, Agency.id == PerpetratorReferral.service_agency_id)
            .where(PerpetratorReferral.case_id == case.id)
            .order_by(PerpetratorReferral.id)
        )
        found = []
        for referral, service in rows.all():
            steps = await session.scalars(
                select(PerpetratorStep)
                .where(PerpetratorStep.referral_id == referral.id)
                .order_by(PerpetratorStep.id)
            )
            found.append(
                {
                    "service": service,
                    "referred_at": _iso(referral.referred_at),
                    "steps": [
                        {
                            "state": step.state,
                            "at": _iso(step.at),
                            "by_person_id": step.by_person_id,
                            "reason": await self._open(
                                session, case, perp_context(step.id), step.reason_sealed
                            ),
                            "planned_on": _iso(step.planned_on),
                            "end_reason": step.end_reason,
                        }
                        for step in steps
                    ],
                }
            )
        return found

    async def _victim_support(self, session: AsyncSession, case: Case) -> dict[str, Any]:
        """The assessments of the risk (each DASH, the chair's risk summaries) and the IDVA's
        work with the victim: who held the case, each contact attempt, the victim's engagement
        and views, and whether she was told each meeting's outcome."""

        async def of_case(model: type[_Row]) -> list[_Row]:
            query = select(model).where(model.case_id == case.id).order_by(model.id)
            return list(await session.scalars(query))

        allocations = await of_case(IdvaAllocation)
        contacts = await of_case(VictimContact)
        voice = await of_case(VictimVoiceEntry)
        replies = await of_case(VictimOutcomeReply)
        assessments = await of_case(DashAssessment)
        risks = await of_case(CaseRiskSummary)
        return {
            "dash_assessments": [
                {
                    "assessed_at": _iso(row.assessed_at),
                    "by_person_id": row.by_person_id,
                    "form": row.form,
                    "dash_yes": row.dash_yes,
                    "dash_not_known": row.dash_not_known,
                    "dara_level": row.dara_level,
                }
                for row in assessments
            ],
            "risk_summaries": [
                {
                    "meeting_id": row.meeting_id,
                    "recorded_at": _iso(row.recorded_at),
                    "by_person_id": row.recorded_by_id,
                    "summary": await self._open(
                        session, case, risk_context(row.id), row.summary_sealed
                    ),
                }
                for row in risks
            ],
            "idva_allocations": [
                {
                    "idva_person_id": row.person_id,
                    "allocated_at": _iso(row.allocated_at),
                    "allocated_by_person_id": row.allocated_by_id,
                }
                for row in allocations
            ],
            "victim_contacts": [
                {"at": _iso(row.at), "by_person_id": row.person_id, "outcome": row.outcome.value}
                for row in contacts
            ],
            "victim_voice": [
                {
                    "recorded_at": _iso(row.recorded_at),
                    "by_person_id": row.recorded_by_id,
                    "engagement": row.engagement.value if row.engagement else None,
                    "views": await self._open(
                        session, case, views_context(row.id), row.views_sealed
                    ),
                }
                for row in voice
            ],
            "victim_told_outcome": [
                {
                    "meeting_id": row.meeting_id,
                    "at": _iso(row.at),
                    "by_person_id": row.by_person_id,
                    "outcome": row.outcome.value,
                    "reason": await self._open(
                        session, case, reason_context(row.id), row.reason_sealed
                    ),
                }
                for row in replies
            ],
        }

    async def _open_with(
        self,
        session: AsyncSession,
        key: str | None,
        context: FieldContext,
        sealed: bytes | None,
    ) -> str | None:
        """A value sealed with its own record's key (not the case's)."""
        if sealed is None:
            return None
        if key is None:
            return KEY_ERASED
        return await self._deps.vault.open(session, key, context, sealed)

    async def _clares_law(self, session: AsyncSession, case: Case) -> list[dict[str, Any]]:
        """Clare's Law applications linked to the case (sealed with their own key): who
        applied, whom it is about, and each step with who and when, the safety plan opened."""
        found = []
        applications = await session.scalars(
            select(DvdsApplication)
            .where(DvdsApplication.case_id == case.id)
            .order_by(DvdsApplication.id)
        )
        for application in applications:
            key = application.data_key_id
            steps = await session.scalars(
                select(DvdsStep)
                .where(DvdsStep.application_id == application.id)
                .order_by(DvdsStep.id)
            )
            found.append(
                {
                    "application": application.id,
                    "route": application.route.value,
                    "received_on": _iso(application.received_on),
                    "applicant": await self._open_with(
                        session,
                        key,
                        applicant_context(application.id),
                        application.applicant_sealed,
                    ),
                    "subject": await self._open_with(
                        session, key, subject_context(application.id), application.subject_sealed
                    ),
                    "steps": [
                        {
                            "kind": step.kind.value,
                            "on": _iso(step.on),
                            "at": _iso(step.at),
                            "by_person_id": step.by_person_id,
                            "agency_id": step.agency_id,
                            "due_on": _iso(step.due_on),
                            "panel_on": _iso(step.panel_on),
                            "decision": step.decision.value if step.decision else None,
                            "safety_plan": await self._open_with(
                                session, key, plan_context(step.id), step.safety_plan_sealed
                            ),
                        }
                        for step in steps
                    ],
                }
            )
        return found

    async def _transfers(self, session: AsyncSession, case: Case) -> dict[str, Any]:
        """MARAC-to-MARAC transfers of the case (asked of another area, or that opened it
        here), each step with who and when, and the IDVA's handover notes. What is sealed
        with this case's key is opened: the reason on the sending case, the pack (the reason
        and the outstanding actions) on the case opened from it. The other case is named by
        reference: the officer decides whether it belongs to the request too."""
        rows = list(
            await session.scalars(
                select(CaseTransfer)
                .where((CaseTransfer.case_id == case.id) | (CaseTransfer.new_case_id == case.id))
                .order_by(CaseTransfer.id)
            )
        )
        found = []
        for row in rows:
            sending = row.case_id == case.id
            other_id = row.new_case_id if sending else row.case_id
            other = await session.get(Case, other_id) if other_id is not None else None
            found.append(
                {
                    "direction": "out" if sending else "in",
                    "other_case": other.reference if other else None,
                    "from_area_id": row.from_area_id,
                    "to_area_id": row.to_area_id,
                    "requested_at": _iso(row.requested_at),
                    "requested_by_person_id": row.requested_by_id,
                    "reason": (
                        await self._open(
                            session, case, transfer_reason_context(row.id), row.reason_sealed
                        )
                        if sending
                        else None
                    ),
                    "decided_at": _iso(row.decided_at) if row.decided_at else None,
                    "decided_by_person_id": row.decided_by_id,
                    "decision": row.decision,
                    "carried": (
                        None
                        if sending
                        else await self._open(session, case, pack_context(row.id), row.pack_sealed)
                    ),
                }
            )
        notes = await session.scalars(
            select(HandoverNote).where(HandoverNote.case_id == case.id).order_by(HandoverNote.id)
        )
        return {
            "transfers": found,
            "handover_notes": [
                {
                    "written_at": _iso(note.written_at),
                    "by_person_id": note.written_by_id,
                    "from_own_case": note.from_case_id == case.id,
                    "note": await self._open(
                        session, case, note_context(note.id), note.note_sealed
                    ),
                }
                for note in notes
            ],
        }

    async def _exclusions(self, session: AsyncSession, case: Case) -> list[dict[str, Any]]:
        rows = await session.scalars(
            select(CaseExclusion)
            .where(CaseExclusion.case_id == case.id)
            .order_by(CaseExclusion.added_at, CaseExclusion.person_id)
        )
        return [
            {
                "person_id": row.person_id,
                "added_at": _iso(row.added_at),
                "added_by_person_id": row.added_by_id,
            }
            for row in rows
        ]

    async def _related(self, session: AsyncSession, case: Case) -> dict[str, list[str]]:
        """Other cases in the area about the same victim or person causing harm, by reference:
        the officer decides whether they belong to the request too."""

        async def references(column: Any, value: str | None) -> list[str]:
            if value is None:
                return []
            rows = await session.scalars(
                select(Case.reference)
                .where(Case.area_id == case.area_id, column == value, Case.id != case.id)
                .order_by(Case.referred_at, Case.id)
            )
            return list(rows)

        return {
            "same_victim": await references(Case.victim_index, case.victim_index),
            "same_person_causing_harm": await references(
                Case.perpetrator_index, case.perpetrator_index
            ),
        }

    async def _audit(self, session: AsyncSession, case: Case) -> list[dict[str, Any]]:
        events = await session.scalars(
            select(AuditEvent).where(AuditEvent.subject == case.reference).order_by(AuditEvent.seq)
        )
        roles: dict[int, str | None] = {}
        found = []
        for event in events:
            pid = event.actor_person_id
            if pid is not None and pid not in roles:
                person = await session.get(Person, pid)
                roles[pid] = person.role.value if person else None
            found.append(
                {
                    "seq": event.seq,
                    "at": _iso(event.at),
                    "who": {
                        "person_id": pid,
                        "label": event.actor_label,
                        "role": roles.get(pid) if pid is not None else None,
                    },
                    "action": event.action,
                    "outcome": event.outcome,
                    "details": json.loads(event.details or "{}"),
                }
            )
        return found

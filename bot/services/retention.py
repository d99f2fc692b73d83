"""Retention: erasing case data when its time is up, and early on two coordinators' word.

The rules (module constants for now; ``case_years`` overrides them per area):

* A case is kept for ``CASE_RETENTION_YEARS`` (6) years after it was last heard: the
  latest meeting it is listed at (a listing moved away or a cancelled meeting does not
  count; a listing at a future meeting keeps it), or its referral date if it was never
  heard. It is erased on the day after that anniversary (a 29 February becomes 1 March,
  so nothing is ever erased early). Dates are read on the area's own clock.
* Unfinished referral drafts are erased once they expire (``AreaPolicy.draft_ttl_days``,
  7 days by default). ``ReferralService.erase_expired_drafts`` already does this in
  housekeeping; they are listed and erased here too so a dry run shows everything.
* Audit events: ``AUDIT_RETENTION_YEARS`` (7) years after the event, for the whole
  deployment (the chain is one sequence, so an area cannot have its own period).
  ``prune_audit_trail`` deletes the oldest events that are past their time as a prefix of
  the chain and records a checkpoint, so ``storage.audit.verify_chain`` still verifies
  what remains; see ``storage.audit_retention`` for why and how.

Erasing a case happens in one transaction per case: its data key is destroyed
(crypto-shredding: every sealed value of the case, in backups too, becomes noise), the
rows hanging off it are deleted, its queued notifications go, other cases' pointers to it
are cleared (SQLite may hand its id to the next case), and a ``retention.erased`` audit
event records the reference and the rule, never a name.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final, cast
from zoneinfo import ZoneInfo

from sqlalchemy import CursorResult, Executable, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actor import Actor
from bot.buttons import ERASURE_CONFIRM, ERASURE_KEEP
from bot.errors import NotFound, ServiceError
from bot.logging_setup import describe
from bot.permissions import Operation, PermissionDenied, authorise
from bot.services.audited import audit_by
from bot.services.case_access import require
from bot.services.deps import ServiceDeps
from bot.services.outbox import enqueue
from bot.vocabulary import Role
from storage.audit import Scalar, append_event
from storage.audit_retention import (
    AUDIT_RETENTION_YEARS,
    PrunePlan,
    PruneReport,
    plan_audit_pruning,
    prune_audit_events,
)
from storage.models import (
    Action,
    ActionStep,
    AgendaItem,
    Area,
    AreaPolicy,
    AuditEvent,
    Case,
    CaseEvent,
    CaseExclusion,
    CaseRiskSummary,
    CaseTransfer,
    DashAssessment,
    DvdsApplication,
    HandoverNote,
    Meeting,
    OutboxMessage,
    PerpetratorReferral,
    PerpetratorStep,
    Person,
    ReferralDraft,
    ResearchReturn,
    VictimOutcomeReply,
    VictimVoiceEntry,
)
from storage.reclaim import ERASURE_TABLES, reclaim_erased
from storage.rotation import ShredReport, rotate_after_erasure

log = logging.getLogger("marac.retention")

CASE_RETENTION_YEARS: Final = 6
DRAFT_RETENTION_DAYS: Final = 7  # the AreaPolicy.draft_ttl_days default; the policy decides

ERASED_ACTION: Final = "retention.erased"
REQUESTED_ACTION: Final = "case.erasure_requested"
WITHDRAWN_ACTION: Final = "case.erasure_withdrawn"
CONFIRM_REFUSED_ACTION: Final = "case.erasure_confirm"
ERASURE_REQUESTED: Final = "erasure_requested"  # CaseEvent kind of a pending early erasure
ERASURE_WITHDRAWN: Final = "erasure_withdrawn"
DRAFT_RULE: Final = "draft: expired"

ACTIVE_COORDINATOR_NEEDED: Final = "only an active coordinator of the area"


class ErasureReason(StrEnum):
    """Why a case is erased early: kept in the audit trail, so never free text."""

    WRONG_PERSON = "wrong_person"
    LEGAL_INSTRUCTION = "legal_instruction"
    OTHER = "other"


@dataclass(frozen=True)
class ErasureItem:
    """Something due for erasure (or erased): by reference and rule, never by name."""

    reference: str  # the case reference, or "draft:<id>"
    rule: str
    last_heard: date  # drafts: the day the draft was last changed
    area_id: int
    case_id: int | None = None
    kind: str = "case"  # "case" | "draft"


def case_rule(years: int) -> str:
    return f"case: {years} years after last heard"


def early_rule(reason: ErasureReason) -> str:
    return f"early: {reason.value}"


def add_years(day: date, years: int) -> date:
    """The same day ``years`` later (or earlier); 29 February becomes 1 March."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return date(day.year + years, 3, 1)


def is_due(last_heard: date, today: date, years: int) -> bool:
    """Kept up to and including the anniversary; due from the day after."""
    return today > add_years(last_heard, years)


class RetentionService:
    def __init__(self, deps: ServiceDeps, case_years: Mapping[int, int] | None = None) -> None:
        """``case_years`` maps an area id to its own case retention in years."""
        for area_id, years in (case_years or {}).items():
            if years < 1:
                raise ValueError(f"area {area_id}: case retention must be at least one year")
        self._deps = deps
        self._overrides = dict(case_years or {})
        self._case_years = dict(self._overrides)

    def years_for(self, area_id: int) -> int:
        return self._case_years.get(area_id, CASE_RETENTION_YEARS)

    async def _load_area_policies(self, session: AsyncSession) -> None:
        """Each area's own period (``marac-bot policy --retention-years``); overrides win."""
        rows = await session.execute(select(AreaPolicy.area_id, AreaPolicy.case_retention_years))
        self._case_years = {int(a): int(y) for a, y in rows.all()} | self._overrides

    # -- what is due ---------------------------------------------------------------------------

    async def due(self, today: date | None = None) -> list[ErasureItem]:
        """Cases (oldest first) and expired drafts that are due for erasure on ``today``."""
        today = today or self._today()
        async with self._deps.sessions() as session:
            await self._load_area_policies(session)
            cases = await self._due_cases(session, today)
            drafts = await self._due_drafts(session, today)
        return cases + drafts

    async def audit_pruning_plan(self, today: date | None = None) -> PrunePlan:
        """How many audit events pruning would delete on ``today``; changes nothing."""
        return await plan_audit_pruning(
            self._deps.sessions,
            self._deps.clock.now(),
            AUDIT_RETENTION_YEARS,
            zone=self._deps.default_timezone,
            today=today or self._today(),
        )

    async def rotate_keys_after_erasure(self) -> ShredReport:
        """A new key-encryption key after erasures, so older database copies cannot open
        them; does nothing when no erasure is newer than the last completed rotation."""
        return await rotate_after_erasure(self._deps.sessions, self._deps.vault)

    async def reclaim_erased_space(self) -> bool:
        """Leave nothing of erased rows in the database's files that a VACUUM or a checkpoint
        can remove (``storage.reclaim``); False, and a warning, when it could not run.

        Called after each erasure run and, through a job, after an early erasure; it never
        raises, as the erasure itself is already done (autovacuum comes later anyway).
        """
        try:
            await reclaim_erased(self._deps.sessions, ERASURE_TABLES)
        except Exception as error:
            log.warning("could not vacuum after erasure: %s", describe(error))
            return False
        return True

    async def prune_audit_trail(
        self, today: date | None = None, *, actor_label: str = "system"
    ) -> PruneReport:
        """Delete audit events past ``AUDIT_RETENTION_YEARS``, keeping the chain verifiable.

        The nightly job calls this with no arguments. It is resumable and idempotent (each
        batch commits on its own), refuses to delete a stretch of the chain that does not
        verify (logged as an error, so tampering is never pruned out of sight), and logs
        counts and sequence numbers only.
        """
        report = await prune_audit_events(
            self._deps.sessions,
            self._deps.clock.now(),
            AUDIT_RETENTION_YEARS,
            zone=self._deps.default_timezone,
            today=today,
            actor_label=actor_label,
        )
        if report.broken is not None:
            log.error(
                "audit pruning stopped: the chain does not verify at event %s (%s); "
                "nothing from there on was deleted",
                report.broken.first_broken_seq,
                report.broken.reason,
            )
        elif report.pruned:
            log.info(
                "audit pruning deleted %d event(s) up to event %d (%s)",
                report.pruned,
                report.pruned_seq,
                report.rule,
            )
        return report

    # -- erasing -------------------------------------------------------------------------------

    async def erase_due(
        self, today: date | None = None, *, dry_run: bool = False, actor_label: str = "system"
    ) -> list[ErasureItem]:
        """Erase what is due, each record in its own transaction; returns what was erased.

        A dry run returns what would be erased and changes nothing (not even the audit
        trail). A record that fails is logged (without data) and tried again next run;
        one that stopped being due meanwhile (listed again) is left alone.
        """
        today = today or self._today()
        items = await self.due(today)
        if dry_run:
            return items
        erased: list[ErasureItem] = []
        for item in items:
            try:
                if item.kind == "case":
                    done = await self._erase_case_if_due(item, today, actor_label)
                else:
                    done = await self._erase_draft_if_due(item, today, actor_label)
            except Exception as error:  # one bad record must not stop the others
                log.error("retention: could not erase a record, will retry: %s", describe(error))
                continue
            if done:
                erased.append(item)
        if erased:
            await self.reclaim_erased_space()
        return erased

    # -- early erasure -------------------------------------------------------------------------

    async def request_erasure(self, actor: Actor, case_id: int, reason: ErasureReason | str) -> str:
        """A coordinator asks for one case to be erased now; another coordinator confirms."""
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        try:
            category = ErasureReason(reason)
        except ValueError:
            raise ServiceError(texts.ERASURE_UNKNOWN_REASON) from None
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            await self._active_coordinator(session, actor)
            case = await self._case_for(session, actor, case_id)
            session.add(
                CaseEvent(
                    case_id=case.id, kind=ERASURE_REQUESTED, at=now, by_person_id=actor.person_id
                )
            )
            await append_event(
                session,
                at=now,
                area_id=case.area_id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action=REQUESTED_ACTION,
                subject=case.reference,
                details={"reason": category.value},
            )
            await self._ask_other_coordinators(session, actor, case, category, now)
            return case.reference

    async def _ask_other_coordinators(
        self,
        session: AsyncSession,
        actor: Actor,
        case: Case,
        category: ErasureReason,
        now: datetime,
    ) -> None:
        """The second coordinator is asked by reference, with buttons to confirm or keep it."""
        others = await session.scalars(
            select(Person).where(
                Person.area_id == case.area_id,
                Person.role == Role.COORDINATOR,
                Person.deactivated_at.is_(None),
                Person.id != actor.person_id,
            )
        )
        for person in others:
            await enqueue(
                session,
                dedupe_key=f"case:{case.id}:erasure:{now.isoformat()}:{person.id}",
                chat_id=person.telegram_user_id,
                kind="erasure_request",
                text=texts.erasure_confirm_request(
                    case.reference, texts.ERASURE_REASONS[category.value]
                ),
                now=now,
                area_id=case.area_id,
                person_id=person.id,
                buttons=[
                    [
                        ERASURE_CONFIRM(texts.BUTTON_CONFIRM_ERASURE, case.id),
                        ERASURE_KEEP(texts.BUTTON_KEEP_THE_CASE, case.id),
                    ]
                ],
                urgent=True,
                case_ids=[case.id],
            )

    async def withdraw_erasure(self, actor: Actor, case_id: int) -> str:
        """Any coordinator of the area can call a pending request off."""
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            await self._active_coordinator(session, actor)
            case = await self._case_for(session, actor, case_id)
            if await self._pending_request(session, case.id) is None:
                raise ServiceError(texts.NO_ERASURE_REQUEST)
            session.add(
                CaseEvent(
                    case_id=case.id, kind=ERASURE_WITHDRAWN, at=now, by_person_id=actor.person_id
                )
            )
            await append_event(
                session,
                at=now,
                area_id=case.area_id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action=WITHDRAWN_ACTION,
                subject=case.reference,
            )
            return case.reference

    async def confirm_erasure(self, actor: Actor, case_id: int) -> ErasureItem:
        """A second, different active coordinator of the area confirms: the case is erased."""
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        now = self._deps.clock.now()
        refused_reference: str | None = None
        async with self._deps.sessions.begin() as session:
            await self._active_coordinator(session, actor)
            case = await self._case_for(session, actor, case_id, lock=True)
            request = await self._pending_request(session, case.id)
            if request is None:
                raise ServiceError(texts.NO_ERASURE_REQUEST)
            if request.by_person_id == actor.person_id:
                refused_reference = case.reference
            else:
                category = await self._requested_reason(session, case)
                area = await session.get(Area, case.area_id)
                assert area is not None
                last_heard = await self._last_heard(session, case, area.timezone)
                item = ErasureItem(
                    reference=case.reference,
                    rule=early_rule(category),
                    last_heard=last_heard,
                    area_id=case.area_id,
                    case_id=case.id,
                )
                await self._erase_case(
                    session,
                    case,
                    item,
                    now=now,
                    actor_person_id=actor.person_id,
                    actor_label="person",
                    extra={"requested_by": request.by_person_id},
                )
                return item
        # Refused: the transaction above changed nothing; the refusal itself is recorded.
        async with self._deps.sessions.begin() as session:
            await audit_by(
                session,
                actor,
                at=now,
                action=CONFIRM_REFUSED_ACTION,
                subject=refused_reference,
                outcome="refused",
                details={"reason": "requester cannot confirm"},
            )
        raise ServiceError(texts.SECOND_COORDINATOR_NEEDED)

    # -- helpers: what is due ------------------------------------------------------------------

    def _default_zone(self) -> ZoneInfo:
        return ZoneInfo(self._deps.default_timezone)

    def _today(self) -> date:
        return self._deps.clock.now().astimezone(self._default_zone()).date()

    @staticmethod
    def _start_of(day: date, zone: ZoneInfo) -> datetime:
        return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)

    async def _last_heard_rows(
        self, session: AsyncSession, *, case_id: int | None = None, referred_before: datetime
    ) -> list[tuple[int, str, int, datetime, datetime | None, str]]:
        """(case id, reference, area id, referred at, latest listed meeting, area zone)."""
        heard = (
            select(AgendaItem.case_id, func.max(Meeting.starts_at).label("last_meeting"))
            .join(Meeting, Meeting.id == AgendaItem.meeting_id)
            .where(AgendaItem.removed_at.is_(None), Meeting.cancelled_at.is_(None))
            .group_by(AgendaItem.case_id)
            .subquery()
        )
        query = (
            select(
                Case.id,
                Case.reference,
                Case.area_id,
                Case.referred_at,
                heard.c.last_meeting,
                Area.timezone,
            )
            .join(Area, Area.id == Case.area_id)
            .outerjoin(heard, heard.c.case_id == Case.id)
            .where(Case.referred_at < referred_before)
            .order_by(Case.referred_at, Case.id)
        )
        if case_id is not None:
            query = query.where(Case.id == case_id)
        rows = await session.execute(query)
        return [
            (int(cid), str(ref), int(aid), referred, last, str(zone))
            for cid, ref, aid, referred, last, zone in rows.all()
        ]

    @staticmethod
    def _local_last_heard(referred_at: datetime, last_meeting: datetime | None, zone: str) -> date:
        tz = ZoneInfo(zone)
        referred = referred_at.astimezone(tz).date()
        if last_meeting is None:
            return referred
        return max(referred, last_meeting.astimezone(tz).date())

    async def _last_heard(self, session: AsyncSession, case: Case, zone: str) -> date:
        far_future = datetime(9999, 1, 1, tzinfo=UTC)
        rows = await self._last_heard_rows(session, case_id=case.id, referred_before=far_future)
        _, _, _, referred, last, _ = rows[0]
        return self._local_last_heard(referred, last, zone)

    async def _due_cases(self, session: AsyncSession, today: date) -> list[ErasureItem]:
        shortest = min([CASE_RETENTION_YEARS, *self._case_years.values()])
        # A case referred since (today - shortest period) cannot be due; two days absorb zones.
        referred_before = self._start_of(add_years(today, -shortest), ZoneInfo("UTC")) + (
            timedelta(days=2)
        )
        items: list[ErasureItem] = []
        for case_id, reference, area_id, referred, last, zone in await self._last_heard_rows(
            session, referred_before=referred_before
        ):
            years = self.years_for(area_id)
            last_heard = self._local_last_heard(referred, last, zone)
            if is_due(last_heard, today, years):
                items.append(ErasureItem(reference, case_rule(years), last_heard, area_id, case_id))
        items.sort(key=lambda item: (item.last_heard, item.reference))
        return items

    async def _due_drafts(self, session: AsyncSession, today: date) -> list[ErasureItem]:
        cutoff = self._start_of(today, self._default_zone())
        rows = await session.execute(
            select(ReferralDraft.id, ReferralDraft.area_id, ReferralDraft.updated_at)
            .where(ReferralDraft.expires_at <= cutoff)
            .order_by(ReferralDraft.id)
        )
        zone = self._default_zone()
        return [
            ErasureItem(
                f"draft:{draft_id}",
                DRAFT_RULE,
                updated.astimezone(zone).date(),
                int(area_id),
                kind="draft",
            )
            for draft_id, area_id, updated in rows.all()
        ]

    # -- helpers: erasing ----------------------------------------------------------------------

    async def _erase_case_if_due(self, item: ErasureItem, today: date, actor_label: str) -> bool:
        assert item.case_id is not None
        async with self._deps.sessions.begin() as session:
            case = await session.get(Case, item.case_id, with_for_update=True)
            if case is None or case.reference != item.reference:
                return False  # erased meanwhile (another instance, or early erasure)
            area = await session.get(Area, case.area_id)
            assert area is not None
            # Read again inside the transaction: it may have been listed again since.
            last_heard = await self._last_heard(session, case, area.timezone)
            if not is_due(last_heard, today, self.years_for(case.area_id)):
                return False
            await self._erase_case(
                session,
                case,
                item,
                now=self._deps.clock.now(),
                actor_person_id=None,
                actor_label=actor_label,
            )
            return True

    async def _erase_draft_if_due(self, item: ErasureItem, today: date, actor_label: str) -> bool:
        draft_id = int(item.reference.split(":", 1)[1])
        cutoff = self._start_of(today, self._default_zone())
        async with self._deps.sessions.begin() as session:
            draft = await session.get(ReferralDraft, draft_id, with_for_update=True)
            if draft is None or draft.expires_at > cutoff:
                return False  # erased by housekeeping meanwhile, or worked on again
            key = draft.data_key_id
            await session.delete(draft)
            await session.flush()
            await self._deps.vault.destroy(session, [key] if key else [])
            await append_event(
                session,
                at=self._deps.clock.now(),
                area_id=draft.area_id,
                actor_label=actor_label,
                action=ERASED_ACTION,
                subject=item.reference,
                details={"rule": DRAFT_RULE},
            )
            return True

    async def _erase_case(
        self,
        session: AsyncSession,
        case: Case,
        item: ErasureItem,
        *,
        now: datetime,
        actor_person_id: int | None,
        actor_label: str,
        extra: Mapping[str, Scalar] | None = None,
    ) -> None:
        """Everything hanging off the case, then the case, then its key; in the caller's tx."""
        case_id = case.id
        action_ids = list(await session.scalars(select(Action.id).where(Action.case_id == case_id)))
        referral_ids = list(
            await session.scalars(
                select(PerpetratorReferral.id).where(PerpetratorReferral.case_id == case_id)
            )
        )
        item_ids = list(
            await session.scalars(select(AgendaItem.id).where(AgendaItem.case_id == case_id))
        )
        counts: dict[str, int] = {}

        async def remove(name: str, statement: Executable) -> None:
            result = cast(CursorResult[Any], await session.execute(statement))
            counts[name] = int(result.rowcount or 0)

        await remove(
            "perpetrator_steps",
            delete(PerpetratorStep).where(PerpetratorStep.referral_id.in_(referral_ids)),
        )
        await remove(
            "perpetrator_referrals",
            delete(PerpetratorReferral).where(PerpetratorReferral.case_id == case_id),
        )
        await remove("action_steps", delete(ActionStep).where(ActionStep.action_id.in_(action_ids)))
        await remove("actions", delete(Action).where(Action.case_id == case_id))
        await remove(
            "research_returns",
            delete(ResearchReturn).where(ResearchReturn.agenda_item_id.in_(item_ids)),
        )
        await remove("agenda_items", delete(AgendaItem).where(AgendaItem.case_id == case_id))
        await remove("case_events", delete(CaseEvent).where(CaseEvent.case_id == case_id))
        await remove(
            "victim_voice_entries",
            delete(VictimVoiceEntry).where(VictimVoiceEntry.case_id == case_id),
        )
        await remove(
            "victim_outcome_replies",
            delete(VictimOutcomeReply).where(VictimOutcomeReply.case_id == case_id),
        )
        await remove(
            "case_risk_summaries",
            delete(CaseRiskSummary).where(CaseRiskSummary.case_id == case_id),
        )
        await remove(
            "dash_assessments",
            delete(DashAssessment).where(DashAssessment.case_id == case_id),
        )
        await remove("exclusions", delete(CaseExclusion).where(CaseExclusion.case_id == case_id))
        # A Clare's Law application is the police's record, kept under their own retention:
        # it stays, unlinked (a reused case id, as SQLite gives, must not find it linked).
        await remove(
            "dvds_links",
            update(DvdsApplication).where(DvdsApplication.case_id == case_id).values(case_id=None),
        )
        await remove("handover_notes", delete(HandoverNote).where(HandoverNote.case_id == case_id))
        await remove("case_transfers", delete(CaseTransfer).where(CaseTransfer.case_id == case_id))
        # A transfer that opened this case stays with the sending case; what it carried here
        # was sealed with this case's key, which is destroyed with it.
        await session.execute(
            update(CaseTransfer).where(CaseTransfer.new_case_id == case_id).values(pack_sealed=None)
        )
        # Its notifications (references only) go too: none is sent about a case that is gone,
        # and a reused id (SQLite) must not find the old dedupe keys taken.
        prefixes = [
            f"case:{case_id}:",
            *(f"action:{action_id}:" for action_id in action_ids),
            *(f"perp:{referral_id}:" for referral_id in referral_ids),
            *(f"perpinfo:{referral_id}:" for referral_id in referral_ids),
        ]
        await remove(
            "outbox",
            delete(OutboxMessage).where(
                or_(
                    *(
                        OutboxMessage.dedupe_key.startswith(prefix, autoescape=True)
                        for prefix in prefixes
                    )
                )
            ),
        )
        # Other cases only pointed at it by id; clear the pointers so a reused id is never
        # taken for this case. Their own history is otherwise untouched.
        await session.execute(
            update(Case)
            .where(Case.repeat_of_case_id == case_id)
            .values(repeat_of_case_id=None)
            .execution_options(synchronize_session=False)
        )
        await session.execute(
            update(CaseEvent)
            .where(CaseEvent.related_case_id == case_id)
            .values(related_case_id=None)
            .execution_options(synchronize_session=False)
        )
        data_key_id = case.data_key_id
        await session.delete(case)
        await session.flush()
        keys_destroyed = await self._deps.vault.destroy(
            session, [data_key_id] if data_key_id else []
        )
        details: dict[str, Scalar] = {
            "rule": item.rule,
            "last_heard": item.last_heard.isoformat(),
            "data_key_destroyed": keys_destroyed == 1,
            **{name: count for name, count in counts.items() if count},
            **dict(extra or {}),
        }
        await append_event(
            session,
            at=now,
            area_id=case.area_id,
            actor_person_id=actor_person_id,
            actor_label=actor_label,
            action=ERASED_ACTION,
            subject=item.reference,
            details=details,
        )

    # -- helpers: early erasure ----------------------------------------------------------------

    async def _active_coordinator(self, session: AsyncSession, actor: Actor) -> None:
        person = await session.get(Person, actor.person_id)
        if (
            person is None
            or person.area_id != actor.area_id
            or person.role is not Role.COORDINATOR
            or person.deactivated_at is not None
        ):
            raise PermissionDenied(Operation.TRIAGE_CASES, ACTIVE_COORDINATOR_NEEDED)

    async def _case_for(
        self, session: AsyncSession, actor: Actor, case_id: int, *, lock: bool = False
    ) -> Case:
        """The case, if the access policy lets this coordinator erase it; otherwise it does
        not exist for them."""
        case = await session.get(Case, case_id, with_for_update=lock)
        if case is None:
            raise NotFound(texts.CASE_NOT_FOUND)
        await require(
            session,
            actor,
            case.id,
            CasePath.EARLY_ERASURE,
            self._deps.clock.now(),
            missing=texts.CASE_NOT_FOUND,
        )
        return case

    async def _pending_request(self, session: AsyncSession, case_id: int) -> CaseEvent | None:
        latest = await session.scalar(
            select(CaseEvent)
            .where(
                CaseEvent.case_id == case_id,
                CaseEvent.kind.in_([ERASURE_REQUESTED, ERASURE_WITHDRAWN]),
            )
            .order_by(CaseEvent.id.desc())
            .limit(1)
        )
        if latest is None or latest.kind != ERASURE_REQUESTED:
            return None
        return latest

    async def _requested_reason(self, session: AsyncSession, case: Case) -> ErasureReason:
        """The category lives in the audit trail, which outlives the case."""
        details = await session.scalar(
            select(AuditEvent.details)
            .where(
                AuditEvent.action == REQUESTED_ACTION,
                AuditEvent.subject == case.reference,
                AuditEvent.area_id == case.area_id,
            )
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        try:
            return ErasureReason(json.loads(details or "{}").get("reason"))
        except ValueError:
            return ErasureReason.OTHER

"""Clare's Law (the Domestic Violence Disclosure Scheme): applications the police own.

A police representative records an application ("right to ask" or "right to know"),
standalone or linked to a case, with the applicant's and the subject's identifiers sealed
with the application's own data key; asks agencies to check their records (each asked rep
gets a message with a "Check done" button and the day it is due); sets the decision panel's
date; records the decision and, on disclosure, the safety plan (sealed). Each is a step row
with who and when. ``bot.access.dvds_parts`` decides who sees what: the coordinator sees the
status (on the case card and in /dvds), never who applied, whom it is about or the plan.

Housekeeping chases, on working days from 09:00, a check past its due day (the agency's
reps) and a decision past the statutory guidance's timescale (the officer who recorded the
application, and the coordinators), each once.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath, DvdsFacts, DvdsPart, Level, Viewer, case_access, dvds_parts
from bot.actor import Actor
from bot.buttons import dvds_check_buttons, dvds_open_buttons
from bot.dvds import CHECKING_AGENCIES, Progress, Step, chase_is_due, check_due, progress
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise
from bot.services.audited import audit_by
from bot.services.case_access import Shown, case_facts, record_views, require, viewers
from bot.services.deps import ServiceDeps
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar
from bot.vocabulary import DvdsDecision, DvdsRoute, DvdsStepKind, Role
from storage.crypto import FieldContext
from storage.models import Agency, Area, Case, DvdsApplication, DvdsStep, Person

MAX_IDENTIFIERS_LENGTH = 500
MAX_PLAN_LENGTH = 3000
# How long after receipt housekeeping keeps chasing an undecided application.
CHASE_FOR = timedelta(days=180)


def applicant_context(application_id: int) -> FieldContext:
    return FieldContext("dvds_applications", "applicant", application_id)


def subject_context(application_id: int) -> FieldContext:
    return FieldContext("dvds_applications", "subject", application_id)


def plan_context(step_id: int) -> FieldContext:
    return FieldContext("dvds_steps", "safety_plan", step_id)


def label(application_id: int) -> str:
    """How an application is named in messages: never by whom it is about."""
    return f"CL-{application_id}"


@dataclass(frozen=True)
class CheckView:
    agency_id: int
    agency: str
    requested_on: date
    due_on: date
    completed_on: date | None


@dataclass(frozen=True)
class DvdsView:
    """One application as one person may see it; sealed parts only where ``parts`` allow."""

    id: int
    label: str
    route: DvdsRoute
    reference: str | None  # the linked case's reference
    progress: Progress
    checks: tuple[CheckView, ...]
    parts: frozenset[DvdsPart]
    applicant: str | None = None
    subject: str | None = None
    safety_plan: str | None = None
    # The police (the owner): may record its steps.
    may_record: bool = False
    # The viewer's agency was asked to check and has not said it is done.
    check_open: bool = False


@dataclass(frozen=True)
class _Loaded:
    row: DvdsApplication
    steps: list[DvdsStep]
    progress: Progress
    facts: DvdsFacts
    reference: str | None


class DvdsService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    # -- loading and deciding ---------------------------------------------------------------

    async def _viewer(self, session: AsyncSession, actor: Actor) -> Viewer:
        viewer = (await viewers(session, [actor.person_id])).get(actor.person_id)
        if viewer is None or viewer.area_id != actor.area_id:
            raise NotFound(texts.DVDS_NOT_FOUND)
        return viewer

    async def _load(self, session: AsyncSession, ids: Collection[int]) -> list[_Loaded]:
        wanted = sorted(set(ids))
        if not wanted:
            return []
        rows = list(
            await session.scalars(
                select(DvdsApplication)
                .where(DvdsApplication.id.in_(wanted))
                .order_by(DvdsApplication.id)
            )
        )
        steps: dict[int, list[DvdsStep]] = {}
        for step in await session.scalars(
            select(DvdsStep).where(DvdsStep.application_id.in_(wanted)).order_by(DvdsStep.id)
        ):
            steps.setdefault(step.application_id, []).append(step)
        case_ids = {row.case_id for row in rows if row.case_id is not None}
        facts = await case_facts(session, case_ids) if case_ids else {}
        references = (
            {
                int(case_id): reference
                for case_id, reference in (
                    await session.execute(
                        select(Case.id, Case.reference).where(Case.id.in_(case_ids))
                    )
                ).all()
            }
            if case_ids
            else {}
        )
        loaded = []
        for row in rows:
            own = steps.get(row.id, [])
            done = progress(
                row.route,
                [Step(s.kind, s.on, s.agency_id, s.due_on, s.panel_on, s.decision) for s in own],
            )
            open_checks = frozenset(check.agency_id for check in done.open_checks())
            case = facts.get(row.case_id) if row.case_id is not None else None
            loaded.append(
                _Loaded(
                    row,
                    own,
                    done,
                    DvdsFacts(row.area_id, case, open_checks),
                    references.get(row.case_id) if row.case_id is not None else None,
                )
            )
        return loaded

    async def _one(
        self, session: AsyncSession, actor: Actor, application_id: int
    ) -> tuple[_Loaded, Viewer, frozenset[DvdsPart]]:
        """The application if the actor may see anything of it; NotFound otherwise, exactly as
        if it did not exist."""
        viewer = await self._viewer(session, actor)
        found = await self._load(session, [application_id])
        if not found:
            raise NotFound(texts.DVDS_NOT_FOUND)
        parts = dvds_parts(viewer, found[0].facts)
        if not parts:
            raise NotFound(texts.DVDS_NOT_FOUND)
        return found[0], viewer, parts

    async def _owned(
        self, session: AsyncSession, actor: Actor, application_id: int
    ) -> tuple[_Loaded, datetime, date]:
        """The application, if the actor is the police (its owner); the coordinator, who sees
        its status, is told it is the police's to record; anyone else that it does not exist."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        loaded, _, parts = await self._one(session, actor, application_id)
        if DvdsPart.APPLICANT not in parts:
            raise ServiceError(texts.DVDS_POLICE_ONLY)
        now = self._deps.clock.now()
        calendar = await area_calendar(session, loaded.row.area_id)
        return loaded, now, calendar.local_date(now)

    async def _agency_names(self, session: AsyncSession, ids: Collection[int]) -> dict[int, str]:
        if not ids:
            return {}
        return {
            int(agency_id): name
            for agency_id, name in (
                await session.execute(
                    select(Agency.id, Agency.name).where(Agency.id.in_(sorted(set(ids))))
                )
            ).all()
        }

    def _case_level(self, viewer: Viewer, loaded: _Loaded) -> Level:
        """What the viewer may see of the linked case: its reference is shown only to those
        who may see at least that (an agency asked to check may not know the case)."""
        case = loaded.facts.case
        if case is None:
            return Level.NONE
        return case_access(viewer, case, self._deps.clock.now())

    async def _view(
        self,
        session: AsyncSession,
        loaded: _Loaded,
        viewer: Viewer,
        parts: frozenset[DvdsPart],
        *,
        sealed: bool,
    ) -> DvdsView:
        row = loaded.row
        names = await self._agency_names(
            session, [check.agency_id for check in loaded.progress.checks]
        )
        applicant = subject = plan = None
        if sealed and row.data_key_id is not None:
            vault = self._deps.vault
            if DvdsPart.APPLICANT in parts and row.applicant_sealed:
                applicant = await vault.open(
                    session, row.data_key_id, applicant_context(row.id), row.applicant_sealed
                )
            if DvdsPart.SUBJECT in parts and row.subject_sealed:
                subject = await vault.open(
                    session, row.data_key_id, subject_context(row.id), row.subject_sealed
                )
            planned = next(
                (s for s in reversed(loaded.steps) if s.kind is DvdsStepKind.SAFETY_PLAN), None
            )
            if DvdsPart.SAFETY_PLAN in parts and planned and planned.safety_plan_sealed:
                plan = await vault.open(
                    session, row.data_key_id, plan_context(planned.id), planned.safety_plan_sealed
                )
        return DvdsView(
            id=row.id,
            label=label(row.id),
            route=row.route,
            reference=loaded.reference if self._case_level(viewer, loaded) else None,
            progress=loaded.progress,
            checks=tuple(
                CheckView(
                    c.agency_id,
                    names.get(c.agency_id, "?"),
                    c.requested_on,
                    c.due_on,
                    c.completed_on,
                )
                for c in loaded.progress.checks
            ),
            parts=parts,
            applicant=applicant,
            subject=subject,
            safety_plan=plan,
            may_record=DvdsPart.APPLICANT in parts,
            check_open=viewer.agency_id is not None
            and viewer.agency_id in loaded.facts.open_checks,
        )

    # -- the police record ------------------------------------------------------------------

    async def create(
        self,
        actor: Actor,
        route: DvdsRoute,
        applicant: str,
        subject: str,
        case_reference: str | None = None,
    ) -> DvdsView:
        """A new application received today; the police only."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        applicant, subject = applicant.strip(), subject.strip()
        if not applicant or not subject:
            raise ServiceError(texts.DVDS_ASK_APPLICANT)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            viewer = await self._viewer(session, actor)
            if not dvds_parts(viewer, DvdsFacts(actor.area_id)) >= {DvdsPart.APPLICANT}:
                raise ServiceError(texts.DVDS_POLICE_ONLY)
            case_id: int | None = None
            if case_reference:
                case_id = await session.scalar(
                    select(Case.id).where(
                        Case.reference == case_reference.strip().upper(),
                        Case.area_id == actor.area_id,
                    )
                )
                if case_id is None:
                    raise NotFound(texts.CASE_NOT_FOUND)
                await require(
                    session, actor, case_id, CasePath.DVDS, now, missing=texts.CASE_NOT_FOUND
                )
            calendar = await area_calendar(session, actor.area_id)
            today = calendar.local_date(now)
            row = DvdsApplication(
                area_id=actor.area_id,
                case_id=case_id,
                route=route,
                received_on=today,
                created_at=now,
                created_by_id=actor.person_id,
            )
            session.add(row)
            await session.flush()
            key = await self._deps.vault.create_data_key(session, "dvds")
            row.data_key_id = key
            row.applicant_sealed = await self._deps.vault.seal(
                session, key, applicant_context(row.id), applicant[:MAX_IDENTIFIERS_LENGTH]
            )
            row.subject_sealed = await self._deps.vault.seal(
                session, key, subject_context(row.id), subject[:MAX_IDENTIFIERS_LENGTH]
            )
            session.add(
                DvdsStep(
                    application_id=row.id,
                    kind=DvdsStepKind.RECEIVED,
                    on=today,
                    at=now,
                    by_person_id=actor.person_id,
                )
            )
            await session.flush()
            await audit_by(
                session,
                actor,
                at=now,
                action="dvds.received",
                subject=label(row.id),
                details={"route": route.value, "case": case_reference or ""},
            )
            loaded, viewer, parts = await self._one(session, actor, row.id)
            return await self._view(session, loaded, viewer, parts, sealed=False)

    async def checking_agencies(self, actor: Actor, application_id: int) -> list[tuple[int, str]]:
        """The agencies of the area the police may ask to check (not yet asked)."""
        async with self._deps.sessions.begin() as session:
            loaded, _, _ = await self._owned(session, actor, application_id)
            asked = {check.agency_id for check in loaded.progress.checks}
            return [
                (int(agency_id), name)
                for agency_id, name in (
                    await session.execute(
                        select(Agency.id, Agency.name)
                        .where(
                            Agency.area_id == loaded.row.area_id,
                            Agency.kind.in_(sorted(CHECKING_AGENCIES)),
                        )
                        .order_by(Agency.name)
                    )
                ).all()
                if int(agency_id) not in asked
            ]

    async def request_check(self, actor: Actor, application_id: int, agency_id: int) -> DvdsView:
        """Ask an agency to check its records; its reps are sent the request with a button."""
        async with self._deps.sessions.begin() as session:
            loaded, now, today = await self._owned(session, actor, application_id)
            agency = await session.get(Agency, agency_id)
            if (
                agency is None
                or agency.area_id != loaded.row.area_id
                or agency.kind not in CHECKING_AGENCIES
            ):
                raise NotFound(texts.DVDS_AGENCY_NOT_FOUND)
            if loaded.progress.decision is not None:
                raise ServiceError(texts.DVDS_ALREADY_DECIDED)
            calendar = await area_calendar(session, loaded.row.area_id)
            due = check_due(today, loaded.row.received_on, calendar.closed)
            session.add(
                DvdsStep(
                    application_id=application_id,
                    kind=DvdsStepKind.CHECK_REQUESTED,
                    on=today,
                    agency_id=agency_id,
                    due_on=due,
                    at=now,
                    by_person_id=actor.person_id,
                )
            )
            await session.flush()
            await audit_by(
                session,
                actor,
                at=now,
                action="dvds.check_requested",
                subject=label(application_id),
                details={"agency": agency.name},
            )
            (loaded,) = await self._load(session, [application_id])
            await self._ask_agency(session, loaded, agency_id, due, now, chase=False)
            _, viewer, parts = await self._one(session, actor, application_id)
            return await self._view(session, loaded, viewer, parts, sealed=False)

    async def _ask_agency(
        self,
        session: AsyncSession,
        loaded: _Loaded,
        agency_id: int,
        due: date,
        now: datetime,
        *,
        chase: bool,
    ) -> int:
        """The request (or its chase) to each rep of the agency the policy lets see it. It
        names the application, never the case or whom it is about: the rep opens it to see."""
        reps = list(
            await session.scalars(
                select(Person).where(
                    Person.agency_id == agency_id,
                    Person.deactivated_at.is_(None),
                    Person.role == Role.AGENCY_REP,
                )
            )
        )
        people = await viewers(session, [rep.id for rep in reps])
        queued = 0
        application_id = loaded.row.id
        for rep in reps:
            viewer = people.get(rep.id)
            if viewer is None or DvdsPart.SUBJECT not in dvds_parts(viewer, loaded.facts):
                continue
            stage = "chase" if chase else "ask"
            queued += await enqueue(
                session,
                dedupe_key=f"dvds:{application_id}:check:{agency_id}:{stage}:{rep.id}",
                chat_id=rep.telegram_user_id,
                kind=f"dvds_check_{stage}",
                text=(texts.dvds_check_chase if chase else texts.dvds_check_request)(
                    label(application_id), texts.dvds_day(due)
                ),
                now=now,
                area_id=rep.area_id,
                person_id=rep.id,
                buttons=dvds_check_buttons(application_id),
            )
        return queued

    async def complete_check(self, actor: Actor, application_id: int) -> DvdsView:
        """The actor's agency has checked its records; only an agency asked may say so."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions.begin() as session:
            loaded, viewer, parts = await self._one(session, actor, application_id)
            if viewer.agency_id is None or viewer.agency_id not in loaded.facts.open_checks:
                raise ServiceError(texts.DVDS_NOT_ASKED)
            now = self._deps.clock.now()
            today = (await area_calendar(session, loaded.row.area_id)).local_date(now)
            session.add(
                DvdsStep(
                    application_id=application_id,
                    kind=DvdsStepKind.CHECK_COMPLETED,
                    on=today,
                    agency_id=viewer.agency_id,
                    at=now,
                    by_person_id=actor.person_id,
                )
            )
            await cancel_outbox(
                session,
                dedupe_key_prefix=f"dvds:{application_id}:check:{viewer.agency_id}:",
                now=now,
            )
            await session.flush()
            await audit_by(
                session,
                actor,
                at=now,
                action="dvds.check_completed",
                subject=label(application_id),
            )
            (loaded,) = await self._load(session, [application_id])
            await self._tell_owner(session, loaded, viewer.agency_id, now)
            parts = dvds_parts(viewer, loaded.facts)  # the subject closes with the check
            return await self._view(session, loaded, viewer, parts, sealed=False)

    async def _tell_owner(
        self, session: AsyncSession, loaded: _Loaded, agency_id: int, now: datetime
    ) -> None:
        """The officer who recorded the application is told an agency's check is done (if
        they may still see it: not a leaver, not since put on the case's list)."""
        officer = await session.get(Person, loaded.row.created_by_id)
        viewer = (await viewers(session, [loaded.row.created_by_id])).get(loaded.row.created_by_id)
        if (
            officer is None
            or viewer is None
            or DvdsPart.APPLICANT not in dvds_parts(viewer, loaded.facts)
        ):
            return
        agency = (await self._agency_names(session, [agency_id])).get(agency_id, "?")
        application_id = loaded.row.id
        await enqueue(
            session,
            dedupe_key=f"dvds:{application_id}:checked:{agency_id}:{officer.id}",
            chat_id=officer.telegram_user_id,
            kind="dvds_check_done",
            text=texts.dvds_check_done_notice(label(application_id), agency),
            now=now,
            area_id=officer.area_id,
            person_id=officer.id,
            buttons=dvds_open_buttons(application_id),
        )

    async def set_panel(self, actor: Actor, application_id: int, day: date) -> DvdsView:
        async with self._deps.sessions.begin() as session:
            loaded, now, today = await self._owned(session, actor, application_id)
            if day < loaded.row.received_on:
                raise ServiceError(texts.DVDS_PANEL_BEFORE_RECEIVED)
            if loaded.progress.decision is not None:
                raise ServiceError(texts.DVDS_ALREADY_DECIDED)
            session.add(
                DvdsStep(
                    application_id=application_id,
                    kind=DvdsStepKind.PANEL_SET,
                    on=today,
                    panel_on=day,
                    at=now,
                    by_person_id=actor.person_id,
                )
            )
            await audit_by(
                session, actor, at=now, action="dvds.panel_set", subject=label(application_id)
            )
            return await self._after(session, actor, application_id)

    async def decide(self, actor: Actor, application_id: int, decision: DvdsDecision) -> DvdsView:
        async with self._deps.sessions.begin() as session:
            loaded, now, today = await self._owned(session, actor, application_id)
            if loaded.progress.decision is not None:
                raise ServiceError(texts.DVDS_ALREADY_DECIDED)
            session.add(
                DvdsStep(
                    application_id=application_id,
                    kind=DvdsStepKind.DECIDED,
                    on=today,
                    decision=decision,
                    at=now,
                    by_person_id=actor.person_id,
                )
            )
            # Nothing is chased once it is decided.
            await cancel_outbox(session, dedupe_key_prefix=f"dvds:{application_id}:", now=now)
            await audit_by(
                session,
                actor,
                at=now,
                action="dvds.decided",
                subject=label(application_id),
                details={"decision": decision.value},
            )
            return await self._after(session, actor, application_id)

    async def record_safety_plan(self, actor: Actor, application_id: int, plan: str) -> DvdsView:
        text = plan.strip()
        if not text:
            raise ServiceError(texts.DVDS_ASK_SAFETY_PLAN)
        async with self._deps.sessions.begin() as session:
            loaded, now, today = await self._owned(session, actor, application_id)
            if loaded.progress.decision is not DvdsDecision.DISCLOSE:
                raise ServiceError(texts.DVDS_PLAN_ONLY_ON_DISCLOSURE)
            assert loaded.row.data_key_id is not None
            step = DvdsStep(
                application_id=application_id,
                kind=DvdsStepKind.SAFETY_PLAN,
                on=today,
                at=now,
                by_person_id=actor.person_id,
            )
            session.add(step)
            await session.flush()
            step.safety_plan_sealed = await self._deps.vault.seal(
                session, loaded.row.data_key_id, plan_context(step.id), text[:MAX_PLAN_LENGTH]
            )
            await audit_by(
                session, actor, at=now, action="dvds.safety_plan", subject=label(application_id)
            )
            return await self._after(session, actor, application_id)

    async def _after(self, session: AsyncSession, actor: Actor, application_id: int) -> DvdsView:
        await session.flush()
        loaded, viewer, parts = await self._one(session, actor, application_id)
        return await self._view(session, loaded, viewer, parts, sealed=False)

    # -- reading ------------------------------------------------------------------------------

    async def get(self, actor: Actor, application_id: int) -> DvdsView:
        """The application with whatever sealed parts the actor may read; NotFound otherwise."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions.begin() as session:
            loaded, viewer, parts = await self._one(session, actor, application_id)
            view = await self._view(session, loaded, viewer, parts, sealed=True)
            now = self._deps.clock.now()
            await audit_by(
                session,
                actor,
                at=now,
                action="dvds.viewed",
                subject=label(application_id),
                details={"parts": ",".join(sorted(p.name.lower() for p in parts))},
            )
            level = self._case_level(viewer, loaded)
            if view.reference is not None:
                # A view of a linked application is recorded against its case too.
                await record_views(
                    session, actor, [Shown(view.reference, level)], CasePath.DVDS, now
                )
            return view

    async def listing(self, actor: Actor) -> list[DvdsView]:
        """The area's applications the actor may see, newest first, without sealed parts."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions.begin() as session:
            viewer = await self._viewer(session, actor)
            ids = list(
                await session.scalars(
                    select(DvdsApplication.id)
                    .where(DvdsApplication.area_id == actor.area_id)
                    .order_by(DvdsApplication.id.desc())
                    .limit(50)
                )
            )
            found = []
            for loaded in await self._load(session, ids):
                parts = dvds_parts(viewer, loaded.facts)
                if parts:
                    found.append(await self._view(session, loaded, viewer, parts, sealed=False))
            return sorted(found, key=lambda view: -view.id)

    async def for_case(self, actor: Actor, case_id: int) -> list[DvdsView]:
        """The one-line statuses of the applications linked to a case, for its card: only
        for those who may see the case through this path and the application itself."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            try:
                level = await require(
                    session, actor, case_id, CasePath.DVDS, now, missing=texts.CASE_NOT_FOUND
                )
            except NotFound:
                return []
            viewer = await self._viewer(session, actor)
            ids = list(
                await session.scalars(
                    select(DvdsApplication.id).where(DvdsApplication.case_id == case_id)
                )
            )
            found = []
            for loaded in await self._load(session, ids):
                parts = dvds_parts(viewer, loaded.facts)
                if parts:
                    found.append(await self._view(session, loaded, viewer, parts, sealed=False))
            if found and found[0].reference is not None:
                await record_views(
                    session, actor, [Shown(found[0].reference, level)], CasePath.DVDS, now
                )
            return found

    # -- chasing (housekeeping) ---------------------------------------------------------------

    async def chase_overdue(self) -> int:
        """Chase, once each, checks past their due day (the agency's reps) and decisions past
        the guidance's timescale (the officer who recorded the application and the area's
        coordinators), on working days from 09:00 on the area's clock."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            ids = list(
                await session.scalars(
                    select(DvdsApplication.id).where(DvdsApplication.created_at >= now - CHASE_FOR)
                )
            )
            queued = 0
            zones = {
                int(area_id): zone
                for area_id, zone in (await session.execute(select(Area.id, Area.timezone))).all()
            }
            for loaded in await self._load(session, ids):
                done = loaded.progress
                if done.decision is not None:
                    continue
                area_id = loaded.row.area_id
                calendar = await area_calendar(session, area_id)
                local_now = now.astimezone(ZoneInfo(zones.get(area_id, "Europe/London")))
                for check in done.open_checks():
                    if chase_is_due(check.due_on, local_now, calendar.closed):
                        queued += await self._ask_agency(
                            session, loaded, check.agency_id, check.due_on, now, chase=True
                        )
                if chase_is_due(done.due_on, local_now, calendar.closed):
                    queued += await self._chase_decision(session, loaded, now)
            return queued

    async def _chase_decision(self, session: AsyncSession, loaded: _Loaded, now: datetime) -> int:
        area_id = loaded.row.area_id
        people = list(
            await session.scalars(
                select(Person).where(
                    Person.area_id == area_id,
                    Person.deactivated_at.is_(None),
                    (Person.id == loaded.row.created_by_id) | (Person.role == Role.COORDINATOR),
                )
            )
        )
        seen = await viewers(session, [person.id for person in people])
        queued = 0
        application_id = loaded.row.id
        for person in people:
            viewer = seen.get(person.id)
            if viewer is None or DvdsPart.STATUS not in dvds_parts(viewer, loaded.facts):
                continue
            queued += await enqueue(
                session,
                dedupe_key=f"dvds:{application_id}:decision:chase:{person.id}",
                chat_id=person.telegram_user_id,
                kind="dvds_decision_chase",
                text=texts.dvds_decision_chase(
                    label(application_id), texts.dvds_day(loaded.progress.due_on)
                ),
                now=now,
                area_id=area_id,
                person_id=person.id,
            )
        return queued

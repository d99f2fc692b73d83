"""DASH reassessments: a new checklist (or DARA) on an open case, each kept as its own row.

Risk changes; a case heard on a score of 14 may be at 18 by the time it is heard again. The
allocated IDVA (or the referrer, or the coordinator) records the new assessment with the same
quick entry as the referral, from whichever form was completed; the case card lists each one
and the agenda shows a rising score. Who may do it is the access policy's answer for the
``REASSESSMENT`` path: anyone else, including someone on the must-not-receive list, is told
the case does not exist.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise
from bot.referrals.dash import Answer
from bot.referrals.dash_forms import (
    DaraLevel,
    DashForm,
    decode,
    encode,
    parse_form_entry,
    questions_of,
    read_back_form,
    to_safelives,
)
from bot.referrals.status import CLOSED_STEPS, triage_status
from bot.referrals.validation import InputError
from bot.services.audited import audit_by
from bot.services.case_access import Shown, record_views, require
from bot.services.deps import ServiceDeps
from storage.models import Case, CaseEvent, DashAssessment

DASH_REASSESSED = "dash_reassessed"  # the CaseEvent kind


@dataclass(frozen=True)
class AssessmentView:
    assessed_at: datetime
    by_person_id: int | None
    form: str
    dash_yes: int | None
    dash_not_known: int | None
    dara_level: str | None


@dataclass(frozen=True)
class Target:
    case_id: int
    reference: str


@dataclass(frozen=True)
class Preview:
    """The answers read back as the form numbers them, and a code to confirm them with."""

    text: str
    code: int


@dataclass(frozen=True)
class Recorded:
    reference: str
    form: str
    dash_yes: int | None
    before: int | None


async def assessments_of(
    session: AsyncSession, case_ids: Collection[int]
) -> dict[int, list[AssessmentView]]:
    """Each case's assessments, oldest first (the referral's is the first), in one query."""
    found: dict[int, list[AssessmentView]] = {case_id: [] for case_id in case_ids}
    if not case_ids:
        return found
    rows = await session.scalars(
        select(DashAssessment)
        .where(DashAssessment.case_id.in_(list(case_ids)))
        .order_by(DashAssessment.case_id, DashAssessment.id)
    )
    for row in rows:
        found[row.case_id].append(
            AssessmentView(
                row.assessed_at,
                row.by_person_id,
                row.form,
                row.dash_yes,
                row.dash_not_known,
                row.dara_level,
            )
        )
    return found


def latest_score(assessments: list[AssessmentView]) -> int | None:
    """The most recent counted score (a DARA level is not a count), if any."""
    counted = [a.dash_yes for a in assessments if a.dash_yes is not None]
    return counted[-1] if counted else None


class DashAssessmentService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def begin(self, actor: Actor, reference: str) -> Target:
        """``/dash REF``: the case, if the actor may record a new DASH on it."""
        authorise(actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions.begin() as session:
            case_id = await session.scalar(
                select(Case.id).where(
                    Case.reference == reference.strip().upper(), Case.area_id == actor.area_id
                )
            )
            if case_id is None:
                raise NotFound(texts.CASE_NOT_FOUND)
            return await self._open(session, actor, case_id)

    async def begin_by_id(self, actor: Actor, case_id: int) -> Target:
        """The "New DASH" button on the case card."""
        authorise(actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions.begin() as session:
            return await self._open(session, actor, case_id)

    def preview(self, form: DashForm, text: str) -> Preview:
        """The typed numbers read back as on the form (nothing is stored until confirmed)."""
        try:
            answers = parse_form_entry(form, text)
        except InputError as problem:
            raise ServiceError(str(problem)) from problem
        return Preview(read_back_form(form, answers), encode(answers, len(questions_of(form))))

    async def record(
        self,
        actor: Actor,
        case_id: int,
        form: DashForm,
        *,
        code: int | None = None,
        dara_level: DaraLevel | None = None,
    ) -> Recorded:
        """Store a new assessment: the answers confirmed (``code`` from ``preview``) or a
        DARA level. The answers are kept as counts only, like the referral's score."""
        authorise(actor, Operation.REFER_CASE, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        yes: int | None = None
        not_known: int | None = None
        if form is DashForm.DARA:
            if dara_level is None:
                raise ServiceError(texts.USE_THE_BUTTONS)
        else:
            if code is None:
                raise ServiceError(texts.USE_THE_BUTTONS)
            try:
                answers = decode(code, len(questions_of(form)))
            except ValueError as problem:
                raise ServiceError(texts.BUTTON_NOT_RECOGNISED) from problem
            mapped, _extra = to_safelives(form, answers)
            yes = sum(1 for a in mapped.values() if a is Answer.YES)
            not_known = sum(1 for a in mapped.values() if a is Answer.NOT_KNOWN)
        async with self._deps.sessions.begin() as session:
            target = await self._open(session, actor, case_id, record=False)
            before = latest_score((await assessments_of(session, [case_id]))[case_id])
            session.add(
                DashAssessment(
                    case_id=case_id,
                    assessed_at=now,
                    by_person_id=actor.person_id,
                    form=form.value,
                    dash_yes=yes,
                    dash_not_known=not_known,
                    dara_level=dara_level.value if dara_level else None,
                )
            )
            session.add(
                CaseEvent(
                    case_id=case_id, kind=DASH_REASSESSED, at=now, by_person_id=actor.person_id
                )
            )
            details: dict[str, str | int | None] = {"form": form.value}
            if yes is not None:
                details["dash_yes"] = yes
            if dara_level is not None:
                details["dara_level"] = dara_level.value
            await audit_by(
                session,
                actor,
                at=now,
                action="case.dash_reassessed",
                subject=target.reference,
                details=details,
            )
            return Recorded(target.reference, form.value, yes, before)

    async def _open(
        self, session: AsyncSession, actor: Actor, case_id: int, *, record: bool = True
    ) -> Target:
        now = self._deps.clock.now()
        level = await require(
            session, actor, case_id, CasePath.REASSESSMENT, now, missing=texts.CASE_NOT_FOUND
        )
        case = await session.get(Case, case_id)
        if case is None:
            raise NotFound(texts.CASE_NOT_FOUND)
        steps = await session.scalars(
            select(CaseEvent.kind).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)
        )
        if triage_status(steps) in CLOSED_STEPS:
            raise ServiceError(texts.DASH_REASSESS_NOT_OPEN)
        if record:
            await record_views(
                session, actor, [Shown(case.reference, level)], CasePath.REASSESSMENT, now
            )
        return Target(case.id, case.reference)

"""The agencies at an area's MARAC table and their information-sharing agreements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.actor import Actor
from bot.dates import format_uk_date
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise
from bot.services.audited import audit_by
from bot.services.deps import ServiceDeps
from bot.services.outbox import enqueue
from bot.vocabulary import AgencyKind, Role
from storage.audit import append_event
from storage.models import Agency, Area, Person

MAX_AGENCY_NAME = 120
ISA_REMINDER_LEAD = timedelta(days=30)


@dataclass(frozen=True)
class AgencyView:
    id: int
    name: str
    kind: AgencyKind
    isa_signed_on: date | None
    isa_review_on: date | None
    active_people: int


def clean_agency_name(raw: str) -> str:
    name = " ".join(raw.split())
    if len(name) < 2 or not any(ch.isalnum() for ch in name):
        raise ServiceError(texts.AGENCY_NAME_TOO_SHORT)
    if len(name) > MAX_AGENCY_NAME:
        raise ServiceError(texts.AGENCY_NAME_TOO_LONG)
    return name


def isa_reminder_due(review_on: date | None, reminded_for: date | None, today: date) -> bool:
    """A month before the review date, once per review date, and also if it has already passed."""
    if review_on is None or reminded_for == review_on:
        return False
    return today >= review_on - ISA_REMINDER_LEAD


class AgencyService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def list_for(self, actor: Actor) -> list[AgencyView]:
        authorise(actor, Operation.MANAGE_AGENCIES, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            counts = (
                select(Person.agency_id, func.count().label("n"))
                .where(Person.deactivated_at.is_(None))
                .group_by(Person.agency_id)
                .subquery()
            )
            rows = await session.execute(
                select(Agency, func.coalesce(counts.c.n, 0))
                .outerjoin(counts, counts.c.agency_id == Agency.id)
                .where(Agency.area_id == actor.area_id)
                .order_by(func.lower(Agency.name))
            )
            return [_view(agency, int(n)) for agency, n in rows.all()]

    async def get(self, actor: Actor, agency_id: int) -> AgencyView:
        authorise(actor, Operation.MANAGE_AGENCIES, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            agency = await self._owned(session, actor, agency_id)
            n = await session.scalar(
                select(func.count())
                .select_from(Person)
                .where(Person.agency_id == agency.id, Person.deactivated_at.is_(None))
            )
            return _view(agency, int(n or 0))

    async def add(self, actor: Actor, name: str, kind: AgencyKind) -> AgencyView:
        authorise(actor, Operation.MANAGE_AGENCIES, area_id=actor.area_id)
        name = clean_agency_name(name)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            await self._refuse_duplicate(session, actor.area_id, name)
            agency = Agency(
                area_id=actor.area_id,
                name=name,
                kind=kind,
                created_at=now,
                created_by_id=actor.person_id,
            )
            session.add(agency)
            await session.flush()
            await audit_by(
                session,
                actor,
                at=now,
                action="agency.added",
                subject=f"agency:{agency.id}",
                details={"kind": kind.value},
            )
            return _view(agency, 0)

    async def rename(self, actor: Actor, agency_id: int, new_name: str) -> AgencyView:
        authorise(actor, Operation.MANAGE_AGENCIES, area_id=actor.area_id)
        new_name = clean_agency_name(new_name)
        async with self._deps.sessions.begin() as session:
            agency = await self._owned(session, actor, agency_id)
            if agency.name != new_name:
                await self._refuse_duplicate(session, actor.area_id, new_name, agency.id)
                agency.name = new_name
                await audit_by(
                    session,
                    actor,
                    at=self._deps.clock.now(),
                    action="agency.renamed",
                    subject=f"agency:{agency.id}",
                )
            return _view(agency, 0)

    async def set_agreement(
        self, actor: Actor, agency_id: int, signed_on: date, review_on: date
    ) -> AgencyView:
        authorise(actor, Operation.MANAGE_AGENCIES, area_id=actor.area_id)
        today = self._deps.clock.now().date()
        if signed_on > today:
            raise ServiceError(texts.ISA_SIGNED_IN_FUTURE)
        if review_on <= signed_on:
            raise ServiceError(texts.ISA_REVIEW_BEFORE_SIGNED)
        async with self._deps.sessions.begin() as session:
            agency = await self._owned(session, actor, agency_id)
            agency.isa_signed_on = signed_on
            agency.isa_review_on = review_on
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="agency.agreement_recorded",
                subject=f"agency:{agency.id}",
                details={"signed_on": signed_on.isoformat(), "review_on": review_on.isoformat()},
            )
            return _view(agency, 0)

    async def queue_isa_reminders(self) -> int:
        """Agreements whose review is a month away (or overdue) and not yet reminded: each
        area's coordinators are told through the outbox (retried, outside quiet hours and on
        working days, like every reminder), in the transaction that marks them reminded."""
        now = self._deps.clock.now()
        queued = 0
        async with self._deps.sessions.begin() as session:
            rows = await session.execute(
                select(Agency, Area.timezone)
                .join(Area, Area.id == Agency.area_id)
                .where(Agency.isa_review_on.is_not(None))
            )
            for agency, timezone in rows.all():
                today = _local_today(now, timezone)
                if not isa_reminder_due(agency.isa_review_on, agency.isa_reminded_for, today):
                    continue
                assert agency.isa_review_on is not None
                coordinators = list(
                    await session.execute(
                        select(Person.id, Person.telegram_user_id).where(
                            Person.area_id == agency.area_id,
                            Person.role == Role.COORDINATOR,
                            Person.deactivated_at.is_(None),
                        )
                    )
                )
                agency.isa_reminded_for = agency.isa_review_on
                text = texts.isa_review_reminder(
                    agency.name,
                    format_uk_date(agency.isa_review_on),
                    agency.isa_review_on < today,
                )
                for person_id, chat_id in coordinators:
                    queued += await enqueue(
                        session,
                        dedupe_key=f"isa:{agency.id}:{agency.isa_review_on}:{person_id}",
                        chat_id=chat_id,
                        kind="isa_review",
                        text=text,
                        now=now,
                        area_id=agency.area_id,
                        person_id=person_id,
                    )
                await append_event(
                    session,
                    at=now,
                    area_id=agency.area_id,
                    action="agency.agreement_review_reminded",
                    subject=f"agency:{agency.id}",
                    details={"coordinators": len(coordinators)},
                )
        return queued

    async def _owned(self, session: AsyncSession, actor: Actor, agency_id: int) -> Agency:
        agency = await session.get(Agency, agency_id)
        if agency is None or agency.area_id != actor.area_id:
            raise NotFound(texts.AGENCY_NOT_FOUND)
        return agency

    async def _refuse_duplicate(
        self, session: AsyncSession, area_id: int, name: str, except_id: int | None = None
    ) -> None:
        query = select(Agency.id).where(
            Agency.area_id == area_id, func.lower(Agency.name) == name.lower()
        )
        if except_id is not None:
            query = query.where(Agency.id != except_id)
        if await session.scalar(query) is not None:
            raise ServiceError(texts.agency_exists(name))


def _local_today(now: datetime, timezone: str) -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def _view(agency: Agency, active_people: int) -> AgencyView:
    return AgencyView(
        agency.id,
        agency.name,
        agency.kind,
        agency.isa_signed_on,
        agency.isa_review_on,
        active_people,
    )

"""Who is enrolled in an area, and taking access away from leavers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.i18n import LANGUAGES
from bot.permissions import Operation, Scope, authorise, scope_for
from bot.services.audited import audit_by
from bot.services.deps import ServiceDeps
from bot.services.names import name_context
from bot.vocabulary import Role
from storage.models import Agency, Person


@dataclass(frozen=True)
class PersonView:
    id: int
    name: str
    role: Role
    agency_name: str | None
    last_active_at: datetime | None
    active: bool
    telegram_user_id: int
    on_call: bool = False
    # Not yet confirmed by a coordinator: the invite it came through, for the Confirm button.
    confirmed: bool = True
    invite_id: int | None = None


class PeopleService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def list_for(self, actor: Actor) -> list[PersonView]:
        """Active people; an agency-scoped role sees only colleagues in its own agency."""
        authorise(actor, Operation.VIEW_PEOPLE, area_id=actor.area_id, agency_id=actor.agency_id)
        query = (
            select(Person, Agency.name)
            .outerjoin(Agency, Agency.id == Person.agency_id)
            .where(Person.area_id == actor.area_id, Person.deactivated_at.is_(None))
        )
        if scope_for(actor.role, Operation.VIEW_PEOPLE) is Scope.AGENCY:
            query = query.where(Person.agency_id == actor.agency_id)
        async with self._deps.sessions.begin() as session:
            rows = (await session.execute(query)).all()
            views = [await self._view(session, person, agency) for person, agency in rows]
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="people.viewed",
                details={"count": len(views)},
            )
        return sorted(views, key=lambda v: (v.agency_name or "", v.role.value, v.name.lower()))

    async def get(self, actor: Actor, person_id: int) -> PersonView:
        authorise(actor, Operation.MANAGE_PEOPLE, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            row = (
                await session.execute(
                    select(Person, Agency.name)
                    .outerjoin(Agency, Agency.id == Person.agency_id)
                    .where(Person.id == person_id, Person.area_id == actor.area_id)
                )
            ).one_or_none()
            if row is None:
                raise NotFound(texts.PERSON_NOT_FOUND)
            return await self._view(session, row[0], row[1])

    async def deactivate(self, actor: Actor, person_id: int) -> PersonView:
        """Access ends at once: their next message or button press is refused."""
        authorise(actor, Operation.MANAGE_PEOPLE, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            person = await session.get(Person, person_id, with_for_update=True)
            if person is None or person.area_id != actor.area_id:
                raise NotFound(texts.PERSON_NOT_FOUND)
            await deactivate_person(session, actor, person, now)
            agency = await session.get(Agency, person.agency_id) if person.agency_id else None
            return await self._view(session, person, agency.name if agency else None)

    async def set_on_call(self, actor: Actor, person_id: int, on_call: bool) -> PersonView:
        """On-call contacts get urgent-case alerts at any hour, alongside the coordinators."""
        authorise(actor, Operation.MANAGE_PEOPLE, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            person = await session.get(Person, person_id)
            if person is None or person.area_id != actor.area_id or person.deactivated_at:
                raise NotFound(texts.PERSON_NOT_FOUND)
            person.on_call = on_call
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="person.on_call_set" if on_call else "person.on_call_cleared",
                subject=f"person:{person.id}",
            )
            agency = await session.get(Agency, person.agency_id) if person.agency_id else None
            return await self._view(session, person, agency.name if agency else None)

    async def set_language(self, actor: Actor, language: str) -> str:
        """The language the bot writes to this person in, and their documents (``bot.i18n``).

        Anyone enrolled may choose, for themselves only; what others are sent is unchanged.
        """
        authorise(actor, Operation.USE_BOT, area_id=actor.area_id, agency_id=actor.agency_id)
        if language not in LANGUAGES:
            raise NotFound(texts.BUTTON_NOT_RECOGNISED)
        async with self._deps.sessions.begin() as session:
            person = await session.get(Person, actor.person_id)
            if person is None or person.deactivated_at is not None:
                raise NotFound(texts.NO_LONGER_HAS_ACCESS)
            if person.language != language:
                person.language = language
                await audit_by(
                    session,
                    actor,
                    at=self._deps.clock.now(),
                    action="person.language_set",
                    subject=f"person:{person.id}",
                    details={"language": language},
                )
        return language

    async def _view(
        self, session: AsyncSession, person: Person, agency_name: str | None
    ) -> PersonView:
        return await person_view(self._deps, session, person, agency_name)


async def deactivate_person(
    session: AsyncSession, actor: Actor, person: Person, now: datetime, *, via: str | None = None
) -> None:
    """The one way access is taken away, in the caller's transaction (``person`` locked).

    Reminders stop with it (the outbox drops what is queued for a leaver) and so does every
    update and button press. The area keeps at least one confirmed coordinator: someone
    must be able to confirm and remove the others. ``via`` says where it was done from, for
    the audit trail ("enrolment check").
    """
    if person.deactivated_at is not None:
        raise ServiceError(texts.PERSON_ALREADY_DEACTIVATED)
    if person.id == actor.person_id:
        raise ServiceError(texts.CANNOT_DEACTIVATE_SELF)
    if person.role is Role.COORDINATOR:
        others = await session.scalar(
            select(func.count())
            .select_from(Person)
            .where(
                Person.area_id == person.area_id,
                Person.role == Role.COORDINATOR,
                Person.deactivated_at.is_(None),
                Person.confirmed_at.is_not(None),
                Person.id != person.id,
            )
        )
        if not others:
            raise ServiceError(texts.LAST_COORDINATOR)
    person.deactivated_at = now
    person.deactivated_by_id = actor.person_id
    details: dict[str, str] = {"role": person.role.value}
    if via is not None:
        details["via"] = via
    await audit_by(
        session,
        actor,
        at=now,
        action="person.deactivated",
        subject=f"person:{person.id}",
        details=details,
    )


async def person_view(
    deps: ServiceDeps, session: AsyncSession, person: Person, agency_name: str | None
) -> PersonView:
    """A person as lists and cards show them, with their sealed name opened."""
    name = texts.NAME_ERASED
    if person.data_key_id and person.display_name_sealed:
        name = await deps.vault.open(
            session, person.data_key_id, name_context(person.id), person.display_name_sealed
        )
    return PersonView(
        person.id,
        name,
        person.role,
        agency_name,
        person.last_active_at,
        person.deactivated_at is None,
        person.telegram_user_id,
        person.on_call,
        person.confirmed_at is not None,
        person.enrolled_via_invite_id,
    )

"""Confirming who enrolled: an invite link can be forwarded, so a coordinator says it is them.

When someone enrols through an invite a coordinator issued, every other confirmed coordinator
of the area is asked, through the outbox: "Sam Okafor enrolled as agency representative for
Northamptonshire Police. Is that right? [Confirm] [Remove]". Until one of them confirms, the
person gets no case information on any path (the access policy and the permission matrix
both treat them as unconfirmed) and the outbox holds whatever is queued for them.

Confirm records who and when (``Person.confirmed_at`` and ``confirmed_by_id``) and tells the
person; Remove takes their access away through the one deactivation path
(``people.deactivate_person``). Both are audited; the first decision wins, and any later press
says who decided and when. The operator's invite (``marac-bot init``, for an area's first
coordinator) needs no confirmation: the operator handed it over, and nobody else could give it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.actor import Actor
from bot.buttons import enrolment_buttons
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise
from bot.services.audited import audit_by
from bot.services.deps import ServiceDeps
from bot.services.names import name_context
from bot.services.outbox import cancel, enqueue
from bot.services.people import deactivate_person
from bot.texts import ROLE_NAMES
from bot.vocabulary import Role
from storage.models import Agency, Area, Person

CHECK_KIND = "enrolment_check"
CONFIRMED_KIND = "enrolment_confirmed"
# The outbox builds the question's text when it is sent, from "enrolment:<person id>".
TEXT_FROM = "enrolment"


class CheckState(enum.StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REMOVED = "removed"


@dataclass(frozen=True)
class EnrolmentCheck:
    """One enrolment as the coordinators decide on it, and how it stands now."""

    person_id: int
    invite_id: int
    name: str
    role: Role
    where: str
    telegram_user_id: int
    state: CheckState
    decided_by: str | None = None  # None when nobody had to: the operator's invite
    decided_at: datetime | None = None
    decided_now: bool = False  # by this very press
    language: str = "en"  # the enrolled person's own (bot.i18n), for what is set for them


def _check_keys(person_id: int, invite_id: int) -> str:
    return f"enrolment:{person_id}:{invite_id}:"


async def _where(session: AsyncSession, person: Person) -> str:
    """The agency they enrolled for, or the area for area-wide roles."""
    if person.agency_id is not None:
        agency = await session.get(Agency, person.agency_id)
        if agency is not None:
            return agency.name
    area = await session.get(Area, person.area_id)
    return area.name if area is not None else ""


async def ask_coordinators(
    session: AsyncSession, person: Person, invite_id: int, now: datetime
) -> int:
    """Queue the question to every confirmed coordinator of the area but the person, in the
    enrolment's own transaction; how many were asked.

    The stored text has no name (the outbox keeps none); the name is filled in when it is
    sent. A coordinator who is themselves unconfirmed is not asked: they could be the one a
    forwarded link reached.
    """
    coordinators = (
        await session.execute(
            select(Person.id, Person.telegram_user_id).where(
                Person.area_id == person.area_id,
                Person.role == Role.COORDINATOR,
                Person.deactivated_at.is_(None),
                Person.confirmed_at.is_not(None),
                Person.id != person.id,
            )
        )
    ).all()
    unnamed = texts.enrolment_check_unnamed(ROLE_NAMES[person.role], await _where(session, person))
    asked = 0
    for coordinator_id, chat_id in coordinators:
        asked += await enqueue(
            session,
            dedupe_key=f"{_check_keys(person.id, invite_id)}{coordinator_id}",
            chat_id=chat_id,
            kind=CHECK_KIND,
            text=unnamed,
            text_from=f"{TEXT_FROM}:{person.id}",
            buttons=enrolment_buttons(person.id, invite_id),
            now=now,
            area_id=person.area_id,
            person_id=int(coordinator_id),
        )
    return asked


class ConfirmationService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def check(self, actor: Actor, person_id: int, invite_id: int) -> EnrolmentCheck:
        """How the enrolment stands, for a coordinator about to decide on it."""
        authorise(actor, Operation.MANAGE_PEOPLE, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            person = await self._enrolment(session, actor, person_id, invite_id)
            return await self._state(session, person, invite_id)

    async def confirm(self, actor: Actor, person_id: int, invite_id: int) -> EnrolmentCheck:
        """It is them: they get what their role needs from now on, and are told so."""
        authorise(actor, Operation.MANAGE_PEOPLE, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            person = await self._enrolment(session, actor, person_id, invite_id, lock=True)
            if person.deactivated_at is not None or person.confirmed_at is not None:
                return await self._state(session, person, invite_id)
            if person.id == actor.person_id:
                raise ServiceError(texts.CANNOT_CONFIRM_SELF)
            person.confirmed_at = now
            person.confirmed_by_id = actor.person_id
            await audit_by(
                session,
                actor,
                at=now,
                action="person.confirmed",
                subject=f"person:{person.id}",
                details={"role": person.role.value, "invite": invite_id},
            )
            # The other coordinators' questions not sent yet are moot now.
            await cancel(session, dedupe_key_prefix=_check_keys(person.id, invite_id), now=now)
            decided = await self._state(session, person, invite_id, decided_now=True)
            await enqueue(
                session,
                dedupe_key=f"enrolment_confirmed:{person.id}:{invite_id}",
                chat_id=person.telegram_user_id,
                kind=CONFIRMED_KIND,
                text=texts.enrolment_confirmed_notice(person.role, decided.where),
                now=now,
                area_id=person.area_id,
                person_id=person.id,
            )
            return decided

    async def remove(self, actor: Actor, person_id: int, invite_id: int) -> EnrolmentCheck:
        """Not them (or not wanted): access ends at once, by the one deactivation path."""
        authorise(actor, Operation.MANAGE_PEOPLE, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            person = await self._enrolment(session, actor, person_id, invite_id, lock=True)
            if person.deactivated_at is not None or person.confirmed_at is not None:
                return await self._state(session, person, invite_id)
            await deactivate_person(session, actor, person, now, via="enrolment check")
            await cancel(session, dedupe_key_prefix=_check_keys(person.id, invite_id), now=now)
            return await self._state(session, person, invite_id, decided_now=True)

    async def check_text(self, person_id: int) -> str | None:
        """The question with the person's name, built as it is sent (``text_from``); None
        when the name can no longer be read, so the stored text without it goes instead."""
        async with self._deps.sessions() as session:
            person = await session.get(Person, person_id)
            if person is None or not person.data_key_id or not person.display_name_sealed:
                return None
            name = await self._name(session, person)
            return texts.enrolment_check(
                name, ROLE_NAMES[person.role], await _where(session, person)
            )

    # -- internals --------------------------------------------------------------------------

    async def _enrolment(
        self,
        session: AsyncSession,
        actor: Actor,
        person_id: int,
        invite_id: int,
        *,
        lock: bool = False,
    ) -> Person:
        person = await session.get(Person, person_id, with_for_update=lock)
        if person is None or person.area_id != actor.area_id:
            raise NotFound(texts.PERSON_NOT_FOUND)
        if person.enrolled_via_invite_id != invite_id:
            # They have enrolled again since: this question was about an older enrolment.
            raise NotFound(texts.BUTTON_NOT_RECOGNISED)
        return person

    async def _state(
        self, session: AsyncSession, person: Person, invite_id: int, *, decided_now: bool = False
    ) -> EnrolmentCheck:
        state, by_id, at = CheckState.PENDING, None, None
        if person.deactivated_at is not None:
            state, by_id, at = CheckState.REMOVED, person.deactivated_by_id, person.deactivated_at
        elif person.confirmed_at is not None:
            state, by_id, at = CheckState.CONFIRMED, person.confirmed_by_id, person.confirmed_at
        decider = await session.get(Person, by_id) if by_id is not None else None
        return EnrolmentCheck(
            person_id=person.id,
            invite_id=invite_id,
            name=await self._name(session, person),
            role=person.role,
            where=await _where(session, person),
            telegram_user_id=person.telegram_user_id,
            state=state,
            decided_by=await self._name(session, decider) if decider is not None else None,
            decided_at=at,
            decided_now=decided_now,
            language=person.language,
        )

    async def _name(self, session: AsyncSession, person: Person) -> str:
        if not person.data_key_id or not person.display_name_sealed:
            return texts.NAME_ERASED
        return await self._deps.vault.open(
            session, person.data_key_id, name_context(person.id), person.display_name_sealed
        )

"""Enrolment by invite code, and recognising enrolled people on every update."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.actor import Actor
from bot.invites import LOCKOUT_WINDOW, hash_code, is_locked_out, looks_like_code
from bot.services.confirmations import ask_coordinators
from bot.services.deps import ServiceDeps
from bot.services.names import name_context
from storage.audit import append_event
from storage.db import single_statement_session
from storage.models import Agency, Area, Invite, InviteAttempt, Person

# Writing last_active_at on every message would make every update a write.
LAST_ACTIVE_RESOLUTION = timedelta(minutes=5)
# Opened display names kept by identify, most recently used last (see EnrolmentService).
NAME_CACHE_SIZE = 4096
MAX_NAME_LENGTH = 128

# Built once: identify runs on every update, and building and hashing the statement each time
# (for SQLAlchemy's compiled-statement cache) would cost about as much as running it.
_IDENTIFY = (
    select(
        Person.id,
        Person.telegram_user_id,
        Person.role,
        Person.area_id,
        Person.agency_id,
        Person.data_key_id,
        Person.display_name_sealed,
        Person.last_active_at,
        Person.unreachable_since,
        Area.name,
        Agency.name,
        Area.timezone,
        Agency.kind,
        Person.on_call,
        Person.confirmed_at,
        Person.language,
    )
    .join(Area, Area.id == Person.area_id)
    .outerjoin(Agency, Agency.id == Person.agency_id)
    .where(
        Person.telegram_user_id == bindparam("telegram_user_id"),
        Person.deactivated_at.is_(None),
    )
)


class Redemption(StrEnum):
    ENROLLED = "enrolled"
    ALREADY_ENROLLED = "already_enrolled"
    NOT_VALID = "not_valid"
    LOCKED_OUT = "locked_out"


@dataclass(frozen=True)
class RedemptionResult:
    outcome: Redemption
    actor: Actor | None = None


class EnrolmentService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._names: OrderedDict[tuple[int, str, bytes], str] = OrderedDict()

    async def identify(self, telegram_user_id: int) -> Actor | None:
        """The active person behind a Telegram account, or None for anyone else.

        Runs before every update, so it costs one indexed read and nothing more: the row is read
        as plain columns (no ORM object to track and flush), and it writes only when something
        changed, i.e. ``last_active_at`` is older than :data:`LAST_ACTIVE_RESOLUTION` or the
        person had been marked unreachable.

        What is cached, and why not more (issue #20). Who the person is and what they may do
        (active or not, role, area, agency, confirmed, on call) is read afresh on every update,
        never cached: that one read, by a prebuilt statement on the unique index of
        ``telegram_user_id``, *is* the cheap check. Several ``marac-bot run`` processes may
        share a PostgreSQL database (``bot.adapter.leader``: one active, the others on standby
        and taking over at any moment), and people are deactivated, confirmed and re-enrolled
        with a new role from the bot, the case workspace and the command line, so a per-process
        cache of the person would need every one of those writers to reach every process, and
        a version counter would cost a read per update anyway. Read afresh, a deactivation, a
        role change or a confirmation applies to the person's very next update, on whichever
        process handles it, with nothing to invalidate; exclusions from a case are read with
        the case, by the access policy, for the same reason.

        What the read does not need again is the opened name: opening it unwraps the person's
        data key and decrypts, on every update, a name most answers never show. Opened names
        are kept in memory keyed by the person, the data key and the sealed bytes themselves,
        so a new name, a re-enrolment (a new data key) or an erased name (no sealed bytes)
        never finds a stale entry: the key *is* the version. At most
        :data:`NAME_CACHE_SIZE` are kept, least recently used dropped first.
        """
        async with self._deps.sessions() as session:
            # The commonest path is a read and nothing else: no BEGIN and COMMIT round trips.
            await single_statement_session(session)
            row = (
                await session.execute(_IDENTIFY, {"telegram_user_id": telegram_user_id})
            ).one_or_none()
            if row is None:
                return None
            (
                person_id,
                telegram_id,
                role,
                area_id,
                agency_id,
                data_key_id,
                name_sealed,
                last_active_at,
                unreachable_since,
                area_name,
                agency_name,
                timezone,
                agency_kind,
                on_call,
                confirmed_at,
                language,
            ) = row
            name = await self._open_sealed_name(session, person_id, data_key_id, name_sealed)
            now = self._deps.clock.now()
            changes: dict[str, object] = {}
            if last_active_at is None or now - last_active_at > LAST_ACTIVE_RESOLUTION:
                changes["last_active_at"] = now
            if unreachable_since is not None:
                changes["unreachable_since"] = None  # they wrote to us, so they can be reached
            if changes:
                await session.execute(
                    update(Person)
                    .where(Person.id == person_id)
                    .values(**changes)
                    .execution_options(synchronize_session=False)
                )
                await session.commit()
            return Actor(
                person_id=person_id,
                telegram_user_id=telegram_id,
                role=role,
                area_id=area_id,
                agency_id=agency_id,
                display_name=name,
                area_name=area_name,
                agency_name=agency_name,
                timezone=timezone,
                agency_kind=agency_kind,
                on_call=bool(on_call),
                confirmed=confirmed_at is not None,
                language=language or "en",
            )

    async def _open_name(self, session: AsyncSession, person: Person) -> str:
        return await self._open_sealed_name(
            session, person.id, person.data_key_id, person.display_name_sealed
        )

    async def _open_sealed_name(
        self, session: AsyncSession, person_id: int, data_key_id: str | None, sealed: bytes | None
    ) -> str:
        if data_key_id is None or sealed is None:
            return "colleague"
        key = (person_id, data_key_id, bytes(sealed))
        names = self._names
        name = names.get(key)
        if name is not None:
            names.move_to_end(key)
            return name
        name = await self._deps.vault.open(session, data_key_id, name_context(person_id), sealed)
        names[key] = name
        if len(names) > NAME_CACHE_SIZE:
            names.popitem(last=False)
        return name

    async def redeem(self, telegram_user_id: int, display_name: str, code: str) -> RedemptionResult:
        """Enrol the person an invite was meant for; every attempt is recorded and audited.

        An invite can be forwarded, so an enrolment by a coordinator's invite waits for a
        coordinator to confirm it (``bot.services.confirmations``): the coordinators are asked
        in this same transaction. The operator's invite (the area's first coordinator, from
        ``marac-bot init``) is confirmed as it is redeemed: nobody else could confirm it.
        """
        now = self._deps.clock.now()
        display_name = " ".join(display_name.split())[:MAX_NAME_LENGTH] or "colleague"
        async with self._deps.sessions.begin() as session:
            failures = await session.scalar(
                select(func.count())
                .select_from(InviteAttempt)
                .where(
                    InviteAttempt.telegram_user_id == telegram_user_id,
                    InviteAttempt.succeeded.is_(False),
                    InviteAttempt.attempted_at > now - LOCKOUT_WINDOW,
                )
            )
            if is_locked_out(int(failures or 0)):
                await append_event(
                    session,
                    at=now,
                    actor_label="telegram:unknown",
                    action="invite.redeem",
                    outcome="locked_out",
                )
                return RedemptionResult(Redemption.LOCKED_OUT)

            existing = await session.scalar(
                select(Person).where(Person.telegram_user_id == telegram_user_id)
            )
            if existing is not None and existing.deactivated_at is None:
                # Do not consume the code: it may be meant for a colleague.
                actor = await self._actor_for(session, existing)
                return RedemptionResult(Redemption.ALREADY_ENROLLED, actor)

            invite = None
            if looks_like_code(code):
                invite = await session.scalar(
                    select(Invite).where(Invite.code_hash == hash_code(code))
                )
            claimed = False
            if invite is not None:
                result = await session.execute(
                    update(Invite)
                    .where(
                        Invite.id == invite.id,
                        Invite.redeemed_at.is_(None),
                        Invite.revoked_at.is_(None),
                        Invite.expires_at > now,
                    )
                    .values(redeemed_at=now)
                    .execution_options(synchronize_session=False)
                )
                claimed = getattr(result, "rowcount", 0) == 1
            session.add(
                InviteAttempt(
                    telegram_user_id=telegram_user_id, attempted_at=now, succeeded=claimed
                )
            )
            if not claimed or invite is None:
                await append_event(
                    session,
                    at=now,
                    area_id=invite.area_id if invite else None,
                    actor_label="telegram:unknown",
                    action="invite.redeem",
                    subject=f"invite:{invite.id}" if invite else None,
                    outcome="refused",
                    details={
                        "reason": "unknown code" if invite is None else "used/expired/revoked"
                    },
                )
                return RedemptionResult(Redemption.NOT_VALID)

            # Confirmed now only when the operator issued the invite (it has no coordinator).
            confirmed_at = now if invite.created_by_id is None else None
            person = existing
            if person is None:
                person = Person(
                    area_id=invite.area_id,
                    agency_id=invite.agency_id,
                    role=invite.role,
                    telegram_user_id=telegram_user_id,
                    enrolled_at=now,
                    enrolled_via_invite_id=invite.id,
                    last_active_at=now,
                    confirmed_at=confirmed_at,
                    confirmed_by_id=None,
                )
                session.add(person)
                await session.flush()
            else:
                # A former member who was invited again starts afresh with the new role.
                person.area_id = invite.area_id
                person.agency_id = invite.agency_id
                person.role = invite.role
                person.enrolled_at = now
                person.enrolled_via_invite_id = invite.id
                person.deactivated_at = None
                person.deactivated_by_id = None
                person.last_active_at = now
                person.confirmed_at = confirmed_at
                person.confirmed_by_id = None
            data_key_id = await self._deps.vault.create_data_key(session, "person")
            await session.flush()
            person.data_key_id = data_key_id
            person.display_name_sealed = await self._deps.vault.seal(
                session, data_key_id, name_context(person.id), display_name
            )
            await session.execute(
                update(Invite)
                .where(Invite.id == invite.id)
                .values(redeemed_by_id=person.id)
                .execution_options(synchronize_session=False)
            )
            asked = 0
            if confirmed_at is None:
                asked = await ask_coordinators(session, person, invite.id, now)
            await append_event(
                session,
                at=now,
                area_id=invite.area_id,
                actor_person_id=person.id,
                actor_label="person",
                action="person.enrolled",
                subject=f"person:{person.id}",
                details={
                    "role": invite.role.value,
                    "invite": invite.id,
                    "confirmation": "operator invite" if confirmed_at else "awaited",
                    "coordinators_asked": asked,
                },
            )
            actor = await self._actor_for(session, person)
            return RedemptionResult(Redemption.ENROLLED, actor)

    async def _actor_for(self, session: AsyncSession, person: Person) -> Actor:
        area = await session.get(Area, person.area_id)
        assert area is not None
        agency = await session.get(Agency, person.agency_id) if person.agency_id else None
        return Actor(
            person_id=person.id,
            telegram_user_id=person.telegram_user_id,
            role=person.role,
            area_id=person.area_id,
            agency_id=person.agency_id,
            display_name=await self._open_name(session, person),
            area_name=area.name,
            agency_name=agency.name if agency else None,
            timezone=area.timezone,
            agency_kind=agency.kind if agency else None,
            on_call=person.on_call,
            confirmed=person.confirmed_at is not None,
        )

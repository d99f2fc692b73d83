"""Issuing invite codes. The code is shown once and only its hash is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot import texts
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.invites import (
    InviteFacts,
    InviteState,
    generate_code,
    hash_code,
    invite_state,
    role_agency_problem,
)
from bot.permissions import Operation, authorise
from bot.services.audited import audit_by
from bot.services.deps import ServiceDeps
from bot.vocabulary import Role
from storage.audit import append_event
from storage.models import Agency, Area, Invite


@dataclass(frozen=True)
class OpenInvite:
    id: int
    role: Role
    agency_name: str | None
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class IssuedInvite:
    invite_id: int
    code: str
    role: Role
    area_id: int
    agency_id: int | None
    expires_at: datetime


class InviteService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def issue(
        self,
        actor: Actor | None,
        *,
        area_id: int,
        role: Role,
        agency_id: int | None = None,
    ) -> IssuedInvite:
        """Issue a single-use code. ``actor`` None means the operator at the command line."""
        if actor is not None:
            authorise(actor, Operation.INVITE_PEOPLE, area_id=area_id)
        code = generate_code()
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            if await session.get(Area, area_id) is None:
                raise NotFound(texts.AREA_NOT_FOUND)
            agency = await session.get(Agency, agency_id) if agency_id is not None else None
            if agency_id is not None and (agency is None or agency.area_id != area_id):
                raise NotFound(texts.AGENCY_NOT_FOUND)
            problem = role_agency_problem(role, agency.kind if agency else None)
            if problem is not None:
                raise ServiceError(problem)
            invite = Invite(
                area_id=area_id,
                agency_id=agency_id,
                role=role,
                code_hash=hash_code(code),
                created_at=now,
                created_by_id=actor.person_id if actor else None,
                expires_at=now + self._deps.invite_ttl,
            )
            session.add(invite)
            await session.flush()
            await append_event(
                session,
                at=now,
                area_id=area_id,
                actor_person_id=actor.person_id if actor else None,
                actor_label="person" if actor else "cli",
                action="invite.issued",
                subject=f"invite:{invite.id}",
                details={"role": role.value, "agency_id": agency_id},
            )
            return IssuedInvite(invite.id, code, role, area_id, agency_id, invite.expires_at)

    async def list_open(self, actor: Actor) -> list[OpenInvite]:
        authorise(actor, Operation.INVITE_PEOPLE, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            now = self._deps.clock.now()
            rows = await session.execute(
                select(Invite, Agency.name)
                .outerjoin(Agency, Agency.id == Invite.agency_id)
                .where(
                    Invite.area_id == actor.area_id,
                    Invite.redeemed_at.is_(None),
                    Invite.revoked_at.is_(None),
                    Invite.expires_at > now,
                )
                .order_by(Invite.created_at)
            )
            return [
                OpenInvite(
                    invite.id, invite.role, agency_name, invite.created_at, invite.expires_at
                )
                for invite, agency_name in rows.all()
            ]

    async def revoke(self, actor: Actor, invite_id: int) -> None:
        authorise(actor, Operation.INVITE_PEOPLE, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            invite = await session.get(Invite, invite_id, with_for_update=True)
            if invite is None or invite.area_id != actor.area_id:
                raise NotFound(texts.INVITE_NOT_FOUND)
            state = invite_state(
                InviteFacts(invite.expires_at, invite.redeemed_at, invite.revoked_at), now
            )
            if state is not InviteState.OPEN:
                raise ServiceError(texts.invite_no_longer_open(state.value))
            invite.revoked_at = now
            invite.revoked_by_id = actor.person_id
            await audit_by(
                session, actor, at=now, action="invite.revoked", subject=f"invite:{invite.id}"
            )

    async def revoke_operator_invites(self, area_id: int, role: Role) -> int:
        """Retire earlier command-line invites so only the newest link printed by init works."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(Invite).where(
                        Invite.area_id == area_id,
                        Invite.role == role,
                        Invite.created_by_id.is_(None),
                        Invite.redeemed_at.is_(None),
                        Invite.revoked_at.is_(None),
                    )
                )
            )
            for invite in rows:
                invite.revoked_at = now
                await append_event(
                    session,
                    at=now,
                    area_id=area_id,
                    actor_label="cli",
                    action="invite.revoked",
                    subject=f"invite:{invite.id}",
                    details={"reason": "superseded by a new init invite"},
                )
            return len(rows)

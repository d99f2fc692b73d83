"""Issuing invite codes. The code is shown once and only its hash is kept."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from bot.actor import Actor
from bot.invites import generate_code, hash_code
from bot.permissions import Operation, authorise
from bot.services.deps import ServiceDeps
from storage.audit import append_event
from storage.models import Agency, Area, Invite, Role


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
                raise ValueError("That area does not exist.")
            if agency_id is not None:
                agency = await session.get(Agency, agency_id)
                if agency is None or agency.area_id != area_id:
                    raise ValueError("That agency is not part of this area.")
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

    async def open_invites_for(self, area_id: int) -> list[Invite]:
        async with self._deps.sessions() as session:
            now = self._deps.clock.now()
            rows = await session.scalars(
                select(Invite)
                .where(
                    Invite.area_id == area_id,
                    Invite.redeemed_at.is_(None),
                    Invite.revoked_at.is_(None),
                    Invite.expires_at > now,
                )
                .order_by(Invite.created_at)
            )
            return list(rows)

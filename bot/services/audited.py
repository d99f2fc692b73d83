"""Audit events for what a person did, with who they are filled in one way everywhere.

Nearly every service records its changes as the person who made them: the person's area, id
and the label "person". Spelling those three out at every call made it easy for one call to
get them wrong; this is the one place they are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.actor import Actor
from storage.audit import Scalar, append_event


async def audit_by(
    session: AsyncSession,
    actor: Actor,
    *,
    at: datetime,
    action: str,
    subject: str | None = None,
    details: Mapping[str, Scalar] | None = None,
    outcome: str = "ok",
) -> None:
    """Append an event in the caller's transaction, as done by ``actor``."""
    await append_event(
        session,
        at=at,
        area_id=actor.area_id,
        actor_person_id=actor.person_id,
        actor_label="person",
        action=action,
        subject=subject,
        outcome=outcome,
        details=details,
    )

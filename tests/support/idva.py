"""Allocating a named IDVA to a case directly in storage, for tests of what follows from it
(the policy, notices) that do not go through the allocation step itself."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import IdvaAllocation


async def allocate_idva(
    sessions: async_sessionmaker[AsyncSession],
    case_id: int,
    person_id: int,
    at: datetime,
    *,
    by: int | None = None,
) -> None:
    async with sessions.begin() as session:
        session.add(
            IdvaAllocation(
                case_id=case_id, person_id=person_id, allocated_at=at, allocated_by_id=by
            )
        )

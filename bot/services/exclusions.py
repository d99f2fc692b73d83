"""The must-not-receive rule, asked in one place by every service that tells or shows a case."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import CaseExclusion


async def is_excluded(session: AsyncSession, case_id: int, person_id: int) -> bool:
    found = await session.scalar(
        select(CaseExclusion.person_id).where(
            CaseExclusion.case_id == case_id, CaseExclusion.person_id == person_id
        )
    )
    return found is not None

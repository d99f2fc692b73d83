"""Which named IDVA holds each case: the latest allocation, read for many cases at once.

The allocation history is kept (``storage.models.IdvaAllocation``); the policy, the
notices about a case and the coordinator's oversight all need only the current holder, so
they ask here rather than each writing the "latest row" query.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IdvaAllocation, Person


async def allocated_idvas(session: AsyncSession, case_ids: Collection[int]) -> dict[int, int]:
    """Case id to the person id of its allocated IDVA, for the cases that have one.

    An IDVA who has left (deactivated) no longer holds her cases: they read as unallocated,
    so the whole service sees them again, anyone may take them, the coordinators' oversight
    lists them and their updates reach someone who is still there.
    """
    wanted = sorted(set(case_ids))
    if not wanted:
        return {}
    latest = (
        select(func.max(IdvaAllocation.id))
        .where(IdvaAllocation.case_id.in_(wanted))
        .group_by(IdvaAllocation.case_id)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(IdvaAllocation.case_id, IdvaAllocation.person_id)
        .join(Person, Person.id == IdvaAllocation.person_id)
        .where(IdvaAllocation.id.in_(latest), Person.deactivated_at.is_(None))
    )
    return {int(case_id): int(person_id) for case_id, person_id in rows.all()}

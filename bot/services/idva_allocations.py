"""Which named IDVA holds each case: the latest allocation, read for many cases at once.

The allocation history is kept (``storage.models.IdvaAllocation``); the policy, the
notices about a case and the coordinator's oversight all need only the current holder, so
they ask here rather than each writing the "latest row" query.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import IdvaAllocation, Person

# Built once: the access policy asks this on nearly every update (issue #20).
_LATEST = (
    select(func.max(IdvaAllocation.id))
    .where(IdvaAllocation.case_id.in_(bindparam("ids", expanding=True)))
    .group_by(IdvaAllocation.case_id)
    .scalar_subquery()
)
_ALLOCATED = (
    select(IdvaAllocation.case_id, IdvaAllocation.person_id)
    .join(Person, Person.id == IdvaAllocation.person_id)
    .where(IdvaAllocation.id.in_(_LATEST), Person.deactivated_at.is_(None))
)


async def allocated_idvas(session: AsyncSession, case_ids: Collection[int]) -> dict[int, int]:
    """Case id to the person id of its allocated IDVA, for the cases that have one.

    An IDVA who has left (deactivated) no longer holds her cases: they read as unallocated,
    so the whole service sees them again, anyone may take them, the coordinators' oversight
    lists them and their updates reach someone who is still there.
    """
    wanted = sorted(set(case_ids))
    if not wanted:
        return {}
    rows = await session.execute(_ALLOCATED, {"ids": wanted})
    return {int(case_id): int(person_id) for case_id, person_id in rows.all()}

"""The must-not-receive rule, asked in one place by every service that tells or shows a case.

Three forms of the same rule: one case and person; every (case, person) pair for a batch of
cases (an agenda, a day's chases); and a SQL condition, so a list of rows is cut by the
database in one statement instead of one question per row.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnElement, Select, exists, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from storage.models import CaseExclusion


async def is_excluded(session: AsyncSession, case_id: int, person_id: int) -> bool:
    found = await session.scalar(
        select(CaseExclusion.person_id).where(
            CaseExclusion.case_id == case_id, CaseExclusion.person_id == person_id
        )
    )
    return found is not None


async def excluded_pairs(
    session: AsyncSession, case_ids: Collection[int] | Select[tuple[int]]
) -> frozenset[tuple[int, int]]:
    """(case id, person id) pairs that must not receive these cases, in one statement."""
    if not isinstance(case_ids, Select) and not case_ids:
        return frozenset()
    rows = await session.execute(
        select(CaseExclusion.case_id, CaseExclusion.person_id).where(
            CaseExclusion.case_id.in_(case_ids)
        )
    )
    return frozenset((int(case_id), int(person_id)) for case_id, person_id in rows.all())


def visible_to(person_id: int, case_id: InstrumentedAttribute[int]) -> ColumnElement[bool]:
    """True for rows whose case (``case_id`` column) this person may receive.

    Answered from the primary key (case_id, person_id) of the exclusions table.
    """
    return ~exists().where(CaseExclusion.case_id == case_id, CaseExclusion.person_id == person_id)

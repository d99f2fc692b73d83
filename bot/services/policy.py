"""Reading an area's policy (thresholds, timings), created with SafeLives' defaults on first use."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import AreaPolicy

DEFAULTS: dict[str, Any] = {
    "dash_threshold": 14,
    "escalation_threshold": 3,
    "repeat_window_days": 365,
    "draft_ttl_days": 7,
    "out_of_hours_route": "the police on 999 if anyone is in immediate danger",
    "agenda_cutoff_days": 5,
    "research_days": 2,
    "reminder_days_before": 2,
    "reminder_hours_before": 2,
    "meeting_capacity": 20,
    "adult_female_population": None,
    "case_retention_years": 6,
}


async def area_policy(session: AsyncSession, area_id: int) -> AreaPolicy:
    """Read it; the first reader ever creates it with one statement that cannot race."""
    existing = await session.get(AreaPolicy, area_id)
    if existing is not None:
        return existing
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    await session.execute(
        insert(AreaPolicy)
        .values(area_id=area_id, **DEFAULTS)
        .on_conflict_do_nothing(index_elements=[AreaPolicy.area_id])
    )
    policy = await session.get(AreaPolicy, area_id)
    assert policy is not None
    return policy

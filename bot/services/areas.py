"""Creating MARAC areas (done by an operator with ``marac-bot init``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from bot.services.deps import ServiceDeps
from storage.audit import append_event
from storage.models import Area, Person, Role


@dataclass(frozen=True)
class AreaSummary:
    id: int
    name: str
    code: str
    created: bool
    active_coordinators: int


def area_code_candidates(name: str) -> list[str]:
    """Case references start with this code (NOR-2026-0042); try short, readable ones first."""
    letters = re.sub(r"[^A-Za-z]", "", name).upper() or "MAR"
    base = (letters + "XXX")[:3]
    return [base] + [f"{base}{n}" for n in range(2, 100)]


class AreaService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def ensure_area(self, name: str, timezone: str | None = None) -> AreaSummary:
        """Create the area once; running init again finds the existing one."""
        clean = " ".join(name.split())
        if not clean or len(clean) > 120:
            raise ValueError("The area name must be between 1 and 120 characters.")
        async with self._deps.sessions.begin() as session:
            area = await session.scalar(select(Area).where(func.lower(Area.name) == clean.lower()))
            created = area is None
            if area is None:
                taken = set(await session.scalars(select(Area.code)))
                code = next(c for c in area_code_candidates(clean) if c not in taken)
                area = Area(
                    name=clean,
                    code=code,
                    timezone=timezone or self._deps.default_timezone,
                    created_at=self._deps.clock.now(),
                )
                session.add(area)
                await session.flush()
                await append_event(
                    session,
                    at=self._deps.clock.now(),
                    area_id=area.id,
                    actor_label="cli",
                    action="area.created",
                    subject=f"area:{area.id}",
                )
            coordinators = await session.scalar(
                select(func.count())
                .select_from(Person)
                .where(
                    Person.area_id == area.id,
                    Person.role == Role.COORDINATOR,
                    Person.deactivated_at.is_(None),
                )
            )
            return AreaSummary(area.id, area.name, area.code, created, int(coordinators or 0))

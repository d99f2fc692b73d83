"""Creating MARAC areas (done by an operator with ``marac-bot init``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select

from bot.services.deps import ServiceDeps
from bot.services.policy import area_policy
from bot.vocabulary import Role
from storage.audit import append_event
from storage.models import Area, Person


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


@dataclass(frozen=True)
class PolicyView:
    area_name: str
    dash_threshold: int
    escalation_threshold: int
    repeat_window_days: int
    draft_ttl_days: int
    out_of_hours_route: str
    agenda_cutoff_days: int = 5
    research_days: int = 2
    reminder_days_before: int = 2
    reminder_hours_before: int = 2
    meeting_capacity: int = 20
    adult_female_population: int | None = None
    case_retention_years: int = 6
    research_open_days_after: int = 5
    calendar_location: bool = False


POLICY_LIMITS = {
    "dash_threshold": (1, 24),
    "escalation_threshold": (1, 50),
    "repeat_window_days": (30, 3 * 365),
    "draft_ttl_days": (1, 30),
    "agenda_cutoff_days": (1, 15),
    "research_days": (1, 10),
    "reminder_days_before": (1, 14),
    "reminder_hours_before": (1, 12),
    "meeting_capacity": (1, 100),
    "adult_female_population": (1_000, 20_000_000),
    "case_retention_years": (1, 25),
    "research_open_days_after": (1, 20),
}
# On/off settings; off unless the area chooses.
POLICY_SWITCHES = frozenset({"calendar_location"})


class PolicyService:
    """The steering group's local thresholds, set by an operator with ``marac-bot policy``."""

    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    async def update(self, area_name: str, changes: dict[str, int | str | bool]) -> PolicyView:
        for name, value in changes.items():
            if name in POLICY_SWITCHES:
                if not isinstance(value, bool):
                    raise ValueError(f"{name.replace('_', '-')} must be on or off.")
            elif name in POLICY_LIMITS:
                low, high = POLICY_LIMITS[name]
                if not isinstance(value, int) or not low <= value <= high:
                    raise ValueError(f"{name.replace('_', '-')} must be between {low} and {high}.")
            elif name == "out_of_hours_route":
                if not isinstance(value, str) or not 5 <= len(value.strip()) <= 300:
                    raise ValueError("out-of-hours must be 5 to 300 characters.")
            else:
                raise ValueError(f"unknown policy setting {name}")
        async with self._deps.sessions.begin() as session:
            area = await session.scalar(
                select(Area).where(func.lower(Area.name) == " ".join(area_name.split()).lower())
            )
            if area is None:
                raise ValueError(f"There is no area called {area_name}: run 'marac-bot init'.")
            policy = await area_policy(session, area.id)
            for name, value in changes.items():
                setattr(policy, name, value.strip() if isinstance(value, str) else value)
            if changes:
                await append_event(
                    session,
                    at=self._deps.clock.now(),
                    area_id=area.id,
                    actor_label="cli",
                    action="area.policy_changed",
                    details={
                        k: v
                        for k, v in changes.items()
                        if k in POLICY_LIMITS or k in POLICY_SWITCHES
                    },
                )
            return PolicyView(
                area.name,
                policy.dash_threshold,
                policy.escalation_threshold,
                policy.repeat_window_days,
                policy.draft_ttl_days,
                policy.out_of_hours_route,
                policy.agenda_cutoff_days,
                policy.research_days,
                policy.reminder_days_before,
                policy.reminder_hours_before,
                policy.meeting_capacity,
                policy.adult_female_population,
                policy.case_retention_years,
                policy.research_open_days_after,
                policy.calendar_location,
            )

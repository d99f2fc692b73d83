"""Statistics for the MARAC steering group, computed from the coded columns only.

No sealed value is opened: the figures come from the DASH score, criterion,
counts and equality flags kept in the clear for exactly this purpose.
Governance users always get small numbers suppressed ("<5").
"""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.actions.states import ActionState, PerpState, action_state, perp_state
from bot.actor import Actor
from bot.permissions import Operation, authorise
from bot.services.deps import ServiceDeps
from bot.services.policy import area_policy
from bot.stats.dataset_csv import figures_csv
from bot.stats.figures import (
    ActionRecord,
    AreaFigures,
    CaseRecord,
    MeetingRecord,
    Period,
    PerpRecord,
    compute,
    render_text,
)
from storage.audit import append_event
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgendaItem,
    Area,
    Case,
    Meeting,
    PerpetratorReferral,
    PerpetratorStep,
    Role,
)


class StatisticsService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    def today(self, actor: Actor) -> date:
        return self._deps.clock.now().astimezone(ZoneInfo(self._deps.default_timezone)).date()

    async def figures(self, actor: Actor, period: Period) -> tuple[AreaFigures, bool]:
        """The period's figures, and whether this person sees them suppressed."""
        authorise(actor, Operation.VIEW_STATISTICS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            area = await session.get(Area, actor.area_id)
            assert area is not None
            zone = ZoneInfo(area.timezone)
            policy = await area_policy(session, area.id)
            meetings = [
                m
                for m in await session.scalars(
                    select(Meeting).where(
                        Meeting.area_id == area.id,
                        Meeting.cancelled_at.is_(None),
                        Meeting.starts_at <= now,
                    )
                )
            ]
            held = {m.id: m.starts_at.astimezone(zone).date() for m in meetings}
            agencies = {
                a.id: a
                for a in await session.scalars(select(Agency).where(Agency.area_id == area.id))
            }
            heard: dict[int, list[int]] = {}
            for item in await session.scalars(
                select(AgendaItem).where(
                    AgendaItem.removed_at.is_(None), AgendaItem.meeting_id.in_(list(held))
                )
            ):
                heard.setdefault(item.case_id, []).append(item.meeting_id)
            cases: list[CaseRecord] = []
            for case in await session.scalars(select(Case).where(Case.area_id == area.id)):
                agency = agencies.get(case.referring_agency_id or -1)
                listings: list[int | None] = [*heard.get(case.id, [])] or [None]
                for meeting_id in listings:
                    cases.append(
                        CaseRecord(
                            case_id=case.id,
                            meeting_id=meeting_id,
                            heard_on=held.get(meeting_id) if meeting_id else None,
                            referred_on=case.referred_at.astimezone(zone).date(),
                            referring_agency_kind=agency.kind.value if agency else "other",
                            referring_agency=agency.name if agency else area.name,
                            repeat=case.repeat_of_case_id is not None,
                            children=case.children_count,
                            victim_gender=case.victim_gender,
                            victim_lgbt=case.victim_lgbt,
                            victim_disabled=case.victim_disabled,
                            victim_minoritised=case.victim_minoritised,
                            victim_aged_16_17=case.victim_aged_16_17,
                            perpetrator_under_18=case.perpetrator_under_18,
                        )
                    )
            actions: list[ActionRecord] = []
            for action in await session.scalars(
                select(Action)
                .join(Case, Case.id == Action.case_id)
                .where(Case.area_id == area.id, Action.sent_at.is_not(None))
            ):
                steps = await session.scalars(
                    select(ActionStep.state)
                    .where(ActionStep.action_id == action.id)
                    .order_by(ActionStep.id)
                )
                state = action_state([ActionState(s) for s in steps])
                agency = agencies.get(action.agency_id)
                actions.append(
                    ActionRecord(agency.name if agency else "", state.value, action.due_on)
                )
            perps: list[PerpRecord] = []
            for referral in await session.scalars(
                select(PerpetratorReferral)
                .join(Case, Case.id == PerpetratorReferral.case_id)
                .where(Case.area_id == area.id)
            ):
                rows = list(
                    await session.scalars(
                        select(PerpetratorStep)
                        .where(PerpetratorStep.referral_id == referral.id)
                        .order_by(PerpetratorStep.id)
                    )
                )
                started = next(
                    (r.at.astimezone(zone).date() for r in rows if r.state == PerpState.STARTED),
                    None,
                )
                service = agencies.get(referral.service_agency_id)
                perps.append(
                    PerpRecord(
                        service.name if service else "",
                        perp_state([PerpState(r.state) for r in rows]).value,
                        referral.referred_at.astimezone(zone).date(),
                        started,
                    )
                )
            figures = compute(
                period,
                cases,
                [MeetingRecord(i, d) for i, d in held.items()],
                actions,
                perps,
                adult_female_population=policy.adult_female_population,
                today=now.astimezone(zone).date(),
            )
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id,
                actor_label="person",
                action="statistics.viewed",
                details={"period": period.label},
            )
            return figures, actor.role is Role.GOVERNANCE

    async def summary(self, actor: Actor, period: Period) -> str:
        figures, suppressed = await self.figures(actor, period)
        return render_text(figures, suppressed=suppressed)

    async def dataset(self, actor: Actor, period: Period) -> tuple[str, bytes]:
        figures, suppressed = await self.figures(actor, period)
        name = period.label.lower().replace(" ", "-")
        return f"marac-dataset-{name}.csv", figures_csv(figures, suppressed=suppressed)

    async def chart(self, actor: Actor, period: Period) -> tuple[str, bytes]:
        # matplotlib costs ~45 MB of memory: load it only when someone asks for a chart.
        from bot.stats.chart import cases_chart_png

        figures, suppressed = await self.figures(actor, period)
        name = period.label.lower().replace(" ", "-")
        return f"marac-cases-{name}.png", cases_chart_png(figures, suppressed=suppressed)

"""Statistics for the MARAC steering group, computed from the coded columns only.

No sealed value is opened: the figures come from the DASH score, criterion,
counts and equality flags kept in the clear for exactly this purpose.
Governance users always get small numbers suppressed ("<5").

The counting rules live in ``bot.stats.figures.compute``; this module only fetches what
can change the requested period's figures, with a fixed handful of statements whatever
the size of the area's history (issue #8: reading every case, action and referral made
/stats take over a minute on an area with 100,000 cases).
"""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.actions.states import ActionState, PerpState
from bot.actor import Actor
from bot.dvds import Figures as DvdsFigures
from bot.dvds import Step as DvdsStepRow
from bot.dvds import figures as dvds_figures
from bot.dvds import progress as dvds_progress
from bot.permissions import Operation, authorise
from bot.services.audited import audit_by
from bot.services.deps import ServiceDeps
from bot.services.policy import area_policy
from bot.stats.dataset_csv import figures_csv, perpetrator_services_csv
from bot.stats.figures import (
    AGENCY_KINDS,
    ActionRecord,
    AreaFigures,
    CaseTally,
    MeetingRecord,
    Period,
    PerpRecord,
    compute,
    counted_to,
    last_12_months,
    local_day_bounds,
    overdue_cutoff,
    suppress,
)
from bot.stats.report import render_text
from bot.vocabulary import AgencyKind, Role
from storage.models import (
    Action,
    Agency,
    AgendaItem,
    Area,
    Case,
    DvdsApplication,
    DvdsStep,
    Meeting,
    PerpetratorReferral,
    PerpetratorStep,
)

# The kinds counted by name in SQL; "other" is what is left, so that a case whose referring
# agency is unknown or outside the area still counts (as the dataset's "other" column).
_NAMED_KINDS: tuple[str, ...] = tuple(kind for kind in AGENCY_KINDS if kind != "other")
# The equality and age columns summed per meeting, before the agency kinds.
_FLAGS = 6


class StatisticsService:
    """The steering group's figures, read with a handful of queries whatever the area's size.

    Every query is limited to what can change the requested period's figures (meetings
    held in it, actions due in it, perpetrator-service referrals made in it) and reads coded
    columns only, never an ORM entity with its sealed blobs. Cases heard and actions are
    counted by the database (GROUP BY) and handed to ``compute`` as tallies, because
    reading each of an area's thousands of heard cases into Python is what made /stats
    take a minute on a large area (issue #8).
    """

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
            today = now.astimezone(zone).date()
            policy = await area_policy(session, area.id)
            agencies = list(
                await session.execute(
                    select(Agency.id, Agency.name, Agency.kind)
                    .where(Agency.area_id == area.id)
                    .order_by(Agency.id)
                )
            )
            names = {agency_id: name for agency_id, name, _ in agencies}
            kinds: dict[str, list[int]] = {}
            for agency_id, _, kind in agencies:
                kinds.setdefault(AgencyKind(kind).value, []).append(agency_id)
            meetings = await _meetings_held(session, area.id, period, today, now, zone)
            # The staffing SafeLives recommends rests on the last 12 months whatever the period;
            # for the last 12 months themselves compute counts them from the period's cases.
            year = last_12_months(today)
            cases_last_12_months = (
                None
                if period == year
                else await _cases_heard_count(session, area.id, year, today, now, zone)
            )
            figures = compute(
                period,
                await _cases_heard(session, area.id, period, today, now, zone, kinds),
                [MeetingRecord(meeting_id, held_on) for meeting_id, held_on in meetings.items()],
                await _actions_due(session, period, today, names),
                await _perpetrator_referrals(session, period, zone, names),
                adult_female_population=policy.adult_female_population,
                today=today,
                repeat_window_days=policy.repeat_window_days,
                cases_last_12_months=cases_last_12_months,
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="statistics.viewed",
                details={"period": period.label},
            )
            return figures, actor.role is Role.GOVERNANCE

    async def summary(self, actor: Actor, period: Period) -> str:
        figures, suppressed = await self.figures(actor, period)
        dvds = await self.dvds_figures(actor, period)
        return f"{render_text(figures, suppressed=suppressed)}\n\n{dvds_text(dvds, suppressed)}"

    async def dvds_figures(self, actor: Actor, period: Period) -> DvdsFigures:
        """Clare's Law applications received in the period: by route, decided within the
        statutory guidance's timescale, median days to decision, disclosed or not. Coded
        columns only (route, days, decision), never the sealed identifiers or plan."""
        authorise(actor, Operation.VIEW_STATISTICS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            applications = list(
                (
                    await session.execute(
                        select(DvdsApplication.id, DvdsApplication.route).where(
                            DvdsApplication.area_id == actor.area_id,
                            DvdsApplication.received_on >= period.start,
                            DvdsApplication.received_on <= period.end,
                        )
                    )
                ).all()
            )
            steps: dict[int, list[DvdsStepRow]] = {}
            if applications:
                for application_id, kind, on, agency_id, due_on, panel_on, decision in (
                    await session.execute(
                        select(
                            DvdsStep.application_id,
                            DvdsStep.kind,
                            DvdsStep.on,
                            DvdsStep.agency_id,
                            DvdsStep.due_on,
                            DvdsStep.panel_on,
                            DvdsStep.decision,
                        )
                        .where(DvdsStep.application_id.in_([row[0] for row in applications]))
                        .order_by(DvdsStep.id)
                    )
                ).all():
                    steps.setdefault(int(application_id), []).append(
                        DvdsStepRow(kind, on, agency_id, due_on, panel_on, decision)
                    )
            return dvds_figures(
                dvds_progress(route, steps.get(int(application_id), []))
                for application_id, route in applications
                if steps.get(int(application_id))
            )

    async def dataset(self, actor: Actor, period: Period) -> tuple[str, bytes]:
        figures, suppressed = await self.figures(actor, period)
        name = period.label.lower().replace(" ", "-")
        return f"marac-dataset-{name}.csv", figures_csv(figures, suppressed=suppressed)

    async def perpetrator_dataset(self, actor: Actor, period: Period) -> tuple[str, bytes]:
        """Per perpetrator service, for commissioners: coded counts only."""
        figures, suppressed = await self.figures(actor, period)
        name = period.label.lower().replace(" ", "-")
        return (
            f"marac-perpetrator-services-{name}.csv",
            perpetrator_services_csv(figures, suppressed=suppressed),
        )

    async def chart(self, actor: Actor, period: Period) -> tuple[str, bytes]:
        # matplotlib costs ~45 MB of memory: load it only when someone asks for a chart.
        from bot.stats.chart import cases_chart_png

        figures, suppressed = await self.figures(actor, period)
        name = period.label.lower().replace(" ", "-")
        return f"marac-cases-{name}.png", cases_chart_png(figures, suppressed=suppressed)


def _held_filter(
    area_id: int, period: Period, today: date, now: datetime, zone: ZoneInfo
) -> ColumnElement[bool]:
    """Meetings of the area held (not cancelled, started by now) on the period's counted days.

    The meetings query and the cases query share this one condition, so the two always agree
    on which meetings were held. Turning the area's calendar days into UTC instants lets the
    meetings index find them (``local_day_bounds``).
    """
    start, end = local_day_bounds(period.start, counted_to(period, today), zone)
    return and_(
        Meeting.area_id == area_id,
        Meeting.cancelled_at.is_(None),
        Meeting.starts_at >= start,
        Meeting.starts_at < end,
        Meeting.starts_at <= now,
    )


async def _meetings_held(
    session: AsyncSession, area_id: int, period: Period, today: date, now: datetime, zone: ZoneInfo
) -> dict[int, date]:
    """Meeting id -> the day it was held, in the area's calendar."""
    rows = await session.execute(
        select(Meeting.id, Meeting.starts_at).where(_held_filter(area_id, period, today, now, zone))
    )
    return {row.id: row.starts_at.astimezone(zone).date() for row in rows}


async def _cases_heard_count(
    session: AsyncSession, area_id: int, period: Period, today: date, now: datetime, zone: ZoneInfo
) -> int:
    """How many cases the area's meetings heard in the period: ``_cases_heard``'s total."""
    count = await session.scalar(
        select(func.count())
        .select_from(Meeting)
        .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
        .join(Case, Case.id == AgendaItem.case_id)
        .where(
            _held_filter(area_id, period, today, now, zone),
            AgendaItem.removed_at.is_(None),
            Case.area_id == area_id,
        )
    )
    return int(count or 0)


async def _cases_heard(
    session: AsyncSession,
    area_id: int,
    period: Period,
    today: date,
    now: datetime,
    zone: ZoneInfo,
    ids_by_kind: dict[str, list[int]],
) -> list[CaseTally]:
    """One tally per meeting held in the period, counted by the database from coded columns.

    A case listed twice on one meeting's agenda is counted twice, as it always was: the
    agenda, not the case, is what the meeting heard. A referring agency that is not one of
    the area's (or none) counts as "other", the remainder. The kinds are matched by the
    area's agency ids rather than by joining the agencies table: the database then only
    compares a number per case, which at tens of thousands of cases a year is measurable.
    """
    kinds = [kind for kind in _NAMED_KINDS if kind in ids_by_kind]
    statement = (
        select(
            Meeting.id,
            Meeting.starts_at,
            func.count(),
            func.count().filter(Case.repeat_of_case_id.is_not(None)),
            func.sum(Case.children_count),
            # _FLAGS columns, in the order they are unpacked below.
            func.count().filter(Case.victim_gender == "male"),
            # Unknown (NULL) is not yes: the dataset counts recorded characteristics.
            func.count().filter(Case.victim_lgbt.is_(True)),
            func.count().filter(Case.victim_disabled.is_(True)),
            func.count().filter(Case.victim_minoritised.is_(True)),
            func.count().filter(Case.victim_aged_16_17.is_(True)),
            func.count().filter(Case.perpetrator_under_18.is_(True)),
            *(func.count().filter(Case.referring_agency_id.in_(ids_by_kind[k])) for k in kinds),
        )
        .select_from(Meeting)
        .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
        .join(Case, Case.id == AgendaItem.case_id)
        .where(
            _held_filter(area_id, period, today, now, zone),
            AgendaItem.removed_at.is_(None),
            Case.area_id == area_id,
        )
        # Grouped in the order the meetings index gives the rows, so SQLite need not sort them.
        .group_by(Meeting.starts_at, Meeting.id)
    )
    tallies: list[CaseTally] = []
    for row in await session.execute(statement):
        meeting_id, starts_at, cases, repeats, children, *counts = row
        male, lgbt, disabled, minoritised, aged_16_17, perpetrators_under_18 = counts[:_FLAGS]
        by_kind = dict(zip(kinds, counts[_FLAGS:], strict=True))
        by_kind["other"] = cases - sum(by_kind.values())
        tallies.append(
            CaseTally(
                meeting_id=meeting_id,
                heard_on=starts_at.astimezone(zone).date(),
                cases=cases,
                repeats=repeats,
                children=int(children),
                by_agency_kind=by_kind,
                male=male,
                lgbt=lgbt,
                disabled=disabled,
                minoritised=minoritised,
                aged_16_17=aged_16_17,
                perpetrators_under_18=perpetrators_under_18,
            )
        )
    return tallies


async def _actions_due(
    session: AsyncSession, period: Period, today: date, agencies: dict[int, str]
) -> list[ActionRecord]:
    """Sent actions due in the period, counted per agency, state and side of the overdue cut-off.

    Open is ``Action.closed_at`` empty (the projection written with the final step), and
    open actions are counted alike whatever their last step, so their group is labelled
    "assigned". A closed action's outcome is ``Action.closed_state``, the copy of its one
    final step written with it, so no step history is read at all.

    Actions are found by the area's agency ids (an action's agency is always one of its
    area's), so that the agency and due-date index gives only the period's actions, not
    every action of every case of the area.
    """
    overdue = (Action.due_on < overdue_cutoff(period, today)).label("overdue")
    state = Action.closed_state  # empty while the action is open
    statement = (
        select(Action.agency_id, state, overdue, func.min(Action.due_on), func.count())
        .where(
            Action.agency_id.in_(list(agencies)),
            Action.sent_at.is_not(None),
            Action.due_on >= period.start,
            Action.due_on <= period.end,
        )
        .group_by(Action.agency_id, state, "overdue")
    )
    return [
        ActionRecord(agencies[agency_id], state or ActionState.ASSIGNED.value, due_on, count)
        for agency_id, state, _, due_on, count in await session.execute(statement)
    ]


async def _perpetrator_referrals(
    session: AsyncSession, period: Period, zone: ZoneInfo, agencies: dict[int, str]
) -> list[PerpRecord]:
    """Perpetrator-service referrals made in the period: one row each, steps read alongside.

    Found through the area's agencies (the service is always one of them), for the same
    reason as the actions. A referral's state is its latest step, which is what replaying
    its history gives, since the service records only the steps the rules allow; and its
    start is its one "started" step (nothing leads back to it). The database reads both
    by the steps index, so a referral costs one row here rather than one per step.
    """
    start, end = local_day_bounds(period.start, period.end, zone)
    step = PerpetratorStep.__table__.alias("step")
    latest = (
        select(step.c.state)
        .where(step.c.referral_id == PerpetratorReferral.id)
        .order_by(step.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    started = (
        select(func.min(step.c.at))
        .where(step.c.referral_id == PerpetratorReferral.id, step.c.state == PerpState.STARTED)
        .scalar_subquery()
    )
    contacted = (
        select(func.min(step.c.at))
        .where(
            step.c.referral_id == PerpetratorReferral.id,
            step.c.state == PerpState.CONTACT_ATTEMPTED,
        )
        .scalar_subquery()
    )
    end_reason = (
        select(step.c.end_reason)
        .where(step.c.referral_id == PerpetratorReferral.id)
        .order_by(step.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            PerpetratorReferral.service_agency_id,
            PerpetratorReferral.referred_at,
            latest,
            started,
            contacted,
            end_reason,
        ).where(
            PerpetratorReferral.service_agency_id.in_(list(agencies)),
            PerpetratorReferral.referred_at >= start,
            PerpetratorReferral.referred_at < end,
        )
    )
    perps: list[PerpRecord] = []
    for service_id, referred_at, state, started_at, contacted_at, reason in rows:
        if state is None:
            raise ValueError("a perpetrator-service referral has no recorded steps")
        perps.append(
            PerpRecord(
                agencies[service_id],
                PerpState(state).value,
                referred_at.astimezone(zone).date(),
                started_at.astimezone(zone).date() if started_at is not None else None,
                contacted_at.astimezone(zone).date() if contacted_at is not None else None,
                reason,
            )
        )
    return perps


def dvds_text(figures: DvdsFigures, suppressed: bool) -> str:
    """The Clare's Law block of /stats; governance readers get small numbers hidden."""

    def c(value: int) -> int | str:
        return suppress(value) if suppressed else value

    return texts.dvds_figures(
        {route.value: c(count) for route, count in figures.received.items()},
        c(figures.decided),
        c(figures.in_time),
        figures.median_days,
        c(figures.disclosed),
        c(figures.not_disclosed),
    )

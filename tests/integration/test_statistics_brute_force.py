"""/stats against a brute-force count of a generated area, on SQLite and on PostgreSQL.

The service counts with a few grouped queries limited to the period asked about (issue
#8). Here an area gets meetings, cases, actions and perpetrator referrals before, inside,
after and across the periods a coordinator asks about: meetings half an hour either side
of midnight in British Summer Time (a different day in UTC than in London), cancelled
meetings, one later today that has not been held yet, withdrawn agenda items, cases
heard twice, unsent actions, and a neighbouring area with its own data on the same days.
Each period is then counted by hand in plain Python from the rows that were written, and
the figures the coordinator sees must be exactly those.
"""

from __future__ import annotations

import random
import statistics
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as wall_time
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event

from bot.actions.states import ActionState, PerpState, perp_next_options
from bot.actor import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.enrolment import Redemption
from bot.stats.figures import (
    AGENCY_KINDS,
    AreaFigures,
    CaseCounts,
    Period,
    last_12_months,
    quarter,
)
from bot.vocabulary import AgencyKind, Criterion, Role
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgendaItem,
    AreaPolicy,
    Case,
    Meeting,
    PerpetratorReferral,
    PerpetratorStep,
)

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # the runtime fixture's clock
TODAY = date(2026, 11, 26)
POPULATION = 120_000
FINAL_ACTION_STATES = {ActionState.DONE, ActionState.NOT_POSSIBLE}

# The area's agencies: (name, kind). Two perpetrator services, so each gets its own line.
AGENCIES: list[tuple[str, AgencyKind]] = [
    ("Northants Police", AgencyKind.POLICE),
    ("Sunflower IDVA Service", AgencyKind.IDVA),
    ("NHS Trust", AgencyKind.HEALTH),
    ("Hearth Housing", AgencyKind.HOUSING),
    ("Children's Services", AgencyKind.CHILDRENS_SOCIAL_CARE),
    ("Probation Service", AgencyKind.PROBATION),
    ("Community Group", AgencyKind.OTHER),
    ("Drive", AgencyKind.PERPETRATOR_SERVICE),
    ("Respect DVPP", AgencyKind.PERPETRATOR_SERVICE),
]


def local_day(instant: datetime) -> date:
    return instant.astimezone(LONDON).date()


def at_local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, wall_time(hour, minute), tzinfo=LONDON).astimezone(UTC)


# --- what was written, kept in plain Python for the brute-force count --------------------------


@dataclass
class PlannedCase:
    id: int
    area_id: int
    referring_agency_id: int | None
    repeat: bool
    children: int
    gender: str | None
    lgbt: bool | None
    disabled: bool | None
    minoritised: bool | None
    aged_16_17: bool
    perpetrator_under_18: bool | None


@dataclass
class PlannedMeeting:
    id: int
    area_id: int
    starts_at: datetime
    cancelled: bool = False


@dataclass
class PlannedItem:
    meeting_id: int
    case_id: int
    removed: bool


@dataclass
class PlannedAction:
    case_id: int
    agency_id: int
    due_on: date
    sent: bool
    steps: list[ActionState]


@dataclass
class PlannedPerp:
    case_id: int
    service_agency_id: int
    referred_at: datetime
    steps: list[tuple[PerpState, datetime]]


@dataclass
class World:
    coordinator: Actor
    area_id: int
    agencies: dict[int, tuple[str, AgencyKind]]
    cases: dict[int, PlannedCase] = field(default_factory=dict)
    meetings: dict[int, PlannedMeeting] = field(default_factory=dict)
    items: list[PlannedItem] = field(default_factory=list)
    actions: list[PlannedAction] = field(default_factory=list)
    perps: list[PlannedPerp] = field(default_factory=list)


class Ids:
    """Explicit ids, so the plan and the rows agree without reading anything back."""

    def __init__(self, base: int) -> None:
        self._base = base
        self._next: Counter[str] = Counter()

    def __call__(self, table: str) -> int:
        self._next[table] += 1
        return self._base + self._next[table]


async def enrol_coordinator(runtime: Runtime, area_id: int, telegram_user_id: int) -> Actor:
    services = runtime.services
    issued = await services.invites.issue(None, area_id=area_id, role=Role.COORDINATOR)
    result = await services.enrolment.redeem(telegram_user_id, "Cora Ordinator", issued.code)
    assert result.outcome is Redemption.ENROLLED and result.actor is not None
    return result.actor


def meeting_times(rng: random.Random) -> Iterator[tuple[datetime, bool]]:
    """A fortnightly 09:30 meeting from autumn 2024 into 2027, and the awkward ones."""
    day = date(2024, 10, 3)
    while day < date(2027, 2, 1):
        yield at_local(day, 9, 30), rng.random() < 0.08  # some cancelled
        day += timedelta(days=14)
    # Half an hour after midnight in summer time: 30 June / 30 September in UTC, but 1 July /
    # 1 October in London, so each belongs to the quarter that starts that day.
    yield datetime(2026, 6, 30, 23, 30, tzinfo=UTC), False
    yield datetime(2026, 9, 30, 23, 30, tzinfo=UTC), False
    # Half an hour before midnight: the last day of the quarter in London.
    yield at_local(date(2026, 9, 30), 23, 30), False
    yield at_local(date(2026, 3, 31), 23, 30), False
    # Today: one held this morning, one this afternoon that has not happened yet.
    yield datetime(2026, 11, 26, 8, 0, tzinfo=UTC), False
    yield datetime(2026, 11, 26, 14, 0, tzinfo=UTC), False
    # A meeting held in the quarter with nobody heard.
    yield at_local(date(2026, 8, 27), 13, 0), False


async def build_world(runtime: Runtime, seed: int = 8, cases: int = 260) -> World:
    services = runtime.services
    area_id = (await services.areas.ensure_area("Northamptonshire", "Europe/London")).id
    other_area_id = (await services.areas.ensure_area("Leicestershire", "Europe/London")).id
    coordinator = await enrol_coordinator(runtime, area_id, 1001)
    world = World(coordinator=coordinator, area_id=area_id, agencies={})
    await add_data(runtime, world, other_area_id, seed=seed, cases=cases, ids=Ids(10_000))
    return world


async def add_data(
    runtime: Runtime, world: World, other_area_id: int, *, seed: int, cases: int, ids: Ids
) -> None:
    """Write a generated area (and a neighbour) straight to the tables, and plan it alongside."""
    rng = random.Random(seed)
    rows: list[Any] = []
    created = datetime(2024, 1, 1, tzinfo=UTC)
    person_id = world.coordinator.person_id

    if not world.agencies:
        for name, kind in AGENCIES:
            agency_id = ids("agencies")
            world.agencies[agency_id] = (name, kind)
            rows.append(
                Agency(
                    id=agency_id, area_id=world.area_id, name=name, kind=kind, created_at=created
                )
            )
    neighbour_police = ids("agencies")
    rows.append(
        Agency(
            id=neighbour_police,
            area_id=other_area_id,
            name=f"Leicestershire Police {neighbour_police}",
            kind=AgencyKind.POLICE,
            created_at=created,
        )
    )
    agency_ids = list(world.agencies)
    perp_services = [
        i for i, (_, kind) in world.agencies.items() if kind is AgencyKind.PERPETRATOR_SERVICE
    ]
    mine = [i for i in agency_ids if i not in perp_services]

    # Meetings: this area's and the neighbour's, on the same days.
    for starts_at, cancelled in meeting_times(rng):
        for area_id in (world.area_id, other_area_id):
            meeting = PlannedMeeting(ids("meetings"), area_id, starts_at, cancelled)
            world.meetings[meeting.id] = meeting
            rows.append(
                Meeting(
                    id=meeting.id,
                    area_id=area_id,
                    starts_at=starts_at,
                    calendar_uid=f"stats-{meeting.id}@test",
                    created_at=created,
                    created_by_id=person_id,
                    cancelled_at=created if cancelled else None,
                    cancelled_by_id=person_id if cancelled else None,
                )
            )
    empty_meeting = at_local(date(2026, 8, 27), 13, 0)
    listable = [m for m in world.meetings.values() if m.starts_at != empty_meeting]

    def flag() -> bool | None:
        return rng.choice([True, False, False, None])

    for n in range(cases):
        neighbour = n % 8 == 7
        area_id = other_area_id if neighbour else world.area_id
        case_id = ids("cases")
        referrer: int | None
        if neighbour:
            referrer = neighbour_police
        else:
            # Mostly the police; now and then no agency, or one of the neighbour's.
            referrer = rng.choice([agency_ids[0]] * 4 + mine + [None, neighbour_police])
        earlier = [c.id for c in world.cases.values() if c.area_id == area_id]
        planned = PlannedCase(
            id=case_id,
            area_id=area_id,
            referring_agency_id=referrer,
            repeat=bool(earlier) and rng.random() < 0.3,
            children=rng.choice([0, 0, 1, 2, 3, 5]),
            gender=rng.choice(["female", "female", "female", "male", "other", None]),
            lgbt=flag(),
            disabled=flag(),
            minoritised=flag(),
            aged_16_17=rng.random() < 0.1,
            perpetrator_under_18=flag(),
        )
        world.cases[case_id] = planned
        rows.append(
            Case(
                id=case_id,
                area_id=area_id,
                reference=f"T{case_id}",
                referred_at=created,
                referred_by_id=person_id,
                referring_agency_id=referrer,
                criterion=Criterion.REPEAT if planned.repeat else Criterion.VISIBLE_HIGH_RISK,
                dash_yes=rng.randint(0, 24),
                dash_not_known=0,
                consent_given=True,
                children_count=planned.children,
                victim_gender=planned.gender,
                victim_lgbt=planned.lgbt,
                victim_disabled=planned.disabled,
                victim_minoritised=planned.minoritised,
                victim_aged_16_17=planned.aged_16_17,
                perpetrator_under_18=planned.perpetrator_under_18,
                victim_index=f"v{case_id}",
                repeat_of_case_id=rng.choice(earlier) if planned.repeat else None,
            )
        )
        # Heard at none, one or two meetings (a returning case), now and then withdrawn.
        own_meetings = [m for m in listable if m.area_id == area_id]
        for meeting in rng.sample(own_meetings, rng.choice([0, 1, 1, 1, 2])):
            item = PlannedItem(meeting.id, case_id, removed=rng.random() < 0.1)
            world.items.append(item)
            rows.append(
                AgendaItem(
                    id=ids("agenda_items"),
                    meeting_id=meeting.id,
                    case_id=case_id,
                    position=1,
                    added_at=created,
                    removed_at=created if item.removed else None,
                )
            )
            for _ in range(rng.choice([0, 1, 2, 3])):
                agency = neighbour_police if neighbour else rng.choice(mine)
                steps = [ActionState.ASSIGNED]
                while steps[-1] not in FINAL_ACTION_STATES and rng.random() < 0.7:
                    steps.append(
                        rng.choice(
                            [
                                ActionState.DONE,
                                ActionState.DONE,
                                ActionState.NOT_POSSIBLE,
                                ActionState.REASSIGNED,
                            ]
                            + ([ActionState.ACCEPTED] if steps[-1] != "accepted" else [])
                        )
                    )
                action = PlannedAction(
                    case_id=case_id,
                    agency_id=agency,
                    due_on=local_day(meeting.starts_at) + timedelta(days=rng.randint(0, 40)),
                    sent=rng.random() < 0.9,
                    steps=steps,
                )
                world.actions.append(action)
                rows.extend(action_rows(action, ids, person_id))
        if rng.random() < 0.25:
            service = neighbour_police if neighbour else rng.choice(perp_services)
            referred_at = rng.choice(
                [
                    datetime(2026, 6, 30, 23, 30, tzinfo=UTC),  # 1 July in London
                    datetime(2026, 9, 30, 23, 30, tzinfo=UTC),  # 1 October in London
                    at_local(date(2025, 6, 1), 10) + timedelta(days=rng.randint(0, 540)),
                ]
            )
            perp_steps = [(PerpState.REFERRED, referred_at)]
            for _ in range(rng.randint(0, 6)):
                options = perp_next_options(perp_steps[-1][0])
                if not options:
                    break
                perp_steps.append(
                    (rng.choice(options), perp_steps[-1][1] + timedelta(days=rng.randint(1, 20)))
                )
            perp = PlannedPerp(case_id, service, referred_at, perp_steps)
            world.perps.append(perp)
            rows.extend(perp_rows(perp, ids, person_id, created))

    async with runtime.sessions.begin() as session:
        policy = await session.get(AreaPolicy, world.area_id)
        if policy is None:
            session.add(AreaPolicy(area_id=world.area_id, adult_female_population=POPULATION))
        else:
            policy.adult_female_population = POPULATION
        # Parents before children, so foreign keys hold on PostgreSQL without deferral.
        order = [Agency, Meeting, Case, AgendaItem, Action, ActionStep, PerpetratorReferral]
        for model in [*order, PerpetratorStep]:
            session.add_all([row for row in rows if type(row) is model])
            await session.flush()


def action_rows(action: PlannedAction, ids: Ids, person_id: int) -> list[Any]:
    action_id = ids("actions")
    created = datetime(2024, 1, 1, tzinfo=UTC)
    closed = action.steps[-1] in FINAL_ACTION_STATES
    rows: list[Any] = [
        Action(
            id=action_id,
            case_id=action.case_id,
            agency_id=action.agency_id,
            due_on=action.due_on,
            created_at=created,
            created_by_id=person_id,
            sent_at=created if action.sent else None,
            closed_at=created if closed else None,
            closed_state=str(action.steps[-1]) if closed else None,
        )
    ]
    for state in action.steps:
        rows.append(
            ActionStep(id=ids("action_steps"), action_id=action_id, state=state, at=created)
        )
    return rows


def perp_rows(perp: PlannedPerp, ids: Ids, person_id: int, created: datetime) -> list[Any]:
    action_id = ids("actions")
    referral_id = ids("perpetrator_referrals")
    rows: list[Any] = [
        Action(
            id=action_id,
            case_id=perp.case_id,
            agency_id=perp.service_agency_id,
            due_on=date(2024, 1, 1),  # long before every period asked about
            created_at=created,
            created_by_id=person_id,
        ),
        PerpetratorReferral(
            id=referral_id,
            case_id=perp.case_id,
            action_id=action_id,
            service_agency_id=perp.service_agency_id,
            referred_at=perp.referred_at,
        ),
    ]
    for state, at in perp.steps:
        rows.append(
            PerpetratorStep(
                id=ids("perpetrator_steps"), referral_id=referral_id, state=state, at=at
            )
        )
    return rows


# --- the brute-force count ----------------------------------------------------------------------


def count_cases(
    cases: list[PlannedCase], agencies: dict[int, tuple[str, AgencyKind]]
) -> dict[str, Any]:
    kinds = Counter(
        agencies[c.referring_agency_id][1].value if c.referring_agency_id in agencies else "other"
        for c in cases
    )
    return {
        "cases_heard": len(cases),
        "repeat_cases": sum(1 for c in cases if c.repeat),
        "children": sum(c.children for c in cases),
        "referrals_by_agency_kind": {kind: kinds[kind] for kind in AGENCY_KINDS},
        "male": sum(1 for c in cases if c.gender == "male"),
        "lgbt": sum(1 for c in cases if c.lgbt is True),
        "disabled": sum(1 for c in cases if c.disabled is True),
        "minoritised": sum(1 for c in cases if c.minoritised is True),
        "aged_16_17": sum(1 for c in cases if c.aged_16_17),
        "perpetrators_under_18": sum(1 for c in cases if c.perpetrator_under_18 is True),
    }


def shown(counts: CaseCounts) -> dict[str, Any]:
    return {
        "cases_heard": counts.cases_heard,
        "repeat_cases": counts.repeat_cases,
        "children": counts.children,
        "referrals_by_agency_kind": counts.referrals_by_agency_kind,
        "male": counts.male,
        "lgbt": counts.lgbt,
        "disabled": counts.disabled,
        "minoritised": counts.minoritised,
        "aged_16_17": counts.aged_16_17,
        "perpetrators_under_18": counts.perpetrators_under_18,
    }


def brute_force(world: World, period: Period) -> dict[str, Any]:
    last_day = min(period.end, TODAY)
    cutoff = min(period.end + timedelta(days=1), TODAY)
    held = {
        m.id: local_day(m.starts_at)
        for m in world.meetings.values()
        if m.area_id == world.area_id
        and not m.cancelled
        and m.starts_at <= NOW
        and period.start <= local_day(m.starts_at) <= last_day
    }
    heard: dict[int, list[PlannedCase]] = {meeting_id: [] for meeting_id in held}
    for item in world.items:
        if item.meeting_id in held and not item.removed:
            heard[item.meeting_id].append(world.cases[item.case_id])
    every_case = [case for cases in heard.values() for case in cases]

    actions: dict[str, dict[str, int]] = {}
    for action in world.actions:
        case = world.cases[action.case_id]
        if case.area_id != world.area_id or not action.sent:
            continue
        if not period.start <= action.due_on <= period.end:
            continue
        name = world.agencies[action.agency_id][0]
        tally = actions.setdefault(name, {"done": 0, "not_possible": 0, "overdue": 0, "open": 0})
        state = action.steps[-1]
        if state in FINAL_ACTION_STATES:
            tally[state.value] += 1
        else:
            tally["open"] += 1
            tally["overdue"] += action.due_on < cutoff

    perp_states: dict[str, Counter[str]] = {}
    waits: dict[str, list[int]] = {}
    for perp in world.perps:
        if world.cases[perp.case_id].area_id != world.area_id:
            continue
        if local_day(perp.referred_at) not in period:
            continue
        name = world.agencies[perp.service_agency_id][0]
        perp_states.setdefault(name, Counter())[perp.steps[-1][0].value] += 1
        started = [at for state, at in perp.steps if state is PerpState.STARTED]
        waits.setdefault(name, [])
        if started:
            waits[name].append((local_day(started[0]) - local_day(perp.referred_at)).days)

    days = (last_day - period.start).days + 1
    return {
        "meetings": [
            (meeting_id, held_on, count_cases(heard[meeting_id], world.agencies))
            for meeting_id, held_on in sorted(held.items(), key=lambda kv: (kv[1], kv[0]))
        ],
        "total": count_cases(every_case, world.agencies),
        "per_10k": len(every_case) * 365 / days / POPULATION * 10_000,
        "actions": dict(sorted(actions.items())),
        "perp_by_state": {name: dict(states) for name, states in sorted(perp_states.items())},
        "perp_starts": {name: len(w) for name, w in sorted(waits.items())},
        "median": {
            name: float(statistics.median(w)) if w else None for name, w in sorted(waits.items())
        },
    }


def seen(figures: AreaFigures) -> dict[str, Any]:
    return {
        "meetings": [(m.meeting_id, m.held_on, shown(m)) for m in figures.meetings],
        "total": shown(figures),
        "per_10k": figures.cases_per_10k_women,
        "actions": figures.actions_by_agency,
        "perp_by_state": figures.perp_by_state,
        "perp_starts": figures.perp_starts,
        "median": figures.median_days_to_start,
    }


PERIODS = [
    quarter(2026, 3),  # ended; summer time throughout
    quarter(2026, 4),  # still running: counted up to today
    last_12_months(TODAY),
    quarter(2026, 1),  # ends on 31 March, the start of summer time
    quarter(2025, 4),
]


@pytest.fixture
async def world(runtime: Runtime, clock: ManualClock) -> World:
    assert clock.now() == NOW
    return await build_world(runtime)


async def test_figures_equal_a_brute_force_count(runtime: Runtime, world: World) -> None:
    for period in PERIODS:
        figures, suppressed = await runtime.services.statistics.figures(world.coordinator, period)

        expected = brute_force(world, period)
        assert not suppressed
        assert seen(figures) == {**expected, "per_10k": pytest.approx(expected["per_10k"])}, (
            period.label
        )
        # The data set must exercise what it claims to, or the equality above proves little.
        assert expected["total"]["cases_heard"] >= 10, period.label
        assert expected["actions"] and expected["perp_by_state"], period.label


async def test_meetings_are_counted_on_the_day_they_fall_in_the_area(
    runtime: Runtime, world: World
) -> None:
    """A meeting at 00:30 BST on 1 October is in Q4, though it is still 30 September in UTC."""
    q3, _ = await runtime.services.statistics.figures(world.coordinator, quarter(2026, 3))
    q4, _ = await runtime.services.statistics.figures(world.coordinator, quarter(2026, 4))

    q3_days = [m.held_on for m in q3.meetings]
    q4_days = [m.held_on for m in q4.meetings]
    assert q3_days[0] == date(2026, 7, 1) and q3_days[-1] == date(2026, 9, 30)
    assert q4_days[0] == date(2026, 10, 1)
    # This morning's meeting is in; this afternoon's has not been held yet.
    assert q4_days[-1] == TODAY and q4_days.count(TODAY) == 1
    assert date(2026, 8, 27) in q3_days  # held with nobody heard: still a meeting row


async def test_statements_per_call_do_not_grow_with_the_area(
    runtime: Runtime, world: World
) -> None:
    """/stats asks the database the same few questions however many cases there are."""
    period = last_12_months(TODAY)
    statements = 0

    def count(*_: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        await runtime.services.statistics.figures(world.coordinator, period)
        before = statements
        neighbour = (await runtime.services.areas.ensure_area("Leicestershire")).id
        await add_data(runtime, world, neighbour, seed=9, cases=200, ids=Ids(50_000))
        statements = 0
        figures, _ = await runtime.services.statistics.figures(world.coordinator, period)
        after = statements
    finally:
        event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)

    assert figures.cases_heard == brute_force(world, period)["total"]["cases_heard"]
    assert after == before


async def test_staffing_rests_on_the_last_12_months_whatever_the_period(
    runtime: Runtime, world: World
) -> None:
    """A quarter's summary still shows the staffing for the cases of the 12 months to today,
    and says which repeat window the area counts with."""
    year = brute_force(world, last_12_months(TODAY))["total"]["cases_heard"]
    assert year >= 10
    for period in PERIODS:
        figures, _ = await runtime.services.statistics.figures(world.coordinator, period)
        assert figures.cases_last_12_months == year, period.label
        assert figures.repeat_window_days == 365, period.label

    async with runtime.sessions.begin() as session:
        policy = await session.get(AreaPolicy, world.area_id)
        assert policy is not None
        policy.repeat_window_days = 180
    text = await runtime.services.statistics.summary(world.coordinator, quarter(2026, 3))
    assert "within 180 days of the last MARAC referral, as this area is set up." in text
    assert f"{year} cases heard in the 12 months to 26 Nov 2026:" in text

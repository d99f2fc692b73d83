"""Bulk seeding of one large MARAC area, for ``bench.throughput`` and ``bench.scale``.

Run by those benchmarks in a child process (``python -m bench.seed --url ... --out f.json``) so
the benchmark process's own memory is not inflated by seeding; it can also be run by hand.

What is written, and how
------------------------
Rows go in with SQLAlchemy Core ``insert()`` in batches (explicit ids, one transaction per
batch of cases), never through the services: going through ``ReferralService.submit`` would take
hours for 100,000 cases. The schema is made by ``storage.migrate.upgrade`` as in production.

* One area ("Benchshire", code BEN) with its policy row, 12 agencies (one of every kind, the
  perpetrator service included), the load users (coordinators and agency reps, with Telegram ids
  from 700,000,001) and a few more people who never write to the bot (two more coordinators, a
  chair, a governance member, two colleagues per agency, two perpetrator-service reps).
* ``--cases`` cases referred uniformly over the last ``--years`` years (default 6, the case
  retention period), numbered per calendar year as ``ReferralService`` numbers them. Coded
  columns are realistic mixes: criterion (60 % visible high risk, 20 % professional judgement,
  10 % potential escalation, 10 % repeat), DASH score, children, equality flags, 8 % urgent; the
  victim and perpetrator blind indexes are real ``KeyRing.blind_index`` output, with 8 % of cases
  a repeat victim within 12 months and 4 % sharing the person causing harm with an earlier case.
* Every sealed column holds real ``Vault.seal`` output under **one data key per case** (as
  ``ReferralService.submit`` does), wrapped by the run's key-encryption key, so opening a case
  costs what it costs in production, key unwrap included. People's names are sealed under their
  own keys. ``Vault.create_data_key`` is called with a stand-in session that only collects the
  ``DataKey`` rows, which are then bulk-inserted; keys and seals are the vault's own.
* Case history as ``CaseEvent`` rows: submitted; accepted (most), declined or information
  requested (with sealed notes); repeat suggested / confirmed; serial-perpetrator links; urgent
  alerts. Cases of the last 10 days are partly still awaiting triage.
* Meetings of ``--meeting-size`` (20) cases each, in order of acceptance, closed once held; the
  last batch of accepted cases is listed on a published meeting next week (the *target
  meeting*) together with 5 returning cases that still have open actions, with research returns
  (30 % with sealed notes) and attendance replies. Past agenda items have 2 research returns each.
* Actions: each heard case gets ``--actions-per-case`` actions (default 2.0; a fraction means
  that share of cases gets one more) for random agencies, with their steps (assigned, mostly
  accepted, then done or not possible), all closed; 5 % of heard cases also get a perpetrator
  service referral with its steps. On top, every agency has ``--open-actions`` (default 50)
  open, assigned actions on recent cases. ``ActionService.open_for_agency`` reads all of an
  agency's sent actions, so the closed history matters as much as the open ones.
* ``--audit-events`` audit events with a correct keyed chain (``storage.audit.keyed_link``),
  spread over the same years, and ``audit_head`` pointing at the last one, so the services
  append to a valid chain.
* On PostgreSQL the id sequences are moved past the seeded ids and ANALYZE runs (autovacuum
  would do the same on a live server). SQLite gets no ANALYZE, as the bot never runs one.

The fixtures (who the load users are, which cases each may open, which actions are open, the
target meeting) are written as JSON to ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.actions.states import ACTION_FINAL, ActionState, PerpState
from bot.referrals.status import CaseStep, format_reference
from bot.services.actions import action_context, perp_context, step_context
from bot.services.meetings import location_context, research_context
from bot.services.names import name_context
from bot.services.policy import DEFAULTS as POLICY_DEFAULTS
from bot.services.referrals import SERIAL_PERPETRATOR, case_context
from bot.vocabulary import AgencyKind, Criterion, Role
from storage.audit import GENESIS_HASH, canonical_event, keyed_link
from storage.crypto import FieldContext, KeyRing
from storage.db import create_engine
from storage.keyfile import key_ring_from_document
from storage.migrate import upgrade
from storage.models import (
    Action,
    ActionStep,
    Agency,
    AgendaItem,
    Area,
    AreaPolicy,
    AttendanceReply,
    AuditEvent,
    AuditHead,
    Case,
    CaseCounter,
    CaseEvent,
    CaseExclusion,
    DataKey,
    Meeting,
    PerpetratorReferral,
    PerpetratorStep,
    Person,
    ResearchReturn,
)
from storage.vault import Vault

AREA_ID = 1
AREA_CODE = "BEN"
AREA_NAME = "Benchshire"
TIMEZONE = "Europe/London"
FIRST_USER_ID = 700_000_001
FIRST_OTHER_ID = 800_000_001
CASES_PER_BATCH = 2_000
AUDIT_BATCH = 20_000
RETURNING_CASES = 5  # cases on the target meeting that come back with open actions
FIRST_NAMES = [
    "Amelia",
    "Olivia",
    "Isla",
    "Ava",
    "Mia",
    "Grace",
    "Sophia",
    "Lily",
    "Freya",
    "Emily",
    "Ivy",
    "Ella",
    "Rosie",
    "Evie",
    "Florence",
    "Poppy",
    "Charlotte",
    "Willow",
    "Isabella",
    "Sienna",
    "Daisy",
    "Alice",
    "Harper",
    "Jessica",
    "Phoebe",
    "Layla",
    "Ruby",
    "Zara",
]
MEN = [
    "Oliver",
    "George",
    "Noah",
    "Arthur",
    "Harry",
    "Leo",
    "Muhammad",
    "Jack",
    "Charlie",
    "Oscar",
    "Jacob",
    "Henry",
    "Thomas",
    "Freddie",
    "Alfie",
    "Theo",
    "William",
    "Theodore",
    "Archie",
    "Joshua",
    "Alexander",
    "James",
    "Isaac",
    "Edward",
    "Lucas",
    "Tommy",
    "Finley",
]
SURNAMES = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Johnson",
    "Davies",
    "Robinson",
    "Wright",
    "Thompson",
    "Evans",
    "Walker",
    "White",
    "Roberts",
    "Green",
    "Hall",
    "Wood",
    "Jackson",
    "Clarke",
    "Patel",
    "Khan",
    "Lewis",
    "James",
    "Phillips",
    "Mason",
    "Mitchell",
    "Rose",
    "Davis",
    "Rodriguez",
    "Cox",
    "Alexander",
    "Morgan",
    "Moore",
    "Martin",
    "Price",
    "Shaw",
    "Lee",
    "Hughes",
]
STREETS = [
    "Elm",
    "Oak",
    "Station",
    "Church",
    "Mill",
    "Park",
    "Victoria",
    "Manor",
    "Queens",
    "Kings",
    "Bridge",
    "Chapel",
]
AGENCIES: tuple[tuple[str, AgencyKind], ...] = (
    ("Benchshire Police", AgencyKind.POLICE),
    ("Sunflower IDVA Service", AgencyKind.IDVA),
    ("Children's Social Care", AgencyKind.CHILDRENS_SOCIAL_CARE),
    ("Adult Social Care", AgencyKind.ADULT_SOCIAL_CARE),
    ("Benchshire NHS Trust", AgencyKind.HEALTH),
    ("Benchshire Homes", AgencyKind.HOUSING),
    ("Probation Service", AgencyKind.PROBATION),
    ("Education Safeguarding", AgencyKind.EDUCATION),
    ("Mental Health Team", AgencyKind.MENTAL_HEALTH),
    ("Substance Misuse Service", AgencyKind.SUBSTANCE_MISUSE),
    ("Respect Programme", AgencyKind.PERPETRATOR_SERVICE),
    ("Women's Aid", AgencyKind.OTHER),
)
SUMMARIES = (
    "Threatened with a knife last week; he has keys to the flat and knows her new work address.",
    "Strangled during an argument on Saturday night; children present and police attended.",
    "Escalating controlling behaviour, tracking her phone, took her bank card; she fears for "
    "her life after he said he would kill her if she left.",
    "Repeated breaches of a non-molestation order; turned up at the school gate twice.",
    "Pregnant; pushed down the stairs; disclosed to midwife, who referred with consent.",
)
ACTION_TEXTS = (
    "Flag the address for a priority response and check bail conditions",
    "Offer IDVA support and complete a safety plan with her this week",
    "Hold a strategy discussion about the children and visit the school",
    "Install a panic alarm and change the locks at the property",
    "Share the MARAC outcome with the GP and add a safeguarding flag",
    "Review the tenancy and offer a management move if she wants one",
    "Check whether he is under supervision and share the risk with the offender manager",
)


@dataclass(frozen=True)
class SeedSpec:
    cases: int
    coordinators: int
    reps: int
    years: int = 6
    actions_per_case: float = 2.0
    open_actions: int = 50
    audit_events: int = 0
    meeting_size: int = 20
    seed: int = 20261126


@dataclass
class UserFixture:
    person_id: int
    telegram_user_id: int
    role: str
    agency_id: int | None
    name: str


@dataclass
class CaseFixture:
    id: int
    reference: str
    victim_name: str


@dataclass
class ActionFixture:
    id: int
    reference: str
    due_on: str


@dataclass
class Fixtures:
    area_id: int
    now: str
    users: list[UserFixture]
    agencies: dict[str, int]
    # Cases each load user referred (and so may open with identifying details), newest first.
    referred_by: dict[str, list[CaseFixture]]
    # A sample of accepted cases anywhere in the area, for coordinators.
    sample_cases: list[CaseFixture]
    # Open, assigned actions per agency id, for "Accept" presses.
    open_actions: dict[str, list[ActionFixture]]
    target_meeting_id: int
    target_meeting_items: int
    # A returning case on the target meeting: long history, research, open actions.
    rich_case: CaseFixture
    sent_actions_per_agency: dict[str, int]
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


class _KeyCollector:
    """Just enough of an AsyncSession for ``Vault.create_data_key``: it collects the rows."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(self, key: DataKey) -> None:
        self.rows.append(
            {
                "id": key.id,
                "purpose": key.purpose,
                "kek_id": key.kek_id,
                "wrapped": key.wrapped,
                "created_at": key.created_at,
            }
        )

    async def flush(self) -> None:
        return None

    def take(self) -> list[dict[str, Any]]:
        rows, self.rows = self.rows, []
        return rows


class Sealer:
    """Real data keys and real ``Vault.seal`` output, collected for bulk insertion."""

    def __init__(self, key_ring: KeyRing) -> None:
        self.vault = Vault(key_ring)
        self.keys = _KeyCollector()

    @property
    def _session(self) -> AsyncSession:
        return cast(AsyncSession, self.keys)

    async def new_key(self, purpose: str) -> str:
        return await self.vault.create_data_key(self._session, purpose)

    async def seal(self, key_id: str, context: FieldContext, plain: str) -> bytes:
        # The key was made moments ago, so the vault finds it in its cache, never in the session.
        return await self.vault.seal(self._session, key_id, context, plain)


@dataclass
class PlannedCase:
    id: int
    referred_at: datetime
    referrer: int  # person id
    agency_id: int | None
    victim: tuple[str, str]  # name, ISO date of birth
    perpetrator: tuple[str, str | None]
    criterion: Criterion
    urgent: bool
    status: str  # submitted | accepted | declined | info_then_accepted
    decided_at: datetime | None = None
    decided_by: int | None = None
    repeat_of: int | None = None
    serial_of: int | None = None
    reference: str = ""
    meeting_id: int | None = None
    item_id: int | None = None


@dataclass
class PlannedMeeting:
    id: int
    starts_at: datetime
    closed: bool
    published: bool
    case_ids: list[int]


class Batches:
    """Rows waiting for insertion, per table, written in foreign-key order."""

    ORDER: tuple[Table, ...] = cast(
        tuple[Table, ...],
        (
            DataKey.__table__,
            Person.__table__,
            Meeting.__table__,
            Case.__table__,
            CaseEvent.__table__,
            CaseExclusion.__table__,
            AgendaItem.__table__,
            ResearchReturn.__table__,
            AttendanceReply.__table__,
            Action.__table__,
            ActionStep.__table__,
            PerpetratorReferral.__table__,
            PerpetratorStep.__table__,
        ),
    )

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)

    def add(self, table: Table, row: dict[str, Any]) -> None:
        self.rows[table.name].append(row)

    async def flush(self, engine: AsyncEngine) -> None:
        async with engine.begin() as connection:
            for table in self.ORDER:
                rows = self.rows.pop(table.name, [])
                if rows:
                    await connection.execute(insert(table), rows)
                    self.counts[table.name] += len(rows)


def table(model: type[Any]) -> Table:
    return cast(Table, model.__table__)


def local_day(moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(TIMEZONE)).date()


def at_ten(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 10, 0, tzinfo=ZoneInfo(TIMEZONE)).astimezone(UTC)


class Seeder:
    def __init__(self, engine: AsyncEngine, key_ring: KeyRing, spec: SeedSpec) -> None:
        self.engine = engine
        self.ring = key_ring
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.sealer = Sealer(key_ring)
        self.batches = Batches()
        self.ids: dict[str, int] = defaultdict(int)
        self.agency_ids: dict[str, int] = {}
        self.agency_kind: dict[int, AgencyKind] = {}
        self.users: list[UserFixture] = []
        self.coordinators: list[int] = []
        self.reps_by_agency: dict[int, list[int]] = defaultdict(list)
        self.extra_people: list[int] = []
        self.people_agency: dict[int, int | None] = {}
        self.chair_id = 0
        self.seconds: dict[str, float] = {}

    def next_id(self, name: str) -> int:
        self.ids[name] += 1
        return self.ids[name]

    def progress(self, message: str) -> None:
        print(f"  [seed] {message}", file=sys.stderr, flush=True)

    # -- fixed rows ---------------------------------------------------------------------------

    async def base(self) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(table(Area)),
                [
                    {
                        "id": AREA_ID,
                        "name": AREA_NAME,
                        "code": AREA_CODE,
                        "timezone": TIMEZONE,
                        "created_at": self.now - timedelta(days=365 * self.spec.years + 30),
                    }
                ],
            )
            await connection.execute(
                insert(table(AreaPolicy)),
                [
                    {
                        "area_id": AREA_ID,
                        **POLICY_DEFAULTS,
                        "adult_female_population": 480_000,
                    }
                ],
            )
            agencies = []
            for number, (name, kind) in enumerate(AGENCIES, 1):
                self.agency_ids[name] = number
                self.agency_kind[number] = kind
                agencies.append(
                    {
                        "id": number,
                        "area_id": AREA_ID,
                        "name": name,
                        "kind": kind,
                        "isa_signed_on": date(2024, 4, 1),
                        "isa_review_on": local_day(self.now) + timedelta(days=200 + number),
                        "isa_reminded_for": None,
                        "created_at": self.now - timedelta(days=365 * self.spec.years),
                        "created_by_id": None,
                        "waiting_weeks": 6 if kind is AgencyKind.PERPETRATOR_SERVICE else None,
                    }
                )
            await connection.execute(insert(table(Agency)), agencies)
        await self.people()

    async def person(
        self,
        role: Role,
        agency_id: int | None,
        telegram_user_id: int,
        name: str,
        *,
        on_call: bool = False,
    ) -> int:
        person_id = self.next_id("people")
        key = await self.sealer.new_key("person")
        self.batches.add(
            table(Person),
            {
                "id": person_id,
                "area_id": AREA_ID,
                "agency_id": agency_id,
                "role": role,
                "telegram_user_id": telegram_user_id,
                "data_key_id": key,
                "display_name_sealed": await self.sealer.seal(key, name_context(person_id), name),
                "enrolled_at": self.now - timedelta(days=400),
                "enrolled_via_invite_id": None,
                "last_active_at": self.now - timedelta(days=1),
                "deactivated_at": None,
                "deactivated_by_id": None,
                "on_call": on_call,
                "unreachable_since": None,
                "confirmed_at": self.now - timedelta(days=400),
                "confirmed_by_id": None,
            },
        )
        self.people_agency[person_id] = agency_id
        return person_id

    async def people(self) -> None:
        spec = self.spec
        ordinary = [aid for aid, kind in self.agency_kind.items() if not _perp(kind)]
        telegram = FIRST_USER_ID
        for number in range(spec.coordinators):
            name = f"Coordinator {number + 1}"
            pid = await self.person(Role.COORDINATOR, None, telegram, name, on_call=number == 0)
            self.coordinators.append(pid)
            self.users.append(UserFixture(pid, telegram, Role.COORDINATOR.value, None, name))
            telegram += 1
        for number in range(spec.reps):
            agency_id = ordinary[number % len(ordinary)]
            name = f"Rep {number + 1}"
            pid = await self.person(Role.AGENCY_REP, agency_id, telegram, name)
            self.reps_by_agency[agency_id].append(pid)
            self.users.append(UserFixture(pid, telegram, Role.AGENCY_REP.value, agency_id, name))
            telegram += 1
        other = FIRST_OTHER_ID
        for number in range(2):
            pid = await self.person(Role.COORDINATOR, None, other, f"Second coordinator {number}")
            self.coordinators.append(pid)
            other += 1
        self.chair_id = await self.person(Role.CHAIR, None, other, "The Chair")
        other += 1
        await self.person(Role.GOVERNANCE, None, other, "Steering group")
        other += 1
        for agency_id, kind in self.agency_kind.items():
            role = Role.PERPETRATOR_REP if _perp(kind) else Role.AGENCY_REP
            for number in range(2):
                pid = await self.person(role, agency_id, other, f"Colleague {agency_id}-{number}")
                other += 1
                self.extra_people.append(pid)
                if role is Role.AGENCY_REP:
                    self.reps_by_agency[agency_id].append(pid)
        for row in self.sealer.keys.take():
            self.batches.add(table(DataKey), row)
        await self.batches.flush(self.engine)

    # -- planning -----------------------------------------------------------------------------

    def plan_cases(self) -> list[PlannedCase]:
        spec, rng, now = self.spec, self.rng, self.now
        start = now - timedelta(days=365 * spec.years)
        span = (now - timedelta(hours=2) - start).total_seconds()
        moments = sorted(start + timedelta(seconds=rng.random() * span) for _ in range(spec.cases))
        referrers = [pid for pids in self.reps_by_agency.values() for pid in pids]
        cases: list[PlannedCase] = []
        counters: dict[int, int] = defaultdict(int)
        recent_victims: list[int] = []  # indexes into cases, a sliding window of about a year
        for index, referred_at in enumerate(moments):
            if rng.random() < 0.15:
                referrer, agency_id = rng.choice(self.coordinators), None
            else:
                referrer = rng.choice(referrers)
                agency_id = self.people_agency[referrer]
            victim = (
                f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                date(1960 + rng.randrange(45), 1 + rng.randrange(12), 1 + rng.randrange(28)),
            )
            perpetrator = (
                f"{rng.choice(MEN)} {rng.choice(SURNAMES)}",
                date(1955 + rng.randrange(50), 1 + rng.randrange(12), 1 + rng.randrange(28)),
            )
            criterion = rng.choices(list(Criterion), weights=(60, 20, 10, 10), k=1)[
                0
            ]  # visible, judgement, escalation, repeat
            planned = PlannedCase(
                id=index + 1,
                referred_at=referred_at,
                referrer=referrer,
                agency_id=agency_id,
                victim=(victim[0], victim[1].isoformat()),
                perpetrator=(perpetrator[0], perpetrator[1].isoformat()),
                criterion=criterion,
                urgent=rng.random() < 0.08,
                status="accepted",
            )
            while recent_victims and cases[recent_victims[0]].referred_at < referred_at - timedelta(
                days=365
            ):
                recent_victims.pop(0)
            if recent_victims and rng.random() < 0.08:
                earlier = cases[rng.choice(recent_victims)]
                planned.victim = earlier.victim
                planned.criterion = Criterion.REPEAT
                planned.repeat_of = earlier.id
            elif planned.criterion is Criterion.REPEAT:
                planned.criterion = Criterion.VISIBLE_HIGH_RISK
            if cases and rng.random() < 0.04:
                earlier = cases[max(0, index - 1 - rng.randrange(min(index, 5_000)))]
                if earlier.victim != planned.victim:
                    planned.perpetrator = earlier.perpetrator
                    planned.serial_of = earlier.id
            year = local_day(referred_at).year
            counters[year] += 1
            planned.reference = format_reference(AREA_CODE, year, counters[year])
            age = now - referred_at
            if age < timedelta(days=10) and rng.random() < 0.4:
                planned.status = "submitted"
            else:
                roll = rng.random()
                planned.status = (
                    "declined"
                    if roll < 0.04
                    else "info_then_accepted"
                    if roll < 0.07
                    else "accepted"
                )
                planned.decided_at = min(
                    referred_at + timedelta(hours=2 + rng.random() * 70), now - timedelta(hours=1)
                )
                planned.decided_by = rng.choice(self.coordinators)
            cases.append(planned)
            recent_victims.append(index)
        self.counters = dict(counters)
        return cases

    def plan_meetings(self, cases: list[PlannedCase]) -> list[PlannedMeeting]:
        size = self.spec.meeting_size
        accepted = sorted(
            (c for c in cases if c.status in ("accepted", "info_then_accepted")),
            key=lambda c: (c.decided_at or c.referred_at, c.id),
        )
        target_new = accepted[-(size - RETURNING_CASES) :] if accepted else []
        history = accepted[: len(accepted) - len(target_new)]
        meetings: list[PlannedMeeting] = []
        for start in range(0, len(history), size):
            chunk = history[start : start + size]
            last = max(c.decided_at or c.referred_at for c in chunk)
            starts = at_ten(local_day(last) + timedelta(days=8))
            held = starts + timedelta(hours=4) < self.now
            meeting = PlannedMeeting(self.next_id("meetings"), starts, held, True, [])
            meetings.append(meeting)
            for case in chunk:
                case.meeting_id = meeting.id
                meeting.case_ids.append(case.id)
        target = PlannedMeeting(
            self.next_id("meetings"),
            at_ten(local_day(self.now) + timedelta(days=7)),
            False,
            True,
            [c.id for c in target_new],
        )
        for case in target_new:
            case.meeting_id = target.id
        meetings.append(target)
        self.target = target
        for weeks in range(2, 7):  # further meetings already scheduled, empty so far
            meetings.append(
                PlannedMeeting(
                    self.next_id("meetings"),
                    at_ten(local_day(self.now) + timedelta(days=7 * weeks)),
                    False,
                    False,
                    [],
                )
            )
        return meetings

    # -- writing ------------------------------------------------------------------------------

    async def write_meetings(self, meetings: list[PlannedMeeting]) -> None:
        for meeting in meetings:
            location_key = None
            location = None
            if not meeting.closed:
                location_key = await self.sealer.new_key("meeting")
                location = await self.sealer.seal(
                    location_key,
                    location_context(meeting.id),
                    "Council offices, Room 4, and Teams: https://teams.example/marac",
                )
            self.batches.add(
                table(Meeting),
                {
                    "id": meeting.id,
                    "area_id": AREA_ID,
                    "series_id": None,
                    "starts_at": meeting.starts_at,
                    "duration_minutes": 180,
                    "capacity": self.spec.meeting_size,
                    "chair_person_id": self.chair_id,
                    "data_key_id": location_key,
                    "location_sealed": location,
                    "calendar_uid": f"bench-{meeting.id}@marac-bot",
                    "calendar_sequence": 0,
                    "created_at": meeting.starts_at - timedelta(days=60),
                    "created_by_id": self.coordinators[0],
                    "moved_at": None,
                    "moved_by_id": None,
                    "published_at": (
                        meeting.starts_at - timedelta(days=6) if meeting.published else None
                    ),
                    "published_by_id": self.coordinators[0] if meeting.published else None,
                    "cancelled_at": None,
                    "cancelled_by_id": None,
                    "closed_at": meeting.starts_at + timedelta(hours=3) if meeting.closed else None,
                    "closed_by_id": self.coordinators[0] if meeting.closed else None,
                },
            )
        for row in self.sealer.keys.take():
            self.batches.add(table(DataKey), row)
        await self.batches.flush(self.engine)

    async def write_cases(
        self,
        cases: list[PlannedCase],
        meetings: dict[int, PlannedMeeting],
        open_plan: dict[int, list[int]],
        returning: set[int],
        target: PlannedMeeting,
    ) -> tuple[dict[str, list[ActionFixture]], dict[str, int]]:
        rng = self.rng
        ordinary = [aid for aid, kind in self.agency_kind.items() if not _perp(kind)]
        perp_agency = next(aid for aid, kind in self.agency_kind.items() if _perp(kind))
        all_agencies = list(self.agency_kind)
        whole, fraction = divmod(self.spec.actions_per_case, 1)
        open_actions: dict[str, list[ActionFixture]] = defaultdict(list)
        sent_per_agency: dict[str, int] = defaultdict(int)
        by_id = {c.id: c for c in cases}
        for number, case in enumerate(cases, 1):
            key = await self.sealer.new_key("case")
            await self.write_case(case, key, by_id)
            meeting = meetings.get(case.meeting_id) if case.meeting_id else None
            items: list[tuple[int, PlannedMeeting]] = []
            if meeting is not None:
                items.append((self.agenda_item(case, meeting), meeting))
            if case.id in returning:
                items.append((self.agenda_item(case, target), target))
            for item_id, listed in items:
                await self.research(case, key, item_id, listed, listed is target)
            if meeting is not None and meeting.closed:
                count = int(whole) + (1 if rng.random() < fraction else 0)
                for agency_id in rng.sample(ordinary, min(count, len(ordinary))):
                    await self.closed_action(case, key, agency_id, meeting)
                    sent_per_agency[str(agency_id)] += 1
                if rng.random() < 0.05:
                    await self.perpetrator_referral(case, key, perp_agency, meeting)
                    sent_per_agency[str(perp_agency)] += 1
            for agency_id in open_plan.get(case.id, []):
                assert meeting is not None
                fixture = await self.open_action(case, key, agency_id, meeting)
                open_actions[str(agency_id)].append(fixture)
                sent_per_agency[str(agency_id)] += 1
            if rng.random() < 0.005 and self.extra_people:
                self.batches.add(
                    table(CaseExclusion),
                    {
                        "case_id": case.id,
                        "person_id": rng.choice(self.extra_people),
                        "added_at": case.referred_at + timedelta(days=1),
                        "added_by_id": self.coordinators[0],
                    },
                )
            if number % CASES_PER_BATCH == 0 or number == len(cases):
                for row in self.sealer.keys.take():
                    self.batches.add(table(DataKey), row)
                await self.batches.flush(self.engine)
                if number % (CASES_PER_BATCH * 10) == 0 or number == len(cases):
                    self.progress(f"{number}/{len(cases)} cases written")
        if target.case_ids:
            for agency_id in all_agencies[:8]:
                self.batches.add(
                    table(AttendanceReply),
                    {
                        "id": self.next_id("attendance_replies"),
                        "meeting_id": target.id,
                        "agency_id": agency_id,
                        "status": "attending",
                        "reason_sealed": None,
                        "by_person_id": (self.reps_by_agency.get(agency_id) or [self.chair_id])[0],
                        "at": self.now - timedelta(days=1),
                    },
                )
            await self.batches.flush(self.engine)
        return dict(open_actions), dict(sent_per_agency)

    async def write_case(self, case: PlannedCase, key: str, by_id: dict[int, PlannedCase]) -> None:
        rng = self.rng
        dash = {
            str(q): rng.choices(("yes", "no", "not_known"), weights=(55, 35, 10), k=1)[0]
            for q in range(1, 25)
        }
        yes = sum(1 for answer in dash.values() if answer == "yes")
        if case.criterion is Criterion.VISIBLE_HIGH_RISK:
            yes = max(yes, 14)
        children = rng.choices((0, 1, 2, 3, 4), weights=(35, 25, 25, 10, 5), k=1)[0]
        judgement = (
            "Extreme fear and recent strangulation reported"
            if case.criterion is Criterion.PROFESSIONAL_JUDGEMENT
            else None
        )
        victim_dob = date.fromisoformat(case.victim[1])
        sealed = {
            "victim_sealed": {
                "name": case.victim[0],
                "dob": case.victim[1],
                "aliases": None,
                "address": f"{rng.randrange(1, 200)} {rng.choice(STREETS)} Road, Benchtown",
            },
            "perpetrator_sealed": {"name": case.perpetrator[0], "dob": case.perpetrator[1]},
            "safety_sealed": {
                "safe_to_contact": True,
                "safe_details": "Mobile after 6pm only; do not leave messages",
                "victim_aware": True,
                "consent": True,
                "consent_reason": None,
            },
            "risk_sealed": {"dash": dash, "judgement_reason": judgement, "urgent_reasons": []},
            "household_sealed": {
                "children_ages": [rng.randrange(0, 17) for _ in range(children)],
                "relationship": rng.choice(("partner", "ex_partner", "family", "other")),
            },
            "summary_sealed": rng.choice(SUMMARIES),
        }
        row: dict[str, Any] = {
            "id": case.id,
            "area_id": AREA_ID,
            "reference": case.reference,
            "data_key_id": key,
            "referred_at": case.referred_at,
            "referred_by_id": case.referrer,
            "referring_agency_id": case.agency_id,
            "criterion": case.criterion,
            "dash_yes": yes,
            "dash_not_known": sum(1 for answer in dash.values() if answer == "not_known"),
            "police_incidents_12m": (
                3 + rng.randrange(4) if case.criterion is Criterion.POTENTIAL_ESCALATION else None
            ),
            "urgent": case.urgent,
            "consent_given": rng.random() < 0.7,
            "children_count": children,
            "victim_gender": rng.choices(("female", "male", "other"), weights=(93, 6, 1), k=1)[0],
            "victim_lgbt": rng.choice((True, False, False, False, None)),
            "victim_disabled": rng.choice((True, False, False, None)),
            "victim_minoritised": rng.choice((True, False, False, None)),
            "victim_aged_16_17": (case.referred_at.date() - victim_dob).days < 18 * 365,
            "perpetrator_under_18": False,
            "victim_index": self.ring.blind_index(
                "victim", case.victim[0], case.victim[1], area_id=AREA_ID
            ),
            "perpetrator_index": self.ring.blind_index(
                "perpetrator", case.perpetrator[0], case.perpetrator[1] or "", area_id=AREA_ID
            ),
            "repeat_of_case_id": case.repeat_of if case.criterion is Criterion.REPEAT else None,
        }
        for column, value in sealed.items():
            plain = value if isinstance(value, str) else json.dumps(value)
            row[column] = await self.sealer.seal(key, case_context(case.id, column), plain)
        self.batches.add(table(Case), row)

        def event(
            kind: str,
            at: datetime,
            by: int | None = None,
            related: int | None = None,
        ) -> int:
            event_id = self.next_id("case_events")
            self.batches.add(
                table(CaseEvent),
                {
                    "id": event_id,
                    "case_id": case.id,
                    "kind": kind,
                    "at": at,
                    "by_person_id": by,
                    "related_case_id": related,
                    "note_sealed": None,
                },
            )
            return event_id

        event(CaseStep.SUBMITTED, case.referred_at, case.referrer)
        if case.repeat_of is not None:
            event(CaseStep.REPEAT_SUGGESTED, case.referred_at, None, case.repeat_of)
            if case.criterion is Criterion.REPEAT:
                event(
                    CaseStep.REPEAT_CONFIRMED,
                    case.referred_at + timedelta(minutes=30),
                    case.referrer,
                    case.repeat_of,
                )
        if case.urgent:
            event(CaseStep.URGENT_ALERTED, case.referred_at)
        if case.serial_of is not None and case.serial_of in by_id:
            event(SERIAL_PERPETRATOR, case.referred_at, None, case.serial_of)
        if case.decided_at is None:
            return
        if case.status == "info_then_accepted":
            asked = case.referred_at + (case.decided_at - case.referred_at) / 2
            note_id = event(CaseStep.INFO_REQUESTED, asked, case.decided_by)
            await self.note(key, note_id, "Please confirm the children's school and ages.")
        kind = CaseStep.DECLINED if case.status == "declined" else CaseStep.ACCEPTED
        note_id = event(kind, case.decided_at, case.decided_by)
        if kind is CaseStep.DECLINED:
            await self.note(key, note_id, "Does not meet any criterion; signposted to IDVA.")

    async def note(self, key: str, event_id: int, text_: str) -> None:
        sealed = await self.sealer.seal(key, FieldContext("case_events", "note", event_id), text_)
        rows = self.batches.rows[table(CaseEvent).name]
        rows[-1]["note_sealed"] = sealed

    def agenda_item(self, case: PlannedCase, meeting: PlannedMeeting) -> int:
        item_id = self.next_id("agenda_items")
        position = self.ids[f"position:{meeting.id}"] = self.ids[f"position:{meeting.id}"] + 1
        self.batches.add(
            table(AgendaItem),
            {
                "id": item_id,
                "meeting_id": meeting.id,
                "case_id": case.id,
                "position": position,
                "emergency": case.urgent and self.rng.random() < 0.3,
                "added_at": case.decided_at or case.referred_at,
                "added_by_id": case.decided_by,
                "removed_at": None,
                "removed_by_id": None,
            },
        )
        return item_id

    async def research(
        self, case: PlannedCase, key: str, item_id: int, meeting: PlannedMeeting, full: bool
    ) -> None:
        agencies = list(self.agency_kind)
        chosen = self.rng.sample(agencies, 8 if full else 2)
        when = meeting.starts_at - timedelta(days=3)
        for agency_id in chosen:
            return_id = self.next_id("research_returns")
            informative = full and self.rng.random() < 0.3
            note = None
            if informative:
                note = await self.sealer.seal(
                    key,
                    research_context(return_id),
                    "Known to us: two call-outs this year, last on a Friday night.",
                )
            self.batches.add(
                table(ResearchReturn),
                {
                    "id": return_id,
                    "agenda_item_id": item_id,
                    "agency_id": agency_id,
                    "outcome": "information" if informative else "nothing_known",
                    "note_sealed": note,
                    "by_person_id": (self.reps_by_agency.get(agency_id) or [self.chair_id])[0],
                    "at": min(when, self.now - timedelta(hours=1)),
                },
            )

    async def new_action(
        self, case: PlannedCase, key: str, agency_id: int, meeting: PlannedMeeting
    ) -> tuple[int, date, datetime]:
        action_id = self.next_id("actions")
        sent = meeting.starts_at + timedelta(hours=3)
        due = local_day(meeting.starts_at) + timedelta(days=14)
        self.batches.add(
            table(Action),
            {
                "id": action_id,
                "case_id": case.id,
                "meeting_id": meeting.id,
                "agency_id": agency_id,
                "text_sealed": await self.sealer.seal(
                    key, action_context(action_id), self.rng.choice(ACTION_TEXTS)
                ),
                "due_on": due,
                "priority": "high" if self.rng.random() < 0.2 else "normal",
                "created_at": meeting.starts_at + timedelta(hours=1),
                "created_by_id": self.coordinators[0],
                "sent_at": sent,
                "closed_at": None,
                "closed_state": None,
            },
        )
        self.step(action_id, ActionState.ASSIGNED, sent, self.coordinators[0])
        return action_id, due, sent

    def step(self, action_id: int, state: ActionState, at: datetime, by: int | None) -> int:
        step_id = self.next_id("action_steps")
        self.batches.add(
            table(ActionStep),
            {
                "id": step_id,
                "action_id": action_id,
                "state": state,
                "at": at,
                "by_person_id": by,
                "assigned_to_id": None,
                "note_sealed": None,
            },
        )
        return step_id

    async def closed_action(
        self, case: PlannedCase, key: str, agency_id: int, meeting: PlannedMeeting
    ) -> int:
        rng = self.rng
        action_id, _, sent = await self.new_action(case, key, agency_id, meeting)
        reps: list[int | None] = [*self.reps_by_agency.get(agency_id, [])] or [None]
        at = sent
        if rng.random() < 0.85:
            at += timedelta(hours=4 + rng.random() * 60)
            self.step(action_id, ActionState.ACCEPTED, at, rng.choice(reps))
        at += timedelta(days=2 + rng.random() * 20)
        if rng.random() < 0.07:
            step_id = self.step(action_id, ActionState.NOT_POSSIBLE, at, rng.choice(reps))
            self.batches.rows[table(ActionStep).name][-1]["note_sealed"] = await self.sealer.seal(
                key, step_context(step_id), "She has moved out of the area; passed to new MARAC."
            )
        else:
            self.step(action_id, ActionState.DONE, at, rng.choice(reps))
        self.close_action(action_id, at)
        return action_id

    def close_action(self, action_id: int, at: datetime) -> None:
        """Sets the projection the bot writes with a final step (the action row is still queued)."""
        final = self.batches.rows[table(ActionStep).name][-1]
        assert final["action_id"] == action_id and final["state"] in ACTION_FINAL
        for row in reversed(self.batches.rows[table(Action).name]):
            if row["id"] == action_id:
                row["closed_at"] = at
                row["closed_state"] = str(final["state"])
                return
        raise LookupError(action_id)

    async def open_action(
        self, case: PlannedCase, key: str, agency_id: int, meeting: PlannedMeeting
    ) -> ActionFixture:
        action_id, due, _ = await self.new_action(case, key, agency_id, meeting)
        return ActionFixture(action_id, case.reference, due.isoformat())

    async def perpetrator_referral(
        self, case: PlannedCase, key: str, agency_id: int, meeting: PlannedMeeting
    ) -> None:
        rng = self.rng
        action_id, _, sent = await self.new_action(case, key, agency_id, meeting)
        self.step(action_id, ActionState.ACCEPTED, sent + timedelta(days=1), None)
        self.step(action_id, ActionState.DONE, sent + timedelta(days=2), None)
        self.close_action(action_id, sent + timedelta(days=2))
        referral_id = self.next_id("perpetrator_referrals")
        self.batches.add(
            table(PerpetratorReferral),
            {
                "id": referral_id,
                "case_id": case.id,
                "action_id": action_id,
                "service_agency_id": agency_id,
                "referred_at": sent,
            },
        )
        recent = self.now - sent < timedelta(days=90)
        path = [PerpState.REFERRED, PerpState.CONTACT_ATTEMPTED]
        if not recent:
            path += [PerpState.ASSESSED]
            roll = rng.random()
            if roll < 0.6:
                path += [
                    PerpState.SUITABLE,
                    PerpState.STARTED,
                    PerpState.ATTENDING,
                    PerpState.COMPLETED,
                ]
            elif roll < 0.8:
                path += [PerpState.NOT_SUITABLE]
            else:
                path += [PerpState.ENDED]
        at = sent
        for state in path:
            step_id = self.next_id("perpetrator_steps")
            reason = None
            if state in (PerpState.NOT_SUITABLE, PerpState.ENDED):
                reason = await self.sealer.seal(
                    key, perp_context(step_id), "Denies any abuse; not willing to engage."
                )
            self.batches.add(
                table(PerpetratorStep),
                {
                    "id": step_id,
                    "referral_id": referral_id,
                    "state": state,
                    "at": at,
                    "by_person_id": None,
                    "reason_sealed": reason,
                },
            )
            at += timedelta(days=3 + rng.random() * 20)

    async def finish(self) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                insert(table(CaseCounter)),
                [
                    {"area_id": AREA_ID, "year": year, "last": last}
                    for year, last in sorted(self.counters.items())
                ],
            )

    async def audit(self, count: int) -> None:
        rng = self.rng
        spec = self.spec
        start = self.now - timedelta(days=365 * spec.years)
        step = (self.now - timedelta(minutes=5) - start) / max(count, 1)
        people = [u.person_id for u in self.users] + self.coordinators
        actions = (
            ("case.viewed", True),
            ("case.referred", True),
            ("referral.draft_started", False),
            ("action.accepted", True),
            ("action.done", True),
            ("case.accepted", True),
            ("statistics.viewed", False),
            ("attendance.attending", False),
        )
        prev = GENESIS_HASH
        chain_key = self.ring.audit_key().chain
        seq = 0
        while seq < count:
            rows = []
            for _ in range(min(AUDIT_BATCH, count - seq)):
                seq += 1
                at = (start + step * seq).replace(microsecond=rng.randrange(1_000_000))
                action, about_case = rng.choice(actions)
                year = rng.choice(sorted(self.counters)) if self.counters else 2026
                last = self.counters.get(year, 1)
                subject = (
                    format_reference(AREA_CODE, year, 1 + rng.randrange(last))
                    if about_case
                    else None
                )
                details = json.dumps({"identifying": True} if action == "case.viewed" else {})
                actor = rng.choice(people)
                digest = keyed_link(
                    chain_key,
                    canonical_event(
                        prev, seq, at, AREA_ID, actor, "person", action, subject, "ok", details
                    ),
                )
                rows.append(
                    {
                        "id": seq,
                        "seq": seq,
                        "at": at,
                        "area_id": AREA_ID,
                        "actor_person_id": actor,
                        "actor_label": "person",
                        "action": action,
                        "subject": subject,
                        "outcome": "ok",
                        "details": details,
                        "prev_hash": prev,
                        "hash": digest,
                    }
                )
                prev = digest
            async with self.engine.begin() as connection:
                await connection.execute(insert(table(AuditEvent)), rows)
            if seq % (AUDIT_BATCH * 10) == 0 or seq == count:
                self.progress(f"{seq}/{count} audit events written")
        async with self.engine.begin() as connection:
            await connection.execute(
                update(table(AuditHead)).where(AuditHead.id == 1).values(seq=seq, last_hash=prev)
            )
        self.batches.counts["audit_events"] = count

    async def fix_sequences_and_analyze(self) -> None:
        if self.engine.dialect.name != "postgresql":
            return
        names = [
            "areas",
            "agencies",
            "people",
            "cases",
            "case_events",
            "meetings",
            "agenda_items",
            "research_returns",
            "attendance_replies",
            "actions",
            "action_steps",
            "perpetrator_referrals",
            "perpetrator_steps",
            "audit_events",
        ]
        async with self.engine.begin() as connection:
            for name in names:
                await connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 0) + 1 FROM {name}), false)"
                    )
                )
        async with self.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("ANALYZE"))

    # -- the whole run ------------------------------------------------------------------------

    async def run(self) -> Fixtures:
        timer = _Timer(self.seconds)
        with timer("base rows"):
            await self.base()
        with timer("planning"):
            cases = self.plan_cases()
            meetings = self.plan_meetings(cases)
            by_meeting = {m.id: m for m in meetings}
            target = self.target
            open_plan, returning = self.plan_open_actions(cases, by_meeting, target)
        with timer("meetings"):
            await self.write_meetings(meetings)
        with timer("cases, history, actions"):
            open_actions, sent = await self.write_cases(
                cases, by_meeting, open_plan, returning, target
            )
            await self.finish()
        with timer("audit events"):
            if self.spec.audit_events:
                await self.audit(self.spec.audit_events)
        with timer("sequences, ANALYZE"):
            await self.fix_sequences_and_analyze()
        counts = await self.count_rows()
        return self.fixtures(cases, target, open_actions, sent, returning, counts)

    def plan_open_actions(
        self,
        cases: list[PlannedCase],
        meetings: dict[int, PlannedMeeting],
        target: PlannedMeeting,
    ) -> tuple[dict[int, list[int]], set[int]]:
        """Open actions on recently heard cases; some of those cases return on the target."""
        heard = [c.id for c in cases if c.meeting_id is not None and meetings[c.meeting_id].closed]
        recent = heard[-max(self.spec.open_actions * 4, 200) :]
        plan: dict[int, list[int]] = defaultdict(list)
        for agency_id in self.agency_kind:
            if _perp(self.agency_kind[agency_id]):
                continue
            for case_id in self.rng.sample(recent, min(self.spec.open_actions, len(recent))):
                plan[case_id].append(agency_id)
        with_open = [case_id for case_id in recent if plan.get(case_id)]
        returning = set(self.rng.sample(with_open, min(RETURNING_CASES, len(with_open))))
        target.case_ids.extend(sorted(returning))
        return dict(plan), returning

    async def count_rows(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        async with self.engine.connect() as connection:
            for model in (
                Case,
                DataKey,
                CaseEvent,
                Meeting,
                AgendaItem,
                ResearchReturn,
                Action,
                ActionStep,
                PerpetratorReferral,
                AuditEvent,
                Person,
            ):
                name = table(model).name
                counts[name] = int(
                    await connection.scalar(select(func.count()).select_from(table(model))) or 0
                )
        return counts

    def fixtures(
        self,
        cases: list[PlannedCase],
        target: PlannedMeeting,
        open_actions: dict[str, list[ActionFixture]],
        sent: dict[str, int],
        returning: set[int],
        counts: dict[str, int],
    ) -> Fixtures:
        openable = [c for c in cases if _four_digits(c.reference)]
        user_ids = {u.person_id for u in self.users}
        referred: dict[str, list[CaseFixture]] = defaultdict(list)
        for case in reversed(openable):
            if case.referrer in user_ids and len(referred[str(case.referrer)]) < 40:
                referred[str(case.referrer)].append(
                    CaseFixture(case.id, case.reference, case.victim[0])
                )
        accepted = [c for c in openable if c.status != "submitted"]
        sample = self.rng.sample(accepted, min(2_000, len(accepted)))
        rich = max((c for c in cases if c.id in returning), key=lambda c: c.id, default=cases[-1])
        return Fixtures(
            area_id=AREA_ID,
            now=self.now.isoformat(),
            users=self.users,
            agencies=dict(self.agency_ids),
            referred_by=dict(referred),
            sample_cases=[CaseFixture(c.id, c.reference, c.victim[0]) for c in sample],
            open_actions=open_actions,
            target_meeting_id=target.id,
            target_meeting_items=len(target.case_ids),
            rich_case=CaseFixture(rich.id, rich.reference, rich.victim[0]),
            sent_actions_per_agency=sent,
            counts=counts,
            seconds=self.seconds,
        )


class _Timer:
    def __init__(self, into: dict[str, float]) -> None:
        self.into = into

    def __call__(self, label: str) -> _Timed:
        return _Timed(self.into, label)


class _Timed:
    def __init__(self, into: dict[str, float], label: str) -> None:
        self.into, self.label = into, label

    def __enter__(self) -> None:
        self.started = time.monotonic()

    def __exit__(self, *exc: object) -> None:
        self.into[self.label] = time.monotonic() - self.started


def _perp(kind: AgencyKind) -> bool:
    return kind is AgencyKind.PERPETRATOR_SERVICE


def _four_digits(reference: str) -> bool:
    """Whether /case accepts it: handlers.cases.REFERENCE wants exactly 4 digits at the end."""
    return len(reference.rsplit("-", 1)[1]) == 4


async def seed(url: str, key_ring: KeyRing, spec: SeedSpec) -> Fixtures:
    engine = create_engine(url, command_timeout=None)  # bulk inserts of big batches
    try:
        started = time.monotonic()
        await upgrade(engine)
        seeder = Seeder(engine, key_ring, spec)
        seeder.seconds["schema"] = time.monotonic() - started
        fixtures = await seeder.run()
        fixtures.seconds["total"] = time.monotonic() - started
        return fixtures
    finally:
        await engine.dispose()


def spec_options(spec: SeedSpec) -> list[str]:
    """The command-line options that make ``python -m bench.seed`` seed ``spec``."""
    return [f"--{name.replace('_', '-')}={value}" for name, value in asdict(spec).items()]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.seed", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--url", required=True, help="SQLAlchemy URL of an empty database")
    parser.add_argument("--key-file", type=Path, required=True, help="key document (JSON)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the fixtures")
    defaults = SeedSpec(cases=0, coordinators=0, reps=0)
    kinds: dict[str, Callable[[str], Any]] = {"actions_per_case": float}
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kinds.get(name, int), default=value)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    spec = SeedSpec(
        cases=args.cases,
        coordinators=args.coordinators,
        reps=args.reps,
        years=args.years,
        actions_per_case=args.actions_per_case,
        open_actions=args.open_actions,
        audit_events=args.audit_events,
        meeting_size=args.meeting_size,
        seed=args.seed,
    )
    key_ring = key_ring_from_document(json.loads(args.key_file.read_text()), str(args.key_file))
    fixtures = asyncio.run(seed(args.url, key_ring, spec))
    args.out.write_text(json.dumps(asdict(fixtures), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

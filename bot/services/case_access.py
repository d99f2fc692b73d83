"""Asking the case-access policy (``bot.access``) from the services, and recording the answer.

The policy is pure; this module loads the facts it needs for any number of cases in a few
statements, asks it for a person (an ``Actor``) or for many recipients at once, refuses
what a person may not see as if it did not exist, and writes one audit event per case a
person was shown, with the level and the path it was shown through.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    bindparam,
    exists,
    false,
    func,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute, aliased

from bot.access import (
    INVITED_ROLES,
    NEEDS,
    CaseFacts,
    CasePath,
    Level,
    Listing,
    Viewer,
    case_access,
)
from bot.actor import Actor
from bot.errors import NotFound
from bot.meetings.agenda_rules import research_closes
from bot.services.idva_allocations import allocated_idvas
from bot.services.policy import area_calendar, research_open_days
from storage.audit import NewEvent, append_events
from storage.models import (
    Action,
    Agency,
    AgendaItem,
    Case,
    CaseExclusion,
    CaseTransfer,
    IdvaAllocation,
    Meeting,
    PerpetratorReferral,
    Person,
)

T = TypeVar("T")
CHUNK = 500

# The policy's reads run on nearly every update (issue #20), so their statements are built once,
# with the ids as an expanding parameter: building a select() and computing its key for
# SQLAlchemy's compiled-statement cache each time cost about as much as running it.
_IDS: BindParameter[int] = bindparam("ids", expanding=True)
_VIEWERS = (
    select(
        Person.id,
        Person.role,
        Person.area_id,
        Person.agency_id,
        Agency.kind,
        Person.deactivated_at,
        Person.on_call,
        Person.confirmed_at,
    )
    .outerjoin(Agency, Agency.id == Person.agency_id)
    .where(Person.id.in_(_IDS))
)
_CASES = select(
    Case.id, Case.area_id, Case.referred_by_id, Case.referring_agency_id, Case.urgent
).where(Case.id.in_(_IDS))
_EARLIER = aliased(IdvaAllocation)
# As ``allocated_idvas``: the case's latest allocation, if its IDVA has not left.
_ALLOCATED_NOW = (
    select(IdvaAllocation.person_id)
    .join(Person, Person.id == IdvaAllocation.person_id)
    .where(
        IdvaAllocation.id
        == select(func.max(_EARLIER.id))
        .where(_EARLIER.case_id == Case.id)
        .correlate(Case)
        .scalar_subquery(),
        Person.deactivated_at.is_(None),
    )
    .scalar_subquery()
)
# A transfer asked of another area and not yet decided (the service allows one at a time).
_PENDING_TO = (
    select(func.max(CaseTransfer.to_area_id))
    .where(CaseTransfer.case_id == Case.id, CaseTransfer.decided_at.is_(None))
    .correlate(Case)
    .scalar_subquery()
)
_PENDING_TRANSFERS = select(CaseTransfer.case_id, CaseTransfer.to_area_id).where(
    CaseTransfer.case_id.in_(_IDS), CaseTransfer.decided_at.is_(None)
)
_CASES_FOR_READER = select(
    Case.id,
    Case.area_id,
    Case.referred_by_id,
    Case.referring_agency_id,
    Case.urgent,
    exists()
    .where(CaseExclusion.case_id == Case.id, CaseExclusion.person_id == bindparam("reader"))
    .label("excluded"),
    _ALLOCATED_NOW.label("allocated_idva"),
    _PENDING_TO.label("transfer_to"),
).where(Case.id.in_(_IDS))
_EXCLUDED = select(CaseExclusion.case_id, CaseExclusion.person_id).where(
    CaseExclusion.case_id.in_(_IDS)
)
_EXCLUDED_FOR = _EXCLUDED.where(CaseExclusion.person_id.in_(bindparam("people", expanding=True)))
_LISTED = (
    select(
        AgendaItem.case_id,
        Meeting.id,
        Meeting.area_id,
        Meeting.starts_at,
        Meeting.published_at,
        Meeting.cancelled_at,
    )
    .join(Meeting, Meeting.id == AgendaItem.meeting_id)
    .where(AgendaItem.case_id.in_(_IDS), AgendaItem.removed_at.is_(None))
)
# The agencies working each case: sent actions, and perpetrator referrals (which also make
# the service one assessing it), in one statement.
_WORKING = union_all(
    select(Action.case_id, Action.agency_id, false().label("assessing")).where(
        Action.case_id.in_(_IDS), Action.sent_at.is_not(None)
    ),
    select(
        PerpetratorReferral.case_id,
        PerpetratorReferral.service_agency_id,
        true().label("assessing"),
    )
    .join(Action, Action.id == PerpetratorReferral.action_id)
    .where(PerpetratorReferral.case_id.in_(_IDS), Action.sent_at.is_not(None)),
)
VIEWED = "case.viewed"


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


# The person the guard recognised for the update being handled now (issue #20): that read,
# milliseconds ago in this very update, is the policy's "as they are now" for that Actor.
# Set by ``handlers.guard`` per update (its task's context), never by anything else, and
# matched by identity: any other Actor, or no update at all (jobs, the outbox, the
# workspace, tests calling services), reads the person afresh as before.
_identified: ContextVar[Actor | None] = ContextVar("identified_this_update", default=None)


def identified_this_update(actor: Actor | None) -> None:
    """The guard's ``EnrolmentService.identify`` has just read ``actor`` (None: nobody yet)."""
    _identified.set(actor)


def _viewer_read_by_guard(actor: Actor) -> Viewer | None:
    """``actor`` as the guard read them in this update, or None if it did not."""
    if _identified.get() is not actor:
        return None
    # identify reads only active people, with the same role, area, agency (and its kind),
    # on-call flag and confirmation the viewer statement reads.
    return Viewer(
        actor.person_id,
        actor.role,
        actor.area_id,
        actor.agency_id,
        actor.agency_kind,
        True,
        actor.on_call,
        actor.confirmed,
    )


async def viewers(session: AsyncSession, person_ids: Collection[int]) -> dict[int, Viewer]:
    """People as they are now (role, agency, active, confirmed), for deciding what may be sent
    to them."""
    found: dict[int, Viewer] = {}
    wanted = sorted(set(person_ids))
    for chunk in _chunks(wanted):
        rows = await session.execute(_VIEWERS, {"ids": list(chunk)})
        for row in rows.all():
            person_id, role, area_id, agency_id, kind, deactivated_at, on_call, confirmed_at = row
            found[int(person_id)] = Viewer(
                int(person_id),
                role,
                int(area_id),
                agency_id,
                kind,
                deactivated_at is None,
                bool(on_call),
                confirmed_at is not None,
            )
    return found


async def case_facts(
    session: AsyncSession,
    case_ids: Collection[int],
    *,
    for_people: Collection[int] | None = None,
    with_work: bool = True,
) -> dict[int, CaseFacts]:
    """What the policy needs about these cases, in six statements per 500 cases (four
    without the work); for one reader, whose exclusions, each case's IDVA and a transfer
    asked of another area come with the cases, in three (one without the work).

    ``for_people`` limits the must-not-receive rows read to those people (a single reader
    needs only their own); ``with_work=False`` skips the meetings and actions, which only
    decide for agency representatives.
    """
    ids = sorted(set(case_ids))
    people = sorted(set(for_people)) if for_people is not None else None
    # One reader (the commonest question): their exclusions come with the cases.
    reader = people[0] if people is not None and len(people) == 1 else None
    facts: dict[int, CaseFacts] = {}
    # Each case's own columns, made into its facts once everything about it is read.
    found_cases: dict[int, tuple[int, int | None, int | None, bool]] = {}
    for chunk in _chunks(ids):
        excluded: dict[int, set[int]] = {}
        allocated: dict[int, int] = {}
        transfer_to: dict[int, set[int]] = {}
        if reader is not None:
            # One reader's exclusions and each case's IDVA come with the cases.
            rows = await session.execute(_CASES_FOR_READER, {"ids": list(chunk), "reader": reader})
            for row in rows.all():
                case_id, area_id, referred_by, agency_id, urgent, is_excluded, idva, to_area = row
                found_cases[int(case_id)] = (int(area_id), referred_by, agency_id, bool(urgent))
                if is_excluded:
                    excluded[int(case_id)] = {reader}
                if idva is not None:
                    allocated[int(case_id)] = int(idva)
                if to_area is not None:
                    transfer_to[int(case_id)] = {int(to_area)}
        else:
            rows = await session.execute(_CASES, {"ids": list(chunk)})
            for case_id, area_id, referred_by, agency_id, urgent in rows.all():
                found_cases[int(case_id)] = (int(area_id), referred_by, agency_id, bool(urgent))
            if people is None:
                found = await session.execute(_EXCLUDED, {"ids": list(chunk)})
            else:
                found = await session.execute(_EXCLUDED_FOR, {"ids": list(chunk), "people": people})
            for case_id, person_id in found.all():
                excluded.setdefault(int(case_id), set()).add(int(person_id))
        listings: dict[int, list[Listing]] = {}
        working: dict[int, set[int]] = {}
        assessing: dict[int, set[int]] = {}
        if with_work:
            listed = await session.execute(_LISTED, {"ids": list(chunk)})
            closing: dict[int, datetime] = {}
            for case_id, meeting_id, area_id, starts, published, cancelled in listed.all():
                closes = None
                if published is not None:
                    # The same for every case on the meeting: counted once per meeting.
                    if meeting_id not in closing:
                        closing[meeting_id] = research_closes(
                            starts,
                            await area_calendar(session, int(area_id)),
                            await research_open_days(session, int(area_id)),
                        )
                    closes = closing[meeting_id]
                listings.setdefault(int(case_id), []).append(
                    Listing(int(meeting_id), starts, published, closes, cancelled is not None)
                )
            for case_id, agency_id, is_assessing in (
                await session.execute(_WORKING, {"ids": list(chunk)})
            ).all():
                working.setdefault(int(case_id), set()).add(int(agency_id))
                if is_assessing:
                    assessing.setdefault(int(case_id), set()).add(int(agency_id))
        if reader is None:
            allocated = await allocated_idvas(session, chunk)
            for case_id, area_id in (
                await session.execute(_PENDING_TRANSFERS, {"ids": list(chunk)})
            ).all():
                transfer_to.setdefault(int(case_id), set()).add(int(area_id))
        for case_id in chunk:
            own = found_cases.get(case_id)
            if own is not None:
                area_id, referred_by, agency_id, urgent = own
                facts[case_id] = CaseFacts(
                    case_id,
                    area_id,
                    referred_by,
                    agency_id,
                    urgent,
                    excluded=frozenset(excluded.get(case_id, ())),
                    listings=tuple(listings.get(case_id, ())),
                    working_agencies=frozenset(working.get(case_id, ())),
                    assessing_agencies=frozenset(assessing.get(case_id, ())),
                    allocated_idva=allocated.get(case_id),
                    transfer_to=frozenset(transfer_to.get(case_id, ())),
                )
    return facts


def _needs_work(roles: Iterable[object]) -> bool:
    return any(role in INVITED_ROLES for role in roles)


async def levels_for(
    session: AsyncSession, actor: Actor, case_ids: Collection[int], now: datetime
) -> dict[int, Level]:
    """What ``actor`` may see of each case (cases that do not exist are left out).

    The person is read as they are now, not as an earlier update found them: a deactivation
    or a change of role during a long operation applies to it at once. Within the update
    whose guard has just read them (``identified_this_update``) that read is used.
    """
    if not case_ids:
        return {}
    viewer = _viewer_read_by_guard(actor)
    if viewer is None:
        viewer = (await viewers(session, [actor.person_id])).get(actor.person_id)
    if viewer is None or viewer.area_id != actor.area_id:
        return {}
    facts = await case_facts(
        session,
        case_ids,
        for_people=[actor.person_id],
        with_work=_needs_work([viewer.role]),
    )
    return {case_id: case_access(viewer, fact, now) for case_id, fact in facts.items()}


async def require(
    session: AsyncSession,
    actor: Actor,
    case_id: int,
    path: CasePath,
    now: datetime,
    *,
    missing: str,
) -> Level:
    """The actor's level on the case, if the path's need is met; otherwise NotFound(missing),
    exactly as if the case did not exist."""
    level = (await levels_for(session, actor, [case_id], now)).get(case_id, Level.NONE)
    if level < NEEDS[path]:
        raise NotFound(missing)
    return level


async def visible(
    session: AsyncSession,
    actor: Actor,
    case_ids: Collection[int],
    path: CasePath,
    now: datetime,
) -> dict[int, Level]:
    """The cases of a list the actor may see through ``path``, with their levels."""
    levels = await levels_for(session, actor, case_ids, now)
    return {case_id: level for case_id, level in levels.items() if level >= NEEDS[path]}


@dataclass(frozen=True)
class Shown:
    """A case someone was shown: its reference and the level they saw it at."""

    reference: str
    level: Level


async def record_views(
    session: AsyncSession,
    actor: Actor,
    shown: Sequence[Shown],
    path: CasePath,
    now: datetime,
    **details: str | int,
) -> None:
    """One audit event per case shown, against the case: who, at what level, through what."""
    await append_events(
        session,
        [
            NewEvent(
                VIEWED,
                subject=item.reference,
                details={"level": item.level.name.lower(), "path": path.value, **details},
            )
            for item in shown
        ],
        at=now,
        area_id=actor.area_id,
        actor_person_id=actor.person_id,
        actor_label="person",
    )


@dataclass(frozen=True)
class Receivers:
    """The policy's answer for a batch of (case id, person id) pairs: who may be sent what."""

    allowed: frozenset[tuple[int, int]]

    def allows(self, case_ids: Iterable[int], person_id: int) -> bool:
        return all((case_id, person_id) in self.allowed for case_id in case_ids)

    def __bool__(self) -> bool:
        return bool(self.allowed)


async def receivers(
    session: AsyncSession, pairs: Collection[tuple[int, int]], now: datetime
) -> Receivers:
    """Of (case id, person id) pairs, those where the person may be sent a notice naming
    the case, as they and the case are now (role, agency, leaving, must-not-receive, an
    enrolment not yet confirmed)."""
    if not pairs:
        return Receivers(frozenset())
    people = await viewers(session, {person_id for _, person_id in pairs})
    facts = await case_facts(
        session,
        {case_id for case_id, _ in pairs},
        with_work=_needs_work(v.role for v in people.values()),
    )
    allowed = set()
    for case_id, person_id in pairs:
        viewer, fact = people.get(person_id), facts.get(case_id)
        if viewer is None or fact is None:
            continue
        if case_access(viewer, fact, now) >= NEEDS[CasePath.NOTICE]:
            allowed.add((case_id, person_id))
    return Receivers(frozenset(allowed))


def not_excluded(
    person_id: int | BindParameter[int], case_id: InstrumentedAttribute[int]
) -> ColumnElement[bool]:
    """The policy's must-not-receive rule as a SQL condition on rows naming a case.

    For lists that page in SQL (an agency's actions): rows the rule removes are never read,
    and the policy still decides each row that is. Answered from the exclusions' primary
    key (case_id, person_id).
    """
    return ~exists().where(CaseExclusion.case_id == case_id, CaseExclusion.person_id == person_id)

"""The IDVA service: told of every referral, a named IDVA allocated, contact with the victim.

Every victim referred to MARAC is referred to the IDVA service too. On submission every IDVA
of the area is sent the reference (nothing else in the chat) with a button to open the case
and one to take it. One IDVA takes it; she, an IDVA colleague or a coordinator can reallocate
it to another IDVA of the area. Every allocation is a new row (``IdvaAllocation``) and the
latest holds the case; the access policy gives the holder the whole case and her colleagues
only that it is held. The holder records each attempt to contact the victim and its outcome
(``VictimContact``), and is sent the case's updates (``tell_case_idva``). The coordinators
see the cases with no IDVA, or whose victim has not been reached, more than two working days
after the referral (``bot.idva``), in ``/idva`` and in the 08:00 digest.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath, Level
from bot.actor import Actor
from bot.buttons import CASE_OPEN, IDVA_CONTACT_MENU, IDVA_TAKE
from bot.dates import format_local
from bot.errors import NotFound, ServiceError
from bot.idva import contact_overdue, reached, working_days_waiting
from bot.permissions import Operation, authorise
from bot.referrals.status import CLOSED_STEPS, triage_status
from bot.services.audited import audit_by
from bot.services.case_access import Shown, receivers, record_views, require, visible
from bot.services.deps import ServiceDeps
from bot.services.idva_allocations import allocated_idvas
from bot.services.names import person_name
from bot.services.outbox import Buttons, enqueue
from bot.services.policy import area_calendar
from bot.vocabulary import AgencyKind, ContactOutcome, Role
from storage.models import (
    Agency,
    AgendaItem,
    Case,
    CaseEvent,
    IdvaAllocation,
    Meeting,
    Person,
    VictimContact,
)

# The oversight list looks at referrals of the last three months: older cases without an
# IDVA (those referred before the IDVA service was told at referral) are not chased daily.
OVERSIGHT_WINDOW = timedelta(days=92)
OUTCOMES: tuple[ContactOutcome, ...] = tuple(ContactOutcome)


def idva_buttons(case_id: int) -> Buttons:
    """Open the case, and Take this case: under the notice of a new referral."""
    return [
        [CASE_OPEN(texts.BUTTON_OPEN_CASE, case_id)],
        [IDVA_TAKE(texts.BUTTON_TAKE_CASE, case_id)],
    ]


def holder_buttons(case_id: int) -> Buttons:
    """Open the case, and Record contact: under the notices to the case's IDVA."""
    return [
        [CASE_OPEN(texts.BUTTON_OPEN_CASE, case_id)],
        [IDVA_CONTACT_MENU(texts.BUTTON_RECORD_CONTACT, case_id)],
    ]


def _is_idva(role: Role, agency_kind: AgencyKind | None) -> bool:
    return role is Role.AGENCY_REP and agency_kind is AgencyKind.IDVA


async def _idva_reps(session: AsyncSession, area_id: int) -> list[Person]:
    """The area's IDVA-service representatives who are active (the policy decides the rest)."""
    rows = await session.scalars(
        select(Person)
        .join(Agency, Agency.id == Person.agency_id)
        .where(
            Person.area_id == area_id,
            Person.role == Role.AGENCY_REP,
            Agency.kind == AgencyKind.IDVA,
            Person.deactivated_at.is_(None),
        )
        .order_by(Person.id)
    )
    return list(rows)


async def notify_idva_service(
    session: AsyncSession, case: Case, now: datetime, *, transferred_in: bool = False
) -> int:
    """At submission, in its transaction: every IDVA of the area who may be sent the case is
    sent its reference and urgency, with Open the case and Take this case. Urgent referrals
    go at once, at any hour, like the coordinators' urgent alert. A case opened here by a
    MARAC-to-MARAC transfer is told the same way (``transferred_in``), with its own words."""
    reps = await _idva_reps(session, case.area_id)
    text = (
        texts.idva_transfer_notice(case.reference, case.urgent)
        if transferred_in
        else texts.idva_referral_notice(case.reference, case.urgent)
    )
    allowed = await receivers(session, [(case.id, person.id) for person in reps], now)
    queued = 0
    for person in reps:
        queued += await enqueue(
            session,
            dedupe_key=f"case:{case.id}:idva_referral:{person.id}",
            chat_id=person.telegram_user_id,
            kind="idva_transfer" if transferred_in else "idva_referral",
            text=text,
            now=now,
            area_id=case.area_id,
            person_id=person.id,
            buttons=idva_buttons(case.id),
            urgent=case.urgent,
            case_ids=[case.id],
            checked=allowed,
        )
    return queued


async def tell_case_idva(
    session: AsyncSession,
    case: Case,
    *,
    key: str,
    kind: str,
    text: str,
    now: datetime,
    skip: Collection[int] = (),
) -> bool:
    """Send the case's allocated IDVA one of its updates (as the policy allows, asked by
    ``enqueue``); nothing when no IDVA holds it or she is among ``skip`` (told already)."""
    holder = (await allocated_idvas(session, [case.id])).get(case.id)
    if holder is None or holder in skip:
        return False
    person = await session.get(Person, holder)
    if person is None or person.deactivated_at is not None:
        return False
    return await enqueue(
        session,
        dedupe_key=f"case:{case.id}:idva:{key}:{person.id}",
        chat_id=person.telegram_user_id,
        kind=kind,
        text=text,
        now=now,
        area_id=case.area_id,
        person_id=person.id,
        buttons=holder_buttons(case.id),
        case_ids=[case.id],
    )


@dataclass(frozen=True)
class Allocated:
    reference: str
    name: str  # who holds it now


@dataclass(frozen=True)
class Choices:
    """Who may be given a case: the area's IDVAs who may receive it, bar the holder."""

    case_id: int
    reference: str
    holder: str | None
    people: list[tuple[int, str]]


@dataclass(frozen=True)
class Attempt:
    at: datetime
    outcome: ContactOutcome
    by: str


@dataclass(frozen=True)
class ContactHistory:
    case_id: int
    reference: str
    attempts: list[Attempt]


@dataclass(frozen=True)
class Waiting:
    """A case the coordinators should look at: no IDVA, or the victim not reached yet."""

    case_id: int
    reference: str
    working_days: int
    holder: str | None
    attempts: int
    overdue: bool


class IdvaService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    # -- allocation ------------------------------------------------------------------------------

    async def take(self, actor: Actor, case_id: int) -> Allocated:
        """ "Take this case": the IDVA who presses holds it, if nobody does yet."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        if not _is_idva(actor.role, actor.agency_kind):
            raise ServiceError(texts.IDVA_SERVICE_ONLY)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._case(session, actor, case_id, CasePath.IDVA_ALLOCATION, now)
            holder = (await allocated_idvas(session, [case.id])).get(case.id)
            if holder == actor.person_id:
                raise ServiceError(texts.idva_already_yours(case.reference))
            if holder is not None:
                name = await person_name(session, self._deps.vault, holder)
                raise ServiceError(texts.idva_held_by(case.reference, name))
            await self._allocate(session, actor, case, actor.person_id, None, now)
            return Allocated(case.reference, actor.display_name)

    async def reassign_choices(self, actor: Actor, case_id: int) -> Choices:
        """Whom the case may be reallocated to, for the holder, her colleagues or a
        coordinator."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._may_allocate(session, actor, case_id, now)
            holder = (await allocated_idvas(session, [case.id])).get(case.id)
            reps = [p for p in await _idva_reps(session, case.area_id) if p.id != holder]
            allowed = await receivers(session, [(case.id, p.id) for p in reps], now)
            people = [
                (p.id, await person_name(session, self._deps.vault, p.id))
                for p in reps
                if p.confirmed_at is not None and allowed.allows([case.id], p.id)
            ]
            name = await person_name(session, self._deps.vault, holder) if holder else None
            level = min(await self._level(session, actor, case.id, now), Level.SUMMARY)
            await record_views(
                session, actor, [Shown(case.reference, level)], CasePath.IDVA_ALLOCATION, now
            )
            return Choices(case.id, case.reference, name, people)

    async def reassign(self, actor: Actor, case_id: int, person_id: int) -> Allocated:
        """Give the case to another IDVA of the area; she is told, and so is the one who held
        it."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._may_allocate(session, actor, case_id, now, lock=True)
            holder = (await allocated_idvas(session, [case.id])).get(case.id)
            person = await session.get(Person, person_id)
            agency = await session.get(Agency, person.agency_id) if person else None
            if (
                person is None
                or person.area_id != case.area_id
                or not _is_idva(person.role, agency.kind if agency else None)
            ):
                raise NotFound(texts.PERSON_NOT_FOUND)
            name = await person_name(session, self._deps.vault, person.id)
            if person.id == holder:
                raise ServiceError(texts.idva_held_by_them(case.reference, name))
            allowed = await receivers(session, [(case.id, person.id)], now)
            if person.confirmed_at is None or not allowed.allows([case.id], person.id):
                raise ServiceError(texts.IDVA_NOT_AVAILABLE)
            await self._allocate(session, actor, case, person.id, holder, now)
            if person.id != actor.person_id:
                await enqueue(
                    session,
                    dedupe_key=f"case:{case.id}:idva_allocated:{person.id}:{now.isoformat()}",
                    chat_id=person.telegram_user_id,
                    kind="idva_allocated",
                    text=texts.idva_allocated_notice(case.reference),
                    now=now,
                    area_id=case.area_id,
                    person_id=person.id,
                    buttons=holder_buttons(case.id),
                    case_ids=[case.id],
                    checked=allowed,
                )
            previous = await session.get(Person, holder) if holder is not None else None
            if previous is not None and previous.id != actor.person_id:
                await enqueue(
                    session,
                    dedupe_key=f"case:{case.id}:idva_moved:{previous.id}:{now.isoformat()}",
                    chat_id=previous.telegram_user_id,
                    kind="idva_moved",
                    text=texts.idva_moved_notice(case.reference),
                    now=now,
                    area_id=case.area_id,
                    person_id=previous.id,
                    case_ids=[case.id],
                )
            return Allocated(case.reference, name)

    # -- contact with the victim -----------------------------------------------------------------

    async def contact_history(self, actor: Actor, case_id: int) -> ContactHistory:
        """The attempts recorded so far, for the IDVA who holds the case."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._holder_case(session, actor, case_id, now)
            rows = (
                await session.scalars(
                    select(VictimContact)
                    .where(VictimContact.case_id == case.id)
                    .order_by(VictimContact.id)
                )
            ).all()
            attempts = [
                Attempt(
                    row.at, row.outcome, await person_name(session, self._deps.vault, row.person_id)
                )
                for row in rows
            ]
            await record_views(
                session, actor, [Shown(case.reference, Level.FULL)], CasePath.VICTIM_CONTACT, now
            )
            return ContactHistory(case.id, case.reference, attempts)

    async def record_contact(
        self, actor: Actor, case_id: int, outcome: ContactOutcome
    ) -> ContactHistory:
        """One attempt and its outcome, by the IDVA who holds the case; a row each."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._holder_case(session, actor, case_id, now)
            session.add(
                VictimContact(case_id=case.id, person_id=actor.person_id, outcome=outcome, at=now)
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="idva.contact_recorded",
                subject=case.reference,
                details={"outcome": outcome.value},
            )
            return ContactHistory(
                case.id, case.reference, [Attempt(now, outcome, actor.display_name)]
            )

    # -- oversight -------------------------------------------------------------------------------

    async def waiting(self, actor: Actor, *, overdue_only: bool = True) -> list[Waiting]:
        """For the coordinators: cases with no IDVA, or whose victim has not been reached,
        more than two working days after the referral (``overdue_only=False``: all that are
        still waiting, however recent)."""
        authorise(actor, Operation.TRIAGE_CASES, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            found = await waiting_cases(session, actor.area_id, now)
            if overdue_only:
                found = [w for w in found if w.overdue]
            shown = await visible(
                session, actor, [w.case_id for w in found], CasePath.IDVA_OVERSIGHT, now
            )
            found = [w for w in found if w.case_id in shown]
            named = []
            for item in found:
                holder = None
                if item.holder is not None:
                    holder = await person_name(session, self._deps.vault, int(item.holder))
                named.append(
                    Waiting(
                        item.case_id,
                        item.reference,
                        item.working_days,
                        holder,
                        item.attempts,
                        item.overdue,
                    )
                )
            await record_views(
                session,
                actor,
                [Shown(w.reference, shown[w.case_id]) for w in named],
                CasePath.IDVA_OVERSIGHT,
                now,
            )
            return named

    # -- helpers ---------------------------------------------------------------------------------

    async def _case(
        self,
        session: AsyncSession,
        actor: Actor,
        case_id: int,
        path: CasePath,
        now: datetime,
        *,
        lock: bool = True,
    ) -> Case:
        case = await session.get(Case, case_id, with_for_update=lock)
        if case is None:
            raise NotFound(texts.CASE_NOT_FOUND)
        await require(session, actor, case.id, path, now, missing=texts.CASE_NOT_FOUND)
        return case

    async def _level(
        self, session: AsyncSession, actor: Actor, case_id: int, now: datetime
    ) -> Level:
        return await require(
            session, actor, case_id, CasePath.IDVA_ALLOCATION, now, missing=texts.CASE_NOT_FOUND
        )

    async def _may_allocate(
        self,
        session: AsyncSession,
        actor: Actor,
        case_id: int,
        now: datetime,
        *,
        lock: bool = False,
    ) -> Case:
        """The case, for an IDVA of the area or a coordinator; others are told politely."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        if actor.role is not Role.COORDINATOR and not _is_idva(actor.role, actor.agency_kind):
            raise ServiceError(texts.IDVA_SERVICE_ONLY)
        return await self._case(session, actor, case_id, CasePath.IDVA_ALLOCATION, now, lock=lock)

    async def _holder_case(
        self, session: AsyncSession, actor: Actor, case_id: int, now: datetime
    ) -> Case:
        """The case, for the IDVA who holds it: anyone else below the whole case is refused
        as if it did not exist; a coordinator (who sees it all) is told who records."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        case = await self._case(session, actor, case_id, CasePath.VICTIM_CONTACT, now, lock=False)
        holder = (await allocated_idvas(session, [case.id])).get(case.id)
        if holder != actor.person_id:
            if _is_idva(actor.role, actor.agency_kind):
                raise NotFound(texts.CASE_NOT_FOUND)
            raise ServiceError(texts.CONTACT_ONLY_BY_IDVA)
        return case

    async def _allocate(
        self,
        session: AsyncSession,
        actor: Actor,
        case: Case,
        person_id: int,
        previous: int | None,
        now: datetime,
    ) -> None:
        session.add(
            IdvaAllocation(
                case_id=case.id,
                person_id=person_id,
                allocated_at=now,
                allocated_by_id=actor.person_id,
            )
        )
        await session.flush()
        # A case already listed: the new holder hears when it will be heard, as she would have.
        listed = (
            await session.execute(
                select(Meeting.id, Meeting.starts_at, Meeting.area_id)
                .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
                .where(
                    AgendaItem.case_id == case.id,
                    AgendaItem.removed_at.is_(None),
                    Meeting.cancelled_at.is_(None),
                    Meeting.starts_at > now,
                )
                .order_by(Meeting.starts_at)
                .limit(1)
            )
        ).one_or_none()
        if listed is not None:
            calendar = await area_calendar(session, int(listed[2]))
            await tell_case_idva(
                session,
                case,
                key=f"listed:{listed[0]}",
                kind="idva_listed",
                text=texts.idva_listed_notice(
                    case.reference, format_local(listed[1], calendar.timezone)
                ),
                now=now,
            )
        details: dict[str, str | int] = {"person": person_id}
        if previous is not None:
            details["previous"] = previous
        await audit_by(
            session,
            actor,
            at=now,
            action="idva.allocated" if previous is None else "idva.reallocated",
            subject=case.reference,
            details=details,
        )


@dataclass(frozen=True)
class _Found:
    case_id: int
    reference: str
    working_days: int
    holder: int | None
    attempts: int
    overdue: bool


async def waiting_cases(session: AsyncSession, area_id: int, now: datetime) -> list[_Found]:
    """The area's referrals of the last three months, not declined, with no IDVA or whose
    victim has not been reached yet, oldest first; ``overdue`` past two working days. Names
    are not opened here (the digest is queued, and names no one)."""
    rows = (
        await session.execute(
            select(Case.id, Case.reference, Case.referred_at)
            .where(Case.area_id == area_id, Case.referred_at >= now - OVERSIGHT_WINDOW)
            .order_by(Case.referred_at, Case.id)
        )
    ).all()
    if not rows:
        return []
    ids = [int(case_id) for case_id, _, _ in rows]
    steps: dict[int, list[str]] = {}
    for case_id, kind in await session.execute(
        select(CaseEvent.case_id, CaseEvent.kind)
        .where(CaseEvent.case_id.in_(ids))
        .order_by(CaseEvent.case_id, CaseEvent.id)
    ):
        steps.setdefault(int(case_id), []).append(kind)
    outcomes: dict[int, list[ContactOutcome]] = {}
    for case_id, outcome in await session.execute(
        select(VictimContact.case_id, VictimContact.outcome).where(VictimContact.case_id.in_(ids))
    ):
        outcomes.setdefault(int(case_id), []).append(outcome)
    holders = await allocated_idvas(session, ids)
    calendar = await area_calendar(session, area_id)
    found = []
    for case_id, reference, referred_at in rows:
        if triage_status(steps.get(case_id, [])) in CLOSED_STEPS:
            continue
        holder = holders.get(case_id)
        attempts = outcomes.get(case_id, [])
        if holder is not None and reached(attempts):
            continue
        found.append(
            _Found(
                int(case_id),
                str(reference),
                working_days_waiting(referred_at, now, calendar),
                holder,
                len(attempts),
                contact_overdue(
                    referred_at, now, calendar, allocated=holder is not None, outcomes=attempts
                ),
            )
        )
    return found

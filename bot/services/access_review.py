"""The quarterly access review: everyone who can use the bot, for the coordinators to check.

People leave agencies without anyone telling the MARAC, and an invite link can be forwarded.
On the first working day of each quarter (``bot.access_reviews``) every confirmed coordinator
of an area is told how many people can use the bot and how many have not used it for 90 days,
with a button that opens the review itself: everyone enrolled, by agency, with their role and
the day they were last active, and a Remove button beside each (the two-tap deactivation of
``/people``). Each agency's representatives are asked, at the same moment, to tell the
coordinator about leavers. The review also opens on demand from ``/people``.

The outbox message holds counts and a button, never names (names are sealed); the review is
read when it is opened, so it is current then. One key per person and quarter means a restart,
or a second bot process, never sends one twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import groupby

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access_reviews import ReviewDue, is_inactive, review_due
from bot.actor import Actor
from bot.buttons import ACCESS_REVIEW
from bot.permissions import Operation, authorise
from bot.services.audited import audit_by
from bot.services.deps import ServiceDeps
from bot.services.outbox import enqueue
from bot.services.people import person_view
from bot.services.policy import area_calendar
from bot.vocabulary import Role
from storage.models import Agency, Area, OutboxMessage, Person

REVIEW_KIND = "access_review"
LEAVERS_KIND = "leavers_reminder"
# Housekeeping runs every 30 seconds; once an area's review is queued nothing is due for it
# until the next quarter, so the areas are looked at again at most this often (or sooner, when
# an area's review moment comes first). A new area or a restart waits no longer than this.
RECHECK = timedelta(hours=1)
# A review that could not be sent for this long (Telegram away) is given up on: the next
# quarter's will come.
REVIEW_EXPIRES = timedelta(days=14)
AGENCY_ROLES = (Role.AGENCY_REP, Role.PERPETRATOR_REP)


@dataclass(frozen=True)
class ReviewedPerson:
    id: int
    name: str
    role: Role
    last_active_at: datetime | None
    inactive: bool  # not active for 90 days
    awaiting: bool  # enrolment not confirmed yet


@dataclass(frozen=True)
class ReviewGroup:
    """An agency's people, or the area's for area-wide roles (coordinators, chairs, ...)."""

    name: str
    people: tuple[ReviewedPerson, ...]


@dataclass(frozen=True)
class AccessReview:
    area_name: str
    at: datetime
    groups: tuple[ReviewGroup, ...]

    @property
    def people(self) -> list[ReviewedPerson]:
        return [person for group in self.groups for person in group.people]


class AccessReviewService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps
        self._quiet_until: datetime | None = None

    async def review(self, actor: Actor) -> AccessReview:
        """Everyone enrolled in the actor's area now, for a coordinator; audited."""
        authorise(actor, Operation.MANAGE_PEOPLE, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            review = await self._review(session, actor.area_id, now)
            await audit_by(
                session,
                actor,
                at=now,
                action="people.reviewed",
                details={"count": len(review.people)},
            )
        return review

    async def queue_quarterly(self) -> int:
        """Queue each area's review, and the leavers reminders, once its moment has come.

        Called by housekeeping on every tick: between checks (``RECHECK``) it returns at once
        without asking the database. Only coordinators and representatives confirmed by the
        review's moment get it, so someone who joins mid-quarter is not sent the last one.
        """
        if not self._deps.access_review:
            return 0
        now = self._deps.clock.now()
        if self._quiet_until is not None and now < self._quiet_until:
            return 0
        wake = now + RECHECK
        due: list[tuple[int, ReviewDue]] = []
        async with self._deps.sessions() as session:
            for area_id in (await session.scalars(select(Area.id).order_by(Area.id))).all():
                found = review_due(now, await area_calendar(session, int(area_id)))
                if found.due:
                    due.append((int(area_id), found))
                else:
                    wake = min(wake, found.due_at)
        queued = 0
        for area_id, found in due:
            async with self._deps.sessions.begin() as session:
                queued += await self._queue_area(session, area_id, found, now)
        self._quiet_until = wake
        return queued

    # -- internals --------------------------------------------------------------------------

    async def _queue_area(
        self, session: AsyncSession, area_id: int, found: ReviewDue, now: datetime
    ) -> int:
        recipients = (
            await session.execute(
                select(Person.id, Person.telegram_user_id, Person.role, Agency.name)
                .outerjoin(Agency, Agency.id == Person.agency_id)
                .where(
                    Person.area_id == area_id,
                    Person.deactivated_at.is_(None),
                    Person.confirmed_at <= found.due_at,
                    Person.role.in_([Role.COORDINATOR, *AGENCY_ROLES]),
                )
                .order_by(Person.id)
            )
        ).all()
        label = found.quarter.label.replace(" ", "")

        def key(person_id: int, role: Role) -> str:
            kind = "access_review" if role is Role.COORDINATOR else "leavers"
            return f"{kind}:{area_id}:{label}:{person_id}"

        # Sent or queued already (a key is taken exactly when enqueue would refuse it): the
        # usual case on every check after the first of the quarter, and then nothing else runs.
        keys = [key(int(person_id), role) for person_id, _, role, _ in recipients]
        taken = set(
            await session.scalars(
                select(OutboxMessage.dedupe_key).where(
                    OutboxMessage.dedupe_key.in_(keys),
                    or_(OutboxMessage.cancelled_at.is_(None), OutboxMessage.sent_at.is_not(None)),
                )
            )
        )
        waiting = [row for row in recipients if key(int(row[0]), row[2]) not in taken]
        if not waiting:
            return 0
        area = await session.get(Area, area_id)
        assert area is not None
        enrolled, inactive, awaiting = await self._counts(session, area_id, now)
        queued = 0
        for person_id, chat_id, role, agency_name in waiting:
            if role is Role.COORDINATOR:
                queued += await enqueue(
                    session,
                    dedupe_key=key(int(person_id), role),
                    chat_id=chat_id,
                    kind=REVIEW_KIND,
                    text=texts.access_review_due(
                        area.name, found.quarter.label, enrolled, inactive, awaiting
                    ),
                    buttons=[[ACCESS_REVIEW(texts.BUTTON_OPEN_ACCESS_REVIEW)]],
                    now=now,
                    area_id=area_id,
                    person_id=int(person_id),
                    expires_at=now + REVIEW_EXPIRES,
                )
            else:
                queued += await enqueue(
                    session,
                    dedupe_key=key(int(person_id), role),
                    chat_id=chat_id,
                    kind=LEAVERS_KIND,
                    text=texts.leavers_reminder(agency_name or area.name, area.name),
                    now=now,
                    area_id=area_id,
                    person_id=int(person_id),
                    expires_at=now + REVIEW_EXPIRES,
                )
        return queued

    async def _counts(
        self, session: AsyncSession, area_id: int, now: datetime
    ) -> tuple[int, int, int]:
        """Enrolled, inactive for 90 days, awaiting confirmation: no name is opened for it."""
        rows = (
            await session.execute(
                select(Person.last_active_at, Person.enrolled_at, Person.confirmed_at).where(
                    Person.area_id == area_id, Person.deactivated_at.is_(None)
                )
            )
        ).all()
        inactive = sum(is_inactive(last, enrolled, now) for last, enrolled, _ in rows)
        return len(rows), inactive, sum(confirmed is None for _, _, confirmed in rows)

    async def _review(self, session: AsyncSession, area_id: int, now: datetime) -> AccessReview:
        area = await session.get(Area, area_id)
        assert area is not None
        rows = (
            await session.execute(
                select(Person, Agency.name)
                .outerjoin(Agency, Agency.id == Person.agency_id)
                .where(Person.area_id == area_id, Person.deactivated_at.is_(None))
            )
        ).all()
        people = []
        for person, agency_name in rows:
            view = await person_view(self._deps, session, person, agency_name)
            reviewed = ReviewedPerson(
                view.id,
                view.name,
                view.role,
                view.last_active_at,
                is_inactive(view.last_active_at, person.enrolled_at, now),
                not view.confirmed,
            )
            people.append((agency_name, reviewed))
        # The area-wide roles first, under the area's name; then each agency, by name.
        people.sort(
            key=lambda p: (p[0] is not None, p[0] or "", p[1].role.value, p[1].name.lower())
        )
        groups = tuple(
            ReviewGroup(agency or area.name, tuple(person for _, person in members))
            for agency, members in groupby(people, key=lambda p: p[0])
        )
        return AccessReview(area.name, now, groups)

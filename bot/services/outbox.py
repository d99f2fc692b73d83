"""The outbox: reminders and notifications written with the event that causes them.

Writing the message in the same transaction as its cause means there is no
moment where a meeting is scheduled but its reminder is lost (or a reminder
exists for a meeting that rolled back). Sending happens later, from
``bot.adapter.dispatcher``, on any number of bot instances at once:

* a row is claimed with a lease (``claimed_until``) before it is sent, so two
  dispatchers never both hold it, and a dispatcher that crashes mid-batch only
  delays its rows until the lease runs out;
* the lease is renewed just before each send (``hold``), fenced on the
  lease we were given, so a row whose lease ran out while an earlier row was
  slow, or that was cancelled or expired meanwhile, is not sent by a
  dispatcher that no longer owns it;
* Telegram has no idempotency key, so delivery is at least once in one case
  only: the send succeeded and the database then failed before ``mark_sent``.

Text carries case references, never names; nothing here logs or audits the text.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, CursorResult, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.clock import Clock
from bot.i18n import ENGLISH, Localised, in_language, known
from bot.quiet_hours import WORKING_DAY_KINDS, next_sendable
from bot.services.case_access import Receivers, receivers
from bot.services.deps import ServiceDeps
from bot.services.policy import area_calendar
from bot.texts import ROLE_NAMES
from bot.vocabulary import Role
from storage.audit import append_event
from storage.models import OutboxMessage, Person

UNREACHABLE_NOTICE_KIND: Final = "unreachable_notice"
MAX_ATTEMPTS: Final = 8
DEFAULT_LEASE: Final = timedelta(minutes=2)
EXPIRED: Final = "expired"
UNREACHABLE: Final = "unreachable"
RECIPIENT_DEACTIVATED: Final = "recipient deactivated"
RECIPIENT_MAY_NOT_RECEIVE: Final = "recipient may not receive this case"

# Telegram's own limits, checked when queueing so a bad message fails its cause's
# transaction instead of failing eight times in the night.
MAX_TEXT_LENGTH: Final = 4096
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_KEY_LENGTH: Final = 160
MAX_ERROR_LENGTH: Final = 200
MAX_TEXT_FROM_LENGTH: Final = 60

Buttons = list[list[tuple[str, str]]]


class Hold(enum.Enum):
    """What became of a claimed row just before sending it."""

    HELD = "held"  # still ours, lease renewed: send it
    EXPIRED = "expired"  # its time passed while it waited: marked expired, not sent
    LOST = "lost"  # cancelled, sent or claimed by another dispatcher meanwhile: leave it


AttachmentRenderer = Callable[[int], Awaitable[tuple[str, bytes] | None]]
TextRenderer = Callable[[int], Awaitable[str | None]]


@dataclass(frozen=True)
class ClaimedMessage:
    """A row this dispatcher holds until ``claimed_until``, the lease that also fences it."""

    id: int
    chat_id: int
    kind: str
    text: str
    buttons: Buttons | None
    urgent: bool
    attempts: int
    attachment: str | None
    area_id: int | None
    person_id: int | None
    claimed_until: datetime
    due_at: datetime
    text_from: str | None = None


def _pending() -> ColumnElement[bool]:
    return and_(
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.cancelled_at.is_(None),
        OutboxMessage.failed_at.is_(None),
    )


def _unleased(now: datetime) -> ColumnElement[bool]:
    return or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now)


def _not_expired(now: datetime) -> ColumnElement[bool]:
    return or_(OutboxMessage.expires_at.is_(None), OutboxMessage.expires_at > now)


def _recipient_confirmed() -> ColumnElement[bool]:
    """Not for someone whose enrolment no coordinator has confirmed yet: their messages wait
    (a message naming a case is not even queued for them, by the access policy) and go out
    once they are confirmed, or are dropped with the rest if they are removed instead."""
    awaiting = select(Person.id).where(
        Person.confirmed_at.is_(None), Person.deactivated_at.is_(None)
    )
    return or_(OutboxMessage.person_id.is_(None), OutboxMessage.person_id.not_in(awaiting))


def _rowcount(result: Any) -> int:
    return int(cast(CursorResult[Any], result).rowcount)


def _dialect(session: AsyncSession) -> str:
    return str(session.get_bind().dialect.name)


def _check_buttons(buttons: Buttons | None) -> str | None:
    if not buttons:
        return None
    for row in buttons:
        for label, data in row:
            if not label:
                raise ValueError("a button needs a label")
            if not data or len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
                raise ValueError("button callback data must be 1-64 bytes")
    return json.dumps([[[label, data] for label, data in row] for row in buttons])


def _load_buttons(raw: str | None) -> Buttons | None:
    if not raw:
        return None
    return [[(str(label), str(data)) for label, data in row] for row in json.loads(raw)]


def _truncate(error: str) -> str:
    return error if len(error) <= MAX_ERROR_LENGTH else error[: MAX_ERROR_LENGTH - 1] + "…"


async def enqueue(
    session: AsyncSession,
    *,
    dedupe_key: str,
    chat_id: int,
    kind: str,
    text: str,
    now: datetime,
    area_id: int,
    due_at: datetime | None = None,
    person_id: int | None = None,
    buttons: Buttons | None = None,
    urgent: bool = False,
    expires_at: datetime | None = None,
    attachment: str | None = None,
    case_ids: Collection[int] = (),
    checked: Receivers | None = None,
    text_from: str | None = None,
) -> bool:
    """Queue a message in the caller's transaction; False if its key is already queued or sent,
    or if the recipient may not receive the cases it names.

    ``case_ids`` are the cases the message names: the access policy is asked whether
    ``person_id`` may be sent them now (and asked again when it is sent). A caller queueing
    many messages asks once for the whole batch with ``case_access.receivers`` and passes
    the answer as ``checked``.

    ``text_from`` ("enrolment:12") has the text built when it is sent, by the renderer
    registered for its kind (``OutboxService.register_text``): a message that names a person
    (whose name is sealed) stores only ``text``, a version without the name.

    When it may go out is judged on the area's own calendar, whoever queues it: outside
    quiet hours on the area's wall clock and, for reminders and chases
    (``WORKING_DAY_KINDS``), on one of its working days.

    One statement (INSERT ... ON CONFLICT) rather than check-then-insert, so two
    transactions racing on the same key cannot both insert, and a duplicate does
    not abort the caller's PostgreSQL transaction the way a caught IntegrityError
    would. A key whose row was cancelled (and never sent) is taken over by the new
    message: moving a meeting is "cancel its reminders, queue them again" with the
    same keys, and the new time and wording win.
    """
    if not dedupe_key or len(dedupe_key) > MAX_KEY_LENGTH:
        raise ValueError(f"dedupe_key must be 1-{MAX_KEY_LENGTH} characters")
    if not text or len(text) > MAX_TEXT_LENGTH:
        raise ValueError(f"text must be 1-{MAX_TEXT_LENGTH} characters")
    if text_from is not None and not 0 < len(text_from) <= MAX_TEXT_FROM_LENGTH:
        raise ValueError(f"text_from must be 1-{MAX_TEXT_FROM_LENGTH} characters")
    for moment in (now, due_at, expires_at):
        if moment is not None and moment.tzinfo is None:
            raise ValueError("outbox times must be timezone-aware")
    if person_id is not None and _remakeable(text, buttons):
        # Written in the actor's request, read by the recipient: in the recipient's language.
        language = await _language_of(session, person_id)
        text = in_language(text, language)
        if buttons:
            buttons = [
                [(in_language(label, language), data) for label, data in row] for row in buttons
            ]
    if case_ids:
        if person_id is None:
            raise ValueError("a message naming a case needs its recipient's person_id")
        if checked is None:
            checked = await receivers(session, [(c, person_id) for c in case_ids], now)
        if not checked.allows(case_ids, person_id):
            return False
    values: dict[str, Any] = {
        "dedupe_key": dedupe_key,
        "area_id": area_id,
        "person_id": person_id,
        "chat_id": chat_id,
        "kind": kind,
        "text": text,
        "buttons": _check_buttons(buttons),
        "attachment": attachment,
        "text_from": text_from,
        "case_ids": ",".join(str(c) for c in sorted(set(case_ids))) or None,
        "urgent": urgent,
        "created_at": now,
        "due_at": await _sendable(session, area_id, kind, due_at or now, urgent),
        "expires_at": expires_at,
        "attempts": 0,
    }
    dialect = _dialect(session)
    if dialect == "postgresql":
        stmt: postgresql.Insert | sqlite.Insert = postgresql.insert(OutboxMessage)
    elif dialect == "sqlite":
        stmt = sqlite.insert(OutboxMessage)
    else:  # pragma: no cover - the project supports these two only
        raise RuntimeError(f"outbox does not support the {dialect} database")
    stmt = stmt.values(**values)
    revived: dict[str, Any] = {
        name: stmt.excluded[name]
        for name in values
        if name not in ("dedupe_key", "created_at", "attempts")
    }
    revived.update(cancelled_at=None, failed_at=None, last_error=None, attempts=0)
    upsert = stmt.on_conflict_do_update(
        index_elements=[OutboxMessage.dedupe_key],
        set_=revived,
        where=and_(OutboxMessage.cancelled_at.is_not(None), OutboxMessage.sent_at.is_(None)),
    ).returning(OutboxMessage.id)
    return (await session.execute(upsert)).scalar_one_or_none() is not None


def _remakeable(text: str, buttons: Buttons | None) -> bool:
    if isinstance(text, Localised):
        return True
    return any(isinstance(label, Localised) for row in buttons or () for label, _data in row)


async def _language_of(session: AsyncSession, person_id: int) -> str:
    """The recipient's language (bot.i18n): usually already loaded in this session."""
    person = await session.get(Person, person_id)
    return known(person.language if person is not None else None)


async def _sendable(
    session: AsyncSession, area_id: int, kind: str, due: datetime, urgent: bool
) -> datetime:
    calendar = await area_calendar(session, area_id)
    return next_sendable(
        due,
        calendar.timezone,
        urgent=urgent,
        working_days_only=kind in WORKING_DAY_KINDS,
        closures=calendar.closed,
    )


async def cancel(session: AsyncSession, *, dedupe_key_prefix: str, now: datetime) -> int:
    """Cancel every pending message whose key starts with the prefix; how many were cancelled.

    In the caller's transaction, with the change that makes them moot (a meeting
    moved or called off). A message already being sent at this moment may still
    go out; one that has not been picked up yet never will.
    """
    if not dedupe_key_prefix:
        raise ValueError("an empty prefix would cancel every message")
    result = await session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.dedupe_key.startswith(dedupe_key_prefix, autoescape=True),
            _pending(),
        )
        .values(cancelled_at=now)
        .execution_options(synchronize_session=False)
    )
    return _rowcount(result)


def retry_backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min, ... capped at an hour: long enough for Telegram or the network to
    recover, short enough that a reminder is still useful when it arrives."""
    doubling = 1 << min(max(attempts, 0), 16)
    return min(timedelta(seconds=30 * doubling), timedelta(hours=1))


class OutboxService:
    """Claiming and settling outbox rows for the dispatcher; safe to run on many instances."""

    def __init__(self, deps: ServiceDeps, *, max_attempts: int = MAX_ATTEMPTS) -> None:
        self._deps = deps
        self.max_attempts = max_attempts
        self._renderers: dict[str, AttachmentRenderer] = {}
        self._texts: dict[str, TextRenderer] = {}

    def register_attachment(self, kind: str, renderer: AttachmentRenderer) -> None:
        """Files are built when sent, so a moved meeting's invite always carries its new time."""
        self._renderers[kind] = renderer

    async def render_attachment(self, reference: str) -> tuple[str, bytes] | None:
        """(filename, content) for "kind:id", or None when the thing no longer exists."""
        kind, _, raw_id = reference.partition(":")
        renderer = self._renderers.get(kind)
        if renderer is None or not raw_id.isdigit():
            return None
        return await renderer(int(raw_id))

    def register_text(self, kind: str, renderer: TextRenderer) -> None:
        """Texts that name a person are built when sent, so no name is stored in the outbox."""
        self._texts[kind] = renderer

    async def reader_language(self, person_id: int | None) -> str:
        """The language a row is sent in: its recipient's (English for a chat with no person)."""
        if person_id is None:
            return ENGLISH
        async with self._deps.sessions() as session:
            language = (
                await session.execute(select(Person.language).where(Person.id == person_id))
            ).scalar_one_or_none()
        return known(language)

    async def render_text(self, message: ClaimedMessage) -> str:
        """The text to send: built from ``text_from`` where it can be, else the stored one."""
        if message.text_from is None:
            return message.text
        kind, _, raw_id = message.text_from.partition(":")
        renderer = self._texts.get(kind)
        if renderer is None or not raw_id.isdigit():
            return message.text
        return await renderer(int(raw_id)) or message.text

    @property
    def clock(self) -> Clock:
        return self._deps.clock

    async def expire_overdue(self) -> int:
        """Mark messages whose moment has passed, so a reminder is never sent too late to help.

        Rows leased to a dispatcher are left to it: ``hold`` checks expiry itself.
        """
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            return await self._expire(session, now)

    async def claim_due(
        self, limit: int = 100, lease: timedelta = DEFAULT_LEASE
    ) -> list[ClaimedMessage]:
        """Lease up to ``limit`` due messages to this caller, urgent ones first.

        PostgreSQL: rows are selected FOR UPDATE SKIP LOCKED and leased in the same
        transaction, so concurrent dispatchers get disjoint sets without waiting on
        each other. SQLite: the lease is a conditional UPDATE that re-checks the row
        is still unleased; SQLite runs one writer at a time, so only one claimer's
        UPDATE can match a row. Expired rows and rows for people who have since
        been deactivated are settled instead of claimed; rows for people whose enrolment
        is not confirmed yet wait.
        """
        now = self._deps.clock.now()
        until = now + lease
        claimable = and_(
            _pending(),
            OutboxMessage.due_at <= now,
            _unleased(now),
            _not_expired(now),
            _recipient_confirmed(),
        )
        async with self._deps.sessions.begin() as session:
            await self._expire(session, now)
            await self._drop_for_deactivated(session, now)
            query = (
                select(OutboxMessage.id)
                .where(claimable)
                .order_by(OutboxMessage.urgent.desc(), OutboxMessage.due_at, OutboxMessage.id)
                .limit(limit)
            )
            if _dialect(session) == "postgresql":
                query = query.with_for_update(skip_locked=True)
            ids = list((await session.scalars(query)).all())
            ids = await self._drop_not_allowed(session, ids, now)
            if not ids:
                return []
            rows = (
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), claimable)
                    .values(claimed_until=until)
                    .returning(
                        OutboxMessage.id,
                        OutboxMessage.chat_id,
                        OutboxMessage.kind,
                        OutboxMessage.text,
                        OutboxMessage.buttons,
                        OutboxMessage.attachment,
                        OutboxMessage.urgent,
                        OutboxMessage.attempts,
                        OutboxMessage.area_id,
                        OutboxMessage.person_id,
                        OutboxMessage.due_at,
                        OutboxMessage.text_from,
                    )
                    .execution_options(synchronize_session=False)
                )
            ).all()
        claimed = [
            ClaimedMessage(
                id=row.id,
                chat_id=row.chat_id,
                kind=row.kind,
                text=row.text,
                buttons=_load_buttons(row.buttons),
                urgent=row.urgent,
                attempts=row.attempts,
                attachment=row.attachment,
                area_id=row.area_id,
                person_id=row.person_id,
                claimed_until=until,
                due_at=row.due_at,
                text_from=row.text_from,
            )
            for row in sorted(rows, key=lambda r: (not r.urgent, r.due_at, r.id))
        ]
        return claimed

    async def hold(self, message: ClaimedMessage, lease: timedelta = DEFAULT_LEASE) -> Hold:
        """Confirm the row is still ours and still wanted, and renew its lease, just before sending.

        The lease taken by ``claim_due`` is the fencing token: a dispatcher that
        took the row over after our lease ran out set a later one, so our UPDATE
        matches nothing and we leave the row alone.
        """
        now = self._deps.clock.now()
        ours = and_(
            OutboxMessage.id == message.id,
            OutboxMessage.claimed_until == message.claimed_until,
            _pending(),
        )
        async with self._deps.sessions.begin() as session:
            renewed = await session.execute(
                update(OutboxMessage)
                .where(ours, _not_expired(now))
                .values(claimed_until=now + lease)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(renewed) == 1:
                return Hold.HELD
            expired = await session.execute(
                update(OutboxMessage)
                .where(ours, OutboxMessage.expires_at <= now)
                .values(failed_at=now, last_error=EXPIRED, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
            return Hold.EXPIRED if _rowcount(expired) == 1 else Hold.LOST

    async def release(self, messages: Sequence[ClaimedMessage]) -> int:
        """Hand claimed rows back unsent and uncounted, to be claimed again on the next run.

        For when Telegram is unavailable: the rows did nothing wrong, so they keep
        their attempts and due time. Rows already renewed or taken over are left alone.
        """
        released = 0
        if not messages:
            return released
        async with self._deps.sessions.begin() as session:
            for message in messages:
                result = await session.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == message.id,
                        OutboxMessage.claimed_until == message.claimed_until,
                    )
                    .values(claimed_until=None)
                    .execution_options(synchronize_session=False)
                )
                released += _rowcount(result)
        return released

    async def mark_sent(self, id: int, telegram_message_id: int) -> None:
        """Record delivery even if the row was cancelled or expired meanwhile: it did go out."""
        async with self._deps.sessions.begin() as session:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == id, OutboxMessage.sent_at.is_(None))
                .values(
                    sent_at=self._deps.clock.now(),
                    telegram_message_id=telegram_message_id,
                    claimed_until=None,
                    failed_at=None,
                    last_error=None,
                )
                .execution_options(synchronize_session=False)
            )

    async def mark_retry(self, id: int, error: str, retry_at: datetime) -> bool:
        """Release the row to be tried again at ``retry_at``; False if it has now failed for good.

        A non-urgent retry that would land in quiet hours waits for the morning
        like any other non-urgent message.
        """
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            row = await session.get(OutboxMessage, id, with_for_update=True)
            if row is None or row.sent_at is not None or row.failed_at is not None:
                return False
            row.attempts += 1
            row.claimed_until = None
            row.last_error = _truncate(error)
            if row.attempts >= self.max_attempts:
                row.failed_at = now
                await self._audit_failure(session, row, now)
                return False
            if not row.urgent and row.area_id is not None:
                retry_at = await _sendable(session, row.area_id, row.kind, retry_at, False)
            row.due_at = retry_at
            return True

    async def mark_failed(self, id: int, error: str) -> None:
        """Give up at once: Telegram refused the message itself, so sending it again cannot help."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            row = await session.get(OutboxMessage, id, with_for_update=True)
            if row is None or row.sent_at is not None or row.failed_at is not None:
                return
            row.attempts += 1
            row.claimed_until = None
            row.failed_at = now
            row.last_error = _truncate(error)
            await self._audit_failure(session, row, now)

    async def mark_unreachable(self, id: int) -> None:
        """The recipient blocked the bot or left Telegram: stop, and tell the coordinators.

        The person is flagged unreachable (cleared when they write again), and every
        other active coordinator of the area gets one notice per episode, not one per
        undelivered message. The notice names a role and a reference, never the person.
        """
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            row = await session.get(OutboxMessage, id, with_for_update=True)
            if row is None or row.sent_at is not None:
                return
            row.attempts += 1
            row.claimed_until = None
            row.failed_at = row.failed_at or now
            row.last_error = UNREACHABLE
            notified = 0
            person = (
                await session.get(Person, row.person_id, with_for_update=True)
                if row.person_id is not None
                else None
            )
            if person is not None:
                if person.unreachable_since is None:
                    person.unreachable_since = now
                notified = await self._notify_coordinators(session, person, row.urgent, now)
            area_id = row.area_id
            if area_id is None and person is not None:
                area_id = person.area_id
            await append_event(
                session,
                at=now,
                action="outbox.unreachable",
                outcome="failed",
                area_id=area_id,
                subject=f"person:{person.id}" if person is not None else f"outbox:{row.id}",
                details={"outbox_id": row.id, "kind": row.kind, "coordinators_notified": notified},
            )

    async def pending_count(self) -> int:
        """Messages not yet sent, cancelled or given up on, for metrics and health checks."""
        async with self._deps.sessions() as session:
            count = await session.scalar(
                select(func.count()).select_from(OutboxMessage).where(_pending())
            )
            return int(count or 0)

    # -- internals --------------------------------------------------------------------------

    async def _expire(self, session: AsyncSession, now: datetime) -> int:
        result = await session.execute(
            update(OutboxMessage)
            .where(_pending(), _unleased(now), OutboxMessage.expires_at <= now)
            .values(failed_at=now, last_error=EXPIRED, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    async def _drop_for_deactivated(self, session: AsyncSession, now: datetime) -> int:
        """Someone who has left is no longer sent case references, even ones queued before."""
        leavers = select(Person.id).where(Person.deactivated_at.is_not(None))
        result = await session.execute(
            update(OutboxMessage)
            .where(
                _pending(),
                _unleased(now),
                OutboxMessage.due_at <= now,
                OutboxMessage.person_id.in_(leavers),
            )
            .values(failed_at=now, last_error=RECIPIENT_DEACTIVATED, claimed_until=None)
            .execution_options(synchronize_session=False)
        )
        return _rowcount(result)

    async def _drop_not_allowed(
        self, session: AsyncSession, ids: list[int], now: datetime
    ) -> list[int]:
        """The access policy asked again at send time: a message naming a case is settled
        unsent when its recipient may no longer receive that case (excluded since, moved to
        another agency or role, left); the rest are returned to be sent."""
        if not ids:
            return ids
        rows = (
            await session.execute(
                select(OutboxMessage.id, OutboxMessage.person_id, OutboxMessage.case_ids).where(
                    OutboxMessage.id.in_(ids), OutboxMessage.case_ids.is_not(None)
                )
            )
        ).all()
        named = {
            int(row_id): (int(person_id), [int(c) for c in str(cases).split(",") if c])
            for row_id, person_id, cases in rows
            if person_id is not None
        }
        if not named:
            return ids
        allowed = await receivers(
            session,
            {(case_id, person) for person, cases in named.values() for case_id in cases},
            now,
        )
        refused = [
            row_id for row_id, (person, cases) in named.items() if not allowed.allows(cases, person)
        ]
        if refused:
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(refused), _pending())
                .values(failed_at=now, last_error=RECIPIENT_MAY_NOT_RECEIVE, claimed_until=None)
                .execution_options(synchronize_session=False)
            )
        return [row_id for row_id in ids if row_id not in set(refused)]

    async def _notify_coordinators(
        self, session: AsyncSession, person: Person, urgent: bool, now: datetime
    ) -> int:
        since = person.unreachable_since or now
        coordinators = (
            await session.scalars(
                select(Person).where(
                    Person.area_id == person.area_id,
                    Person.role == Role.COORDINATOR,
                    Person.deactivated_at.is_(None),
                    Person.id != person.id,
                )
            )
        ).all()
        text = texts.unreachable_notice(ROLE_NAMES[person.role], person.id)
        notified = 0
        for coordinator in coordinators:
            # One notice per coordinator per episode: a later block after an unblock is new news.
            queued = await enqueue(
                session,
                dedupe_key=f"unreachable:{person.id}:{int(since.timestamp())}:{coordinator.id}",
                chat_id=coordinator.telegram_user_id,
                kind=UNREACHABLE_NOTICE_KIND,
                text=text,
                now=now,
                area_id=person.area_id,
                person_id=coordinator.id,
                # The undelivered message was urgent, so is finding another way to reach them.
                urgent=urgent,
            )
            notified += int(queued)
        return notified

    async def _audit_failure(
        self, session: AsyncSession, row: OutboxMessage, now: datetime
    ) -> None:
        """A reminder that never arrived matters to whoever relied on it, so it is on record."""
        await append_event(
            session,
            at=now,
            action="outbox.failed",
            outcome="failed",
            area_id=row.area_id,
            subject=f"person:{row.person_id}" if row.person_id is not None else f"outbox:{row.id}",
            details={"outbox_id": row.id, "kind": row.kind, "attempts": row.attempts},
        )

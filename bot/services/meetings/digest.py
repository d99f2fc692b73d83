"""The coordinators' 08:00 digest on working days, and the calendar invitation file."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.i18n import _
from bot.meetings.calendar_file import meeting_ics
from bot.meetings.workdays import is_working_day
from bot.referrals.status import OPEN_FOR_TRIAGE, TRIAGE_STEPS, CaseStep
from bot.services.case_access import receivers
from bot.services.idva import waiting_cases
from bot.services.meetings.common import (
    DIGEST_HOUR,
    MeetingBase,
    _area,
    _DigestArea,
    _DigestRecipient,
    location_context,
)
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar, calendar_shows_location
from bot.vocabulary import Role
from storage.models import (
    Agency,
    AgendaItem,
    Area,
    Case,
    CaseEvent,
    Meeting,
    OutboxMessage,
    Person,
)


class DigestAndCalendar(MeetingBase):
    """The morning digest and the .ics invitation."""

    async def queue_morning_digests(self) -> int:
        """08:00 local on working days: what each coordinator still has to chase.

        Housekeeping calls this every 30 seconds all day, so the usual tick, once the
        day's digests are queued, is two small reads: the active coordinators of areas
        inside their digest window, and which of their keys for today are taken. Only
        an area with a coordinator still waiting has its digest computed, in a read
        session of its own; the digests are then queued in one short write transaction.
        """
        if not self._deps.morning_digest:
            return 0
        now = self._deps.clock.now()
        queued = 0
        for area, recipients in await self._digests_due(now):
            async with self._deps.sessions() as session:
                summaries = await self._digest(session, area, now, recipients)
            async with self._deps.sessions.begin() as session:
                for recipient in recipients:
                    text, named = summaries[recipient.person_id]
                    queued += await enqueue(
                        session,
                        dedupe_key=recipient.dedupe_key,
                        chat_id=recipient.chat_id,
                        kind="digest",
                        text=text,
                        now=now,
                        area_id=area.id,
                        person_id=recipient.person_id,
                        expires_at=now + timedelta(hours=10),
                        # The cases it names by reference (those waiting on the IDVA service).
                        case_ids=named,
                    )
        return queued

    async def _digests_due(self, now: datetime) -> list[tuple[_DigestArea, list[_DigestRecipient]]]:
        """Areas past 08:00 on a working day, with the coordinators who have no digest yet.

        A key counts as taken exactly when ``enqueue`` would refuse it: queued or sent,
        and not cancelled-before-sending (a cancelled key is queued again).
        """
        wanted: dict[int, tuple[_DigestArea, list[_DigestRecipient]]] = {}
        async with self._deps.sessions() as session:
            rows = await session.execute(
                select(Area.id, Area.name, Area.timezone, Person.id, Person.telegram_user_id)
                .join(Person, Person.area_id == Area.id)
                .where(Person.role == Role.COORDINATOR, Person.deactivated_at.is_(None))
                .order_by(Area.id, Person.id)
            )
            for area_id, name, timezone, person_id, chat_id in rows.all():
                local = now.astimezone(ZoneInfo(timezone))
                if local.hour < DIGEST_HOUR or not is_working_day(local.date()):
                    continue
                area = _DigestArea(int(area_id), name, timezone)
                key = f"digest:{area.id}:{local.date().isoformat()}:{person_id}"
                recipient = _DigestRecipient(int(person_id), int(chat_id), key)
                wanted.setdefault(area.id, (area, []))[1].append(recipient)
            keys = [r.dedupe_key for _, recipients in wanted.values() for r in recipients]
            if not keys:
                return []
            taken = set(
                await session.scalars(
                    select(OutboxMessage.dedupe_key).where(
                        OutboxMessage.dedupe_key.in_(keys),
                        or_(
                            OutboxMessage.cancelled_at.is_(None), OutboxMessage.sent_at.is_not(None)
                        ),
                    )
                )
            )
            due = []
            for area, recipients in wanted.values():
                waiting = [r for r in recipients if r.dedupe_key not in taken]
                # The area's own closure days are read only when a digest is still to go,
                # so the usual tick, once today's digests are queued, stays two reads.
                calendar = await area_calendar(session, area.id) if waiting else None
                if calendar is not None and calendar.is_working_day(calendar.local_date(now)):
                    due.append((area, waiting))
        return due

    async def calendar_file(self, meeting_id: int) -> tuple[str, bytes] | None:
        async with self._deps.sessions() as session:
            meeting = await session.get(Meeting, meeting_id)
            if meeting is None:
                return None
            area = await _area(session, meeting.area_id)
            location = None
            if (
                meeting.location_sealed is not None
                and meeting.data_key_id
                and await calendar_shows_location(session, meeting.area_id)
            ):
                location = await self._deps.vault.open(
                    session,
                    meeting.data_key_id,
                    location_context(meeting.id),
                    meeting.location_sealed,
                )
            content = meeting_ics(
                uid=meeting.calendar_uid,
                sequence=meeting.calendar_sequence,
                starts_at=meeting.starts_at,
                duration=timedelta(minutes=meeting.duration_minutes),
                timezone=area.timezone,
                summary=texts.calendar_summary(area.name),
                location=location,
                # Built when sent, inside the recipient's language (the dispatcher's speaking).
                description=_(texts.CALENDAR_DESCRIPTION),
                organiser_name=_(texts.ROLE_NAMES[Role.COORDINATOR]),
                cancelled=meeting.cancelled_at is not None,
                now=self._deps.clock.now(),
            )
            return f"marac-{meeting.starts_at.strftime('%Y-%m-%d')}.ics", content

    async def _digest(
        self,
        session: AsyncSession,
        area: _DigestArea,
        now: datetime,
        recipients: list[_DigestRecipient],
    ) -> dict[int, tuple[str, list[int]]]:
        """Each coordinator's digest text, reading only what it reports: the referrals
        awaiting triage and the next two meetings (their agenda items, research returns and
        attendance replies). A case the access policy keeps from a coordinator is left out
        of their counts, so no number gives it away."""
        meetings = (
            await session.execute(
                select(Meeting.id, Meeting.starts_at, Meeting.published_at)
                .where(
                    Meeting.area_id == area.id,
                    Meeting.cancelled_at.is_(None),
                    Meeting.starts_at > now,
                )
                .order_by(Meeting.starts_at, Meeting.id)
                .limit(2)
            )
        ).all()
        # Of the next two meetings, only those with a published agenda are reported on.
        published = [(int(m_id), starts) for m_id, starts, at in meetings if at is not None]
        ids = [m_id for m_id, _ in published]
        items: dict[int, list[tuple[int, int]]] = {m_id: [] for m_id in ids}
        agencies: list[tuple[int, str]] = []
        returned: dict[int, set[int]] = {}
        attendance: dict[int, dict[int, str]] = {}
        if published:
            agencies = [
                (int(agency_id), str(name))
                for agency_id, name in await session.execute(
                    select(Agency.id, Agency.name)
                    .where(Agency.area_id == area.id)
                    .order_by(Agency.id)
                )
            ]
            for m_id, item_id, case_id in await session.execute(
                select(AgendaItem.meeting_id, AgendaItem.id, AgendaItem.case_id).where(
                    AgendaItem.meeting_id.in_(ids), AgendaItem.removed_at.is_(None)
                )
            ):
                items[int(m_id)].append((int(item_id), int(case_id)))
            returned = await self._returned_by_item(
                session, [item_id for listed in items.values() for item_id, _ in listed]
            )
            attendance = await self._attendance(session, ids)
        awaiting = await self._awaiting_triage(session, area.id)
        idva_waiting = [w for w in await waiting_cases(session, area.id, now) if w.overdue]
        cases = {case_id for listed in items.values() for _, case_id in listed} | set(awaiting)
        cases |= {w.case_id for w in idva_waiting}
        allowed = await receivers(
            session, [(case_id, r.person_id) for r in recipients for case_id in cases], now
        )
        texts_for: dict[int, tuple[str, list[int]]] = {}
        for recipient in recipients:

            def told(case_id: int, person_id: int = recipient.person_id) -> bool:
                return allowed.allows([case_id], person_id)

            lines = []
            for m_id, starts_at in published:
                outstanding = sum(
                    1
                    for item_id, case_id in items[m_id]
                    if told(case_id)
                    for agency_id, _ in agencies
                    if agency_id not in returned.get(item_id, ())
                )
                replied = attendance.get(m_id, {})
                silent = [name for agency_id, name in agencies if agency_id not in replied]
                when = self._local(starts_at, area.timezone)
                lines.append(texts.digest_meeting(when, outstanding, silent))
            waiting = sum(1 for case_id in awaiting if told(case_id))
            overdue = [w for w in idva_waiting if told(w.case_id)]
            idva = (
                texts.digest_idva(
                    [(w.reference, w.working_days, w.holder is not None) for w in overdue]
                )
                if overdue
                else None
            )
            texts_for[recipient.person_id] = (
                texts.morning_digest(area.name, waiting, lines, idva),
                [w.case_id for w in overdue],
            )
        return texts_for

    async def _awaiting_triage(self, session: AsyncSession, area_id: int) -> list[int]:
        """Cases whose latest triage step is still open (submitted or more information asked).

        The same reading as ``triage_status``, done by the database: each case's latest
        triage event is found through the (case_id, id) index.
        """
        latest = (
            select(CaseEvent.kind)
            .where(CaseEvent.case_id == Case.id, CaseEvent.kind.in_(sorted(TRIAGE_STEPS)))
            .order_by(CaseEvent.id.desc())
            .limit(1)
            .correlate(Case)
            .scalar_subquery()
        )
        found = await session.scalars(
            select(Case.id).where(
                Case.area_id == area_id,
                func.coalesce(latest, CaseStep.SUBMITTED.value).in_(sorted(OPEN_FOR_TRIAGE)),
            )
        )
        return [int(case_id) for case_id in found]

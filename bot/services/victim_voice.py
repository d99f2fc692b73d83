"""The victim's voice at the meeting (SafeLives' second principle), recorded by the IDVA.

The case's allocated IDVA records how the victim is engaging and the victim's views and
wishes for the meeting (sealed with the case's data key); each record is a new row with who
and when, and the latest of each is the one shown. Only the allocated IDVA records; those
who hold the case in full (the IDVA, the coordinator, the chair) read the views, in the
case workspace only; every agenda reader sees whether views are recorded, never what they
are. After the meeting that heard the case is closed, the IDVA is asked to confirm that the
victim was told the outcome, and chased once if two working days pass without an answer;
with no IDVA allocated, the coordinators are told instead.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actor import Actor
from bot.buttons import outcome_buttons
from bot.dates import format_local
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise
from bot.services.audited import audit_by
from bot.services.case_access import Shown, receivers, record_views, require, visible
from bot.services.deps import ServiceDeps
from bot.services.idva_allocations import allocated_idvas
from bot.services.names import person_name
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar
from bot.victim_voice import VoiceStatus, outcome_chase_is_due
from bot.vocabulary import Engagement, OutcomeTold, Role
from storage.crypto import FieldContext
from storage.models import (
    AgendaItem,
    Area,
    Case,
    Meeting,
    OutboxMessage,
    Person,
    VictimOutcomeReply,
    VictimVoiceEntry,
)

# How long after a meeting is closed housekeeping keeps asking about it; the coordinator
# still sees an answer outstanding on the agenda and the board afterwards.
FOLLOW_UP_FOR = timedelta(days=30)
MAX_VIEWS_LENGTH = 3000
MAX_REASON_LENGTH = 1000


def views_context(entry_id: int) -> FieldContext:
    return FieldContext("victim_voice_entries", "views", entry_id)


def reason_context(reply_id: int) -> FieldContext:
    return FieldContext("victim_outcome_replies", "reason", reply_id)


@dataclass(frozen=True)
class VictimVoice:
    """One case's voice as recorded. ``views`` is opened only for a page that shows it."""

    case_id: int
    reference: str
    engagement: Engagement | None
    engagement_at: datetime | None
    engagement_by: str | None
    views_at: datetime | None
    views_by: str | None
    views: str | None = None
    # Closed meetings that heard the case with no answer yet about telling the victim.
    awaiting_outcome: tuple[tuple[int, datetime], ...] = ()
    may_record: bool = False


async def voice_statuses(
    session: AsyncSession, case_ids: Collection[int], meeting_id: int, *, closed: bool
) -> dict[int, VoiceStatus]:
    """Per case, what an agenda line says of the victim's voice, in three statements."""
    wanted = sorted(set(case_ids))
    if not wanted:
        return {}
    latest_engagement = (
        select(func.max(VictimVoiceEntry.id))
        .where(VictimVoiceEntry.case_id.in_(wanted), VictimVoiceEntry.engagement.is_not(None))
        .group_by(VictimVoiceEntry.case_id)
        .scalar_subquery()
    )
    engagement = {
        int(case_id): value
        for case_id, value in (
            await session.execute(
                select(VictimVoiceEntry.case_id, VictimVoiceEntry.engagement).where(
                    VictimVoiceEntry.id.in_(latest_engagement)
                )
            )
        ).all()
    }
    with_views = {
        int(case_id)
        for case_id in await session.scalars(
            select(VictimVoiceEntry.case_id)
            .where(VictimVoiceEntry.case_id.in_(wanted), VictimVoiceEntry.views_sealed.is_not(None))
            .distinct()
        )
    }
    told: dict[int, OutcomeTold] = {}
    if closed:
        replies = await session.execute(
            select(VictimOutcomeReply.case_id, VictimOutcomeReply.outcome)
            .where(
                VictimOutcomeReply.case_id.in_(wanted),
                VictimOutcomeReply.meeting_id == meeting_id,
            )
            .order_by(VictimOutcomeReply.id)
        )
        for case_id, outcome in replies.all():
            told[int(case_id)] = outcome  # the latest answer wins
    return {
        case_id: VoiceStatus(
            case_id in with_views, engagement.get(case_id), closed, told.get(case_id)
        )
        for case_id in wanted
    }


class VictimVoiceService:
    def __init__(self, deps: ServiceDeps) -> None:
        self._deps = deps

    # -- recording (the allocated IDVA only) ----------------------------------------------------

    async def record_engagement(self, actor: Actor, case_id: int, engagement: Engagement) -> str:
        """A new engagement row for the case; returns its reference."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._recordable(session, actor, case_id, now)
            session.add(
                VictimVoiceEntry(
                    case_id=case.id,
                    engagement=engagement,
                    recorded_at=now,
                    recorded_by_id=actor.person_id,
                )
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="victim.engagement",
                subject=case.reference,
                details={"engagement": engagement.value},
            )
            return case.reference

    async def record_wishes(self, actor: Actor, case_id: int, views: str) -> str:
        """The victim's views and wishes for the meeting, sealed; returns the reference."""
        text = views.strip()
        if not text:
            raise ServiceError(texts.ASK_VICTIM_VIEWS)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._recordable(session, actor, case_id, now)
            assert case.data_key_id is not None
            entry = VictimVoiceEntry(
                case_id=case.id, recorded_at=now, recorded_by_id=actor.person_id
            )
            session.add(entry)
            await session.flush()
            entry.views_sealed = await self._deps.vault.seal(
                session, case.data_key_id, views_context(entry.id), text[:MAX_VIEWS_LENGTH]
            )
            await audit_by(session, actor, at=now, action="victim.views", subject=case.reference)
            return case.reference

    async def confirm_outcome(
        self,
        actor: Actor,
        case_id: int,
        meeting_id: int,
        outcome: OutcomeTold,
        reason: str | None = None,
    ) -> str:
        """The IDVA's answer for a closed meeting that heard the case; stops its chase."""
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case = await self._recordable(session, actor, case_id, now)
            heard = await session.scalar(
                select(Meeting.id)
                .join(AgendaItem, AgendaItem.meeting_id == Meeting.id)
                .where(
                    Meeting.id == meeting_id,
                    Meeting.area_id == actor.area_id,
                    Meeting.closed_at.is_not(None),
                    Meeting.cancelled_at.is_(None),
                    AgendaItem.case_id == case.id,
                    AgendaItem.removed_at.is_(None),
                )
            )
            if heard is None:
                raise NotFound(texts.MEETING_NOT_FOUND)
            reply = VictimOutcomeReply(
                case_id=case.id,
                meeting_id=meeting_id,
                outcome=outcome,
                at=now,
                by_person_id=actor.person_id,
            )
            session.add(reply)
            await session.flush()
            if reason and reason.strip() and case.data_key_id:
                reply.reason_sealed = await self._deps.vault.seal(
                    session,
                    case.data_key_id,
                    reason_context(reply.id),
                    reason.strip()[:MAX_REASON_LENGTH],
                )
            await cancel_outbox(
                session, dedupe_key_prefix=f"case:{case.id}:voice:{meeting_id}:", now=now
            )
            await audit_by(
                session,
                actor,
                at=now,
                action=f"victim.outcome_{outcome.value}",
                subject=case.reference,
                details={"meeting": meeting_id},
            )
            return case.reference

    async def _recordable(
        self, session: AsyncSession, actor: Actor, case_id: int, now: datetime
    ) -> Case:
        """The case, if the actor is its allocated IDVA; anyone who may not hold it in full is
        told it does not exist, a coordinator or chair (who do) that it is the IDVA's to do."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        await require(
            session, actor, case_id, CasePath.VICTIM_VOICE, now, missing=texts.CASE_NOT_FOUND
        )
        if (await allocated_idvas(session, [case_id])).get(case_id) != actor.person_id:
            raise ServiceError(texts.ONLY_ALLOCATED_IDVA)
        case = await session.get(Case, case_id, with_for_update=True)
        if case is None or case.data_key_id is None:
            raise NotFound(texts.CASE_NOT_FOUND)
        return case

    # -- reading (those who hold the case in full) -----------------------------------------------

    async def status(self, actor: Actor, case_id: int) -> VictimVoice:
        """What is recorded, without the views themselves: the chat's screen for the IDVA."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            level = await require(
                session, actor, case_id, CasePath.VICTIM_VOICE, now, missing=texts.CASE_NOT_FOUND
            )
            (voice,) = await self._voices(session, actor, [case_id], with_views=False)
            await record_views(
                session, actor, [Shown(voice.reference, level)], CasePath.VICTIM_VOICE, now
            )
            return voice

    async def read(self, actor: Actor, case_id: int) -> VictimVoice | None:
        """The views and wishes, for the case page of someone who holds the case in full;
        None for anyone else (who is shown the page without them)."""
        authorise(actor, Operation.VIEW_CASES, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            levels = await visible(session, actor, [case_id], CasePath.VICTIM_VOICE, now)
            if case_id not in levels:
                return None
            (voice,) = await self._voices(session, actor, [case_id], with_views=True)
            await record_views(
                session,
                actor,
                [Shown(voice.reference, levels[case_id])],
                CasePath.VICTIM_VOICE,
                now,
            )
            return voice

    async def for_meeting(self, actor: Actor, meeting_id: int) -> dict[int, VictimVoice]:
        """The views of each case on a meeting's agenda that the reader holds in full (the
        chair and the coordinator), for the meeting board."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            case_ids = list(
                await session.scalars(
                    select(AgendaItem.case_id)
                    .join(Meeting, Meeting.id == AgendaItem.meeting_id)
                    .where(
                        AgendaItem.meeting_id == meeting_id,
                        AgendaItem.removed_at.is_(None),
                        Meeting.area_id == actor.area_id,
                    )
                )
            )
            levels = await visible(session, actor, case_ids, CasePath.VICTIM_VOICE, now)
            if not levels:
                return {}
            voices = await self._voices(session, actor, sorted(levels), with_views=True)
            await record_views(
                session,
                actor,
                [Shown(v.reference, levels[v.case_id]) for v in voices],
                CasePath.VICTIM_VOICE,
                now,
                meeting=meeting_id,
            )
            return {voice.case_id: voice for voice in voices}

    async def _voices(
        self, session: AsyncSession, actor: Actor, case_ids: Sequence[int], *, with_views: bool
    ) -> list[VictimVoice]:
        cases = {
            case.id: case
            for case in await session.scalars(select(Case).where(Case.id.in_(case_ids)))
        }
        entries = list(
            await session.scalars(
                select(VictimVoiceEntry)
                .where(VictimVoiceEntry.case_id.in_(case_ids))
                .order_by(VictimVoiceEntry.id)
            )
        )
        awaiting: dict[int, list[tuple[int, datetime]]] = {}
        answered = exists().where(
            VictimOutcomeReply.case_id == AgendaItem.case_id,
            VictimOutcomeReply.meeting_id == Meeting.id,
        )
        for case_id, meeting_id, starts_at in (
            await session.execute(
                select(AgendaItem.case_id, Meeting.id, Meeting.starts_at)
                .join(Meeting, Meeting.id == AgendaItem.meeting_id)
                .where(
                    AgendaItem.case_id.in_(case_ids),
                    AgendaItem.removed_at.is_(None),
                    Meeting.closed_at.is_not(None),
                    Meeting.cancelled_at.is_(None),
                    ~answered,
                )
                .order_by(Meeting.starts_at)
            )
        ).all():
            awaiting.setdefault(int(case_id), []).append((int(meeting_id), starts_at))
        allocated = await allocated_idvas(session, case_ids)
        found: list[VictimVoice] = []
        for case_id in case_ids:
            case = cases[case_id]
            engaged = next(
                (e for e in reversed(entries) if e.case_id == case_id and e.engagement), None
            )
            viewed = next(
                (e for e in reversed(entries) if e.case_id == case_id and e.views_sealed),
                None,
            )
            views = None
            if with_views and viewed is not None and viewed.views_sealed and case.data_key_id:
                views = await self._deps.vault.open(
                    session, case.data_key_id, views_context(viewed.id), viewed.views_sealed
                )
            found.append(
                VictimVoice(
                    case_id=case_id,
                    reference=case.reference,
                    engagement=engaged.engagement if engaged else None,
                    engagement_at=engaged.recorded_at if engaged else None,
                    engagement_by=(
                        await person_name(session, self._deps.vault, engaged.recorded_by_id)
                        if engaged
                        else None
                    ),
                    views_at=viewed.recorded_at if viewed else None,
                    views_by=(
                        await person_name(session, self._deps.vault, viewed.recorded_by_id)
                        if viewed
                        else None
                    ),
                    views=views,
                    awaiting_outcome=tuple(awaiting.get(case_id, ())),
                    may_record=allocated.get(case_id) == actor.person_id,
                )
            )
        return found

    # -- after the meeting: asked, then chased once (housekeeping) -------------------------------

    async def follow_up_outcomes(self) -> int:
        """Ask the allocated IDVA of each case heard at a closed meeting to confirm the victim
        was told the outcome, and chase once when two working days have passed; with no IDVA
        allocated, tell the coordinators. Returns how many messages were queued.

        Runs on every housekeeping tick: one read of the recently closed meetings' cases not
        yet answered for, one of the keys already queued; only what is new is written.
        """
        now = self._deps.clock.now()
        answered = exists().where(
            VictimOutcomeReply.case_id == AgendaItem.case_id,
            VictimOutcomeReply.meeting_id == Meeting.id,
        )
        async with self._deps.sessions.begin() as session:
            rows = (
                await session.execute(
                    select(
                        AgendaItem.case_id,
                        Case.reference,
                        Meeting.id,
                        Meeting.area_id,
                        Meeting.starts_at,
                        Meeting.closed_at,
                        Area.timezone,
                    )
                    .join(Meeting, Meeting.id == AgendaItem.meeting_id)
                    .join(Case, Case.id == AgendaItem.case_id)
                    .join(Area, Area.id == Meeting.area_id)
                    .where(
                        Meeting.closed_at.is_not(None),
                        Meeting.closed_at >= now - FOLLOW_UP_FOR,
                        Meeting.cancelled_at.is_(None),
                        AgendaItem.removed_at.is_(None),
                        ~answered,
                    )
                    .order_by(Meeting.id, AgendaItem.position)
                )
            ).all()
            if not rows:
                return 0
            allocated = await allocated_idvas(session, {int(row[0]) for row in rows})
            coordinators: dict[int, list[Person]] = {}
            for person in await session.scalars(
                select(Person).where(
                    Person.area_id.in_({int(row[3]) for row in rows}),
                    Person.role == Role.COORDINATOR,
                    Person.deactivated_at.is_(None),
                )
            ):
                coordinators.setdefault(person.area_id, []).append(person)
            idvas = {
                person.id: person
                for person in await session.scalars(
                    select(Person).where(Person.id.in_(set(allocated.values())))
                )
            }
            planned: list[tuple[str, str, Person, int, str, str, int, bool]] = []
            for case_id, reference, meeting_id, area_id, starts_at, closed_at, zone in rows:
                idva = idvas.get(allocated.get(case_id, -1))
                if idva is not None and idva.deactivated_at is not None:
                    idva = None  # a leaver cannot be asked: the coordinators are told instead
                recipients = [idva] if idva is not None else coordinators.get(area_id, [])
                local_now = now.astimezone(ZoneInfo(zone))
                calendar = await area_calendar(session, area_id)
                chase = outcome_chase_is_due(
                    starts_at.astimezone(ZoneInfo(zone)).date(),
                    closed_at.astimezone(ZoneInfo(zone)).date(),
                    local_now,
                    calendar.closed,
                )
                when = format_local(starts_at, zone)
                for person in recipients:
                    prefix = f"case:{case_id}:voice:{meeting_id}:"
                    ask = f"{prefix}ask:{person.id}"
                    planned.append(
                        (ask, "", person, case_id, reference, when, meeting_id, idva is not None)
                    )
                    if chase:
                        planned.append(
                            (
                                f"{prefix}chase:{person.id}",
                                ask,
                                person,
                                case_id,
                                reference,
                                when,
                                meeting_id,
                                idva is not None,
                            )
                        )
            keys = [item[0] for item in planned] + [item[1] for item in planned if item[1]]
            queued_already = set(
                await session.scalars(
                    select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(keys))
                )
            )
            # A chase only after its question went out on an earlier tick: never both at once.
            planned = [
                item
                for item in planned
                if item[0] not in queued_already and (not item[1] or item[1] in queued_already)
            ]
            if not planned:
                return 0
            allowed = await receivers(session, {(item[3], item[2].id) for item in planned}, now)
            queued = 0
            for key, after, person, case_id, reference, when, meeting_id, to_idva in planned:
                chase = bool(after)
                if to_idva:
                    kind = "victim_outcome_chase" if chase else "victim_outcome_ask"
                    text = (texts.outcome_chase if chase else texts.outcome_ask)(reference, when)
                    buttons = outcome_buttons(case_id, meeting_id)
                else:
                    kind = "victim_outcome_no_idva_chase" if chase else "victim_outcome_no_idva"
                    text = (texts.outcome_no_idva_chase if chase else texts.outcome_no_idva)(
                        reference, when
                    )
                    buttons = None
                queued += await enqueue(
                    session,
                    dedupe_key=key,
                    chat_id=person.telegram_user_id,
                    kind=kind,
                    text=text,
                    now=now,
                    area_id=person.area_id,
                    person_id=person.id,
                    buttons=buttons,
                    case_ids=[case_id],
                    checked=allowed,
                )
            return queued

"""The agenda: reading it, changing its order, and publishing it (by hand or at the cut-off)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath
from bot.actor import Actor
from bot.buttons import MEETING_RESEARCH, attendance_buttons
from bot.errors import NotFound, ServiceError
from bot.i18n import speaking
from bot.meetings.agenda_rules import (
    cutoff,
    reorder,
)
from bot.meetings.workdays import NO_CLOSURES
from bot.permissions import Operation, authorise, is_allowed, scope_for
from bot.services.audited import audit_by
from bot.services.case_access import Shown, receivers, record_views, visible
from bot.services.dash_assessments import assessments_of, latest_score
from bot.services.meetings.common import (
    AgendaLine,
    MeetingBase,
    MeetingDetail,
    MeetingView,
    _area,
    _next_meeting_id,
    _next_position,
    csc_agencies,
    location_context,
)
from bot.services.outbox import enqueue
from bot.services.policy import area_calendar, area_policy
from bot.services.victim_voice import voice_statuses
from storage.audit import append_event
from storage.models import (
    Agency,
    AgendaItem,
    Area,
    AreaClosure,
    AreaPolicy,
    Case,
    Meeting,
)


class Agenda(MeetingBase):
    """A meeting's agenda."""

    async def detail(
        self, actor: Actor, meeting_id: int, *, path: CasePath = CasePath.AGENDA
    ) -> MeetingDetail:
        """The agenda as the reader may see it, in a fixed number of queries.

        Only the cases the access policy lets the reader see on an agenda are listed or
        counted; each one shown is recorded against its case. Research returns and earlier
        actions are read for the whole agenda at once (``IN (...)``), so a longer agenda
        costs more rows, never more round trips.
        """
        authorise(actor, Operation.VIEW_MEETINGS, area_id=actor.area_id, agency_id=actor.agency_id)
        if path is CasePath.MEETING_BOARD:  # the board runs the meeting: coordinator and chair
            authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting = await self._meeting(session, actor, meeting_id)
            area = await _area(session, actor.area_id)
            rows = (
                await session.execute(
                    select(AgendaItem, Case, Agency.name)
                    .join(Case, Case.id == AgendaItem.case_id)
                    .outerjoin(Agency, Agency.id == Case.referring_agency_id)
                    .where(AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None))
                    .order_by(AgendaItem.emergency.desc(), AgendaItem.position)
                )
            ).all()
            levels = await visible(session, actor, [case.id for _, case, _ in rows], path, now)
            shown = [(item, case, name) for item, case, name in rows if case.id in levels]
            view = await self._view(session, meeting, area, listed=len(shown))
            await record_views(
                session,
                actor,
                [Shown(case.reference, levels[case.id]) for _, case, _ in shown],
                path,
                now,
                meeting=meeting.id,
            )
            returned = await self._returned_by_item(session, [item.id for item, _, _ in shown])
            outstanding = await self._outstanding_actions(
                session, [case.id for _, case, _ in shown], meeting.id
            )
            voices = await voice_statuses(
                session,
                [case.id for _, case, _ in shown],
                meeting.id,
                closed=meeting.closed_at is not None,
            )
            assessed = await assessments_of(session, [case.id for _, case, _ in shown])
            agenda = [
                AgendaLine(
                    item.id,
                    case.id,
                    case.reference,
                    case.criterion.value,
                    case.dash_yes,
                    case.repeat_of_case_id is not None,
                    agency_name or area.name,
                    item.emergency,
                    frozenset(returned.get(item.id, ())),
                    outstanding.get(case.id, 0),
                    case.children_count,
                    voice=voices.get(case.id),
                    dash_latest=latest_score(assessed.get(case.id, [])),
                )
                for item, case, agency_name in shown
            ]
            may_manage = scope_for(actor.role, Operation.MANAGE_MEETINGS) is not None
            with_children = [line.reference for line in agenda if line.children]
            if not may_manage or (with_children and await csc_agencies(session, area.id)):
                with_children = []
            agencies = [
                (a.id, a.name)
                for a in await session.scalars(
                    select(Agency).where(Agency.area_id == area.id).order_by(Agency.name)
                )
            ]
            # Apology reasons are for the minutes: those who produce them see them (read with
            # the replies themselves, so it costs no extra statement).
            if is_allowed(actor, Operation.RECORD_ACTIONS, area_id=meeting.area_id):
                attendance, reasons = await self._attendance_and_reasons(session, meeting)
            else:
                attendance = (await self._attendance(session, [meeting.id])).get(meeting.id, {})
                reasons = {}
            location = None
            if meeting.location_sealed is not None and meeting.data_key_id:
                location = await self._deps.vault.open(
                    session,
                    meeting.data_key_id,
                    location_context(meeting.id),
                    meeting.location_sealed,
                )
            return MeetingDetail(
                meeting=view,
                location=location,
                agenda=agenda,
                agencies=agencies,
                attendance=attendance,
                apology_reasons=reasons,
                may_manage=may_manage,
                my_agency_id=actor.agency_id,
                next_meeting_id=await _next_meeting_id(session, area.id, meeting.starts_at),
                children_without_csc=with_children,
            )

    async def move_case(self, actor: Actor, item_id: int, to_meeting_id: int) -> str:
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            item = await self._item(session, actor, item_id)
            target = await self._meeting(session, actor, to_meeting_id)
            if target.id == item.meeting_id:
                raise ServiceError(texts.CASE_ALREADY_ON_THAT_MEETING)
            item.removed_at, item.removed_by_id = now, actor.person_id
            session.add(
                AgendaItem(
                    meeting_id=target.id,
                    case_id=item.case_id,
                    position=await _next_position(session, target.id),
                    emergency=item.emergency,
                    added_at=now,
                    added_by_id=actor.person_id,
                )
            )
            case = await session.get(Case, item.case_id)
            assert case is not None
            await audit_by(
                session,
                actor,
                at=now,
                action="agenda.case_moved",
                subject=case.reference,
                details={"from": item.meeting_id, "to": target.id},
            )
            return case.reference

    async def item_meeting(self, actor: Actor, item_id: int) -> MeetingView:
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            item = await self._item(session, actor, item_id)
            meeting = await self._meeting(session, actor, item.meeting_id)
            return await self._view(session, meeting, await _area(session, actor.area_id))

    async def move_up(self, actor: Actor, item_id: int) -> tuple[str, int]:
        """One place earlier on the agenda; returns the case reference and its new position."""
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            item = await self._item(session, actor, item_id)
            items = list(
                await session.scalars(
                    select(AgendaItem)
                    .where(
                        AgendaItem.meeting_id == item.meeting_id, AgendaItem.removed_at.is_(None)
                    )
                    .order_by(AgendaItem.position, AgendaItem.id)
                )
            )
            ids = [i.id for i in items]
            ordered = reorder(ids, item.id, max(ids.index(item.id) - 1, 0))
            for position, row in enumerate(sorted(items, key=lambda i: ordered.index(i.id)), 1):
                row.position = position
            case = await session.get(Case, item.case_id)
            assert case is not None
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="agenda.reordered",
                subject=case.reference,
            )
            return case.reference, ordered.index(item.id) + 1

    async def mark_emergency(self, actor: Actor, item_id: int) -> str:
        authorise(actor, Operation.MANAGE_MEETINGS, area_id=actor.area_id)
        async with self._deps.sessions.begin() as session:
            item = await self._item(session, actor, item_id)
            item.emergency = True
            case = await session.get(Case, item.case_id)
            assert case is not None
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="agenda.emergency",
                subject=case.reference,
            )
            return case.reference

    async def publish(self, actor: Actor | None, meeting_id: int, area_id: int) -> MeetingView:
        """Ask every agency for research and attendance; send invites; queue the reminders."""
        if actor is not None:
            authorise(actor, Operation.MANAGE_MEETINGS, area_id=area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting = await session.get(Meeting, meeting_id, with_for_update=True)
            if meeting is None or meeting.area_id != area_id or meeting.cancelled_at:
                raise NotFound(texts.MEETING_NOT_FOUND)
            area = await _area(session, area_id)
            if meeting.published_at is not None:
                raise ServiceError(texts.AGENDA_ALREADY_PUBLISHED)
            meeting.published_at = now
            meeting.published_by_id = actor.person_id if actor else None
            view = await self._view(session, meeting, area)
            items = await self._items_with_refs(session, meeting.id)
            reps = await self._reps(session, area.id)
            deadline = self._local(view.research_deadline, area.timezone)
            when = self._when(view)
            await session.flush()  # the agenda is published: the policy reads it so
            allowed = await receivers(
                session, [(case_id, p.id) for p in reps for _, _, case_id in items], now
            )
            children = await self._children_counts(session, [case_id for _, _, case_id in items])
            csc = await csc_agencies(session, area.id)
            for person in reps:
                shown = [item for item in items if allowed.allows([item[2]], person.id)]
                buttons = [
                    [MEETING_RESEARCH(texts.button_research(ref), item_id)]
                    for item_id, ref, _ in shown
                ]
                # Two texts joined: composed in the recipient's language (bot.i18n).
                with speaking(person.language):
                    text = texts.research_request(when, [ref for _, ref, _ in shown], deadline)
                    # Children's social care is asked about every case with children: the
                    # count here; the children themselves with each case, where identifiers
                    # are read.
                    with_children = [(ref, children[c]) for _, ref, c in shown if children.get(c)]
                    if person.agency_id in csc and with_children:
                        text += "\n\n" + texts.research_children_note(with_children)
                await enqueue(
                    session,
                    dedupe_key=f"meeting:{meeting.id}:research:{person.id}",
                    chat_id=person.telegram_user_id,
                    kind="research_request",
                    text=text,
                    now=now,
                    area_id=area.id,
                    person_id=person.id,
                    buttons=buttons[:40] or None,
                    case_ids=[case_id for _, _, case_id in shown],
                    checked=allowed,
                )
                await enqueue(
                    session,
                    dedupe_key=f"meeting:{meeting.id}:attendance:{person.id}",
                    chat_id=person.telegram_user_id,
                    kind="attendance_request",
                    text=texts.attendance_request(when),
                    now=now,
                    area_id=area.id,
                    person_id=person.id,
                    buttons=attendance_buttons(meeting.id),
                )
            await self._tell_invitees(
                session, meeting, area, "invitation", texts.meeting_invitation(when), ics=True
            )
            await self._queue_reminders(session, meeting, area)
            await append_event(
                session,
                at=now,
                area_id=area.id,
                actor_person_id=actor.person_id if actor else None,
                actor_label="person" if actor else "system",
                action="agenda.published",
                subject=f"meeting:{meeting.id}",
                details={"cases": len(items), "agency_reps": len(reps)},
            )
            return view

    async def _children_counts(self, session: AsyncSession, case_ids: list[int]) -> dict[int, int]:
        if not case_ids:
            return {}
        rows = await session.execute(
            select(Case.id, Case.children_count).where(Case.id.in_(case_ids))
        )
        return {int(case_id): int(count) for case_id, count in rows.all()}

    async def publish_due(self) -> int:
        """Agendas nobody published are published automatically at their cut-off.

        Runs on every housekeeping tick, so finding that nothing is due is one read of
        the unpublished meetings to come, with each area's cut-off joined in; each
        agenda that is due is then published in its own transaction.
        """
        now = self._deps.clock.now()
        # Closure days can only bring a cut-off forward, and only one still to come can; so
        # an area's calendar is read only when it has one, and the usual tick stays one read.
        upcoming_closure = (
            exists()
            .where(
                AreaClosure.area_id == Meeting.area_id,
                AreaClosure.day >= (now - timedelta(days=1)).date(),
            )
            .correlate(Meeting)
        )
        async with self._deps.sessions() as session:
            candidates = (
                await session.execute(
                    select(
                        Meeting.id,
                        Meeting.area_id,
                        Meeting.starts_at,
                        Area.timezone,
                        AreaPolicy.agenda_cutoff_days,
                        upcoming_closure,
                    )
                    .join(Area, Area.id == Meeting.area_id)
                    .outerjoin(AreaPolicy, AreaPolicy.area_id == Meeting.area_id)
                    .where(
                        # Area by area, so both databases walk the (area_id, starts_at) index
                        # over the meetings still to come instead of scanning every meeting.
                        Meeting.area_id.in_(select(Area.id).correlate(None)),
                        Meeting.published_at.is_(None),
                        Meeting.cancelled_at.is_(None),
                        Meeting.starts_at > now,
                    )
                    .order_by(Meeting.starts_at, Meeting.id)
                )
            ).all()
            closures = {
                area_id: (await area_calendar(session, area_id)).closed
                for area_id in {int(row.area_id) for row in candidates if row[5]}
            }
        published = 0
        for meeting_id, area_id, starts_at, timezone, days, _ in candidates:
            if days is None:  # an area nobody has used yet: its policy is created as before
                async with self._deps.sessions.begin() as session:
                    days = (await area_policy(session, area_id)).agenda_cutoff_days
            closed = closures.get(area_id, NO_CLOSURES)
            if cutoff(starts_at, timezone, days, closed) <= now:
                try:
                    await self.publish(None, meeting_id, area_id)
                    published += 1
                except ServiceError:
                    continue  # published or cancelled meanwhile by someone else
        return published

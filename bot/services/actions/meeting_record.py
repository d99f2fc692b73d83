"""The meeting's record as the chair keeps it, and the minutes each reader receives.

At the table the chair (or coordinator) records that everyone present agreed to the
confidentiality statement and, per case, a short summary of the risks identified (sealed
with the case's key); the actions are recorded through the action plan. Every record is a
row with who and when.

The minutes follow SafeLives' model minutes (``bot.actions.minutes``). The coordinator's
copy (``minutes``) holds every case in full; each agency's copy (``minutes_copy``) holds the
meeting part and, per case, what the access policy gives that reader:

* below ``SUMMARY`` (an agency with work on the case only): the reference and its own actions
  and research, and the case is left out if it has none;
* ``SUMMARY`` and above: also why the case was heard, and the risks identified, except for a
  perpetrator service, which never reads the risks (they are about the victim);
* ``FULL``: everything, with the victim's views, every agency's research and every action.

A person on the case's must-not-receive list gets no trace of the case. Sending the minutes
tells every agency representative that their copy is ready; the coordinators are reminded
on the third working day after the meeting if the minutes have not been sent by then.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import CasePath, Level, is_perpetrator_service
from bot.actions.minutes import (
    NOT_DONE,
    Attendee,
    CaseMinutes,
    MeetingMinutes,
    MinutesRow,
    minutes_docx,
)
from bot.actions.states import ActionState
from bot.actor import Actor
from bot.buttons import MINUTES_COPY
from bot.dates import format_local, format_uk_date
from bot.errors import ServiceError
from bot.meetings.recurrence import local_to_utc
from bot.permissions import Operation, authorise, may
from bot.referrals.validation import clean_free_text
from bot.services.actions.common import CHASE_HOUR, ActionBase, ActionView
from bot.services.audited import audit_by
from bot.services.case_access import Shown, record_views, visible
from bot.services.dash_assessments import assessments_of, latest_score
from bot.services.meetings.common import apology_context, research_context
from bot.services.names import person_name
from bot.services.outbox import cancel, enqueue
from bot.services.policy import area_calendar
from bot.services.victim_voice import views_context
from bot.vocabulary import Role
from storage.crypto import FieldContext
from storage.models import (
    Action,
    Agency,
    AgendaItem,
    Area,
    AttendanceReply,
    Case,
    CaseRiskSummary,
    Meeting,
    MeetingConfidentiality,
    MinutesSent,
    Person,
    ResearchReturn,
    VictimVoiceEntry,
)

MINUTES_DUE_WORKING_DAYS = 3
RISK_SUMMARY_MAX = 1000


def risk_context(summary_id: int) -> FieldContext:
    return FieldContext("case_risk_summaries", "summary", summary_id)


def minutes_due_key(meeting_id: int) -> str:
    return f"minutes_due:{meeting_id}:"


async def queue_minutes_reminder(
    session: AsyncSession, meeting: Meeting, area: Area, now: datetime
) -> None:
    """The area's coordinators are reminded at the chase hour of the third working day after
    the meeting (the area's calendar), unless the minutes are sent first (``send_minutes``
    cancels it). The reminder gives the meeting's time only and names no case."""
    calendar = await area_calendar(session, area.id)
    day = meeting.starts_at.astimezone(ZoneInfo(area.timezone)).date()
    due_at = local_to_utc(
        calendar.add_working_days(day, MINUTES_DUE_WORKING_DAYS), CHASE_HOUR, area.timezone
    )
    when = format_local(meeting.starts_at, area.timezone)
    coordinators = await session.execute(
        select(Person.id, Person.telegram_user_id).where(
            Person.area_id == area.id,
            Person.role == Role.COORDINATOR,
            Person.deactivated_at.is_(None),
        )
    )
    for person_id, chat_id in coordinators.all():
        await enqueue(
            session,
            dedupe_key=f"{minutes_due_key(meeting.id)}{person_id}",
            chat_id=chat_id,
            kind="minutes_due",
            text=texts.minutes_due_reminder(when),
            now=now,
            due_at=due_at,
            area_id=area.id,
            person_id=person_id,
        )


class MeetingRecord(ActionBase):
    """The chair's record of the meeting, and the minutes cut to each reader."""

    async def record_risks(self, actor: Actor, meeting_id: int, case_id: int, text: str) -> str:
        """The risks identified for a listed case, sealed; the case's reference."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        summary = clean_free_text(text, max_length=RISK_SUMMARY_MAX, min_length=3)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, _, case, key = await self._listed_case(session, actor, meeting_id, case_id)
            row = CaseRiskSummary(
                meeting_id=meeting.id,
                case_id=case.id,
                recorded_at=now,
                recorded_by_id=actor.person_id,
            )
            session.add(row)
            await session.flush()
            row.summary_sealed = await self._deps.vault.seal(
                session, key, risk_context(row.id), summary
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="risks.recorded",
                subject=case.reference,
                details={"meeting": meeting.id},
            )
            return case.reference

    async def agree_confidentiality(self, actor: Actor, meeting_id: int) -> datetime:
        """Everyone present agreed to the confidentiality statement: who recorded it, when."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, _ = await self._meeting(session, actor, meeting_id)
            session.add(
                MeetingConfidentiality(
                    meeting_id=meeting.id, agreed_at=now, recorded_by_id=actor.person_id
                )
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="meeting.confidentiality_agreed",
                subject=f"meeting:{meeting.id}",
            )
            return now

    async def send_minutes(self, actor: Actor, meeting_id: int) -> int:
        """Record the minutes as sent and tell every agency representative that their copy is
        ready (a button fetches it, cut to what they may see); how many were told.

        The notice names no case. The coordinators' reminder is cancelled.
        """
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, area = await self._meeting(session, actor, meeting_id)
            if meeting.closed_at is None:
                raise ServiceError(texts.MINUTES_MEETING_OPEN)
            session.add(MinutesSent(meeting_id=meeting.id, sent_at=now, sent_by_id=actor.person_id))
            await cancel(session, dedupe_key_prefix=minutes_due_key(meeting.id), now=now)
            await session.flush()
            sent = await session.scalar(
                select(func.count())
                .select_from(MinutesSent)
                .where(MinutesSent.meeting_id == meeting.id)
            )
            when = format_local(meeting.starts_at, area.timezone)
            reps = (
                await session.execute(
                    select(Person.id, Person.telegram_user_id).where(
                        Person.area_id == area.id,
                        Person.deactivated_at.is_(None),
                        Person.confirmed_at.is_not(None),
                        Person.role.in_((Role.AGENCY_REP, Role.PERPETRATOR_REP)),
                    )
                )
            ).all()
            told = 0
            for person_id, chat_id in reps:
                told += await enqueue(
                    session,
                    dedupe_key=f"minutes_ready:{meeting.id}:{sent}:{person_id}",
                    chat_id=chat_id,
                    kind="minutes_ready",
                    text=texts.minutes_ready(when),
                    now=now,
                    area_id=area.id,
                    person_id=person_id,
                    buttons=[[MINUTES_COPY(texts.BUTTON_MY_MINUTES, meeting.id)]],
                )
            await audit_by(
                session,
                actor,
                at=now,
                action="minutes.sent",
                subject=f"meeting:{meeting.id}",
                details={"told": told},
            )
            return told

    async def minutes(self, actor: Actor, meeting_id: int) -> tuple[str, bytes]:
        """The coordinator's (or chair's) copy: every case they may see, in full."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        return await self._minutes_for(actor, meeting_id, CasePath.MINUTES)

    async def minutes_copy(self, actor: Actor, meeting_id: int) -> tuple[str, bytes]:
        """An agency's copy: the meeting part and, per case, what the policy gives the reader."""
        authorise(actor, Operation.VIEW_MEETINGS, area_id=actor.area_id, agency_id=actor.agency_id)
        return await self._minutes_for(actor, meeting_id, CasePath.MINUTES_COPY)

    async def minutes_to_read(self, actor: Actor, meeting_id: int) -> MeetingMinutes:
        """The reader's copy as the workspace shows it: the full copy for a coordinator or
        chair, otherwise the agency's copy, cut by the access policy exactly as the
        document is. Reading it is audited like producing the document."""
        full = may(actor, Operation.RECORD_ACTIONS)
        if full:
            authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        else:
            authorise(
                actor, Operation.VIEW_MEETINGS, area_id=actor.area_id, agency_id=actor.agency_id
            )
        path = CasePath.MINUTES if full else CasePath.MINUTES_COPY
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, area = await self._meeting(session, actor, meeting_id)
            minutes = await self._build(session, actor, meeting, area, path, now)
            await audit_by(
                session,
                actor,
                at=now,
                action="minutes.read",
                subject=f"meeting:{meeting.id}",
                details={"copy": path.value},
            )
            return minutes

    async def minutes_outline(self, actor: Actor, meeting_id: int) -> MeetingMinutes:
        """The coordinator's copy as data (what the document is built from)."""
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, area = await self._meeting(session, actor, meeting_id)
            return await self._build(session, actor, meeting, area, CasePath.MINUTES, now)

    async def _minutes_for(
        self, actor: Actor, meeting_id: int, path: CasePath
    ) -> tuple[str, bytes]:
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, area = await self._meeting(session, actor, meeting_id)
            minutes = await self._build(session, actor, meeting, area, path, now)
            content = minutes_docx(minutes)
            await audit_by(
                session,
                actor,
                at=now,
                action="minutes.produced",
                subject=f"meeting:{meeting.id}",
                details={"copy": path.value},
            )
            return f"marac-minutes-{meeting.starts_at:%Y-%m-%d}.docx", content

    async def _build(
        self,
        session: AsyncSession,
        actor: Actor,
        meeting: Meeting,
        area: Area,
        path: CasePath,
        now: datetime,
    ) -> MeetingMinutes:
        agency = await session.get(Agency, actor.agency_id) if actor.agency_id else None
        perpetrator_service = is_perpetrator_service(
            actor.role, agency.kind if agency is not None else None
        )
        full_copy = path is CasePath.MINUTES
        # The cases heard, in running order, and any with actions recorded at the meeting.
        items = (
            await session.execute(
                select(AgendaItem, Case)
                .join(Case, Case.id == AgendaItem.case_id)
                .where(AgendaItem.meeting_id == meeting.id, AgendaItem.removed_at.is_(None))
                .order_by(AgendaItem.emergency.desc(), AgendaItem.position)
            )
        ).all()
        cases: dict[int, Case] = {case.id: case for _, case in items}
        item_of = {case.id: item.id for item, case in items}
        for case in await session.scalars(
            select(Case).where(
                Case.id.in_(select(Action.case_id).where(Action.meeting_id == meeting.id))
            )
        ):
            cases.setdefault(case.id, case)
        levels = await visible(session, actor, set(cases), path, now)
        today = self._today(area)

        # Actions of these cases: this meeting's, and earlier ones for the review.
        rows = (
            await session.execute(
                select(Action, Agency.name, Meeting.starts_at)
                .join(Agency, Agency.id == Action.agency_id)
                .outerjoin(Meeting, Meeting.id == Action.meeting_id)
                .where(Action.case_id.in_(list(levels)))
                .order_by(Action.id)
            )
        ).all()
        wanted: list[tuple[Action, str, str | None, str]] = []
        is_this: dict[int, bool] = {}
        for action, agency_name, starts in rows:
            own = actor.agency_id is not None and action.agency_id == actor.agency_id
            if levels[action.case_id] < Level.FULL and not own:
                continue
            here = action.meeting_id == meeting.id
            # The review: actions sent from an earlier meeting of the case.
            if not here and (starts is None or starts >= meeting.starts_at or not action.sent_at):
                continue
            case = cases[action.case_id]
            wanted.append((action, case.reference, case.data_key_id, str(agency_name)))
            is_this[action.id] = here
        this_meeting: dict[int, list[ActionView]] = {}
        earlier: dict[int, list[ActionView]] = {}
        for (action, *_), view in zip(
            wanted, await self._views(session, wanted, today, names=False), strict=True
        ):
            (this_meeting if is_this[action.id] else earlier).setdefault(action.case_id, []).append(
                view
            )

        research = await self._research(session, cases, item_of, levels, actor.agency_id)
        risks = await self._risks(session, meeting, cases, levels, perpetrator_service)
        views = await self._victim_views(session, cases, levels)
        assessed = await assessments_of(session, list(cases))

        minutes_cases = []
        for case_id, case in cases.items():
            level = levels.get(case_id)
            if level is None:
                continue
            own_work = this_meeting.get(case_id) or earlier.get(case_id) or research.get(case_id)
            if level < Level.SUMMARY and not own_work:
                continue
            minutes_cases.append(
                CaseMinutes(
                    reference=case.reference,
                    why_heard=texts.minutes_why_heard(
                        case.criterion.value,
                        case.dash_yes,
                        case.repeat_of_case_id is not None,
                        latest_score(assessed.get(case_id, [])),
                    )
                    if level >= Level.SUMMARY
                    else None,
                    risks=risks.get(case_id),
                    victim_views=(views.get(case_id) or "") if level >= Level.FULL else None,
                    research=tuple(research[case_id])
                    if case_id in research
                    else (() if level >= Level.FULL else None),
                    actions=tuple(_row(v) for v in this_meeting.get(case_id, [])),
                    review=tuple(_row(v, review=True) for v in earlier.get(case_id, [])),
                )
            )
        in_copy = {m.reference for m in minutes_cases}
        await record_views(
            session,
            actor,
            [
                Shown(cases[c].reference, lvl)
                for c, lvl in levels.items()
                if cases[c].reference in in_copy
            ],
            path,
            now,
            meeting=meeting.id,
        )
        return MeetingMinutes(
            area=area.name,
            meeting_when=format_local(meeting.starts_at, area.timezone),
            # The chair chosen for the meeting; "not recorded" rather than a guess.
            chair=await person_name(
                session, self._deps.vault, meeting.chair_person_id, nobody=texts.MINUTES_NO_CHAIR
            ),
            generated_at=format_local(now, area.timezone),
            copy_for=texts.MINUTES_COPY_FULL
            if full_copy
            else texts.minutes_copy_for(agency.name if agency is not None else area.name),
            attendance=tuple(await self._attendance(session, meeting, area, full_copy)),
            confidentiality_agreed=await self._agreed(session, meeting, area),
            cases=tuple(minutes_cases),
        )

    async def _attendance(
        self, session: AsyncSession, meeting: Meeting, area: Area, with_reasons: bool
    ) -> list[Attendee]:
        replies = await session.scalars(
            select(AttendanceReply)
            .where(AttendanceReply.meeting_id == meeting.id)
            .order_by(AttendanceReply.id)
        )
        latest = {reply.agency_id: reply for reply in replies}
        sent_information = set(
            await session.scalars(
                select(ResearchReturn.agency_id)
                .join(AgendaItem, AgendaItem.id == ResearchReturn.agenda_item_id)
                .where(AgendaItem.meeting_id == meeting.id)
            )
        )
        names = await self._names(session, (r.by_person_id for r in latest.values()))
        attendees = []
        for agency in await session.scalars(
            select(Agency).where(Agency.area_id == area.id).order_by(Agency.name)
        ):
            reply = latest.get(agency.id)
            reason: str | None = None
            if with_reasons:
                reason = ""
                if reply and reply.reason_sealed and meeting.data_key_id:
                    reason = await self._deps.vault.open(
                        session, meeting.data_key_id, apology_context(reply.id), reply.reason_sealed
                    )
            attendees.append(
                Attendee(
                    agency=agency.name,
                    reply=reply.status if reply else texts.MINUTES_NO_REPLY,
                    names=names[reply.by_person_id] if reply else "",
                    information_sent=agency.id in sent_information,
                    reason=reason,
                )
            )
        return attendees

    async def _agreed(self, session: AsyncSession, meeting: Meeting, area: Area) -> str | None:
        row = await session.scalar(
            select(MeetingConfidentiality)
            .where(MeetingConfidentiality.meeting_id == meeting.id)
            .order_by(MeetingConfidentiality.id.desc())
            .limit(1)
        )
        if row is None:
            return None
        return texts.minutes_agreed(
            format_local(row.agreed_at, area.timezone),
            await self._name(session, row.recorded_by_id),
        )

    async def _research(
        self,
        session: AsyncSession,
        cases: dict[int, Case],
        item_of: dict[int, int],
        levels: dict[int, Level],
        own_agency: int | None,
    ) -> dict[int, list[tuple[str, str]]]:
        """What each agency shared per case: all of it at FULL, else the reader's own."""
        wanted = {item_of[c]: c for c in levels if c in item_of}
        found: dict[int, list[tuple[str, str]]] = {}
        if not wanted:
            return found
        rows = await session.execute(
            select(ResearchReturn, Agency.name)
            .join(Agency, Agency.id == ResearchReturn.agency_id)
            .where(ResearchReturn.agenda_item_id.in_(list(wanted)))
            .order_by(Agency.name, ResearchReturn.id)
        )
        for row, agency_name in rows.all():
            case_id = wanted[row.agenda_item_id]
            if levels[case_id] < Level.FULL and row.agency_id != own_agency:
                continue
            case = cases[case_id]
            summary = texts.MINUTES_NOTHING_KNOWN
            if row.note_sealed and case.data_key_id:
                summary = await self._deps.vault.open(
                    session, case.data_key_id, research_context(row.id), row.note_sealed
                )
            found.setdefault(case_id, []).append((str(agency_name), summary))
        return found

    async def _risks(
        self,
        session: AsyncSession,
        meeting: Meeting,
        cases: dict[int, Case],
        levels: dict[int, Level],
        perpetrator_service: bool,
    ) -> dict[int, str]:
        """The latest risk summary per case, for readers at SUMMARY or above ("" if none was
        recorded); never for a perpetrator service (the risks are about the victim)."""
        shown = [
            c for c, level in levels.items() if level >= Level.SUMMARY and not perpetrator_service
        ]
        found = dict.fromkeys(shown, "")
        if not shown:
            return found
        rows = await session.scalars(
            select(CaseRiskSummary)
            .where(CaseRiskSummary.meeting_id == meeting.id, CaseRiskSummary.case_id.in_(shown))
            .order_by(CaseRiskSummary.id)
        )
        latest = {row.case_id: row for row in rows}
        for case_id, row in latest.items():
            key = cases[case_id].data_key_id
            if row.summary_sealed and key:
                found[case_id] = await self._deps.vault.open(
                    session, key, risk_context(row.id), row.summary_sealed
                )
        return found

    async def _victim_views(
        self, session: AsyncSession, cases: dict[int, Case], levels: dict[int, Level]
    ) -> dict[int, str]:
        """The victim's latest views as the allocated IDVA recorded them: FULL readers only."""
        shown = [c for c, level in levels.items() if level >= Level.FULL]
        found: dict[int, str] = {}
        if not shown:
            return found
        rows = await session.scalars(
            select(VictimVoiceEntry)
            .where(VictimVoiceEntry.case_id.in_(shown), VictimVoiceEntry.views_sealed.is_not(None))
            .order_by(VictimVoiceEntry.id)
        )
        latest = {row.case_id: row for row in rows}
        for case_id, row in latest.items():
            key = cases[case_id].data_key_id
            if row.views_sealed and key:
                found[case_id] = await self._deps.vault.open(
                    session, key, views_context(row.id), row.views_sealed
                )
        return found


def _row(view: ActionView, *, review: bool = False) -> MinutesRow:
    """An action as the minutes show it; in the review an overdue open action is not done."""
    state = view.state.value
    if review and view.overdue and view.state not in (ActionState.DONE, ActionState.NOT_POSSIBLE):
        state = NOT_DONE
    return MinutesRow(
        reference=view.reference,
        agency=view.agency,
        action=view.text,
        due=format_uk_date(view.due_on),
        state=state,
    )

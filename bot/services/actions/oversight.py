"""What the coordinator and chair read: the counts per agency, and the minutes."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import (
    and_,
    func,
    select,
)
from sqlalchemy import case as sql_case

from bot.access import CasePath
from bot.actions.minutes import MinutesRow, minutes_docx
from bot.actions.states import (
    PERP_FINAL,
    PERP_WAITING,
    ActionState,
    PerpState,
    end_reason_of,
    median_days,
)
from bot.actor import Actor
from bot.dates import format_local, format_uk_date
from bot.permissions import Operation, authorise
from bot.services.actions.common import (
    ActionBase,
    AgencyCounts,
    ServiceWaiting,
    _perp_first_at,
    _perp_latest_end_reason,
    _perp_latest_state,
    _perp_started_at,
)
from bot.services.audited import audit_by
from bot.services.case_access import (
    Shown,
    not_excluded,
    record_views,
    visible,
)
from bot.vocabulary import AgencyKind, PerpEndReason
from storage.models import (
    Action,
    Agency,
    Area,
    Case,
    PerpetratorReferral,
)


class Oversight(ActionBase):
    """The coordinator's counts and the meeting's minutes."""

    async def summary(self, actor: Actor) -> tuple[list[AgencyCounts], list[ServiceWaiting]]:
        """Open / done / not possible / overdue per agency, and perpetrator-service waiting.

        Counted by the database in two statements whatever the history: open is
        ``closed_at`` empty, and a closed action's outcome is ``closed_state``, the copy of
        its one final step written with it (nothing follows done or not possible).
        """
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        async with self._deps.sessions() as session:
            area = await session.get(Area, actor.area_id)
            assert area is not None
            today = self._today(area)
            is_open_ = Action.closed_at.is_(None)
            rows = await session.execute(
                select(
                    Agency.name,
                    func.sum(sql_case((is_open_, 1), else_=0)),
                    func.sum(sql_case((Action.closed_state == ActionState.DONE, 1), else_=0)),
                    func.sum(
                        sql_case((Action.closed_state == ActionState.NOT_POSSIBLE, 1), else_=0)
                    ),
                    func.sum(sql_case((and_(is_open_, Action.due_on < today), 1), else_=0)),
                )
                .select_from(Action)
                .join(Agency, Agency.id == Action.agency_id)
                .where(
                    Agency.area_id == area.id,
                    Action.sent_at.is_not(None),
                    # A case this person may not see is not counted either: the SQL form of
                    # the access policy's must-not-receive rule (coordinators see every
                    # other case in full).
                    not_excluded(actor.person_id, Action.case_id),
                )
                .group_by(Agency.name)
            )
            agencies = sorted(
                (
                    AgencyCounts(str(name), int(open_), int(done), int(np_), int(overdue))
                    for name, open_, done, np_, overdue in rows.all()
                ),
                key=lambda counts: counts.agency,
            )
            services = list(
                await session.scalars(
                    select(Agency).where(
                        Agency.area_id == area.id, Agency.kind == AgencyKind.PERPETRATOR_SERVICE
                    )
                )
            )
            waiting: dict[int, int] = {service.id: 0 for service in services}
            pairs: dict[int, list[tuple[date, date | None]]] = {s.id: [] for s in services}
            contacts: dict[int, list[tuple[date, date | None]]] = {s.id: [] for s in services}
            # service id -> how many referrals ended, and for each coded reason how many
            ended: dict[int, int] = dict.fromkeys(waiting, 0)
            ends: dict[int, Counter[PerpEndReason]] = {s.id: Counter() for s in services}
            if services:
                referrals = await session.execute(
                    select(
                        PerpetratorReferral.service_agency_id,
                        PerpetratorReferral.referred_at,
                        _perp_latest_state(),
                        _perp_started_at(),
                        _perp_first_at(PerpState.CONTACT_ATTEMPTED),
                        _perp_latest_end_reason(),
                    ).where(PerpetratorReferral.service_agency_id.in_(waiting))
                )
                for service_id, referred_at, latest, started_at, contact_at, end in referrals:
                    state = PerpState(latest)
                    if state in PERP_WAITING:
                        waiting[service_id] += 1
                    if state in PERP_FINAL:
                        ended[service_id] += 1
                        reason = end_reason_of(state, end)
                        if reason is not None:
                            ends[service_id][reason] += 1
                    started = started_at.date() if started_at is not None else None
                    pairs[service_id].append((referred_at.date(), started))
                    contacted = contact_at.date() if contact_at is not None else None
                    contacts[service_id].append((referred_at.date(), contacted))
            return agencies, [
                ServiceWaiting(
                    service.name,
                    waiting[service.id],
                    service.waiting_weeks,
                    median_days(pairs[service.id]),
                    median_days(contacts[service.id]),
                    ended[service.id],
                    ends[service.id][PerpEndReason.COMPLETED],
                    ends[service.id][PerpEndReason.DISENGAGED],
                )
                for service in services
            ]

    async def minutes(self, actor: Actor, meeting_id: int) -> tuple[str, bytes]:
        """The meeting's action plan as a document; steps of all its actions read at once.

        It holds only the cases the access policy lets this reader see in minutes, and
        each case in it is recorded against that case, as obtained by this reader.
        """
        authorise(actor, Operation.RECORD_ACTIONS, area_id=actor.area_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            meeting, area = await self._meeting(session, actor, meeting_id)
            rows = (
                await session.execute(
                    select(Action, Case.reference, Case.data_key_id, Agency.name)
                    .join(Case, Case.id == Action.case_id)
                    .join(Agency, Agency.id == Action.agency_id)
                    .where(Action.meeting_id == meeting.id)
                    .order_by(Case.reference, Action.id)
                )
            ).all()
            seen = await visible(
                session, actor, {a.case_id for a, *_ in rows}, CasePath.MINUTES, now
            )
            found = [
                (action, str(reference), data_key_id, str(agency_name))
                for action, reference, data_key_id, agency_name in rows
                if action.case_id in seen
            ]
            in_minutes = {reference: seen[action.case_id] for action, reference, *_ in found}
            await record_views(
                session,
                actor,
                [Shown(ref, level) for ref, level in in_minutes.items()],
                CasePath.MINUTES,
                now,
                meeting=meeting.id,
            )
            # The minutes show no names, so none are opened.
            views = await self._views(session, found, self._today(area), names=False)
            lines = [
                MinutesRow(
                    reference=view.reference,
                    agency=view.agency,
                    action=view.text,
                    due=format_uk_date(view.due_on),
                    state=view.state.value,
                )
                for view in views
            ]
            when = format_local(meeting.starts_at, area.timezone)
            content = minutes_docx(
                area=area.name,
                meeting_when=when,
                rows=lines,
                generated_at=format_local(self._deps.clock.now(), area.timezone),
            )
            await audit_by(
                session,
                actor,
                at=self._deps.clock.now(),
                action="minutes.produced",
                subject=f"meeting:{meeting.id}",
            )
            return f"marac-actions-{meeting.starts_at:%Y-%m-%d}.docx", content

"""What the coordinator and chair read: the counts per agency (the minutes are in
``meeting_record``)."""

from __future__ import annotations

from collections import Counter
from datetime import date

from sqlalchemy import (
    and_,
    func,
    select,
)
from sqlalchemy import case as sql_case

from bot.actions.states import (
    PERP_FINAL,
    PERP_WAITING,
    ActionState,
    PerpState,
    end_reason_of,
    median_days,
)
from bot.actor import Actor
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
from bot.services.case_access import (
    not_excluded,
)
from bot.vocabulary import AgencyKind, PerpEndReason
from storage.models import (
    Action,
    Agency,
    Area,
    PerpetratorReferral,
)


class Oversight(ActionBase):
    """The coordinator's counts."""

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

"""An agency works its actions: its open list, an action card, accept/done/not possible,
and passing one to a colleague.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    bindparam,
    func,
    select,
)

from bot import texts
from bot.access import CasePath
from bot.actions.states import (
    ACTION_FINAL,
    ActionState,
    TransitionRefused,
    action_state,
    check_move,
    is_open,
)
from bot.actor import Actor
from bot.errors import NotFound, ServiceError
from bot.permissions import Operation, authorise
from bot.services.actions.common import (
    ActionBase,
    ActionMoved,
    ActionPage,
    ActionView,
    _open_for,
    step_context,
)
from bot.services.audited import audit_by
from bot.services.case_access import (
    Shown,
    receivers,
    record_views,
    visible,
)
from bot.services.outbox import cancel as cancel_outbox
from bot.services.outbox import enqueue
from storage.models import (
    Action,
    ActionStep,
    Agency,
    Area,
    Case,
    Person,
)

# /actions runs often: its statements are built once (issue #20).
_OPEN_WHERE = _open_for(bindparam("agency_id", type_=Action.agency_id.type), bindparam("person_id"))
_OPEN = (
    select(Action, Case.reference, Case.data_key_id)
    .join(Case, Case.id == Action.case_id)
    .where(*_OPEN_WHERE)
    .order_by(Action.due_on, Action.id)
)
# A page, each row with the count of the whole list (counted before LIMIT and OFFSET apply),
# so the usual first page needs no statement of its own to count.
_OPEN_PAGE = (
    select(Action, Case.reference, Case.data_key_id, func.count().over())
    .join(Case, Case.id == Action.case_id)
    .where(*_OPEN_WHERE)
    .order_by(Action.due_on, Action.id)
    .offset(bindparam("offset"))
    .limit(bindparam("limit"))
)
_OPEN_COUNT = select(func.count()).select_from(Action).where(*_OPEN_WHERE)


class AgencyWork(ActionBase):
    """The agency's own actions, a press at a time."""

    async def open_for_agency(self, actor: Actor) -> list[ActionView]:
        """Every open action of the actor's agency they may see, oldest due first."""
        return (await self.open_page(actor)).views

    async def open_page(
        self,
        actor: Actor,
        offset: int = 0,
        limit: int | None = None,
        *,
        path: CasePath = CasePath.ACTIONS_LIST,
    ) -> ActionPage:
        """Open actions of the actor's agency, oldest due first, ``limit`` of them from ``offset``.

        Picked in SQL (sent, ``closed_at`` empty, not excluded: the index-friendly form of
        the policy's must-not-receive rule) so the closed history, which grows for ever, is
        never read; then the access policy decides each action's case, every case shown is
        recorded against it, and only these actions' texts are opened. The steps stay the
        record: an action whose steps say it is closed is left out even if the projection
        disagrees.
        """
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            # The guard read the agency's name and the area's time zone with the person in
            # this very update (``EnrolmentService.identify``): no statement for either.
            agency_name = actor.agency_name
            if agency_name is None:
                agency = await session.get(Agency, actor.agency_id)
                assert agency is not None
                agency_name = agency.name
            params: dict[str, Any] = {"agency_id": actor.agency_id, "person_id": actor.person_id}
            offset = max(offset, 0)
            total: int | None = None
            found: list[tuple[Action, str, str | None]]
            if limit is not None:
                limit = max(limit, 1)
                page = (
                    await session.execute(_OPEN_PAGE, {**params, "offset": offset, "limit": limit})
                ).all()
                if page:
                    total = int(page[0][3])
                elif offset == 0:
                    total = 0
                else:  # past the end (the list shrank): the last page instead
                    total = int(await session.scalar(_OPEN_COUNT, params) or 0)
                    offset = max(total - 1, 0) // limit * limit
                    page = (
                        await session.execute(
                            _OPEN_PAGE, {**params, "offset": offset, "limit": limit}
                        )
                    ).all()
                found = [(action, reference, key) for action, reference, key, _ in page]
            else:
                query = _OPEN.offset(offset) if offset else _OPEN
                found = [tuple(row) for row in (await session.execute(query, params)).all()]
            seen = await visible(session, actor, {a.case_id for a, _, _ in found}, path, now)
            rows = [
                (action, str(reference), data_key_id, agency_name)
                for action, reference, data_key_id in found
                if action.case_id in seen
            ]
            views = await self._views(session, rows, self._today_in(actor.timezone), names=True)
            open_views = [v for v in views if is_open(v.state)]
            shown = {
                (view.reference, seen[a.case_id])
                for view, (a, *_) in zip(views, rows, strict=True)
                if is_open(view.state)
            }
            await record_views(
                session,
                actor,
                [Shown(reference, level) for reference, level in sorted(shown)],
                path,
                now,
            )
            if total is None:
                total = offset + len(open_views)
            return ActionPage(open_views, total, offset)

    async def get(self, actor: Actor, action_id: int) -> ActionView:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            action = await self._own_action(session, actor, action_id)
            case = await session.get(Case, action.case_id)
            agency = await session.get(Agency, action.agency_id)
            area = await session.get(Area, actor.area_id)
            assert case is not None and agency is not None and area is not None
            view = await self._view(session, action, case, agency.name, self._today(area))
            level = (await visible(session, actor, [case.id], CasePath.ACTION_CARD, now))[case.id]
            await record_views(
                session, actor, [Shown(case.reference, level)], CasePath.ACTION_CARD, now
            )
            return view

    async def move(
        self, actor: Actor, action_id: int, target: ActionState, note: str | None = None
    ) -> ActionMoved:
        """Accept, done, not possible: re-checked on every press, so a stale button is refused.

        The action row is locked before its steps are read, so two presses at once are
        judged one after the other and the second is refused with who made the first.
        """
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        if target is ActionState.NOT_POSSIBLE and not (note and note.strip()):
            raise ServiceError(texts.NOT_POSSIBLE_NEEDS_REASON)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            action = await self._own_action(session, actor, action_id, lock=True)
            steps = await self._steps(session, action.id)
            current = action_state([ActionState(s.state) for s in steps])
            try:
                check_move(current, target)
            except TransitionRefused as refused:
                who = await self._name(session, steps[-1].by_person_id)
                raise ServiceError(texts.action_refused(str(refused), who)) from refused
            step = ActionStep(
                action_id=action.id, state=target, at=now, by_person_id=actor.person_id
            )
            session.add(step)
            if target in ACTION_FINAL:
                # The projection that lists open actions by index, written with the step that
                # closes the action (same transaction, same time) so the two never disagree.
                action.closed_at, action.closed_state = now, target.value
            await session.flush()
            case = await session.get(Case, action.case_id)
            assert case is not None and case.data_key_id is not None
            if note:
                step.note_sealed = await self._deps.vault.seal(
                    session, case.data_key_id, step_context(step.id), note
                )
            await cancel_outbox(
                session, dedupe_key_prefix=f"action:{action.id}:accept_chase:", now=now
            )
            if not is_open(target):
                await cancel_outbox(session, dedupe_key_prefix=f"action:{action.id}:", now=now)
            await audit_by(
                session,
                actor,
                at=now,
                action=f"action.{target.value}",
                subject=case.reference,
                details={"action": action.id},
            )
            return ActionMoved(action.id, case.reference, target)

    async def colleagues(self, actor: Actor, action_id: int) -> list[tuple[int, str]]:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        async with self._deps.sessions() as session:
            action = await self._own_action(session, actor, action_id)
            people = list(
                await session.scalars(
                    select(Person)
                    .where(
                        Person.agency_id == actor.agency_id,
                        Person.deactivated_at.is_(None),
                        Person.id != actor.person_id,
                    )
                    .order_by(Person.id)
                )
            )
            # Only colleagues the policy lets receive the case: never one on its list.
            allowed = await receivers(
                session, [(action.case_id, p.id) for p in people], self._deps.clock.now()
            )
            return [
                (p.id, await self._name(session, p.id))
                for p in people
                if allowed.allows([action.case_id], p.id)
            ]

    async def reassign(self, actor: Actor, action_id: int, person_id: int) -> ActionView:
        authorise(actor, Operation.WORK_ACTIONS, area_id=actor.area_id, agency_id=actor.agency_id)
        now = self._deps.clock.now()
        async with self._deps.sessions.begin() as session:
            action = await self._own_action(session, actor, action_id, lock=True)
            colleague = await session.get(Person, person_id)
            if (
                colleague is None
                or colleague.agency_id != actor.agency_id
                or colleague.deactivated_at is not None
            ):
                raise NotFound(texts.PERSON_NOT_FOUND)
            allowed = await receivers(session, [(action.case_id, colleague.id)], now)
            if not allowed.allows([action.case_id], colleague.id):
                raise NotFound(texts.PERSON_NOT_FOUND)  # as if they were not a colleague
            steps = await self._steps(session, action.id)
            current = action_state([ActionState(s.state) for s in steps])
            try:
                check_move(current, ActionState.REASSIGNED)
            except TransitionRefused as refused:
                raise ServiceError(str(refused)) from refused
            session.add(
                ActionStep(
                    action_id=action.id,
                    state=ActionState.REASSIGNED,
                    at=now,
                    by_person_id=actor.person_id,
                    assigned_to_id=colleague.id,
                )
            )
            case = await session.get(Case, action.case_id)
            area = await session.get(Area, actor.area_id)
            assert case is not None and area is not None
            await enqueue(
                session,
                dedupe_key=f"action:{action.id}:reassigned:{len(steps)}:{colleague.id}",
                chat_id=colleague.telegram_user_id,
                kind="action_reassigned",
                text=texts.action_reassigned_to_you(case.reference),
                now=now,
                area_id=area.id,
                person_id=colleague.id,
                buttons=self._buttons(action.id),
                case_ids=[case.id],
                checked=allowed,
            )
            await audit_by(
                session,
                actor,
                at=now,
                action="action.reassigned",
                subject=case.reference,
                details={"to": colleague.id},
            )
            agency = await session.get(Agency, action.agency_id)
            assert agency is not None
            return await self._view(session, action, case, agency.name, self._today(area))

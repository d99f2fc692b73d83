"""Confirming who enrolled, on both databases: who is asked, what waits, who may decide.

An enrolment by a coordinator's invite waits for another coordinator's Confirm; until then
nothing naming a case is queued for the person and whatever else is queued for them waits in
the outbox. The operator's invite (the area's first coordinator) needs no confirmation, and
everyone enrolled before confirmation existed counts as confirmed.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from bot import texts
from bot.actor import Actor
from bot.clock import ManualClock
from bot.errors import NotFound
from bot.permissions import PermissionDenied
from bot.runtime import Runtime
from bot.services.confirmations import CHECK_KIND, CheckState
from bot.services.outbox import enqueue
from bot.vocabulary import Role
from storage.base import UTCDateTime
from storage.db import create_engine
from storage.migrate import upgrade
from storage.models import OutboxMessage, Person
from tests.support.service_scenarios import Cast, cast, enrol, refer


async def invited(runtime: Runtime, by: Actor, user: int, name: str, role: Role) -> Actor:
    """Enrolled through an area-wide invite ``by`` issued, as a forwarded link would be."""
    issued = await runtime.services.invites.issue(by, area_id=by.area_id, role=role)
    actor = (await runtime.services.enrolment.redeem(user, name, issued.code)).actor
    assert actor is not None
    return actor


async def invite_of(runtime: Runtime, person_id: int) -> int:
    async with runtime.sessions() as session:
        invite = await session.scalar(
            select(Person.enrolled_via_invite_id).where(Person.id == person_id)
        )
    assert invite is not None
    return int(invite)


async def rows_for(runtime: Runtime, person_id: int) -> list[OutboxMessage]:
    async with runtime.sessions() as session:
        return list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.person_id == person_id))
        )


async def police_rep(runtime: Runtime, who: Cast, user: int, name: str) -> Actor:
    issued = await runtime.services.invites.issue(
        who.priya, area_id=who.area_id, role=Role.AGENCY_REP, agency_id=who.sam.agency_id
    )
    actor = (await runtime.services.enrolment.redeem(user, name, issued.code)).actor
    assert actor is not None
    return actor


async def test_the_operator_invite_needs_no_confirmation_and_asks_nobody(runtime: Runtime) -> None:
    who = await cast(runtime)
    assert who.priya.confirmed and who.sam.confirmed
    async with runtime.sessions() as session:
        asked = list(
            await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == CHECK_KIND))
        )
        priya = await session.get(Person, who.priya.person_id)
    assert asked == []
    assert priya is not None and priya.confirmed_at is not None and priya.confirmed_by_id is None


async def test_confirmed_coordinators_but_not_the_newcomer_are_asked(runtime: Runtime) -> None:
    who = await cast(runtime)
    cora = await enrol(runtime, who.area_id, 502, "Cora Ord", Role.COORDINATOR, None)
    # A coordinator invited by Priya: Priya and Cora are asked, not the new coordinator.
    nell = await invited(runtime, who.priya, 503, "Nell New", Role.COORDINATOR)
    assert not nell.confirmed
    async with runtime.sessions() as session:
        asked = {
            row.person_id: row
            for row in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == CHECK_KIND)
            )
        }
    assert set(asked) == {who.priya.person_id, cora.person_id}
    row = asked[who.priya.person_id]
    assert row.text == texts.enrolment_check_unnamed("MARAC coordinator", "Northamptonshire")
    assert row.text_from == f"enrolment:{nell.person_id}"
    # The name is filled in only when it is sent.
    rendered = await runtime.services.confirmations.check_text(nell.person_id)
    assert rendered == texts.enrolment_check("Nell New", "MARAC coordinator", "Northamptonshire")

    # Someone Nell invites while unconfirmed herself cannot happen: she may not invite, and
    # she is neither asked about others nor able to confirm anyone, herself included.
    with pytest.raises(PermissionDenied):
        await runtime.services.invites.issue(nell, area_id=nell.area_id, role=Role.CHAIR)
    invite = await invite_of(runtime, nell.person_id)
    with pytest.raises(PermissionDenied):
        await runtime.services.confirmations.confirm(nell, nell.person_id, invite)
    decided = await runtime.services.confirmations.confirm(cora, nell.person_id, invite)
    assert decided.state is CheckState.CONFIRMED and decided.decided_now
    assert decided.decided_by == "Cora Ord"


async def test_until_confirmed_nothing_naming_a_case_is_queued_and_the_rest_waits(
    runtime: Runtime,
) -> None:
    who = await cast(runtime)
    submitted = await refer(runtime, who.sam)
    kim = await police_rep(runtime, who, 603, "Kim Lee")
    now = runtime.clock.now()

    async def queue(key: str, **extra: object) -> bool:
        async with runtime.sessions.begin() as session:
            return await enqueue(
                session,
                dedupe_key=key,
                chat_id=603,
                kind="meeting_reminder",
                text="Reminder: the MARAC meeting is on Thursday.",
                now=now,
                area_id=who.area_id,
                person_id=kim.person_id,
                **extra,  # type: ignore[arg-type]
            )

    assert not await queue("test:case", case_ids=[submitted.case_id])
    assert await queue("test:reminder")
    claimed = await runtime.services.outbox.claim_due(limit=100)
    assert all(message.person_id != kim.person_id for message in claimed)
    (waiting,) = await rows_for(runtime, kim.person_id)
    assert waiting.sent_at is None and waiting.failed_at is None and waiting.claimed_until is None
    with pytest.raises(PermissionDenied):
        await runtime.services.cases.card(kim, submitted.reference)
    # Even an actor that claims to be confirmed is shown nothing: the policy reads the row.
    with pytest.raises(NotFound):
        await runtime.services.cases.card(replace(kim, confirmed=True), submitted.reference)

    invite = await invite_of(runtime, kim.person_id)
    await runtime.services.confirmations.confirm(who.priya, kim.person_id, invite)
    claimed = await runtime.services.outbox.claim_due(limit=100)
    mine = sorted(message.kind for message in claimed if message.person_id == kim.person_id)
    assert mine == ["enrolment_confirmed", "meeting_reminder"]
    assert await queue("test:case:after", case_ids=[submitted.case_id])
    kim_now = await runtime.services.enrolment.identify(603)
    assert kim_now is not None and kim_now.confirmed
    card = await runtime.services.cases.card(kim_now, submitted.reference)
    assert card.reference == submitted.reference


async def test_remove_uses_the_deactivation_path_and_the_first_decision_wins(
    runtime: Runtime, clock: ManualClock
) -> None:
    who = await cast(runtime)
    cora = await enrol(runtime, who.area_id, 502, "Cora Ord", Role.COORDINATOR, None)
    mallory = await police_rep(runtime, who, 666, "Mallory Fake")
    invite = await invite_of(runtime, mallory.person_id)
    async with runtime.sessions.begin() as session:
        await enqueue(
            session,
            dedupe_key="test:held",
            chat_id=666,
            kind="meeting_reminder",
            text="Reminder: the MARAC meeting is on Thursday.",
            now=runtime.clock.now(),
            area_id=who.area_id,
            person_id=mallory.person_id,
        )
    removed = await runtime.services.confirmations.remove(who.priya, mallory.person_id, invite)
    assert removed.state is CheckState.REMOVED and removed.decided_now
    assert await runtime.services.enrolment.identify(666) is None
    # Cora's question, not sent yet, is withdrawn; what was held for Mallory is dropped.
    await runtime.services.outbox.claim_due(limit=100)
    rows = {row.kind: row for row in await rows_for(runtime, cora.person_id)}
    assert rows[CHECK_KIND].cancelled_at is not None
    (held,) = await rows_for(runtime, mallory.person_id)
    assert held.sent_at is None and held.last_error == "recipient deactivated"

    clock.advance(timedelta(minutes=5))
    for decide in (runtime.services.confirmations.confirm, runtime.services.confirmations.remove):
        later = await decide(cora, mallory.person_id, invite)
        assert later.state is CheckState.REMOVED and not later.decided_now
        assert later.decided_by == "Priya Shah" and later.decided_at == removed.decided_at


async def test_buttons_from_elsewhere_or_about_an_older_enrolment_are_refused(
    runtime: Runtime,
) -> None:
    who = await cast(runtime)
    leicestershire = (await runtime.services.areas.ensure_area("Leicestershire")).id
    lei = await enrol(runtime, leicestershire, 701, "Lei Coord", Role.COORDINATOR, None)
    kim = await police_rep(runtime, who, 603, "Kim Lee")
    invite = await invite_of(runtime, kim.person_id)
    with pytest.raises(NotFound) as elsewhere:
        await runtime.services.confirmations.confirm(lei, kim.person_id, invite)
    assert elsewhere.value.user_message == texts.PERSON_NOT_FOUND
    with pytest.raises(PermissionDenied):
        await runtime.services.confirmations.confirm(who.sam, kim.person_id, invite)

    # Removed, then invited again: the first question's buttons are stale.
    await runtime.services.confirmations.remove(who.priya, kim.person_id, invite)
    again = await police_rep(runtime, who, 603, "Kim Lee")
    assert again.person_id == kim.person_id and not again.confirmed
    with pytest.raises(NotFound) as stale:
        await runtime.services.confirmations.confirm(who.priya, kim.person_id, invite)
    assert stale.value.user_message == texts.BUTTON_NOT_RECOGNISED
    fresh = await invite_of(runtime, kim.person_id)
    assert (await runtime.services.confirmations.check(who.priya, kim.person_id, fresh)).state is (
        CheckState.PENDING
    )


async def test_everyone_enrolled_before_the_migration_counts_as_confirmed(
    database_url: str, clock: ManualClock
) -> None:
    """The schema as it was before confirmation, with someone in it; then the migration."""
    enrolled = clock.now() - timedelta(days=400)
    areas = sa.table(
        "areas",
        sa.column("id"),
        sa.column("name"),
        sa.column("code"),
        sa.column("timezone"),
        sa.column("created_at", UTCDateTime()),
    )
    people = sa.table(
        "people",
        sa.column("id"),
        sa.column("area_id"),
        sa.column("role"),
        sa.column("telegram_user_id"),
        sa.column("enrolled_at", UTCDateTime()),
        sa.column("on_call", sa.Boolean()),
    )
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0010")
        async with engine.begin() as connection:
            await connection.execute(
                areas.insert().values(
                    id=1,
                    name="Northamptonshire",
                    code="NOR",
                    timezone="Europe/London",
                    created_at=enrolled,
                )
            )
            await connection.execute(
                people.insert().values(
                    id=1,
                    area_id=1,
                    role="agency_rep",
                    telegram_user_id=601,
                    enrolled_at=enrolled,
                    on_call=False,
                )
            )
        await upgrade(engine)
        async with engine.connect() as connection:
            row = (
                await connection.execute(
                    select(Person.confirmed_at, Person.enrolled_at, Person.confirmed_by_id)
                )
            ).one()
    finally:
        await engine.dispose()
    assert row.confirmed_at == row.enrolled_at == enrolled and row.confirmed_by_id is None

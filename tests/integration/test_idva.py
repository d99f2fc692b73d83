"""The IDVA service through the services: told of every referral, one IDVA takes the case or
it is reallocated, the holder records contact with the victim and gets the case's updates,
and the coordinators see the cases still waiting after two working days."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, time

import pytest
from sqlalchemy import select

from bot import texts
from bot.actions.entry import ActionDraft
from bot.actor import Actor
from bot.clock import ManualClock
from bot.errors import NotFound, ServiceError
from bot.meetings.recurrence import Repeat
from bot.meetings.workdays import AreaCalendar
from bot.referrals import flow
from bot.runtime import Runtime
from bot.services.meetings import MeetingService
from bot.services.referrals import Submitted
from bot.vocabulary import AgencyKind, ContactOutcome, Role
from storage.models import Agency, AuditEvent, IdvaAllocation, OutboxMessage, VictimContact
from tests.support.service_scenarios import CHOSEN, TYPED, enrol, refer


async def refer_urgent(runtime: Runtime, actor: Actor) -> Submitted:
    """``refer``, answering "Yes, urgent"."""
    referrals = runtime.services.referrals
    state = await referrals.start(actor)
    while state.payload["step"] != "review":
        key = str(state.payload["step"])
        if flow.kind_of(key) == "text":
            state = await referrals.answer(actor, TYPED[key])
        else:
            chosen = 0 if key == "urgent" else CHOSEN.get(key, 0)
            state = await referrals.choose(actor, flow.step_number(key), chosen)
    return await referrals.submit(actor, flow.step_number("review"))


@dataclasses.dataclass
class People:
    area_id: int
    priya: Actor  # coordinator
    sam: Actor  # police, the referrer
    nia: Actor  # health
    jo: Actor  # IDVA
    ann: Actor  # IDVA
    kim: Actor  # IDVA, to be put on the must-not-receive list
    lee: Actor  # IDVA, who leaves


async def _people(runtime: Runtime) -> People:
    area = (await runtime.services.areas.ensure_area("Northamptonshire")).id
    agencies = {}
    async with runtime.sessions.begin() as session:
        for name, kind in (
            ("Police", AgencyKind.POLICE),
            ("Health", AgencyKind.HEALTH),
            ("Sunflower IDVA", AgencyKind.IDVA),
        ):
            row = Agency(area_id=area, name=name, kind=kind, created_at=runtime.clock.now())
            session.add(row)
            await session.flush()
            agencies[kind] = row.id

    async def rep(user: int, name: str, kind: AgencyKind) -> Actor:
        return await enrol(runtime, area, user, name, Role.AGENCY_REP, agencies[kind])

    return People(
        area,
        await enrol(runtime, area, 501, "Priya Shah", Role.COORDINATOR, None),
        await rep(601, "Sam Okafor", AgencyKind.POLICE),
        await rep(602, "Nia Brown", AgencyKind.HEALTH),
        await rep(604, "Jo Evans", AgencyKind.IDVA),
        await rep(605, "Ann Other", AgencyKind.IDVA),
        await rep(606, "Kim Lee", AgencyKind.IDVA),
        await rep(607, "Lee Leaver", AgencyKind.IDVA),
    )


async def _outbox(runtime: Runtime, kind: str) -> list[OutboxMessage]:
    async with runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
        )
        return list(rows)


async def test_every_idva_is_told_of_a_referral_by_reference_only(runtime: Runtime) -> None:
    p = await _people(runtime)
    submitted = await refer(runtime, p.sam)
    notices = await _outbox(runtime, "idva_referral")
    assert {n.person_id for n in notices} == {
        p.jo.person_id,
        p.ann.person_id,
        p.kim.person_id,
        p.lee.person_id,
    }
    for notice in notices:
        assert notice.text == texts.idva_referral_notice(submitted.reference, False)
        assert "Jane" not in notice.text and "Doe" not in notice.text
        assert texts.BUTTON_TAKE_CASE in (notice.buttons or "")
        assert texts.BUTTON_OPEN_CASE in (notice.buttons or "")
        assert notice.case_ids == str(submitted.case_id)


async def test_an_urgent_referral_reaches_the_idvas_at_once_at_night(
    runtime: Runtime, clock: ManualClock
) -> None:
    p = await _people(runtime)
    clock.set(datetime(2026, 11, 26, 23, 30, tzinfo=UTC))  # quiet hours
    submitted = await refer_urgent(runtime, p.sam)
    assert submitted.urgent
    (notice, *_) = await _outbox(runtime, "idva_referral")
    assert notice.urgent and notice.due_at == clock.now()
    assert notice.text.startswith(f"URGENT referral {submitted.reference}")


async def test_take_reallocate_and_the_refusals(runtime: Runtime) -> None:
    p = await _people(runtime)
    s = runtime.services
    case = await refer(runtime, p.sam)
    await s.cases.exclude(p.priya, case.case_id, p.kim.person_id)
    await s.people.deactivate(p.priya, p.lee.person_id)

    with pytest.raises(ServiceError, match="Only the IDVA service"):
        await s.idva.take(p.nia, case.case_id)
    with pytest.raises(NotFound):
        await s.idva.take(p.kim, case.case_id)  # on the must-not-receive list
    with pytest.raises(NotFound):
        await s.idva.take(p.jo, case.case_id + 999)  # a forged id

    taken = await s.idva.take(p.jo, case.case_id)
    assert taken.reference == case.reference
    with pytest.raises(ServiceError) as second:
        await s.idva.take(p.ann, case.case_id)
    assert second.value.user_message == texts.idva_held_by(case.reference, "Jo Evans")
    with pytest.raises(ServiceError, match="You already hold"):
        await s.idva.take(p.jo, case.case_id)

    choices = await s.idva.reassign_choices(p.ann, case.case_id)
    assert choices.holder == "Jo Evans"
    # Not the holder, not someone kept off the case, not a leaver.
    assert [name for _, name in choices.people] == ["Ann Other"]
    with pytest.raises(ServiceError, match="Only the IDVA service"):
        await s.idva.reassign_choices(p.sam, case.case_id)
    with pytest.raises(NotFound):
        await s.idva.reassign(p.ann, case.case_id, p.nia.person_id)  # not an IDVA
    for unavailable in (p.kim, p.lee):
        with pytest.raises(ServiceError, match="cannot hold this case"):
            await s.idva.reassign(p.ann, case.case_id, unavailable.person_id)

    moved = await s.idva.reassign(p.priya, case.case_id, p.ann.person_id)
    assert moved.name == "Ann Other"
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(IdvaAllocation.person_id, IdvaAllocation.allocated_by_id).order_by(
                    IdvaAllocation.id
                )
            )
        ).all()
        actions = set(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.subject == case.reference)
            )
        )
    assert rows == [(p.jo.person_id, p.jo.person_id), (p.ann.person_id, p.priya.person_id)]
    assert {"idva.allocated", "idva.reallocated"} <= actions
    (told,) = await _outbox(runtime, "idva_allocated")
    assert told.person_id == p.ann.person_id
    (moved_off,) = await _outbox(runtime, "idva_moved")
    assert moved_off.person_id == p.jo.person_id
    assert moved_off.text == texts.idva_moved_notice(case.reference)

    # Jo, no longer holding it, sees only that it is held; Ann sees it all.
    jo_card = await s.cases.card(p.jo, case.reference)
    assert jo_card.identifying is None and jo_card.idva == "Ann Other"
    ann_card = await s.cases.card(p.ann, case.reference)
    assert ann_card.identifying is not None and ann_card.may_record_contact
    coordinator_card = await s.cases.card(p.priya, case.reference)
    assert coordinator_card.idva == "Ann Other" and coordinator_card.may_reallocate
    assert not (await s.cases.card(p.sam, case.reference)).shows_idva


async def test_only_the_allocated_idva_records_contact(runtime: Runtime) -> None:
    p = await _people(runtime)
    s = runtime.services
    case = await refer(runtime, p.sam)
    with pytest.raises(NotFound):
        await s.idva.record_contact(p.jo, case.case_id, ContactOutcome.CONTACTED)  # nobody holds it
    await s.idva.take(p.jo, case.case_id)
    with pytest.raises(NotFound):
        await s.idva.record_contact(p.ann, case.case_id, ContactOutcome.CONTACTED)
    with pytest.raises(NotFound):
        await s.idva.contact_history(p.ann, case.case_id)
    with pytest.raises(ServiceError, match="Only the IDVA allocated"):
        await s.idva.record_contact(p.priya, case.case_id, ContactOutcome.CONTACTED)

    await s.idva.record_contact(p.jo, case.case_id, ContactOutcome.NOT_REACHED)
    await s.idva.record_contact(p.jo, case.case_id, ContactOutcome.CONTACTED)
    history = await s.idva.contact_history(p.jo, case.case_id)
    assert [(a.outcome, a.by) for a in history.attempts] == [
        (ContactOutcome.NOT_REACHED, "Jo Evans"),
        (ContactOutcome.CONTACTED, "Jo Evans"),
    ]
    async with runtime.sessions() as session:
        rows = (await session.scalars(select(VictimContact))).all()
        audited = (
            await session.scalars(
                select(AuditEvent.details).where(AuditEvent.action == "idva.contact_recorded")
            )
        ).all()
    assert [r.person_id for r in rows] == [p.jo.person_id] * 2
    assert len(audited) == 2
    card = await s.cases.card(p.priya, case.reference)
    assert card.idva_contact is not None and card.idva_contact[1] == "contacted"


async def test_the_allocated_idva_hears_of_triage_listing_and_the_plan(
    runtime: Runtime, clock: ManualClock
) -> None:
    p = await _people(runtime)
    s = runtime.services
    meeting_day = AreaCalendar().add_working_days(clock.now().date(), 10)
    (meeting,) = (
        await s.meetings.create(
            p.priya, first_date=meeting_day, start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    case = await refer(runtime, p.sam)
    await s.idva.take(p.jo, case.case_id)
    await s.cases.accept(p.priya, case.case_id)
    (triage,) = await _outbox(runtime, "idva_triage")
    assert triage.person_id == p.jo.person_id
    assert triage.text == texts.idva_triage_notice(case.reference, "accepted")
    (listed,) = await _outbox(runtime, "idva_listed")
    assert listed.person_id == p.jo.person_id and case.reference in listed.text
    assert "10:00" in listed.text
    await s.meetings.publish(p.priya, meeting.id, p.area_id)
    await s.actions.record(
        p.priya, meeting.id, case.case_id, ActionDraft("Police", "check bail", None, "normal")
    )
    await s.actions.close_meeting(p.priya, meeting.id)
    (plan,) = await _outbox(runtime, "idva_plan")
    assert plan.person_id == p.jo.person_id
    assert plan.text == texts.idva_plan_notice(case.reference, 1)
    # Her colleagues are not sent the case's updates.
    for kind in ("idva_triage", "idva_listed", "idva_plan"):
        assert {m.person_id for m in await _outbox(runtime, kind)} == {p.jo.person_id}


async def test_the_coordinator_sees_cases_waiting_after_two_working_days(
    runtime: Runtime, clock: ManualClock
) -> None:
    p = await _people(runtime)
    s = runtime.services
    meetings = MeetingService(dataclasses.replace(runtime.deps, morning_digest=True))
    case = await refer(runtime, p.sam)  # Thursday 26 November, 09:00
    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # Monday: two working days on
    assert await s.idva.waiting(p.priya) == []
    assert [w.reference for w in await s.idva.waiting(p.priya, overdue_only=False)] == [
        case.reference
    ]
    assert await meetings.queue_morning_digests() == 1
    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # Tuesday: three
    (waiting,) = await s.idva.waiting(p.priya)
    assert (waiting.reference, waiting.working_days, waiting.holder) == (case.reference, 3, None)
    assert await meetings.queue_morning_digests() == 1
    monday, tuesday = await _outbox(runtime, "digest")
    assert case.reference not in monday.text
    assert case.reference in tuesday.text and "no IDVA" in tuesday.text
    assert tuesday.case_ids == str(case.case_id)
    with pytest.raises(Exception, match="TRIAGE_CASES"):
        await s.idva.waiting(p.jo)

    await s.idva.take(p.jo, case.case_id)
    await s.idva.record_contact(p.jo, case.case_id, ContactOutcome.NOT_REACHED)
    (waiting,) = await s.idva.waiting(p.priya)
    assert (waiting.holder, waiting.attempts) == ("Jo Evans", 1)
    await s.idva.record_contact(p.jo, case.case_id, ContactOutcome.DECLINED_SUPPORT)
    assert await s.idva.waiting(p.priya) == []


async def test_a_declined_referral_is_not_chased(runtime: Runtime, clock: ManualClock) -> None:
    p = await _people(runtime)
    case = await refer(runtime, p.sam)
    await runtime.services.cases.decline(p.priya, case.case_id, "Not MARAC threshold")
    clock.set(datetime(2026, 12, 4, 9, 0, tzinfo=UTC))
    assert await runtime.services.idva.waiting(p.priya) == []


async def test_an_idva_taking_a_listed_case_hears_when_it_will_be_heard(
    runtime: Runtime, clock: ManualClock
) -> None:
    p = await _people(runtime)
    s = runtime.services
    meeting_day = AreaCalendar().add_working_days(clock.now().date(), 10)
    await s.meetings.create(p.priya, first_date=meeting_day, start=time(10), repeat=Repeat.ONE_OFF)
    case = await refer(runtime, p.sam)
    await s.cases.accept(p.priya, case.case_id)
    assert await _outbox(runtime, "idva_listed") == []  # nobody held it yet
    await s.idva.take(p.jo, case.case_id)
    (listed,) = await _outbox(runtime, "idva_listed")
    assert listed.person_id == p.jo.person_id and "10:00" in listed.text


async def test_a_case_whose_idva_has_left_is_unallocated_again(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Lee reached the victim, then left: nobody holds the case any more. The coordinators see
    it waiting, and a colleague may read the referral and take it."""
    p = await _people(runtime)
    s = runtime.services
    case = await refer(runtime, p.sam)
    await s.idva.take(p.lee, case.case_id)
    await s.idva.record_contact(p.lee, case.case_id, ContactOutcome.CONTACTED)
    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # three working days on
    assert await s.idva.waiting(p.priya) == []
    with pytest.raises(NotFound):
        await s.victim_voice.record_wishes(p.ann, case.case_id, "Ann may not record this.")

    await s.people.deactivate(p.priya, p.lee.person_id)
    (waiting,) = await s.idva.waiting(p.priya)
    assert (waiting.reference, waiting.holder) == (case.reference, None)
    await s.idva.take(p.ann, case.case_id)
    await s.victim_voice.record_wishes(p.ann, case.case_id, "She wants to stay in her home.")
    assert await s.idva.waiting(p.priya) == []  # Ann holds it; Lee's contact still counts

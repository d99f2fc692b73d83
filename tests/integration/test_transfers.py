"""MARAC-to-MARAC transfer through the services: nothing crosses areas without both
coordinators' action; the receiving coordinators hear of the case by reference only until
they accept; accepting opens a case of their own with what it carries, closes the sending
one as transferred and links the two in both audit trails; a decline leaves the case where
it was; the IDVA's handover note goes with the case; a referral of the same victim in the
receiving area is told of the transfer."""

from __future__ import annotations

import json
from datetime import time

import pytest
from sqlalchemy import select

from bot import texts
from bot.access import CasePath, Level
from bot.actor import Actor
from bot.clock import ManualClock
from bot.errors import NotFound, ServiceError
from bot.meetings.recurrence import Repeat
from bot.meetings.workdays import AreaCalendar
from bot.permissions import PermissionDenied
from bot.referrals.status import CaseStep
from bot.runtime import Runtime
from bot.services.case_access import levels_for
from bot.services.subject_access import SubjectAccessService
from bot.vocabulary import AgencyKind, Role
from bot.workspace.pages import PageRenderer
from storage.models import (
    Agency,
    AgendaItem,
    AuditEvent,
    Case,
    CaseTransfer,
    DashAssessment,
    HandoverNote,
    OutboxMessage,
)
from tests.support.access_world import KEPT_OUT, World, build
from tests.support.service_scenarios import enrol, refer

REASON = "The victim has moved to a refuge in Leicester."
NOTE = "She prefers texts after 6pm; the locks were changed; wants help with housing."


async def _receiving(runtime: Runtime, world: World) -> tuple[Actor, Actor, Actor]:
    """Lei (the world's other-area coordinator), an IDVA of her area, and a coordinator of a
    third area."""
    lei = world.people["other area"]
    async with runtime.sessions.begin() as session:
        idva = Agency(
            area_id=lei.area_id,
            name="Leicester IDVA",
            kind=AgencyKind.IDVA,
            created_at=runtime.clock.now(),
        )
        session.add(idva)
        await session.flush()
        idva_id = idva.id
    ola = await enrol(runtime, lei.area_id, 702, "Ola Advocate", Role.AGENCY_REP, idva_id)
    third = (await runtime.services.areas.ensure_area("Rutland")).id
    rue = await enrol(runtime, third, 801, "Rue Third", Role.COORDINATOR, None)
    return lei, ola, rue


async def _ask(runtime: Runtime, world: World, lei: Actor) -> int:
    priya = world.people["coordinator"]
    choices = await runtime.services.transfers.destinations(priya, world.case_id)
    assert (lei.area_id, "Leicestershire") in choices.areas
    request = await runtime.services.transfers.request(priya, world.case_id, lei.area_id, REASON)
    return request.id


async def test_a_transfer_accepted_opens_the_case_there_and_closes_it_here(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    lei, ola, _ = await _receiving(runtime, world)
    s = runtime.services
    await s.transfers.write_handover(world.people["idva"], world.case_id, NOTE)
    transfer_id = await _ask(runtime, world, lei)
    # Lei was sent the request: the four facts, no name.
    async with runtime.sessions() as session:
        request = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "transfer_request")
        )
    assert request is not None and request.person_id == lei.person_id
    assert world.reference in request.text and "DASH" in request.text
    assert "Jane" not in request.text and REASON not in request.text
    # Before accepting she hears of the case by reference and nothing more.
    view = await s.transfers.view_request(lei, transfer_id)
    assert view.may_decide and view.reference == world.reference
    with pytest.raises(NotFound):
        await s.cases.card_by_id(lei, world.case_id)
    with pytest.raises(NotFound):
        await s.transfers.handover(lei, world.case_id)
    # The sending side still has it open.
    card = await s.cases.card_by_id(world.people["coordinator"], world.case_id)
    assert card.status is CaseStep.ACCEPTED
    assert any(step == "transfer_requested" for _, step, _ in card.history)

    accepted = await s.transfers.accept(lei, transfer_id)
    assert accepted.from_reference == world.reference
    new = await s.cases.card_by_id(lei, accepted.case_id)
    assert new.reference.startswith("LEI-")
    assert new.identifying is not None and new.identifying.victim is not None
    assert new.identifying.victim["name"] == "Jane Doe"
    assert new.status is CaseStep.SUBMITTED  # waiting for the receiving MARAC's triage
    old = await s.cases.card_by_id(world.people["coordinator"], world.case_id)
    assert old.status is CaseStep.TRANSFERRED
    # Lei no longer hears of the sending case at all: the request is answered.
    with pytest.raises(ServiceError):
        await s.transfers.view_request(lei, transfer_id)
    async with runtime.sessions() as session:
        assert await levels_for(session, lei, [world.case_id], clock.now()) == {
            world.case_id: Level.NONE
        }
        new_case = await session.get(Case, accepted.case_id)
        assert new_case is not None and new_case.area_id == lei.area_id
        dash = list(
            await session.scalars(
                select(DashAssessment).where(DashAssessment.case_id == accepted.case_id)
            )
        )
        trail = {
            (e.subject, e.action): e.details
            for e in await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action.in_(["case.transferred_out", "case.transferred_in"])
                )
            )
        }
        told = list(
            await session.scalars(
                select(OutboxMessage.person_id).where(OutboxMessage.kind == "idva_transfer")
            )
        )
        row = await session.get(CaseTransfer, transfer_id)
    assert len(dash) == 1
    # Each case's trail names the other.
    assert accepted.reference in trail[(world.reference, "case.transferred_out")]
    assert world.reference in trail[(accepted.reference, "case.transferred_in")]
    assert told == [ola.person_id]  # the receiving IDVA service, as at referral
    assert row is not None and row.decision == "accepted" and row.decided_by_id == lei.person_id
    assert row.reason_sealed is not None and REASON.encode() not in row.reason_sealed
    # The handover: the reason, the outstanding actions (as information) and the note.
    handover = await s.transfers.handover(lei, accepted.case_id)
    assert handover.transferred_in and handover.from_reference == world.reference
    assert handover.reason == REASON and handover.note == NOTE
    assert {a.agency for a in handover.actions} == {"Police", "Health", "Drive"}
    # Read by the policy's readers of the whole case: not the IDVA service before it is held.
    with pytest.raises(NotFound):
        await s.transfers.handover(ola, accepted.case_id)
    await s.idva.take(ola, accepted.case_id)
    assert (await s.transfers.handover(ola, accepted.case_id)).note == NOTE
    # The sending coordinator was told.
    async with runtime.sessions() as session:
        sent = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "transfer_accepted")
        )
    assert sent is not None and sent.person_id == world.people["coordinator"].person_id


async def test_no_handover_note_is_said(runtime: Runtime, clock: ManualClock) -> None:
    world = await build(runtime, clock)
    lei, _, _ = await _receiving(runtime, world)
    accepted = await runtime.services.transfers.accept(lei, await _ask(runtime, world, lei))
    handover = await runtime.services.transfers.handover(lei, accepted.case_id)
    assert handover.note is None
    # Written after the transfer, it still follows the case.
    await runtime.services.transfers.write_handover(world.people["idva"], world.case_id, NOTE)
    assert (await runtime.services.transfers.handover(lei, accepted.case_id)).note == NOTE
    async with runtime.sessions() as session:
        notes = list(await session.scalars(select(HandoverNote)))
    assert all(NOTE.encode() not in (n.note_sealed or b"") for n in notes)


async def test_a_declined_transfer_leaves_the_case_open_and_tells_the_sender(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    lei, _, _ = await _receiving(runtime, world)
    transfer_id = await _ask(runtime, world, lei)
    await runtime.services.transfers.decline(lei, transfer_id)
    card = await runtime.services.cases.card_by_id(world.people["coordinator"], world.case_id)
    assert card.status is CaseStep.ACCEPTED
    assert any(step == "transfer_declined" for _, step, _ in card.history)
    with pytest.raises(ServiceError) as again:
        await runtime.services.transfers.accept(lei, transfer_id)
    assert again.value.user_message == texts.transfer_already_decided("declined")
    async with runtime.sessions() as session:
        told = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.kind == "transfer_declined")
        )
        cases = list(await session.scalars(select(Case.id).where(Case.area_id == lei.area_id)))
    assert told is not None and told.person_id == world.people["coordinator"].person_id
    assert cases == []
    # It may be asked again (of another MARAC, or the same one later).
    await _ask(runtime, world, lei)


async def test_a_third_area_and_everyone_else_cannot_see_or_act(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    lei, ola, rue = await _receiving(runtime, world)
    transfer_id = await _ask(runtime, world, lei)
    s = runtime.services.transfers
    for who in (rue, ola, *(world.people[n] for n in KEPT_OUT if n != "other area")):
        for attempt in (
            s.view_request(who, transfer_id),
            s.accept(who, transfer_id),
            s.decline(who, transfer_id),
        ):
            with pytest.raises((NotFound, PermissionDenied)):
                await attempt
    # The sending coordinator cannot answer her own request.
    with pytest.raises(ServiceError) as own:
        await s.accept(world.people["coordinator"], transfer_id)
    assert own.value.user_message == texts.TRANSFER_RECEIVING_ONLY
    # Only the coordinator who runs the case starts a transfer; asking twice is refused.
    for name in ("idva", "referrer", "other area"):
        with pytest.raises((NotFound, PermissionDenied)):
            await s.destinations(world.people[name], world.case_id)
    with pytest.raises(ServiceError):
        await s.request(world.people["coordinator"], world.case_id, rue.area_id, REASON)
    # Only the allocated IDVA writes the handover note.
    with pytest.raises(ServiceError) as note:
        await s.write_handover(world.people["coordinator"], world.case_id, NOTE)
    assert note.value.user_message == texts.HANDOVER_ONLY_ALLOCATED_IDVA
    for name in ("idva colleague", "referrer", "other area"):
        with pytest.raises((NotFound, PermissionDenied)):
            await s.write_handover(world.people[name], world.case_id, NOTE)
    # Nothing was opened anywhere.
    async with runtime.sessions() as session:
        row = await session.get(CaseTransfer, transfer_id)
    assert row is not None and row.decided_at is None


async def test_a_referral_there_is_told_of_the_transfer(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    lei, _, _ = await _receiving(runtime, world)
    async with runtime.sessions.begin() as session:
        police = Agency(
            area_id=lei.area_id,
            name="Leicestershire Police",
            kind=AgencyKind.POLICE,
            created_at=runtime.clock.now(),
        )
        session.add(police)
        await session.flush()
        police_id = police.id
    officer = await enrol(runtime, lei.area_id, 703, "Lou Officer", Role.AGENCY_REP, police_id)
    transfer_id = await _ask(runtime, world, lei)
    # Asked, not yet accepted: the referral is told a transfer is waiting.
    await refer(runtime, officer)
    async with runtime.sessions() as session:
        triage = await session.scalar(
            select(OutboxMessage.text).where(
                OutboxMessage.kind == "triage", OutboxMessage.person_id == lei.person_id
            )
        )
    assert triage is not None and "waiting for an answer" in triage
    assert world.reference not in triage  # the sending MARAC's reference is not theirs
    accepted = await runtime.services.transfers.accept(lei, transfer_id)
    again = await refer(runtime, officer)
    assert again.possible_repeat_of is not None
    async with runtime.sessions() as session:
        texts_sent = list(
            await session.scalars(
                select(OutboxMessage.text).where(
                    OutboxMessage.kind == "triage", OutboxMessage.person_id == lei.person_id
                )
            )
        )
    assert any(
        "transferred to this MARAC from another one" in t and accepted.reference in t
        for t in texts_sent
    )


async def test_the_subject_access_export_holds_the_transfer_on_both_cases(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    lei, _, _ = await _receiving(runtime, world)
    await runtime.services.transfers.write_handover(world.people["idva"], world.case_id, NOTE)
    accepted = await runtime.services.transfers.accept(lei, await _ask(runtime, world, lei))
    export = SubjectAccessService(runtime.deps).export
    sending = json.loads(await export(world.reference))
    (out,) = sending["transfers"]
    assert out["direction"] == "out" and out["other_case"] == accepted.reference
    assert out["reason"] == REASON and out["decision"] == "accepted"
    assert [n["note"] for n in sending["handover_notes"]] == [NOTE]
    receiving = json.loads(await export(accepted.reference))
    (came,) = receiving["transfers"]
    assert came["direction"] == "in" and came["other_case"] == world.reference
    assert REASON in came["carried"] and "GP to review" in came["carried"]
    assert [n["note"] for n in receiving["handover_notes"]] == [NOTE]
    assert any(e["action"] == "case.transferred_in" for e in receiving["audit_trail"])


async def test_the_case_page_shows_the_handover_to_those_who_hold_the_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    lei, ola, _ = await _receiving(runtime, world)
    await runtime.services.transfers.write_handover(world.people["idva"], world.case_id, NOTE)
    accepted = await runtime.services.transfers.accept(lei, await _ask(runtime, world, lei))
    s, pages = runtime.services, PageRenderer("/ws")
    card = await s.cases.card_by_id(lei, accepted.case_id, path=CasePath.CASE_PAGE)
    html = pages.case(lei, card, None, await s.transfers.read(lei, accepted.case_id))
    assert NOTE in html and REASON in html and world.reference in html
    assert "GP to review the medication" in html
    # The IDVA service before anyone holds it: the referral, not the handover.
    assert await s.transfers.read(ola, accepted.case_id) is None


async def test_a_transferred_case_leaves_the_sending_marac_s_coming_agenda(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    lei, _, _ = await _receiving(runtime, world)
    priya, s = world.people["coordinator"], runtime.services
    later = AreaCalendar().add_working_days(clock.now().date(), 20)
    (meeting,) = (
        await s.meetings.create(priya, first_date=later, start=time(10), repeat=Repeat.ONE_OFF)
    ).meetings
    async with runtime.sessions.begin() as session:
        session.add(
            AgendaItem(
                meeting_id=meeting.id,
                case_id=world.case_id,
                position=1,
                added_at=clock.now(),
                added_by_id=priya.person_id,
            )
        )
    await s.transfers.accept(lei, await _ask(runtime, world, lei))
    coming = await s.meetings.detail(priya, meeting.id)
    assert world.reference not in {line.reference for line in coming.agenda}
    # The meeting that heard it keeps it: that is the record.
    heard = await s.meetings.detail(priya, world.meeting_id)
    assert world.reference in {line.reference for line in heard.agenda}

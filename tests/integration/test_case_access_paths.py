"""Every path that shows or sends case information gives each person exactly what the one
access policy (``bot.access``) allows, and nothing at all to those it keeps out.

The world: a case referred by Sam (police), accepted, on a published agenda, with actions
for the police, health and the perpetrator service sent; the must-not-receive list holds a
coordinator, the chair and one of Sam's police colleagues; a colleague who has left; a police
colleague whose enrolment no coordinator has confirmed yet; a governance reader; a
coordinator of another area. Each registered path is walked for every
one of them. A path (a ``CasePath``), a public service method or an outbox message that
names a case and is not registered here fails the test, so a new way out for case
information cannot be added without being checked.
"""

from __future__ import annotations

import ast
import inspect
import io
import json
import weakref
import zipfile
from collections.abc import Awaitable, Callable
from datetime import time, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.access import NEEDS, PATH_OPERATIONS, CasePath, Level, case_access
from bot.actions.entry import ActionDraft
from bot.actor import Actor
from bot.clock import ManualClock
from bot.errors import NotFound, ServiceError
from bot.meetings.recurrence import Repeat
from bot.meetings.workdays import AreaCalendar
from bot.permissions import Operation, PermissionDenied, may, scope_for
from bot.referrals.dash_forms import DashForm
from bot.runtime import Runtime, Services
from bot.services.case_access import case_facts, viewers
from bot.services.case_identifiers import Identifiers
from bot.services.outbox import enqueue
from bot.vocabulary import DvdsRoute, Role
from storage.models import AgendaItem, AuditEvent, OutboxMessage
from tests.support.access_world import KEPT_OUT, World, build

ROOT = Path(__file__).resolve().parents[2]

# --- the paths -----------------------------------------------------------------------------

Seen = set[str]
Path_ = Callable[[Services, Actor, World], Awaitable[Seen]]


def _docx_text(content: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(content)) as document:
        return document.read("word/document.xml").decode()


async def _case_card(s: Services, a: Actor, w: World) -> Seen:
    card = await s.cases.card(a, w.reference)
    return {card.reference}


async def _triage(s: Services, a: Actor, w: World) -> Seen:
    await s.cases.request_information(a, w.case_id, "Please send the police log.")
    return {w.reference}


async def _repeat_decision(s: Services, a: Actor, w: World) -> Seen:
    # Deciding about the repeat names both cases: the one that may be a repeat of this one.
    return {await s.cases.decide_repeat(a, w.repeat_case_id, w.case_id, confirmed=False)}


async def _must_not_receive(s: Services, a: Actor, w: World) -> Seen:
    return {await s.cases.exclude(a, w.case_id, w.spare_id)}


async def _agenda(s: Services, a: Actor, w: World) -> Seen:
    detail = await s.meetings.detail(a, w.meeting_id)
    seen = {line.reference for line in detail.agenda}
    # No count gives a hidden case away: the agenda's and the meeting list's.
    (listed,) = [m.listed for m in await s.meetings.upcoming(a) if m.id == w.meeting_id]
    assert detail.meeting.listed == listed == len(seen)
    return seen


async def _research(s: Services, a: Actor, w: World) -> Seen:
    reference, _ = await s.meetings.research_item(a, w.item_id)
    return {reference}


async def _action_plan(s: Services, a: Actor, w: World) -> Seen:
    plans = await s.actions.plan_meetings(a)
    seen = {ref for _, _, _, cases in plans for _, ref in cases}
    counts = await s.actions.summary(a)
    assert (sum(c.open for c in counts[0]) > 0) == bool(seen)  # no count of a hidden case
    return seen


async def _minutes(s: Services, a: Actor, w: World) -> Seen:
    _, content = await s.actions.minutes(a, w.meeting_id)
    text = _docx_text(content)
    assert ("bail conditions" in text) is (w.reference in text)  # no action of a hidden case
    return {w.reference} if w.reference in text else set()


async def _minutes_copy(s: Services, a: Actor, w: World) -> Seen:
    _, content = await s.actions.minutes_copy(a, w.meeting_id)
    text = _docx_text(content)
    # The workspace's minutes page is the same decision as the document.
    read = await s.actions.minutes_to_read(a, w.meeting_id)
    assert (w.reference in {case.reference for case in read.cases}) is (w.reference in text)
    return {w.reference} if w.reference in text else set()


async def _actions_list(s: Services, a: Actor, w: World) -> Seen:
    return {view.reference for view in await s.actions.open_for_agency(a)}


async def _action_card(s: Services, a: Actor, w: World) -> Seen:
    seen: Seen = set()
    for action_id in w.actions.values():
        try:
            seen.add((await s.actions.get(a, action_id)).reference)
        except NotFound:
            continue
    return seen


async def _perpetrator_referrals(s: Services, a: Actor, w: World) -> Seen:
    return {view.reference for view in await s.actions.perpetrator_referrals(a)}


async def _audit_trail(s: Services, a: Actor, w: World) -> Seen:
    named = {line.subject for line in await s.audit.latest(a, limit=50)}
    one = {line.subject for line in await s.audit.latest(a, subject=w.reference)}
    assert (w.reference in named) is bool(one), "the trail and the case's own trail disagree"
    return {w.reference} if one else set()


async def _early_erasure(s: Services, a: Actor, w: World) -> Seen:
    return {await s.retention.request_erasure(a, w.case_id, "other")}


async def _notice(s: Services, a: Actor, w: World) -> Seen:
    async with s.outbox._deps.sessions.begin() as session:
        queued = await enqueue(
            session,
            dedupe_key=f"test:notice:{a.person_id}",
            chat_id=a.telegram_user_id,
            kind="test_notice",
            text=f"A notice naming {w.reference}",
            now=s.outbox.clock.now(),
            area_id=a.area_id,
            person_id=a.person_id,
            case_ids=[w.case_id],
        )
    return {w.reference} if queued else set()


async def _case_page(s: Services, a: Actor, w: World) -> Seen:
    card = await s.cases.card_by_id(a, w.case_id, path=CasePath.CASE_PAGE)
    return {card.reference}


def _no_victim_for_perpetrator_services(a: Actor, found: Identifiers) -> None:
    if a.role is Role.PERPETRATOR_REP:
        assert found.victim is None, "a perpetrator service was shown the victim"


async def _research_sheet(s: Services, a: Actor, w: World) -> Seen:
    sheet = await s.meetings.research_sheet(a, w.meeting_id)
    for case in sheet.cases:
        _no_victim_for_perpetrator_services(a, case.identifiers)
    assert sheet.meeting.listed == len(sheet.cases)  # no count gives a hidden case away
    return {case.reference for case in sheet.cases}


async def _meeting_board(s: Services, a: Actor, w: World) -> Seen:
    detail = await s.meetings.detail(a, w.meeting_id, path=CasePath.MEETING_BOARD)
    return {line.reference for line in detail.agenda}


async def _actions_page(s: Services, a: Actor, w: World) -> Seen:
    page = await s.actions.open_page(a, path=CasePath.ACTIONS_PAGE)
    referrals = await s.actions.perpetrator_referrals(a, path=CasePath.ACTIONS_PAGE)
    for referral in referrals:
        assert referral.person_causing_harm is not None  # whom it is assessing
    return {v.reference for v in page.views} | {r.reference for r in referrals}


async def _research_message(s: Services, a: Actor, w: World) -> Seen:
    case, _ = await s.meetings.research_case(a, w.item_id)
    _no_victim_for_perpetrator_services(a, case.identifiers)
    return {case.reference}


async def _victim_voice(s: Services, a: Actor, w: World) -> Seen:
    voice = await s.victim_voice.read(a, w.case_id)
    if voice is None:
        return set()
    # Reading it in full and its status in the chat are the same decision.
    assert (await s.victim_voice.status(a, w.case_id)).reference == voice.reference
    if may(a, Operation.RECORD_ACTIONS):  # the meeting board's: coordinator and chair
        assert set(await s.victim_voice.for_meeting(a, w.meeting_id)) == {w.case_id}
    return {voice.reference}


async def _idva_allocation(s: Services, a: Actor, w: World) -> Seen:
    choices = await s.idva.reassign_choices(a, w.case_id)
    return {choices.reference}


async def _victim_contact(s: Services, a: Actor, w: World) -> Seen:
    return {(await s.idva.contact_history(a, w.case_id)).reference}


async def _idva_oversight(s: Services, a: Actor, w: World) -> Seen:
    # Every case still waiting (the world's case is days from being overdue).
    return {item.reference for item in await s.idva.waiting(a, overdue_only=False)}


async def _reassessment(s: Services, a: Actor, w: World) -> Seen:
    target = await s.dash.begin(a, w.reference)
    assert (await s.dash.begin_by_id(a, w.case_id)).reference == target.reference
    preview = s.dash.preview(DashForm.SAFELIVES, "yes 1-16")
    recorded = await s.dash.record(a, w.case_id, DashForm.SAFELIVES, code=preview.code)
    assert recorded.dash_yes == 16
    return {target.reference}


async def _dvds(s: Services, a: Actor, w: World) -> Seen:
    # A Clare's Law application linked to the case, recorded once by the police (Sam).
    if not await s.dvds.for_case(w.people["referrer"], w.case_id):
        await s.dvds.create(
            w.people["referrer"], DvdsRoute.RIGHT_TO_ASK, "Jane Doe", "John Smith", w.reference
        )
    statuses = await s.dvds.for_case(a, w.case_id)
    # The list and the card's line are the same decision.
    assert bool(statuses) is bool(await s.dvds.listing(a))
    return {view.reference for view in statuses if view.reference}


async def _transfer(s: Services, a: Actor, w: World) -> Seen:
    return {(await s.transfers.destinations(a, w.case_id)).reference}


_ASKED: dict[int, int] = {}  # the world (by identity) -> the transfer asked in it


async def _transfer_request(s: Services, a: Actor, w: World) -> Seen:
    # A transfer asked of a third area (not the world's other area, who must see nothing),
    # once, by the coordinator who runs the case.
    if id(w) not in _ASKED:
        third = (await s.areas.ensure_area("Rutland")).id
        asked = await s.transfers.request(
            w.people["coordinator"], w.case_id, third, "The victim has moved to Rutland."
        )
        _ASKED[id(w)] = asked.id
        weakref.finalize(w, _ASKED.pop, id(w), None)  # an id is reused once the world is gone
    return {(await s.transfers.view_request(a, _ASKED[id(w)])).reference}


async def _handover(s: Services, a: Actor, w: World) -> Seen:
    found = await s.transfers.handover(a, w.case_id)
    # The case page's part: the same decision (shown once there is a note).
    if a == w.people["idva"]:
        await s.transfers.write_handover(a, w.case_id, "Texts only after six.")
    page = await s.transfers.read(a, w.case_id)
    assert page is None or page.reference == found.reference
    return {found.reference}


PATHS: dict[CasePath, Path_] = {
    CasePath.CASE_CARD: _case_card,
    CasePath.TRIAGE: _triage,
    CasePath.REPEAT_DECISION: _repeat_decision,
    CasePath.MUST_NOT_RECEIVE: _must_not_receive,
    CasePath.AGENDA: _agenda,
    CasePath.RESEARCH: _research,
    CasePath.ACTION_PLAN: _action_plan,
    CasePath.MINUTES: _minutes,
    CasePath.MINUTES_COPY: _minutes_copy,
    CasePath.ACTIONS_LIST: _actions_list,
    CasePath.ACTION_CARD: _action_card,
    CasePath.PERPETRATOR_REFERRALS: _perpetrator_referrals,
    CasePath.AUDIT_TRAIL: _audit_trail,
    CasePath.EARLY_ERASURE: _early_erasure,
    CasePath.NOTICE: _notice,
    CasePath.CASE_PAGE: _case_page,
    CasePath.RESEARCH_SHEET: _research_sheet,
    CasePath.MEETING_BOARD: _meeting_board,
    CasePath.ACTIONS_PAGE: _actions_page,
    CasePath.RESEARCH_MESSAGE: _research_message,
    CasePath.VICTIM_VOICE: _victim_voice,
    CasePath.IDVA_ALLOCATION: _idva_allocation,
    CasePath.VICTIM_CONTACT: _victim_contact,
    CasePath.IDVA_OVERSIGHT: _idva_oversight,
    CasePath.REASSESSMENT: _reassessment,
    CasePath.DVDS: _dvds,
    CasePath.TRANSFER: _transfer,
    CasePath.TRANSFER_REQUEST: _transfer_request,
    CasePath.HANDOVER: _handover,
}


async def walk(path: Path_, services: Services, actor: Actor, world: World) -> Seen:
    """What the person got: the references they were shown, or nothing when refused."""
    try:
        return await path(services, actor, world)
    except (NotFound, PermissionDenied):
        return set()
    except ServiceError as refusal:  # refused for a reason that names the case: it was seen
        return {world.reference} if world.reference in refusal.user_message else set()


async def policy_level(runtime: Runtime, actor: Actor, world: World) -> Level:
    async with runtime.sessions() as session:
        viewer = (await viewers(session, [actor.person_id]))[actor.person_id]
        facts = (await case_facts(session, [world.case_id]))[world.case_id]
    return case_access(viewer, facts, runtime.clock.now())


# The paths that list an agency's own work on the case, and the agencies that have some.
WORK: dict[CasePath, set[str | None]] = {
    CasePath.ACTIONS_LIST: {"Police", "Health", "Drive"},
    CasePath.ACTION_CARD: {"Police", "Health", "Drive"},
    CasePath.PERPETRATOR_REFERRALS: {"Drive"},
    CasePath.ACTIONS_PAGE: {"Police", "Health", "Drive"},
}


# Paths that decide something about the case, not only show it: seeing all of it (the
# IDVA service does) is not enough; it is for those who run the case or referred it.
DECIDES: dict[CasePath, set[str]] = {
    CasePath.REPEAT_DECISION: {"coordinator", "referrer"},
    # The IDVA service and the coordinators allocate an IDVA; only the one allocated records
    # her contact with the victim.
    CasePath.IDVA_ALLOCATION: {"coordinator", "idva", "idva colleague"},
    CasePath.VICTIM_CONTACT: {"idva"},
    # Clare's Law is the police's: they and the coordinator see its status, the allocated
    # IDVA too (she supports the victim through a disclosure); no other agency unless asked
    # to check (none is here).
    CasePath.DVDS: {"coordinator", "referrer", "idva"},
    # The coordinator who runs the case transfers it; a chair, who sees it all, does not.
    CasePath.TRANSFER: {"coordinator"},
    CasePath.TRANSFER_REQUEST: {"coordinator"},
}


def test_every_path_is_registered() -> None:
    assert set(PATHS) == set(CasePath)


@pytest.mark.parametrize("path", list(CasePath), ids=[p.name.lower() for p in CasePath])
async def test_each_person_gets_exactly_what_the_policy_allows(
    runtime: Runtime, clock: ManualClock, path: CasePath
) -> None:
    world = await build(runtime, clock)
    expected_levels = {
        # Written down, not read back from the policy: the policy is checked too.
        "coordinator": Level.FULL,
        "referrer": Level.REFERRAL,
        "other agency": Level.RESEARCH,  # invited, research open
        "idva": Level.FULL,  # the victim's advocate, allocated to the case
        "idva colleague": Level.RESEARCH,  # invited, research open; not the referral
        # Invited, and assessing: the research level, with the victim's part never opened.
        "perpetrator service": Level.RESEARCH,
        **{name: Level.NONE for name in KEPT_OUT},
    }
    for name, actor in world.people.items():
        level = await policy_level(runtime, actor, world)
        assert level == expected_levels[name], name
        seen = await walk(PATHS[path], runtime.services, actor, world)
        operation = PATH_OPERATIONS[path]
        permitted = operation is None or scope_for(actor.role, operation) is not None
        # An agency's own work is shown only to the agencies that have some on the case.
        works = actor.agency_name in WORK.get(path, {actor.agency_name})
        decides = name in DECIDES.get(path, {name})
        allowed = permitted and works and decides and level >= NEEDS[path]
        assert (world.reference in seen) is allowed, (
            f"{name} ({level.name}) through {path.value}: got {sorted(seen)}"
        )


async def test_every_view_is_recorded_against_the_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    s, priya = runtime.services, world.people["coordinator"]
    await s.actions.minutes(priya, world.meeting_id)
    await s.actions.get(world.people["referrer"], world.actions["Police"])
    await s.actions.open_for_agency(world.people["other agency"])
    await s.meetings.detail(world.people["other agency"], world.meeting_id)
    async with runtime.sessions() as session:
        rows = (
            await session.execute(
                select(AuditEvent.actor_person_id, AuditEvent.details).where(
                    AuditEvent.subject == world.reference, AuditEvent.action == "case.viewed"
                )
            )
        ).all()
    views = {(who, json.dumps(json.loads(details), sort_keys=True)) for who, details in rows}

    def seen(level: str, path: str, **extra: int) -> str:
        return json.dumps({"level": level, "path": path, **extra}, sort_keys=True)

    assert (priya.person_id, seen("full", "minutes", meeting=world.meeting_id)) in views
    assert (world.people["referrer"].person_id, seen("referral", "action card")) in views
    nia = world.people["other agency"].person_id
    assert (nia, seen("research", "actions list")) in views
    assert (nia, seen("research", "agenda", meeting=world.meeting_id)) in views
    trail = await s.audit.latest(priya, subject=world.reference, limit=50)
    assert any(line.details.get("path") == "minutes" for line in trail)


async def test_research_identifiers_close_after_the_meeting(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    nia = world.people["other agency"]
    card = await runtime.services.cases.card(nia, world.reference)
    assert card.identifying is not None and card.identifying.victim["name"] == "Jane Doe"
    assert card.identifying.safety is None  # the referral itself stays with those who run it
    clock.advance(timedelta(days=40))  # long after the meeting and its five working days
    card = await runtime.services.cases.card(nia, world.reference)
    assert card.identifying is None and card.level is Level.SUMMARY


# --- nothing leaves unregistered -------------------------------------------------------------

# Public service methods that never show or send a case, each with why; everything else
# must be a registered path above (or a helper the paths use).
NOT_CASE_PATHS: dict[str, str] = {
    "actions.read_line": "parses typed text against agency names",
    "actions.set_waiting_weeks": "a service's waiting time",
    "actions.chase_overdue": "queues notices: the NOTICE path",
    "actions.open_page": "ACTIONS_LIST (open_for_agency pages through it)",
    "actions.move": "ACTION_CARD: a press on an action card",
    "actions.colleagues": "ACTION_CARD: who may take it over, by the policy",
    "actions.reassign": "ACTION_CARD: and the notice to the colleague",
    "actions.move_perpetrator": "PERPETRATOR_REFERRALS: a press on a referral",
    "actions.summary": "ACTION_PLAN counts (checked in _action_plan)",
    "actions.recorded_count": "ACTION_PLAN",
    "actions.record": "ACTION_PLAN",
    "actions.undo": "ACTION_PLAN",
    "actions.close_meeting": "sends actions: the NOTICE path",
    "actions.record_risks": "ACTION_PLAN: the case is checked as for recording its actions",
    "actions.agree_confidentiality": "the meeting only, names no case",
    "actions.send_minutes": "tells reps their copy is ready (names no case): MINUTES_COPY",
    "agencies.add": "agencies only",
    "agencies.get": "agencies only",
    "agencies.list_for": "agencies only",
    "agencies.rename": "agencies only",
    "agencies.set_agreement": "agencies only",
    "agencies.queue_isa_reminders": "agencies only",
    "areas.ensure_area": "the area itself",
    "audit.record_refusal": "writes the trail",
    "audit.summarise_refusals": "counts of strangers' refusals, no case",
    "cases.accept": "TRIAGE",
    "cases.decline": "TRIAGE",
    "cases.card_by_id": "CASE_CARD",
    "confirmations.*": "who enrolled, confirmed or removed: people, never cases",
    "access_reviews.*": "who can use the bot, and the quarterly review: people, never cases",
    "closures.add": "the area's calendar",
    "closures.remove": "the area's calendar",
    "closures.today": "the area's calendar",
    "closures.upcoming": "the area's calendar",
    "enrolment.identify": "who is asking",
    "enrolment.redeem": "enrolment",
    "invites.issue": "invites",
    "invites.list_open": "invites",
    "invites.revoke": "invites",
    "invites.revoke_operator_invites": "invites",
    "meetings.calendar_file": "a calendar invitation names no case",
    "meetings.cancel": "meetings: cases moved on are not named",
    "meetings.check_day": "the calendar",
    "meetings.create": "meetings",
    "meetings.extend_series": "meetings",
    "meetings.item_meeting": "AGENDA (its item is checked)",
    "meetings.meeting_of_item": "RESEARCH_SHEET (its case is checked; NotFound otherwise)",
    "meetings.mark_emergency": "AGENDA (its item is checked)",
    "meetings.move": "meetings",
    "meetings.move_case": "AGENDA (its item is checked)",
    "meetings.move_up": "AGENDA (its item is checked)",
    "meetings.publish": "sends research requests: the NOTICE path",
    "meetings.publish_due": "publishes: the NOTICE path",
    "meetings.queue_morning_digests": "counts per coordinator, and references, through the policy",
    "meetings.record_research": "RESEARCH",
    "meetings.reply_attendance": "attendance names no case",
    "meetings.series_off_days": "the calendar",
    "meetings.upcoming": "AGENDA counts (checked in _agenda)",
    "audit_checkpoints.publish_due": "the audit chain's head and count, no case",
    "outbox.*": "sends what was queued; asks the policy again (NOTICE)",
    "people.*": "people, never cases",
    "policies.update": "thresholds",
    "referrals.*": "the referrer's own draft; notices go through NOTICE",
    "retention.audit_pruning_plan": "counts for the operator",
    "retention.confirm_erasure": "EARLY_ERASURE",
    "retention.due": "the operator's retention run (no person)",
    "retention.erase_due": "the operator's retention run (no person)",
    "retention.prune_audit_trail": "the operator's retention run (no person)",
    "retention.reclaim_erased_space": "vacuums after erasure (no person, no case)",
    "retention.rotate_keys_after_erasure": "keys only (no person, no case)",
    "retention.withdraw_erasure": "EARLY_ERASURE",
    "sensitive_messages.*": "message bookkeeping",
    "statistics.*": "area-wide figures from coded columns only, never a case",
    "subject_access.export": "the operator's export for the data subject, not a person's view",
    "victim_voice.record_engagement": "VICTIM_VOICE (the allocated IDVA only)",
    "victim_voice.record_wishes": "VICTIM_VOICE (the allocated IDVA only)",
    "victim_voice.confirm_outcome": "VICTIM_VOICE (the allocated IDVA only)",
    "victim_voice.follow_up_outcomes": "queues notices: the NOTICE path",
    "idva.take": "IDVA_ALLOCATION (the case is checked; NotFound otherwise)",
    "idva.reassign": "IDVA_ALLOCATION, and the notices to the IDVAs: the NOTICE path",
    "idva.record_contact": "VICTIM_CONTACT (the holder only; NotFound otherwise)",
    "dvds.create": "DVDS: the police only; a linked case is checked (NotFound otherwise)",
    "dvds.checking_agencies": "DVDS: the police only; agencies, no case",
    "dvds.request_check": "DVDS: the police only; the request names no case (dvds_parts)",
    "dvds.complete_check": "DVDS: an agency asked only (dvds_parts); names no case",
    "dvds.set_panel": "DVDS: the police only (dvds_parts)",
    "dvds.decide": "DVDS: the police only (dvds_parts)",
    "dvds.record_safety_plan": "DVDS: the police only (dvds_parts)",
    "dvds.get": "DVDS: an application by dvds_parts; its case's reference by case_access",
    "dvds.listing": "DVDS (checked in _dvds): applications by dvds_parts",
    "dvds.chase_overdue": "queues notices naming no case, to those dvds_parts lets see it",
    "transfers.request": "TRANSFER (checked as destinations is), and the request: NOTICE",
    "transfers.accept": "TRANSFER_REQUEST (a receiving coordinator only; NotFound otherwise)",
    "transfers.decline": "TRANSFER_REQUEST (a receiving coordinator only; NotFound otherwise)",
    "transfers.write_handover": "HANDOVER (the allocated IDVA only)",
}
PATH_METHODS = {
    "idva.reassign_choices",
    "idva.contact_history",
    "idva.waiting",
    "cases.card",
    "cases.status",
    "meetings.research_sheet",
    "meetings.research_case",
    "cases.request_information",
    "cases.decide_repeat",
    "cases.exclude",
    "meetings.detail",
    "meetings.research_item",
    "actions.plan_meetings",
    "actions.minutes",
    "actions.minutes_copy",
    "actions.minutes_to_read",
    "actions.minutes_outline",
    "actions.open_for_agency",
    "actions.get",
    "actions.perpetrator_referrals",
    "audit.latest",
    "retention.request_erasure",
    "victim_voice.read",
    "victim_voice.status",
    "victim_voice.for_meeting",
    "dash.begin",
    "dash.begin_by_id",
    "dash.record",
    "dvds.for_case",
    "transfers.destinations",
    "transfers.view_request",
    "transfers.handover",
    "transfers.read",
}


def test_every_public_service_method_is_a_path_or_says_why_not(runtime: Runtime) -> None:
    unclassified = []
    for name, service in vars(runtime.services).items():
        for method, _ in inspect.getmembers(type(service), inspect.iscoroutinefunction):
            if method.startswith("_"):
                continue
            key = f"{name}.{method}"
            if key in PATH_METHODS or key in NOT_CASE_PATHS or f"{name}.*" in NOT_CASE_PATHS:
                continue
            unclassified.append(key)
    assert not unclassified, f"register these as paths or say why they are not: {unclassified}"


def _kind(node: ast.expr | None) -> str:
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.JoinedStr):
        return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)
    return "?"


def _enqueue_calls() -> list[tuple[str, str, bool]]:
    """Every call to ``enqueue`` in the services: (file, kind, whether it passes case_ids)."""
    found = []
    services = ROOT / "bot" / "services"
    for path in sorted(services.rglob("*.py")):
        service = path.relative_to(services).parts[0].removesuffix(".py")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "enqueue":
                keywords = {k.arg: k.value for k in node.keywords if k.arg}
                found.append((service, _kind(keywords.get("kind")), "case_ids" in keywords))
    return found


# Messages that name no case, and so carry no case_ids: attendance and invitations, reminders
# that give only the meeting's time, the calendar, a person who cannot be reached, who
# enrolled (and that they were confirmed), the quarterly access review and leavers reminder,
# and the daily audit checkpoint (the chain's head and count). The digest names the cases
# waiting on the IDVA service, so it carries them. Every other message names a case
# and must pass case_ids, so the policy is asked when it is queued and again when it is sent.
CASE_FREE_KINDS = {
    ("meetings", "attendance_request"),
    ("meetings", "meeting_{}"),
    ("meetings", "research_due"),
    ("meetings", "attendance_chase"),
    ("meetings", "meeting_reminder_{}"),
    ("meetings", "series_off_days"),
    ("outbox", "UNREACHABLE_NOTICE_KIND"),
    ("agencies", "isa_review"),
    ("confirmations", "CHECK_KIND"),
    ("confirmations", "CONFIRMED_KIND"),
    ("access_review", "REVIEW_KIND"),
    ("access_review", "LEAVERS_KIND"),
    ("audit_checkpoints", "KIND"),
    ("actions", "minutes_due"),
    ("actions", "minutes_ready"),
    # Clare's Law messages name the application (CL-n), never the case; who may be sent
    # them is decided by ``bot.access.dvds_parts`` when they are queued.
    ("dvds", "dvds_check_{}"),
    ("dvds", "dvds_decision_chase"),
    ("dvds", "dvds_check_done"),
}


def test_every_message_naming_a_case_carries_it() -> None:
    calls = _enqueue_calls()
    assert len(calls) > 20, "too few enqueue calls found: the check is looking in the wrong place"
    free = {(file, kind) for file, kind, carries in calls if not carries}
    assert free == CASE_FREE_KINDS, (
        "a message without case_ids that is not declared case-free (or a declared one that "
        f"is gone): {free ^ CASE_FREE_KINDS}"
    )


async def test_a_reminder_queued_before_an_exclusion_is_not_sent(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    nia = world.people["other agency"]
    assert await _notice(runtime.services, nia, world) == {world.reference}
    await runtime.services.cases.exclude(world.people["coordinator"], world.case_id, nia.person_id)
    claimed = await runtime.services.outbox.claim_due(limit=500)
    assert all(
        message.person_id != nia.person_id or "test:" not in message.text for message in claimed
    )
    async with runtime.sessions() as session:
        row = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.dedupe_key == f"test:notice:{nia.person_id}")
        )
    assert row is not None and row.sent_at is None
    assert row.last_error == "recipient may not receive this case"


async def test_an_action_for_an_agency_nobody_may_receive_is_flagged(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    s, priya = runtime.services, world.people["coordinator"]
    # A second meeting, and an action for Health, whose two reps are then both excluded.
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
    for person_id in (world.people["other agency"].person_id, world.spare_id):
        await s.cases.exclude(priya, world.case_id, person_id)
    view = await s.actions.record(
        priya,
        meeting.id,
        world.case_id,
        ActionDraft("Health", "GP to review again", None, "normal"),
    )
    assert view.unreachable
    police = await s.actions.record(
        priya, meeting.id, world.case_id, ActionDraft("Police", "visit again", None, "normal")
    )
    assert not police.unreachable
    closed = await s.actions.close_meeting(priya, meeting.id)
    assert closed.unreached == [(world.reference, "Health")]
    async with runtime.sessions() as session:
        queued = set(
            await session.scalars(
                select(OutboxMessage.person_id).where(
                    OutboxMessage.kind == "action_assigned",
                    OutboxMessage.dedupe_key.like(f"action:{view.id}:%"),
                )
            )
        )
    assert queued == set()


async def test_notices_queued_before_the_list_changed_reach_nobody_kept_out(
    runtime: Runtime, clock: ManualClock
) -> None:
    """The triage notices went to every coordinator before two of them were put on the
    list, and the leaver's went before they left: sending asks the policy again."""
    world = await build(runtime, clock)
    claimed = await runtime.services.outbox.claim_due(limit=1000)
    assert claimed, "nothing was queued: the world is not what this test expects"
    kept_out = {world.people[name].person_id for name in KEPT_OUT}
    async with runtime.sessions() as session:
        rows = {
            row.id: row
            for row in await session.scalars(
                select(OutboxMessage).where(OutboxMessage.case_ids.is_not(None))
            )
        }
    for message in claimed:
        row = rows.get(message.id)
        named = {int(c) for c in row.case_ids.split(",")} if row and row.case_ids else set()
        if world.case_id in named:
            assert message.person_id not in kept_out, message.kind
    refused = [r for r in rows.values() if r.last_error == "recipient may not receive this case"]
    assert {r.person_id for r in refused} >= {world.people["excluded coordinator"].person_id}, (
        "the excluded coordinator's triage notice should have been stopped at sending"
    )

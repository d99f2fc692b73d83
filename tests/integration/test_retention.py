"""Retention and early erasure, on both databases.

A case is kept 6 years after it was last heard (or referred, if never heard) and
erased the day after: its data key is destroyed, its rows deleted, and the audit
trail keeps a ``retention.erased`` event with the reference and the rule only.
Early erasure needs one coordinator's request and a different coordinator's
confirmation.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.cli import main as marac_main
from bot.clock import ManualClock
from bot.errors import NotFound, ServiceError
from bot.meetings.recurrence import Repeat
from bot.permissions import PermissionDenied
from bot.runtime import Runtime, open_runtime
from bot.services.actions import action_context
from bot.services.meetings import research_context
from bot.services.referrals import case_context
from bot.services.retention import (
    DRAFT_RULE,
    ERASED_ACTION,
    ErasureItem,
    RetentionService,
    add_years,
)
from bot.vocabulary import Role
from config import load_settings
from storage.audit import verify_chain
from storage.crypto import CryptoError, KeyRing
from storage.models import (
    Action,
    ActionStep,
    AgendaItem,
    AuditEvent,
    Case,
    CaseEvent,
    CaseExclusion,
    DataKey,
    OutboxMessage,
    PerpetratorReferral,
    PerpetratorStep,
    ReferralDraft,
    ResearchReturn,
)
from storage.vault import Vault
from tests.support.retention import (
    ACTION_TEXT,
    AREA,
    DECLINE_NOTE,
    INFO_NOTE,
    PERP_REASON,
    RESEARCH_NOTE,
    STEP_NOTE,
    build_world,
    enrol,
    governance,
    table_counts,
    victim,
)
from tests.support.service_scenarios import refer

RULE = "case: 6 years after last heard"
NAMES = ("Jane Doe", "John Doe", "Mary Major", "Ann Smith", "Beth Jones", "Wendy Wrong")


def case_items(items: list[ErasureItem]) -> list[int | None]:
    return [item.case_id for item in items if item.kind == "case"]


async def rows_of_case(runtime: Runtime, case_id: int) -> dict[str, int]:
    async with runtime.sessions() as session:
        actions = select(Action.id).where(Action.case_id == case_id)
        referrals = select(PerpetratorReferral.id).where(PerpetratorReferral.case_id == case_id)
        items = select(AgendaItem.id).where(AgendaItem.case_id == case_id)
        queries = {
            "cases": select(func.count()).where(Case.id == case_id),
            "case_events": select(func.count()).where(CaseEvent.case_id == case_id),
            "exclusions": select(func.count()).where(CaseExclusion.case_id == case_id),
            "agenda_items": select(func.count()).where(AgendaItem.case_id == case_id),
            "research": select(func.count()).where(ResearchReturn.agenda_item_id.in_(items)),
            "actions": select(func.count()).where(Action.case_id == case_id),
            "action_steps": select(func.count()).where(ActionStep.action_id.in_(actions)),
            "perp_referrals": select(func.count()).where(PerpetratorReferral.case_id == case_id),
            "perp_steps": select(func.count()).where(PerpetratorStep.referral_id.in_(referrals)),
            "outbox": select(func.count()).where(
                OutboxMessage.dedupe_key.startswith(f"case:{case_id}:")
            ),
        }
        return {name: int(await session.scalar(query) or 0) for name, query in queries.items()}


# ---------------------------------------------------------------------------
# The rule
# ---------------------------------------------------------------------------


def test_add_years_never_erases_a_leap_day_early() -> None:
    assert add_years(date(2026, 12, 10), 6) == date(2032, 12, 10)
    assert add_years(date(2024, 2, 29), 6) == date(2030, 3, 1)


async def test_due_is_six_years_after_last_heard_or_referral(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    service = RetentionService(runtime.deps)

    async def due_on(day: date) -> list[int | None]:
        return case_items(await service.due(day))

    # Never heard: by referral date (26 Nov 2026 and 28 Nov 2026).
    assert await due_on(date(2032, 11, 26)) == []  # exactly 6 years: still kept
    assert await due_on(date(2032, 11, 27)) == [world.declined]  # 6 years + 1 day
    assert await due_on(date(2032, 11, 28)) == [world.declined]  # the later one: 6 years
    assert await due_on(date(2032, 11, 29)) == [world.declined, world.declined_later]
    # Heard on 10 Dec 2026: kept at 6 years - 1 day and on the day, erased the day after.
    assert world.full not in await due_on(date(2032, 12, 9))
    assert world.full not in await due_on(date(2032, 12, 10))
    assert await due_on(date(2032, 12, 11)) == [
        world.declined,
        world.declined_later,
        world.full,
    ]
    # Listed at meeting 1, moved to meeting 2 (17 Dec 2026): the move counts, not meeting 1.
    assert world.moved not in await due_on(date(2032, 12, 17))
    assert world.moved in await due_on(date(2032, 12, 18))

    items = {item.case_id: item for item in await service.due(date(2032, 12, 18))}
    assert items[world.full].last_heard == date(2026, 12, 10)
    assert items[world.moved].last_heard == date(2026, 12, 17)
    assert items[world.declined].last_heard == date(2026, 11, 26)
    assert {item.rule for item in items.values()} == {RULE}
    assert items[world.full].reference.startswith("NOR-2026-")


async def test_a_case_listed_at_a_future_meeting_is_never_due(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    # Heard long ago, but listed again at a meeting years later: that listing counts.
    clock.set(datetime(2032, 11, 1, 9, tzinfo=UTC))
    (later,) = (
        await runtime.services.meetings.create(
            world.cora, first_date=date(2033, 1, 13), start=time(10), repeat=Repeat.ONE_OFF
        )
    ).meetings
    async with runtime.sessions.begin() as session:
        session.add(
            AgendaItem(
                meeting_id=later.id,
                case_id=world.full,
                position=1,
                added_at=clock.now(),
                added_by_id=world.cora.person_id,
            )
        )
    service = RetentionService(runtime.deps)
    assert world.full not in case_items(await service.due(date(2033, 1, 1)))
    assert world.full not in case_items(await service.due(date(2039, 1, 13)))
    assert world.full in case_items(await service.due(date(2039, 1, 14)))


async def test_per_area_override_changes_the_period(runtime: Runtime, clock: ManualClock) -> None:
    world = await build_world(runtime, clock)
    service = RetentionService(runtime.deps, case_years={world.area_id: 3})
    items = await service.due(date(2029, 11, 27))
    assert case_items(items) == [world.declined]
    assert items[0].rule == "case: 3 years after last heard"
    with pytest.raises(ValueError):
        RetentionService(runtime.deps, case_years={world.area_id: 0})


# ---------------------------------------------------------------------------
# Erasing
# ---------------------------------------------------------------------------


async def test_erasure_shreds_the_key_deletes_the_rows_and_keeps_the_chain(
    runtime: Runtime, clock: ManualClock, key_ring: KeyRing
) -> None:
    world = await build_world(runtime, clock)
    # Copies of ciphertext taken before erasure, as a backup or a dump would hold them.
    async with runtime.sessions() as session:
        case = await session.get(Case, world.full)
        assert case is not None and case.data_key_id and case.victim_sealed
        key_id, victim_copy = case.data_key_id, bytes(case.victim_sealed)
        action = await session.scalar(
            select(Action).where(Action.case_id == world.full).order_by(Action.id)
        )
        assert action is not None and action.text_sealed is not None
        action_id, action_copy = action.id, bytes(action.text_sealed)
        research = await session.scalar(select(ResearchReturn))
        assert research is not None and research.note_sealed is not None
        research_id, research_copy = research.id, bytes(research.note_sealed)
        # Before: the copies open.
        opened = await runtime.vault.open(
            session, key_id, case_context(world.full, "victim_sealed"), victim_copy
        )
        assert "Jane Doe" in opened
        moved = await session.get(Case, world.moved)
        assert moved is not None and moved.data_key_id is not None
        moved_key = moved.data_key_id
    before = {name: await rows_of_case(runtime, case_id) for name, case_id in world.ids.items()}
    assert all(before["full"][table] for table in before["full"] if table != "outbox")

    service = RetentionService(runtime.deps)
    erased = await service.erase_due(date(2032, 12, 11))
    assert case_items(erased) == [world.declined, world.declined_later, world.full]

    for name in ("full", "declined", "declined_later"):
        assert set((await rows_of_case(runtime, world.ids[name])).values()) == {0}, name
    assert await rows_of_case(runtime, world.moved) == before["moved"]  # untouched

    async with runtime.sessions() as session:
        assert await session.get(DataKey, key_id) is None
        assert await session.get(DataKey, moved_key) is not None
        for vault in (runtime.vault, Vault(key_ring)):
            with pytest.raises(CryptoError):
                await vault.open(
                    session, key_id, case_context(world.full, "victim_sealed"), victim_copy
                )
            with pytest.raises(CryptoError):
                await vault.open(session, key_id, action_context(action_id), action_copy)
            with pytest.raises(CryptoError):
                await vault.open(session, key_id, research_context(research_id), research_copy)

        report = await verify_chain(session)
        assert report.intact, report
        events = list(
            await session.scalars(select(AuditEvent).where(AuditEvent.action == ERASED_ACTION))
        )
        all_audit = list(await session.scalars(select(AuditEvent)))
    references = {e.subject for e in events}
    assert len(events) == 3 and len(references) == 3
    assert all(f'"rule":"{RULE}"' in e.details for e in events)
    assert all(e.actor_label == "system" and e.actor_person_id is None for e in events)
    secrets = (*NAMES, RESEARCH_NOTE, ACTION_TEXT, STEP_NOTE, PERP_REASON, INFO_NOTE)
    for event in all_audit:
        text = f"{event.subject} {event.details} {event.actor_label}"
        assert not any(secret in text for secret in secrets), event.action

    # The case still kept is whole: its card opens with the names.
    card = await runtime.services.cases.card_by_id(world.cora, world.moved)
    assert card.identifying is not None and card.identifying.victim["name"] == "Mary Major"
    # Erasing again finds nothing more.
    assert await service.erase_due(date(2032, 12, 11)) == []


async def test_dry_run_changes_nothing(runtime: Runtime, clock: ManualClock) -> None:
    world = await build_world(runtime, clock)
    service = RetentionService(runtime.deps)
    today = date(2032, 12, 18)
    before = await table_counts(runtime)
    listed = await service.erase_due(today, dry_run=True)
    assert listed == await service.due(today)
    assert set(case_items(listed)) == set(world.ids.values())
    assert await table_counts(runtime) == before


async def test_expired_drafts_are_listed_and_erased(runtime: Runtime, clock: ManualClock) -> None:
    world = await build_world(runtime, clock)
    clock.set(datetime(2026, 11, 26, 9, tzinfo=UTC))
    await runtime.services.referrals.start(world.police_rep)  # expires 3 Dec 2026 09:00
    async with runtime.sessions() as session:
        draft = await session.scalar(select(ReferralDraft))
        assert draft is not None and draft.data_key_id is not None
        draft_id, draft_key = draft.id, draft.data_key_id
    service = RetentionService(runtime.deps)
    assert await service.due(date(2026, 12, 3)) == []
    (item,) = await service.due(date(2026, 12, 4))
    assert (item.kind, item.reference, item.rule) == ("draft", f"draft:{draft_id}", DRAFT_RULE)

    assert await service.erase_due(date(2026, 12, 4)) == [item]
    async with runtime.sessions() as session:
        assert await session.get(ReferralDraft, draft_id) is None
        assert await session.get(DataKey, draft_key) is None
        event = await session.scalar(select(AuditEvent).where(AuditEvent.action == ERASED_ACTION))
        assert event is not None and event.subject == f"draft:{draft_id}"
        assert (await verify_chain(session)).intact


async def test_audit_events_go_seven_years_on_and_the_chain_still_verifies(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Case erasure leaves its ``retention.erased`` events; audit pruning only takes the old."""
    await build_world(runtime, clock)  # audit events on 26 and 28 Nov 2026
    service = RetentionService(runtime.deps)
    assert (await service.audit_pruning_plan(date(2033, 11, 26))).due == 0
    assert (await service.audit_pruning_plan(date(2033, 11, 27))).due > 0
    clock.set(datetime(2033, 12, 31, 2, 30, tzinfo=UTC))
    erased = await service.erase_due()
    before = await table_counts(runtime)
    report = await service.prune_audit_trail()
    assert report.pruned == before["audit_events"] - len(erased)  # all but this night's
    async with runtime.sessions() as session:
        kept = list(await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
        assert (await verify_chain(session)).intact
    assert kept == [ERASED_ACTION] * len(erased) + ["audit.pruned"]


# ---------------------------------------------------------------------------
# Early erasure: a request and a second coordinator's confirmation
# ---------------------------------------------------------------------------


async def test_early_erasure_needs_a_second_different_coordinator(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    services = runtime.services
    service = RetentionService(runtime.deps)
    other_area = (await services.areas.ensure_area("Leicestershire")).id
    outsider = await enrol(runtime, 2001, "Lei Coord", area_id=other_area, role=Role.COORDINATOR)
    wrong = await refer(runtime, world.police_rep, typed=victim("Wendy Wrong"))
    # The same victim again: the new case points at the wrong one as a possible repeat.
    again = await refer(runtime, world.police_rep, typed=victim("Wendy Wrong"))
    assert again.possible_repeat_of == wrong.reference

    with pytest.raises(ServiceError):
        await service.request_erasure(world.cora, wrong.case_id, "she asked nicely")
    with pytest.raises(ServiceError):  # nothing requested yet
        await service.confirm_erasure(world.colin, wrong.case_id)
    for not_coordinator in (world.chair, world.police_rep):
        with pytest.raises(PermissionDenied):
            await service.request_erasure(not_coordinator, wrong.case_id, "wrong_person")

    assert await service.request_erasure(world.cora, wrong.case_id, "wrong_person") == (
        wrong.reference
    )
    with pytest.raises(ServiceError):  # the requester cannot confirm their own request
        await service.confirm_erasure(world.cora, wrong.case_id)
    with pytest.raises(PermissionDenied):
        await service.confirm_erasure(world.chair, wrong.case_id)
    with pytest.raises(NotFound):  # another area's coordinator does not see the case
        await service.confirm_erasure(outsider, wrong.case_id)
    assert (await rows_of_case(runtime, wrong.case_id))["cases"] == 1

    item = await service.confirm_erasure(world.colin, wrong.case_id)
    assert (item.reference, item.rule) == (wrong.reference, "early: wrong_person")
    assert set((await rows_of_case(runtime, wrong.case_id)).values()) == {0}
    async with runtime.sessions() as session:
        events = list(
            await session.scalars(
                select(AuditEvent)
                .where(AuditEvent.subject == wrong.reference)
                .order_by(AuditEvent.seq)
            )
        )
        pointer = await session.scalar(
            select(CaseEvent.related_case_id).where(
                CaseEvent.case_id == again.case_id, CaseEvent.kind == "repeat_suggested"
            )
        )
        assert (await verify_chain(session)).intact
    assert pointer is None  # no dangling pointer to an erased (and maybe reused) id
    by_action = {e.action: e for e in events}
    assert by_action["case.erasure_requested"].details == '{"reason":"wrong_person"}'
    assert by_action["case.erasure_confirm"].outcome == "refused"
    erased = by_action[ERASED_ACTION]
    assert erased.actor_person_id == world.colin.person_id
    assert '"rule":"early: wrong_person"' in erased.details
    assert f'"requested_by":{world.cora.person_id}' in erased.details
    assert "Wendy" not in erased.details


async def test_a_request_can_be_withdrawn_and_a_reused_id_starts_clean(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    service = RetentionService(runtime.deps)
    newest = await refer(runtime, world.police_rep, typed=victim("Wendy Wrong"))

    await service.request_erasure(world.colin, newest.case_id, "other")
    await service.withdraw_erasure(world.cora, newest.case_id)
    with pytest.raises(ServiceError):
        await service.confirm_erasure(world.cora, newest.case_id)
    await service.request_erasure(world.colin, newest.case_id, "legal_instruction")
    item = await service.confirm_erasure(world.cora, newest.case_id)
    assert item.rule == "early: legal_instruction"

    # The next referral may get the same id on SQLite: its notifications must still queue.
    following = await refer(runtime, world.police_rep, typed=victim("Nora New"))
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.text).where(
                OutboxMessage.dedupe_key.startswith(f"case:{following.case_id}:triage:")
            )
        )
        texts = dict(rows.tuples().all())
    for coordinator in (world.cora, world.colin):
        text = texts[f"case:{following.case_id}:triage:{coordinator.person_id}"]
        assert following.reference in text and newest.reference not in text


# ---------------------------------------------------------------------------
# marac-bot retention
# ---------------------------------------------------------------------------


@pytest.fixture
def operator_env(database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in list(os.environ):
        if name.startswith("MARAC_") and name not in {"MARAC_REQUIRE_POSTGRES"}:
            monkeypatch.delenv(name)
    key_file = tmp_path / "keys.json"
    monkeypatch.setenv("MARAC_DATABASE_URL", database_url)
    monkeypatch.setenv("MARAC_KEY_FILE", str(key_file))
    monkeypatch.setenv("MARAC_BOT_USERNAME", "northants_marac_bot")
    return key_file


async def _old_and_new_case() -> tuple[str, str]:
    """A case declined in March 2018 (due by now) and one referred today (not due)."""
    clock = ManualClock(datetime(2018, 3, 1, 10, tzinfo=UTC))
    runtime = open_runtime(load_settings(), clock=clock)
    try:
        area = (await runtime.services.areas.ensure_area(AREA)).id
        cora = await enrol(runtime, 1001, "Cora Ordinator", area_id=area, role=Role.COORDINATOR)
        old = await refer(runtime, cora, typed=victim("Ann Smith"))
        await runtime.services.cases.decline(cora, old.case_id, DECLINE_NOTE)
        clock.set(datetime.now(UTC))
        new = await refer(runtime, cora, typed=victim("Beth Jones"))
        return old.reference, new.reference
    finally:
        await runtime.close()


async def _references() -> set[str]:
    runtime = open_runtime(load_settings())
    try:
        async with runtime.sessions() as session:
            return set(await session.scalars(select(Case.reference)))
    finally:
        await runtime.close()


def test_retention_command_lists_then_erases_and_never_names(
    operator_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert marac_main(["init", "--area", AREA]) == 0
    old, new = asyncio.run(_old_and_new_case())
    capsys.readouterr()

    assert governance(["retention", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert old in out and new not in out and "dry run" in out
    assert RULE in out and "last heard 1 Mar 2018" in out
    assert not any(name in out for name in NAMES)
    assert asyncio.run(_references()) == {old, new}

    assert governance(["retention", "--dry-run", "--today", "2099-01-01"]) == 0
    out = capsys.readouterr().out
    assert old in out and new in out

    # Erasing ahead of time is what early erasure (two coordinators) is for.
    assert governance(["retention", "--today", "2099-01-01"]) == 2
    assert "--dry-run" in capsys.readouterr().err
    assert asyncio.run(_references()) == {old, new}

    key_before = json.loads(operator_env.read_text())["active"]
    assert governance(["retention"]) == 0
    out = capsys.readouterr().out
    assert old in out and "erased" in out and not any(name in out for name in NAMES)
    assert asyncio.run(_references()) == {new}
    # The erasure is followed by a new key-encryption key; the old one is gone from the file,
    # so a backup of the database taken before cannot open the erased case with these keys.
    assert "Keys:" in out
    keys_after = json.loads(operator_env.read_text())
    assert keys_after["active"] != key_before
    assert key_before not in json.dumps(keys_after)
    assert governance(["retention"]) == 0
    out = capsys.readouterr().out
    assert "nothing is due" in out and "Keys:" not in out  # nothing erased, no rotation
    assert marac_main(["audit", "verify"]) == 0


async def test_area_policy_sets_the_retention_period(runtime: Runtime) -> None:
    """`marac-bot policy --retention-years 2` shortens the period for that area only."""
    from datetime import timedelta as _td

    from bot.services.retention import RetentionService as _Retention

    area = await runtime.services.areas.ensure_area("Northamptonshire")
    await runtime.services.policies.update("Northamptonshire", {"case_retention_years": 2})
    issued = await runtime.services.invites.issue(None, area_id=area.id, role=Role.COORDINATOR)
    actor = (await runtime.services.enrolment.redeem(901, "Cora Ordinator", issued.code)).actor
    assert actor is not None
    submitted = await refer(runtime, actor)
    service = _Retention(runtime.deps)
    today = runtime.clock.now().date()
    assert [i.reference for i in await service.due(today + _td(days=2 * 366))] == [
        submitted.reference
    ]
    assert await service.due(today + _td(days=700)) == []

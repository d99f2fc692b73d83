"""Subject access export, on both databases: every piece of a case, decrypted, and audited."""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.cli import main as marac_main
from bot.clock import ManualClock
from bot.errors import NotFound
from bot.runtime import Runtime, open_runtime
from bot.services.subject_access import EXPORTED_ACTION, SubjectAccessService
from bot.vocabulary import ContactOutcome, Engagement, Role
from config import load_settings
from storage.audit import verify_chain
from storage.models import AuditEvent, Case
from tests.support.access_world import build as access_world
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
    victim,
)
from tests.support.service_scenarios import refer


async def reference_of(runtime: Runtime, case_id: int) -> str:
    async with runtime.sessions() as session:
        case = await session.get(Case, case_id)
        assert case is not None
        return case.reference


async def test_export_holds_every_piece_and_is_itself_audited(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    reference = await reference_of(runtime, world.full)
    async with runtime.sessions() as session:
        events_before = int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)

    raw = await SubjectAccessService(runtime.deps).export(reference.lower())
    assert raw.endswith(b"\n") and b'\n  "reference"' in raw  # pretty, UTF-8
    doc: dict[str, Any] = json.loads(raw.decode("utf-8"))

    assert doc["reference"] == reference and doc["area"] == AREA
    assert doc["victim"]["name"] == "Jane Doe" and doc["victim"]["address"] == "12 Elm Road"
    assert doc["perpetrator"]["name"] == "John Doe"
    assert doc["safety"]["safe_details"] == "Call after 6pm only"
    assert doc["risk"]["dash"] and "urgent_reasons" in doc["risk"]
    assert doc["household"]["children_ages"] == [7, 4]
    assert [child["name"] for child in doc["household"]["children"]] == ["Mia Doe", "Leo Doe"]
    assert doc["summary"] == "Threatened with a knife last week."
    assert doc["case"]["criterion"] and doc["case"]["children_count"] == 2
    assert doc["case"]["referring_agency"] == "Northants Police"

    kinds = [event["kind"] for event in doc["case_events"]]
    assert kinds[0] == "submitted" and "accepted" in kinds and "person_excluded" in kinds
    assert any(event["note"] == INFO_NOTE for event in doc["case_events"])
    (research,) = doc["research_returns"]
    assert research["note"] == RESEARCH_NOTE and research["agency"] == "Northants Police"
    assert research["meeting_starts_at"].startswith("2026-12-10")
    police, pathways = doc["actions"]
    assert police["text"] == ACTION_TEXT and police["agency"] == "Northants Police"
    assert [step["state"] for step in police["steps"]] == ["assigned", "accepted", "done"]
    assert police["steps"][-1]["note"] == STEP_NOTE
    assert pathways["agency"] == "Change Pathways"
    (perp,) = doc["perpetrator_referrals"]
    assert perp["service"] == "Change Pathways"
    assert perp["steps"][-1] == {**perp["steps"][-1], "state": "ended", "reason": PERP_REASON}
    assert [item["meeting_starts_at"][:10] for item in doc["agenda"]] == ["2026-12-10"]
    assert doc["exclusions"] == [
        {
            "person_id": world.chair.person_id,
            "added_at": doc["exclusions"][0]["added_at"],
            "added_by_person_id": world.cora.person_id,
        }
    ]

    trail = doc["audit_trail"]
    actions = [entry["action"] for entry in trail]
    for expected in ("case.referred", "case.accepted", "research.information", "action.done"):
        assert expected in actions
    referred = trail[actions.index("case.referred")]
    assert referred["who"] == {
        "person_id": world.police_rep.person_id,
        "label": "person",
        "role": "agency_rep",
    }
    assert EXPORTED_ACTION not in actions  # the export lists what came before it

    async with runtime.sessions() as session:
        last = await session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
        total = int(await session.scalar(select(func.count()).select_from(AuditEvent)) or 0)
        assert (await verify_chain(session)).intact
    assert total == events_before + 1
    assert last is not None and last.action == EXPORTED_ACTION
    assert (last.subject, last.actor_label, last.actor_person_id) == (reference, "cli", None)
    assert "Jane" not in last.details


async def test_export_of_a_never_heard_case_and_of_no_case(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    reference = await reference_of(runtime, world.declined)
    doc = json.loads(await SubjectAccessService(runtime.deps).export(reference))
    assert doc["victim"]["name"] == "Ann Smith"
    assert doc["agenda"] == [] and doc["actions"] == [] and doc["research_returns"] == []
    assert any(event["note"] == DECLINE_NOTE for event in doc["case_events"])

    async with runtime.sessions() as session:
        before = await session.scalar(select(func.count()).select_from(AuditEvent))
    with pytest.raises(NotFound):
        await SubjectAccessService(runtime.deps).export("NOR-1999-0001")
    async with runtime.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEvent)) == before


# ---------------------------------------------------------------------------
# marac-bot sar export
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


async def _one_case() -> str:
    runtime = open_runtime(load_settings())
    try:
        area = (await runtime.services.areas.ensure_area(AREA)).id
        cora = await enrol(runtime, 1001, "Cora Ordinator", area_id=area, role=Role.COORDINATOR)
        return (await refer(runtime, cora, typed=victim("Ann Smith"))).reference
    finally:
        await runtime.close()


def test_sar_export_command_writes_a_private_file_once(
    operator_env: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert marac_main(["init", "--area", AREA]) == 0
    reference = asyncio.run(_one_case())
    capsys.readouterr()

    out = tmp_path / "export.json"
    assert governance(["sar", "export", reference, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert str(out) in printed and "Ann Smith" not in printed
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    content = out.read_bytes()
    assert json.loads(content)["victim"]["name"] == "Ann Smith"

    # Never overwrites, and a refused export is not recorded as one.
    assert governance(["sar", "export", reference, "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert out.read_bytes() == content

    missing = tmp_path / "missing.json"
    assert governance(["sar", "export", "NOR-1999-0001", "--out", str(missing)]) == 2
    assert "no case" in capsys.readouterr().err and not missing.exists()

    monkeypatch.chdir(tmp_path)
    assert governance(["sar", "export", reference.lower()]) == 0
    (default,) = tmp_path.glob(f"sar-{reference}-*.json")
    assert stat.S_IMODE(default.stat().st_mode) == 0o600

    async def exports() -> int:
        runtime = open_runtime(load_settings())
        try:
            async with runtime.sessions() as session:
                rows = await session.scalars(
                    select(AuditEvent).where(AuditEvent.action == EXPORTED_ACTION)
                )
                return sum(1 for row in rows if row.subject == reference)
        finally:
            await runtime.close()

    assert asyncio.run(exports()) == 2
    assert marac_main(["audit", "verify"]) == 0


async def test_export_holds_the_idvas_work_with_the_victim(
    runtime: Runtime, clock: ManualClock
) -> None:
    """Who held the case, each contact attempt, the victim's engagement and her views, each
    DASH and the chair's risk summary (opened: the data protection officer gives them back)."""
    world = await access_world(runtime, clock)
    jo = world.people["idva"]
    s = runtime.services
    await s.actions.record_risks(
        world.people["coordinator"], world.meeting_id, world.case_id, "Strangulation; escalating."
    )
    await s.idva.record_contact(jo, world.case_id, ContactOutcome.NOT_REACHED)
    await s.idva.record_contact(jo, world.case_id, ContactOutcome.CONTACTED)
    await s.victim_voice.record_engagement(jo, world.case_id, Engagement.ENGAGING)
    await s.victim_voice.record_wishes(jo, world.case_id, "She wants to stay in her home.")

    doc: dict[str, Any] = json.loads(
        await SubjectAccessService(runtime.deps).export(world.reference)
    )
    assert [a["idva_person_id"] for a in doc["idva_allocations"]] == [jo.person_id]
    assert [c["outcome"] for c in doc["victim_contacts"]] == ["not_reached", "contacted"]
    assert [v["engagement"] for v in doc["victim_voice"]] == ["engaging", None]
    assert doc["victim_voice"][-1]["views"] == "She wants to stay in her home."
    assert doc["victim_told_outcome"] == []
    # The referral's own checklist is the first assessment.
    (first,) = doc["dash_assessments"]
    assert first["dash_yes"] == doc["case"]["dash_yes"]
    (risk,) = doc["risk_summaries"]
    assert (
        risk["summary"] == "Strangulation; escalating." and risk["meeting_id"] == world.meeting_id
    )

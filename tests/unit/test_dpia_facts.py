"""Facts docs/dpia.md states about the code that no other test checks, and its generated parts."""

from __future__ import annotations

import ast
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from bot.cli.main import build_parser
from bot.launch_data import MAX_AGE
from bot.referrals import flow
from bot.referrals.criteria import Thresholds
from bot.referrals.validation import InputError
from bot.services.retention import CASE_RETENTION_YEARS, DRAFT_RETENTION_DAYS
from bot.workspace.sessions import SESSION_LENGTH
from config.settings import Settings
from storage.audit_retention import AUDIT_RETENTION_YEARS
from storage.models import AreaPolicy
from tests.support.dpia import (
    DPIA,
    POLICY_OPTIONS,
    SECTIONS,
    all_columns,
    listed_columns,
    section,
)

ROOT = Path(__file__).resolve().parents[2]
BLIND_INDEXES = {
    ("cases", "victim_index"),
    ("cases", "perpetrator_index"),
    ("case_transfers", "victim_index"),
}
KINDS = ("sealed", "coded", "blind index", "hash", "clear")
TODAY = date(2027, 3, 1)


@pytest.mark.parametrize("name", list(SECTIONS))
def test_the_generated_sections_match_the_code(name: str) -> None:
    """Regenerate with ``python -m tests.support.dpia`` when this fails."""
    assert section(DPIA.read_text(), name) == SECTIONS[name]()


def test_every_sealed_column_and_blind_index_is_listed_with_its_kind() -> None:
    listed = listed_columns(DPIA.read_text())
    columns = all_columns()
    for (table, column), kind in listed.items():
        assert column in columns.get(table, set()), f"{table}.{column} is not in the schema"
        assert kind.startswith(KINDS), f"{table}.{column}: unknown kind {kind!r}"
        assert kind.startswith("sealed") is column.endswith("_sealed"), f"{table}.{column}"
        assert kind.startswith("blind index") is ((table, column) in BLIND_INDEXES)
    sealed = {(t, c) for t, cs in columns.items() for c in cs if c.endswith("_sealed")}
    assert sealed - set(listed) == set(), "sealed columns missing from docs/dpia.md"
    assert set(listed) >= BLIND_INDEXES
    # Every coded column of a case that the statistics read is listed too.
    case_columns = columns["cases"]
    coded = {c for c in case_columns if c.startswith(("victim_", "perpetrator_", "dash_"))}
    coded -= {"victim_index", "perpetrator_index", "victim_sealed", "perpetrator_sealed"}
    assert {("cases", c) for c in coded} <= set(listed)


def _names_used(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)}
    names |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    return names


def test_statistics_never_open_a_sealed_value() -> None:
    """The statistics service and rules name no sealed column and never use the vault."""
    files = [
        ROOT / "bot" / "services" / "statistics.py",
        *sorted((ROOT / "bot" / "stats").glob("*.py")),
    ]
    for file in files:
        used = _names_used(file)
        assert not {n for n in used if n.endswith("_sealed")}, file
        assert "vault" not in used, file
        assert not re.search(r"\.open\(", file.read_text()), file


def test_the_retention_defaults() -> None:
    defaults = {c.name: c.default.arg for c in AreaPolicy.__table__.columns if c.default}
    assert CASE_RETENTION_YEARS == defaults["case_retention_years"] == 6
    assert DRAFT_RETENTION_DAYS == defaults["draft_ttl_days"] == 7
    assert AUDIT_RETENTION_YEARS == 7
    ttl = Settings.model_fields["sensitive_message_ttl_minutes"]
    assert ttl.default == 15
    assert Settings(sensitive_message_ttl_minutes=47 * 60).sensitive_message_ttl_minutes == 47 * 60
    with pytest.raises(ValueError):
        Settings(sensitive_message_ttl_minutes=47 * 60 + 1)  # Telegram's 48 hours, with room
    assert Settings.model_fields["invite_ttl_hours"].default == 72


def test_workspace_sessions_and_launch_data_are_short_lived() -> None:
    assert timedelta(minutes=30) == SESSION_LENGTH
    assert timedelta(hours=1) == MAX_AGE


def test_every_area_setting_has_a_policy_option() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command" or a.choices)
    assert subparsers.choices is not None
    policy = subparsers.choices["policy"]
    options = {o for action in policy._actions for o in action.option_strings}
    columns = {c.name for c in AreaPolicy.__table__.columns} - {"area_id"}
    assert set(POLICY_OPTIONS) == columns
    assert set(POLICY_OPTIONS.values()) <= options


def test_a_referral_without_consent_asks_why() -> None:
    payload = flow.new_payload()
    payload.update(step="consent")
    payload = flow.answer(payload, "no", today=TODAY, thresholds=Thresholds())
    assert payload["consent"] is False and payload["step"] == "consent_reason"
    payload = flow.answer(
        payload, "She is too frightened; risk to life.", today=TODAY, thresholds=Thresholds()
    )
    assert payload["consent_reason"].startswith("She is too frightened")
    given = flow.answer(
        {**flow.new_payload(), "step": "consent"}, "yes", today=TODAY, thresholds=Thresholds()
    )
    assert given["step"] != "consent_reason"


def test_a_victim_under_sixteen_is_refused() -> None:
    payload = {**flow.new_payload(), "step": "victim_dob"}
    fifteen = date(TODAY.year - 15, TODAY.month, TODAY.day)
    with pytest.raises(InputError):
        flow.answer(payload, fifteen.strftime("%d/%m/%Y"), today=TODAY, thresholds=Thresholds())
    sixteen = date(TODAY.year - 16, TODAY.month, TODAY.day)
    kept = flow.answer(payload, sixteen.strftime("%d/%m/%Y"), today=TODAY, thresholds=Thresholds())
    assert kept["victim_dob"] == sixteen.isoformat()


def test_data_keys_are_stored_only_wrapped() -> None:
    """The data_keys table has no column for a key in the clear: only its wrapped form."""
    from storage.models import DataKey

    columns = {c.name for c in DataKey.__table__.columns}
    assert columns == {"id", "purpose", "kek_id", "wrapped", "created_at"}

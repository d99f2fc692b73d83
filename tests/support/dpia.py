"""The parts of docs/dpia.md that are generated from the code, and how to read them back.

``python -m tests.support.dpia`` prints every generated section, to paste between its markers
when the code changes (tests/unit/test_dpia_facts.py says which one is out of step).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.access import paths_as_markdown
from bot.permissions import matrix_as_markdown
from config.settings import Settings
from storage.base import Base
from storage.models import AreaPolicy

DPIA = Path(__file__).resolve().parents[2] / "docs" / "dpia.md"

# Each AreaPolicy column and the ``marac-bot policy`` option that sets it.
POLICY_OPTIONS: dict[str, str] = {
    "dash_threshold": "--dash-threshold",
    "escalation_threshold": "--escalation-threshold",
    "repeat_window_days": "--repeat-window-days",
    "draft_ttl_days": "--draft-days",
    "out_of_hours_route": "--out-of-hours",
    "agenda_cutoff_days": "--cutoff-days",
    "research_days": "--research-days",
    "reminder_days_before": "--reminder-days",
    "reminder_hours_before": "--reminder-hours",
    "meeting_capacity": "--capacity",
    "adult_female_population": "--adult-women",
    "case_retention_years": "--retention-years",
    "research_open_days_after": "--research-open-days",
    "calendar_location": "--calendar-location",
}


def _shown(value: Any) -> str:
    if value is None or isinstance(value, SecretStr):
        return "—"
    if isinstance(value, bool):
        return "on" if value else "off"
    return f"`{value}`"


def settings_table() -> str:
    """Every setting of ``config.settings.Settings`` with its default."""
    lines = ["| setting | default |", "|---|---|"]
    for name, field in Settings.model_fields.items():
        lines.append(f"| `MARAC_{name.upper()}` | {_shown(field.default)} |")
    return "\n".join(lines)


def area_policy_table() -> str:
    """Every per-area setting (``storage.models.AreaPolicy``), its option and its default."""
    lines = ["| area setting | `marac-bot policy` option | default |", "|---|---|---|"]
    for column in AreaPolicy.__table__.columns:
        if column.name == "area_id":
            continue
        default = column.default.arg if column.default is not None else None
        option = POLICY_OPTIONS.get(column.name, "(none)")
        lines.append(f"| `{column.name}` | `{option}` | {_shown(default)} |")
    return "\n".join(lines)


SECTIONS: dict[str, Callable[[], str]] = {
    "permission-matrix": matrix_as_markdown,
    "case-paths": paths_as_markdown,
    "settings": settings_table,
    "area-policy": area_policy_table,
}


def section(text: str, name: str) -> str:
    """What docs/dpia.md holds between ``<!-- dpia:NAME:start -->`` and its end marker."""
    start = f"<!-- dpia:{name}:start -->"
    end = f"<!-- dpia:{name}:end -->"
    return text[text.index(start) + len(start) : text.index(end)].strip()


def all_columns() -> dict[str, set[str]]:
    """Every table of the schema and its columns."""
    return {table.name: {c.name for c in table.columns} for table in Base.metadata.sorted_tables}


ROW = re.compile(r"^\|\s*`(?P<table>[a-z_]+)\.(?P<column>[a-z_0-9]+)`\s*\|\s*(?P<kind>[^|]+)\|")


def listed_columns(text: str) -> dict[tuple[str, str], str]:
    """The data-category table rows: (table, column) -> the kind written beside it."""
    found: dict[tuple[str, str], str] = {}
    for line in text.splitlines():
        match = ROW.match(line.strip())
        if match:
            found[(match["table"], match["column"])] = match["kind"].strip()
    return found


if __name__ == "__main__":
    for name, make in SECTIONS.items():
        print(f"<!-- dpia:{name}:start -->\n{make()}\n<!-- dpia:{name}:end -->\n")

"""No literal calendar date in what the bot writes: examples are worked out from today.

A hint such as "For example 08/12/2026" becomes wrong the day after that date, and an
example the bot would itself refuse ("that date has passed") teaches people to distrust
it. Texts build their examples with ``bot.dates.example_date(today)`` instead; this test
fails on any day/month/20yy date written into the product's source (texts, handlers,
rules and their docstrings alike). Dates of birth in the 1900s are not caught: they stay
valid examples for ever.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("bot", "handlers", "config", "storage")
LITERAL = re.compile(r"\b\d{1,2}/\d{1,2}/20\d{2}\b")


def literals(text: str) -> list[str]:
    return LITERAL.findall(text)


def test_the_check_finds_what_it_is_for() -> None:
    assert literals('ASK = "For example 08/12/2026."') == ["08/12/2026"]
    assert literals("by 1/2/2030 high") == ["1/2/2030"]
    assert literals("born 14/03/1990; reference NOR-2026-0001; 2026-12-08") == []


@pytest.mark.parametrize("folder", PRODUCT)
def test_no_day_month_year_literal_in_the_product(folder: str) -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if literals(line)
    ]
    assert not found, "compute example dates from today instead:\n" + "\n".join(found)

"""Everything the bot writes says "person causing harm", and "perpetrator service" only for the
service: never "abuser", never "perpetrator" on its own.

MARAC practice (and the people who use the bot, some of whom are victims themselves) keeps
the language of the person, not the label; the DASH questions' "the abuser" is reworded too.
The check reads every string the code holds (docstrings and identifier-like keys aside) and
the workspace's templates, so a new text is held to it without being listed here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from bot.referrals.dash import DASH_QUESTIONS

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile(r"abuser|perpetrator(?![- ]services?\b|-service)", re.IGNORECASE)
IDENTIFIER = re.compile(r"^[a-z0-9_:.{}]+$")
TEMPLATE_CODE = re.compile(r"{{.*?}}|{%.*?%}", re.DOTALL)
# SafeLives' quarterly MARAC dataset names this field so; the CSV return keeps its wording so
# that it can be pasted into the return as it is.
DATASET_FIELD_NAMES = {"Perpetrators aged 17 or under"}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
            found.add(id(first.value))
    return found


def _written_strings(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    docs = _docstrings(tree)
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docs
        and not IDENTIFIER.match(node.value)
    ]


def test_no_code_string_calls_anyone_an_abuser_or_a_perpetrator() -> None:
    sources = sorted([*(ROOT / "bot").rglob("*.py"), *(ROOT / "handlers").rglob("*.py")])
    assert len(sources) > 50, "the check is looking in the wrong place"
    offending = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in sources
        for line, text in _written_strings(path)
        if FORBIDDEN.search(text) and text not in DATASET_FIELD_NAMES
    ]
    assert offending == []


def test_the_dash_questions_ask_about_the_person_causing_harm() -> None:
    wording = [q.question for q in DASH_QUESTIONS] + [q.topic for q in DASH_QUESTIONS]
    assert not [w for w in wording if FORBIDDEN.search(w)]
    assert sum("person causing harm" in q.question for q in DASH_QUESTIONS) >= 10


def test_the_workspace_pages_use_the_same_words() -> None:
    templates = sorted((ROOT / "bot" / "workspace" / "templates").glob("*.html"))
    assert templates
    for template in templates:
        prose = TEMPLATE_CODE.sub("", template.read_text())
        assert not FORBIDDEN.search(prose), template.name

"""docs/dpia.md points every claim at a test: each reference must name a real test function.

A reference is written ``[test: tests/some/test_file.py::test_name]``. The file must exist
and define that function (at module level or in a class), and every ``##`` section of the
document must cite at least one test.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DPIA = ROOT / "docs" / "dpia.md"
REFERENCE = re.compile(r"\[test:\s*(?P<path>[^\]\s:]+)::(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*\]")
LOOSE = re.compile(r"\[test:[^\]]*\]")


def references(text: str) -> list[tuple[str, str]]:
    return [(m["path"], m["name"]) for m in REFERENCE.finditer(text)]


def sections(text: str) -> dict[str, str]:
    """Each ``## `` heading and the text under it, up to the next one."""
    found: dict[str, str] = {}
    heading: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("## "):
            if heading is not None:
                found[heading] = "\n".join(lines)
            heading, lines = line[3:].strip(), []
        elif heading is not None:
            lines.append(line)
    if heading is not None:
        found[heading] = "\n".join(lines)
    return found


@cache
def defined_tests(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(), filename=path)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith(
            "test"
        ):
            names.add(node.name)
    return frozenset(names)


def test_every_reference_names_an_existing_test() -> None:
    text = DPIA.read_text()
    found = references(text)
    assert found, "docs/dpia.md cites no test"
    # Anything that looks like a reference but does not parse is a mistake, not prose.
    malformed = [m for m in LOOSE.findall(text) if not REFERENCE.fullmatch(m)]
    assert malformed == [], malformed
    missing: list[str] = []
    for path, name in found:
        file = ROOT / path
        if not (path.startswith("tests/") and file.is_file()):
            missing.append(f"{path} (no such test file)")
        elif name not in defined_tests(path):
            missing.append(f"{path}::{name} (no such test function)")
    assert missing == [], "\n".join(missing)


def test_every_section_cites_a_test() -> None:
    found = sections(DPIA.read_text())
    assert len(found) >= 8, list(found)
    bare = [heading for heading, body in found.items() if not references(body)]
    assert bare == [], f"sections citing no test: {bare}"


def test_the_checker_finds_what_it_must() -> None:
    """The parser itself: a reference, a section without one, a function in a class."""
    sample = (
        "intro\n## One\nclaim [test: tests/unit/test_dpia_references.py::test_x]\n"
        "## Two\nno claim\n"
    )
    assert references(sample) == [("tests/unit/test_dpia_references.py", "test_x")]
    assert [h for h, body in sections(sample).items() if not references(body)] == ["Two"]
    assert "test_every_section_cites_a_test" in defined_tests("tests/unit/test_dpia_references.py")
    assert "test_nothing_like_this" not in defined_tests("tests/unit/test_dpia_references.py")

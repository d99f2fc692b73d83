"""The README documents the permission matrix; it must say what the code enforces."""

from __future__ import annotations

from pathlib import Path

from bot.access import paths_as_markdown
from bot.permissions import matrix_as_markdown

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_permission_matrix_matches_the_code() -> None:
    text = README.read_text()
    start = text.index("<!-- permission-matrix:start -->") + len("<!-- permission-matrix:start -->")
    end = text.index("<!-- permission-matrix:end -->")
    assert text[start:end].strip() == matrix_as_markdown()


def test_readme_case_paths_match_the_code() -> None:
    text = README.read_text()
    start = text.index("<!-- case-paths:start -->") + len("<!-- case-paths:start -->")
    end = text.index("<!-- case-paths:end -->")
    assert text[start:end].strip() == paths_as_markdown()


def test_readme_starts_with_the_two_commands_ci_runs() -> None:
    lines = README.read_text().splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```sh") + 3]
    assert block[0].endswith("marac-bot demo")
    ci = (README.parent / ".ci" / "run").read_text()
    assert block[1] in ci

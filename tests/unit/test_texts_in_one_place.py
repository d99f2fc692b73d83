"""Every text a person reads is in ``bot/texts.py``: none is written in a handler or service.

One place keeps the voice consistent (short, plain UK English that says what happens next)
and makes the whole of what the bot says reviewable at once. This walks the handlers and
services for sentence-like string literals outside docstrings, log lines and errors meant
for developers.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = (ROOT / "handlers", ROOT / "bot" / "services", ROOT / "bot" / "workspace")
TEMPLATES = ROOT / "bot" / "workspace" / "templates"
SCRIPT = ROOT / "bot" / "workspace" / "static" / "app.js"
# What a template may hold outside Jinja2's tags: markup, attributes and punctuation.
_JINJA = re.compile(r"{%.*?%}|{{.*?}}|{#.*?#}", re.DOTALL)
_MARKUP = re.compile(r"<[^>]*>", re.DOTALL)
DEVELOPER_ERRORS = {"ValueError", "RuntimeError", "TypeError", "LookupError", "KeyError"}
LOGGERS = {"debug", "info", "warning", "error", "exception", "critical", "log"}


def _sentence(text: str) -> bool:
    words = text.strip().split()
    return len(words) >= 2 and text.strip()[:1].isupper() and any(w.isalpha() for w in words)


def _literals(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text())
    skip: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                skip.add(id(value))  # a docstring
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in DEVELOPER_ERRORS or name in LOGGERS:
                for inner in ast.walk(node):
                    skip.add(id(inner))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _sentence(node.value):
            found.append((node.lineno, node.value))
    return found


def test_the_check_finds_a_sentence_and_ignores_what_it_should(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        '"""A docstring. It is fine."""\n'
        'log.warning("Could not send: %s", x)\n'
        'raise ValueError("Bad value for a developer")\n'
        'answer(update, "Please try again later.")\n'
    )
    assert [text for _, text in _literals(sample)] == ["Please try again later."]


def test_no_text_is_written_outside_bot_texts() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
        for folder in FOLDERS
        for path in sorted(folder.rglob("*.py"))
        for line, text in _literals(path)
    ]
    assert not offenders, "move these into bot/texts.py:\n" + "\n".join(offenders)


def _template_words(source: str) -> list[str]:
    text = _MARKUP.sub(" ", _JINJA.sub(" ", source))
    return [word for word in text.split() if any(ch.isalpha() for ch in word)]


def test_the_template_check_finds_a_word_and_ignores_markup() -> None:
    assert _template_words('<p class="x">{{ t.A }}: {{ b }}</p>') == []
    assert _template_words("<p>{{ t.A }} and more</p>") == ["and", "more"]


def test_the_workspace_pages_take_every_word_from_bot_texts() -> None:
    offenders = {
        path.name: words
        for path in sorted(TEMPLATES.glob("*.html"))
        if (words := _template_words(path.read_text()))
    }
    assert not offenders, f"move these into bot/texts.py: {offenders}"


def test_the_workspace_script_shows_no_words_of_its_own() -> None:
    # Its messages come from the server or the shell's templates; string literals in it are
    # names, selectors and headers only (no spaces between words).
    literals = re.findall(r'"([^"\\]*)"', SCRIPT.read_text())
    sentences = [text for text in literals if _sentence(text)]
    assert not sentences, sentences

"""Refresh the message catalogues from the code: a tool, never imported at run time.

    python -m bot.i18n.catalogue            # messages.pot from the code, then merge into cy
    python -m bot.i18n.catalogue --check    # exit 1 if the committed catalogues are stale

It does what ``pybabel extract -F babel.cfg -k N_ -k K_ -o bot/locale/messages.pot .`` and
``pybabel update -i bot/locale/messages.pot -d bot/locale -l cy`` do, with the same Babel
library, keeping the files stable (no creation date, sorted by where each text is) so a
refresh that changes nothing leaves no diff. New texts arrive in the .po untranslated
(empty msgstr, sent in English); changed English marks the old Welsh "fuzzy" (not used until
a translator checks it); texts gone from the code become obsolete (``#~``) entries.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Iterable
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[2]
LOCALE = ROOT / "bot" / "locale"
TEMPLATE = LOCALE / "messages.pot"
LANGUAGES = ("cy",)
# Where the words are: the one texts module, the command menu, the workspace's templates.
SOURCES = (
    "bot/texts.py",
    "bot/permissions.py",
    "bot/buttons.py",
    "bot/stats/dataset_csv.py",
)
TEMPLATES = "bot/workspace/templates"
KEYWORDS = {"_": None, "N_": None, "K_": None, "gettext": None}
PROJECT = "marac-bot"
HEADER = """\
# The texts of marac-bot, for translation ({what}).
# Made by python -m bot.i18n.catalogue from the code (bot/i18n/catalogue.py SOURCES);
# translators edit the msgstr lines only (see "Translating" in README.md).
#"""


def po_path(language: str) -> Path:
    return LOCALE / language / "LC_MESSAGES" / "messages.po"


def extract() -> Catalog:
    """Every msgid in the code, in the order it appears."""
    catalog = Catalog(
        project=PROJECT,
        version="1",
        charset="utf-8",
        fuzzy=False,
        header_comment=HEADER.format(what="template"),
    )
    for name in SOURCES:
        _add(catalog, name, extract_from_file("python", ROOT / name, keywords=KEYWORDS))
    templates = ROOT / TEMPLATES
    for path in sorted(templates.glob("*.html")):
        found = extract_from_file(
            "jinja2",
            path,
            keywords=KEYWORDS,
            options={"extensions": "jinja2.ext.i18n", "trimmed": "true"},
        )
        _add(catalog, str(path.relative_to(ROOT)), found)
    return catalog


def _add(
    catalog: Catalog, name: str, found: Iterable[tuple[int, object, list[str], object]]
) -> None:
    for lineno, message, comments, _context in found:
        if isinstance(message, str) and message:
            catalog.add(message, None, [(name, lineno)], auto_comments=comments)


def _render(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    # No line numbers: a refresh after an edit that adds no text leaves the files as they are.
    write_po(out, catalog, width=100, include_previous=True, include_lineno=False)
    return _stable(out.getvalue())


def _stable(data: bytes) -> bytes:
    """Drop the lines that change on every run (creation and revision dates)."""
    lines = data.split(b"\n")
    return b"\n".join(
        line
        for line in lines
        if not line.startswith((b'"POT-Creation-Date:', b'"PO-Revision-Date:', b'"Generated-By:'))
    )


def refreshed() -> dict[Path, bytes]:
    """The catalogues as they should be now: the template and each language's .po."""
    template = extract()
    files = {TEMPLATE: _render(template)}
    for language in LANGUAGES:
        path = po_path(language)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(
                locale=language,
                project=PROJECT,
                version="1",
                fuzzy=False,
                header_comment=HEADER.format(what=language),
            )
        catalog.update(template, no_fuzzy_matching=False, update_header_comment=False)
        # A text gone from the code is kept (as "#~") only if someone had translated it.
        for key in [k for k, m in catalog.obsolete.items() if not m.string]:
            del catalog.obsolete[key]
        files[path] = _render(catalog)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh bot/locale from the code.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a catalogue is stale")
    args = parser.parse_args(argv)
    stale = 0
    for path, data in refreshed().items():
        current = path.read_bytes() if path.exists() else None
        if current == data:
            continue
        if args.check:
            print(f"{path.relative_to(ROOT)} is out of date: run python -m bot.i18n.catalogue")
            stale = 1
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"wrote {path.relative_to(ROOT)}")
    return stale


if __name__ == "__main__":
    sys.exit(main())

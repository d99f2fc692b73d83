"""English or Cymraeg: every text is in the catalogue, English is untouched, Welsh is used
where it is translated and English where it is not, and the reader's language wins."""

from __future__ import annotations

import ast
import pickle
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import bot.i18n.catalogue as tool
from bot import texts
from bot.adapter.language import localise_request
from bot.i18n import (
    ENGLISH,
    K_,
    WELSH,
    Localised,
    for_reader,
    in_language,
    reader,
    speaking,
    translate,
    translations,
)
from bot.i18n.codemod import leftovers, rewrite
from bot.vocabulary import Role

ROOT = Path(__file__).resolve().parents[2]
TEXTS = ROOT / "bot" / "texts.py"


def _ids(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        return {m.id: m.string for m in read_po(handle) if m.id and isinstance(m.id, str)}


def test_every_text_in_the_code_is_in_the_committed_template_and_welsh_catalogue() -> None:
    wanted = {m.id for m in tool.extract() if m.id}
    assert len(wanted) > 800
    template, welsh = _ids(tool.TEMPLATE), _ids(tool.po_path(WELSH))
    assert sorted(wanted - set(template)) == [], "run python -m bot.i18n.catalogue"
    assert sorted(wanted - set(welsh)) == [], "run python -m bot.i18n.catalogue"


def test_texts_py_has_no_words_outside_the_catalogue_form() -> None:
    assert leftovers(TEXTS.read_text(encoding="utf-8")) == [], (
        "wrap them: python -m bot.i18n.codemod"
    )


def test_the_codemod_has_nothing_left_to_do_and_is_idempotent() -> None:
    source = TEXTS.read_text(encoding="utf-8")
    assert rewrite(source) == source


def test_the_codemod_wraps_literals_f_strings_and_constants_readably() -> None:
    before = (
        "from bot.vocabulary import Role\n"
        'NAMES = {"chair": "the chair"}\n'
        'HINT = "Send /help."\n'
        "def said(case: object, role: str) -> str:\n"
        '    """A docstring stays."""\n'
        '    if role == "chair":\n'
        '        return f"Case {case.reference} for {NAMES[role]}. {HINT}"\n'
        '    return "Nothing to do."\n'
    )
    after = rewrite(before)
    assert 'NAMES = {"chair": N_("the chair")}' in after
    assert 'HINT = N_("Send /help.")' in after
    assert '_("Case {reference} for {role}. {hint}").format(' in after
    assert "reference=case.reference, role=_(NAMES[role]), hint=_(HINT)" in after
    assert '_("Nothing to do.")' in after
    assert 'role == "chair"' in after and '"""A docstring stays."""' in after
    assert "@localised\ndef said" in after
    assert rewrite(after) == after
    assert leftovers(after) == []
    namespace: dict[str, object] = {}
    exec(compile(after, "<codemod>", "exec"), namespace)
    said = namespace["said"]
    assert callable(said)

    class Case:
        reference = "MAR-1"

    assert said(Case(), "idva") == "Nothing to do."
    assert said(Case(), "chair") == "Case MAR-1 for the chair. Send /help."


def test_welsh_translations_use_only_their_english_placeholders() -> None:
    fields = string.Formatter()
    for msgid, msgstr in _ids(tool.po_path(WELSH)).items():
        if not msgstr:
            continue
        english = {name for _, name, _, _ in fields.parse(msgid) if name is not None}
        welsh = {name for _, name, _, _ in fields.parse(msgstr) if name is not None}
        assert welsh <= english, msgid


def test_menus_help_and_common_messages_are_translated_and_the_rest_left_for_translators() -> None:
    welsh = translations(WELSH)
    for msgid in (
        texts.MENU_MEETINGS,
        texts.NOT_ALLOWED,
        texts.CANCELLED,
        texts.BUTTON_NOT_RECOGNISED,
        texts.LANGUAGE_SET,
        "As {role} you can use:",
        "What you can do here",
        "Welcome, {display_name}. You are now enrolled as {role} for {where}.\n"
        "Send /help at any time to see what you can do.\n\n{two_step_verification}",
    ):
        assert msgid in welsh
    all_ids = _ids(tool.po_path(WELSH))
    untranslated = [m for m, s in all_ids.items() if not s]
    # Not machine-translated wholesale: most texts wait for a Welsh translator.
    assert len(untranslated) > len(all_ids) / 2


def test_english_is_the_text_itself() -> None:
    assert reader() == ENGLISH
    assert texts.home("Priya", Role.COORDINATOR, "Northamptonshire") == (
        "Hello, Priya. You are signed in as MARAC coordinator for Northamptonshire."
    )
    assert for_reader(texts.NOT_ALLOWED) is texts.NOT_ALLOWED


def test_welsh_where_translated_english_where_not() -> None:
    with speaking(WELSH):
        assert texts.home("Priya", Role.COORDINATOR, "Gwent") == (
            "Helo, Priya. Rydych wedi mewngofnodi fel cydlynydd MARAC ar gyfer Gwent."
        )
        help_text = texts.help_text(Role.CHAIR, [("help", "What you can do here")], 120)
        assert help_text.startswith("Fel cadeirydd MARAC gallwch ddefnyddio:\n/help — Beth y")
        assert "ar ôl 2 awr." in help_text
    untranslated = "That area does not exist."
    assert translate(untranslated, WELSH) == untranslated
    assert reader() == ENGLISH


def test_the_boundary_finds_constants_whole_by_paragraph_and_by_line() -> None:
    assert for_reader(texts.NOT_ALLOWED, WELSH) == translate(texts.NOT_ALLOWED, WELSH)
    joined = f"{texts.AWAITING_CONFIRMATION}\n\nMAR-2026-0001\n{texts.CANCELLED}"
    assert for_reader(joined, WELSH) == (
        f"{translate(texts.AWAITING_CONFIRMATION, WELSH)}\n\nMAR-2026-0001\n"
        f"{translate(texts.CANCELLED, WELSH)}"
    )
    # A module-level text built from values (K_) is made again from its Welsh msgid.
    made = K_("Language: {name}", name="Cymraeg")
    assert for_reader(made, WELSH) == "Iaith: Cymraeg"


def test_a_notice_is_made_again_in_its_readers_language() -> None:
    with speaking(WELSH):
        notice = texts.meeting_invitation("Thu 10 Dec 2026 10:00")
    assert isinstance(notice, Localised)
    assert notice.startswith("Rydych wedi'ch gwahodd")
    english = in_language(notice, ENGLISH)
    assert english == (
        "You are invited to the MARAC meeting on Thu 10 Dec 2026 10:00. "
        "Open the attached file to add it to your calendar."
    )
    assert in_language(english, WELSH) == notice
    # A plain text (no recipe) is left as it is; pickling keeps the plain text only.
    assert in_language("MAR-1", WELSH) == "MAR-1"
    assert type(pickle.loads(pickle.dumps(notice))) is str


def test_texts_passed_into_a_text_are_made_again_with_it() -> None:
    line = texts.meeting_reminder("Thu 10 Dec 2026 10:00", None)
    joined = texts.language_now(line)  # any text function taking a text
    with speaking(WELSH):
        welsh = in_language(joined, WELSH)
    assert welsh == "Iaith: Nodyn atgoffa: mae'r cyfarfod MARAC ar Thu 10 Dec 2026 10:00. " + (
        "Anfonwch /meetings i weld yr agenda."
    )


def test_a_request_to_telegram_is_put_into_the_readers_language() -> None:
    from telegram import BotCommand, InlineKeyboardButton, InlineKeyboardMarkup

    data = {
        "chat_id": 1,
        "text": texts.CANCELLED,
        "reply_markup": InlineKeyboardMarkup(
            [[InlineKeyboardButton(texts.MENU_MEETINGS, callback_data="mtg:list")]]
        ),
        "commands": [BotCommand("help", "What you can do here")],
    }
    assert localise_request(data, ENGLISH) is data
    welsh = localise_request(data, WELSH)
    assert welsh["text"] == "Wedi canslo. Ni newidiwyd dim."
    assert welsh["reply_markup"].inline_keyboard[0][0].text == "Cyfarfodydd"
    assert welsh["reply_markup"].inline_keyboard[0][0].callback_data == "mtg:list"
    assert welsh["commands"][0].description == "Beth y gallwch ei wneud yma"
    assert data["text"] == texts.CANCELLED  # the caller's request is not changed


def test_the_catalogue_is_package_data() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"locale/*/LC_MESSAGES/*.po"' in pyproject
    assert re.search(r'"Babel>=', pyproject)


@pytest.mark.parametrize("path", ["bot/permissions.py", "bot/buttons.py"])
def test_command_descriptions_and_button_labels_are_marked(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "Command"
            and len(node.args) > 1
        ):
            assert isinstance(node.args[1], ast.Call), ast.unparse(node)
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            value = node.args[0].value
            callee = node.func.id if isinstance(node.func, ast.Name) else ""
            if callee.isupper() and callee not in ("N_", "K_") and isinstance(value, str):
                pytest.fail(f"button label not marked N_(): {ast.unparse(node)}")


def test_the_workspace_pages_speak_their_readers_language() -> None:
    from bot.actor import Actor
    from bot.workspace.pages import PageRenderer

    pages = PageRenderer("/ws")
    english = pages.shell(prefix="/ws", page="case")
    assert '<html lang="en-GB">' in english and "<title>MARAC case workspace</title>" in english
    welsh_actor = Actor(1, 2, Role.AGENCY_REP, 1, 1, "Nia Jones", "Gwent", language=WELSH)
    welsh = pages._render("shell.html", welsh_actor, page="case")
    assert '<html lang="cy">' in welsh
    assert "<title>Gweithle achosion MARAC</title>" in welsh
    assert "Neidio i&#39;r dudalen" in welsh  # still escaped as HTML
    assert reader() == ENGLISH


def test_the_minutes_document_follows_its_reader() -> None:
    from bot.actions.minutes import outline

    class Minutes:
        area = "Gwent"
        copy_for = "Copy"
        cases = ()

    with speaking(WELSH):
        headings = outline(Minutes())  # type: ignore[arg-type]
    assert headings[:2] == ["SWYDDOGOL-SENSITIF", "Cofnodion MARAC: Gwent"]
    assert "Y cyfarfod" in headings and "Presenoldeb" in headings
    assert outline(Minutes())[:2] == ["OFFICIAL-SENSITIVE", "MARAC minutes: Gwent"]  # type: ignore[arg-type]


def test_the_statistics_return_follows_its_reader() -> None:
    import csv
    import io

    from bot.stats.dataset_csv import HEADER, figures_csv
    from tests.support.stats import q3_figures

    def rows(data: bytes) -> list[list[str]]:
        return list(csv.reader(io.StringIO(data.decode("utf-8"))))

    english = rows(figures_csv(q3_figures(), suppressed=False))
    assert english[0] == list(HEADER) and english[-1][0] == "Total"
    with speaking(WELSH):
        welsh = rows(figures_csv(q3_figures(), suppressed=False))
    assert welsh[0][:2] == ["Dyddiad y cyfarfod", "Nifer yr achosion a drafodwyd"]
    assert welsh[-1][0] == "Cyfanswm"
    assert [row[1:] for row in welsh[1:]] == [row[1:] for row in english[1:]]  # same figures

"""The action plan as a Word file and as plain text: valid, marked, complete and escaped."""

from __future__ import annotations

import importlib.util
import io
import re
import xml.etree.ElementTree as ET
import zipfile

from hypothesis import given
from hypothesis import strategies as st

from bot.actions.minutes import MinutesRow, minutes_docx, minutes_text

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PARTS = [
    "[Content_Types].xml",
    "_rels/.rels",
    "word/document.xml",
    "word/_rels/document.xml.rels",
    "word/header1.xml",
]
TRICKY = 'Visit & check <bail> "now" — then call\nand record it'
ROWS = [
    MinutesRow("NS-2026-0001", "Northshire Police", TRICKY, "12 Dec 2026", "done"),
    MinutesRow(
        "NS-2026-0002", "Sunflower IDVA Service", "Safety plan", "14 Dec 2026", "not_possible"
    ),
    MinutesRow("NS-2026-0002", "Housing Options", "Sanctuary scheme", "14 Dec 2026", "not_done"),
    MinutesRow(
        "NS-2026-0003", "Children's Social Care", "Strategy meeting", "17 Dec 2026", "accepted"
    ),
]
ARGS = {
    "area": "Northshire",
    "meeting_when": "Thu 10 Dec 2026 10:00",
    "generated_at": "10 Dec 2026",
}


def build(rows: list[MinutesRow] = ROWS) -> bytes:
    return minutes_docx(rows=rows, **ARGS)


def part(data: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.read(name)


def cell_text(cell: ET.Element) -> str:
    pieces = []
    for element in cell.iter():
        if element.tag == W + "t":
            pieces.append(element.text or "")
        elif element.tag == W + "br":
            pieces.append("\n")
    return "".join(pieces)


def table_rows(data: bytes) -> list[list[str]]:
    root = ET.fromstring(part(data, "word/document.xml"))
    return [[cell_text(cell) for cell in row.iter(W + "tc")] for row in root.iter(W + "tr")]


def paragraphs(data: bytes) -> list[str]:
    body = ET.fromstring(part(data, "word/document.xml")).find(W + "body")
    assert body is not None
    return [cell_text(p) for p in body.findall(W + "p")]


def test_the_file_is_a_zip_with_the_wordprocessingml_parts() -> None:
    data = build()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == PARTS
        for name in PARTS:
            ET.fromstring(archive.read(name))


def test_the_parts_are_wired_together() -> None:
    data = build()
    types = ET.fromstring(part(data, "[Content_Types].xml"))
    overrides = {o.get("PartName"): o.get("ContentType") for o in types}
    assert overrides["/word/document.xml"].endswith("document.main+xml")  # type: ignore[union-attr]
    assert overrides["/word/header1.xml"].endswith("header+xml")  # type: ignore[union-attr]
    package_rels = ET.fromstring(part(data, "_rels/.rels"))
    assert [rel.get("Target") for rel in package_rels] == ["word/document.xml"]
    document_rels = {
        rel.get("Id"): rel.get("Target")
        for rel in ET.fromstring(part(data, "word/_rels/document.xml.rels"))
    }
    section = ET.fromstring(part(data, "word/document.xml")).find(f"{W}body/{W}sectPr")
    assert section is not None
    reference = section.find(W + "headerReference")
    assert reference is not None
    assert document_rels[reference.get(R + "id")] == "header1.xml"


def test_restricted_in_the_header_and_at_the_top() -> None:
    data = build()
    assert paragraphs(data)[0] == "RESTRICTED"
    assert cell_text(ET.fromstring(part(data, "word/header1.xml"))) == "RESTRICTED"


def test_title_meeting_and_every_action_are_in_the_table() -> None:
    data = build()
    text = paragraphs(data)
    assert "MARAC action plan: Northshire" in text
    assert "Meeting: Thu 10 Dec 2026 10:00" in text
    assert "4 actions: 1 done, 1 not possible, 1 not done, 1 accepted." in text
    assert table_rows(data) == [
        ["Case reference", "Agency", "Action", "Due", "Status"],
        ["NS-2026-0001", "Northshire Police", TRICKY, "12 Dec 2026", "Done"],
        [
            "NS-2026-0002",
            "Sunflower IDVA Service",
            "Safety plan",
            "14 Dec 2026",
            "Not possible (circumstances changed)",
        ],
        ["NS-2026-0002", "Housing Options", "Sanctuary scheme", "14 Dec 2026", "Not done"],
        ["NS-2026-0003", "Children's Social Care", "Strategy meeting", "17 Dec 2026", "Accepted"],
    ]


def test_special_characters_are_escaped() -> None:
    raw = part(build(), "word/document.xml").decode("utf-8")
    assert "Visit &amp; check &lt;bail&gt; &quot;now&quot;" in raw
    assert "<bail>" not in raw
    assert "Children&apos;s Social Care" in raw


def test_characters_xml_forbids_are_dropped_not_fatal() -> None:
    rows = [MinutesRow("NS-1", "Police", "bell\x07 and null\x00 here", "soon", "open")]
    data = build(rows)
    assert table_rows(data)[1] == ["NS-1", "Police", "bell and null here", "soon", "open"]


def test_no_actions_gives_a_plan_without_a_table() -> None:
    data = build([])
    assert table_rows(data) == []
    assert "No actions were agreed." in paragraphs(data)


def test_the_same_plan_gives_the_same_bytes() -> None:
    assert build() == build()


def test_python_docx_opens_it_when_installed() -> None:
    data = build()
    if importlib.util.find_spec("docx") is None:
        return  # python-docx is not a dependency; the checks above cover the format
    import docx  # type: ignore[import-not-found, unused-ignore]

    document = docx.Document(io.BytesIO(data))
    assert document.paragraphs[0].text == "RESTRICTED"
    assert document.sections[0].header.paragraphs[0].text == "RESTRICTED"
    assert document.tables[0].rows[1].cells[2].text == TRICKY


@given(
    st.lists(
        st.builds(MinutesRow, st.text(), st.text(), st.text(), st.text(), st.text()),
        max_size=5,
    ),
    st.text(),
)
def test_any_text_makes_a_well_formed_document(rows: list[MinutesRow], area: str) -> None:
    data = minutes_docx(area=area, meeting_when="x", rows=rows, generated_at="y")

    def expected(text: str) -> str:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        return re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", "", text)

    got = table_rows(data)[1:]
    assert [cells[:3] for cells in got] == [
        [expected(row.reference), expected(row.agency), expected(row.action)] for row in rows
    ]
    assert paragraphs(data)[1] == expected(f"MARAC action plan: {area}")


# --- plain text ------------------------------------------------------------------------------


def test_plain_text_has_the_same_content() -> None:
    text = minutes_text(rows=ROWS, **ARGS)
    lines = text.splitlines()
    assert lines[0] == "RESTRICTED"
    assert lines[-1] == "RESTRICTED"
    assert "MARAC action plan: Northshire" in lines
    assert "Meeting: Thu 10 Dec 2026 10:00" in lines
    for row in ROWS:
        assert row.reference in text
        assert " ".join(row.action.split()) in text
    assert 'Visit & check <bail> "now" — then call and record it' in text
    assert "Status: Not possible (circumstances changed)" in text
    assert "Status: Not done" in text
    assert "4 actions: 1 done, 1 not possible, 1 not done, 1 accepted." in text


def test_plain_text_with_no_actions() -> None:
    assert "No actions were agreed." in minutes_text(rows=[], **ARGS)

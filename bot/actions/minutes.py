"""The meeting's action plan as a document: a Word file for the minutes, and plain text.

The minutes are the MARAC's audit trail, and agencies file them in their own
systems, most of which take Word documents. The file is written by hand from the
standard library: five small XML parts in a zip are all Word needs, and a
document library would be a large dependency for one table.

The plan carries case references only. Names stay in the bot's protected case
messages; a document is forwarded, printed and filed, so it must not identify
anyone by itself. Both versions are marked RESTRICTED at the top, and the Word
file in the page header too, so every printed page carries the marking.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

from bot.actions.states import ACTION_LABELS, ActionState

MARKING = "RESTRICTED"
TITLE = "MARAC action plan"
NOT_DONE = "not_done"
COLUMNS = ("Case reference", "Agency", "Action", "Due", "Status")
# Twentieths of a point: A4 landscape less 2 cm margins leaves 14,570 for the table.
_COLUMN_WIDTHS = (2100, 2600, 6270, 1700, 1900)
# Fixed zip timestamps make the same plan give the same bytes, so a re-sent copy can be
# compared with the first and tests need no clock.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class MinutesRow:
    """One action as it goes into the minutes; ``state`` is an ActionState value or "not_done"."""

    reference: str
    agency: str
    action: str
    due: str
    state: str


def status_label(state: str) -> str:
    """The words the minutes use, keeping SafeLives' "not possible" and "not done" apart.

    Anything that is not a known state is shown as given, so a caller can pass its own
    wording without it being lost.
    """
    if state == NOT_DONE:
        return "Not done"
    if state == ActionState.NOT_POSSIBLE:
        return "Not possible (circumstances changed)"
    try:
        return ACTION_LABELS[ActionState(state)]
    except ValueError:
        return state


def _summary(rows: Sequence[MinutesRow]) -> str:
    """A count per status, so the review of outstanding actions starts from the numbers."""
    if not rows:
        return "No actions were agreed."
    counts = Counter(status_label(row.state).split(" (")[0].lower() for row in rows)
    noun = "action" if len(rows) == 1 else "actions"
    parts = ", ".join(f"{count} {label}" for label, count in counts.items())
    return f"{len(rows)} {noun}: {parts}."


# --- plain text ------------------------------------------------------------------------------


def minutes_text(
    *, area: str, meeting_when: str, rows: Sequence[MinutesRow], generated_at: str
) -> str:
    """The same plan for people who cannot open a Word file, laid out as a list.

    A list rather than a table because it is read on phones, where columns wrap.
    """
    lines = [
        MARKING,
        f"{TITLE}: {_one_line(area)}",
        f"Meeting: {_one_line(meeting_when)}",
        f"Produced: {_one_line(generated_at)}",
        "",
        _summary(rows),
    ]
    for number, row in enumerate(rows, start=1):
        lines += [
            "",
            f"{number}. {_one_line(row.reference)} · {_one_line(row.agency)}",
            f"   {_one_line(row.action)}",
            f"   Due: {_one_line(row.due)} · Status: {_one_line(status_label(row.state))}",
        ]
    lines += ["", MARKING]
    return "\n".join(lines) + "\n"


def _one_line(text: str) -> str:
    return " ".join(_NOT_XML.sub("", text).split())


# --- WordprocessingML ------------------------------------------------------------------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_RELS = "http://schemas.openxmlformats.org/package/2006/relationships"
_DOC_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_HEADER_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/header"
_MAIN_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_RELS_CT = "application/vnd.openxmlformats-package.relationships+xml"
_HEADER_CT = "application/vnd.openxmlformats-officedocument.wordprocessingml.header+xml"
_DECLARATION = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Characters XML 1.0 forbids; Word refuses the whole file over one of them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("", text), {'"': "&quot;", "'": "&apos;"})


def _run(text: str, *, bold: bool = False, size: int = 20) -> str:
    """A run of text; line breaks become Word line breaks so a typed list stays a list."""
    properties = '<w:rFonts w:ascii="Arial" w:hAnsi="Arial" w:cs="Arial"/>'
    if bold:
        properties += "<w:b/>"
    properties += f'<w:sz w:val="{size}"/><w:szCs w:val="{size}"/>'
    pieces = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    body = "<w:br/>".join(f'<w:t xml:space="preserve">{_xml_text(piece)}</w:t>' for piece in pieces)
    return f"<w:r><w:rPr>{properties}</w:rPr>{body}</w:r>"


def _paragraph(text: str, *, bold: bool = False, size: int = 20, centre: bool = False) -> str:
    properties = '<w:pPr><w:spacing w:after="120"/>'
    if centre:
        properties += '<w:jc w:val="center"/>'
    properties += "</w:pPr>"
    return f"<w:p>{properties}{_run(text, bold=bold, size=size)}</w:p>"


def _cell(text: str, width: int, *, header: bool = False) -> str:
    shading = '<w:shd w:val="clear" w:color="auto" w:fill="D9D9D9"/>' if header else ""
    return (
        f'<w:tc><w:tcPr><w:tcW w:w="{width}" w:type="dxa"/>{shading}</w:tcPr>'
        f"<w:p>{_run(text, bold=header, size=18)}</w:p></w:tc>"
    )


def _table(rows: Sequence[MinutesRow]) -> str:
    border = 'w:val="single" w:sz="4" w:space="0" w:color="808080"'
    borders = "".join(
        f"<w:{side} {border}/>" for side in ("top", "left", "bottom", "right", "insideH", "insideV")
    )
    grid = "".join(f'<w:gridCol w:w="{width}"/>' for width in _COLUMN_WIDTHS)
    # The heading row repeats on every printed page; rows do not split across pages.
    heading = (
        "<w:tr><w:trPr><w:tblHeader/><w:cantSplit/></w:trPr>"
        + "".join(
            _cell(name, width, header=True)
            for name, width in zip(COLUMNS, _COLUMN_WIDTHS, strict=True)
        )
        + "</w:tr>"
    )
    body = "".join(
        "<w:tr><w:trPr><w:cantSplit/></w:trPr>"
        + "".join(
            _cell(value, width)
            for value, width in zip(
                (row.reference, row.agency, row.action, row.due, status_label(row.state)),
                _COLUMN_WIDTHS,
                strict=True,
            )
        )
        + "</w:tr>"
        for row in rows
    )
    return (
        f'<w:tbl><w:tblPr><w:tblW w:w="{sum(_COLUMN_WIDTHS)}" w:type="dxa"/>'
        f'<w:tblBorders>{borders}</w:tblBorders><w:tblLayout w:type="fixed"/></w:tblPr>'
        f"<w:tblGrid>{grid}</w:tblGrid>{heading}{body}</w:tbl>"
    )


def _document_xml(area: str, meeting_when: str, rows: Sequence[MinutesRow], generated: str) -> str:
    parts = [
        _paragraph(MARKING, bold=True, size=24, centre=True),
        _paragraph(f"{TITLE}: {area}", bold=True, size=32),
        _paragraph(f"Meeting: {meeting_when}"),
        _paragraph(f"Produced: {generated}"),
        _paragraph(_summary(rows)),
    ]
    if rows:
        parts.append(_table(rows))
    parts.append(_paragraph(MARKING, bold=True, size=24, centre=True))
    section = (
        '<w:sectPr><w:headerReference w:type="default" r:id="rIdHeader1"/>'
        '<w:pgSz w:w="16838" w:h="11906" w:orient="landscape"/>'
        '<w:pgMar w:top="1134" w:right="1134" w:bottom="1134" w:left="1134" '
        'w:header="567" w:footer="567" w:gutter="0"/></w:sectPr>'
    )
    return (
        f'{_DECLARATION}<w:document xmlns:w="{_W}" xmlns:r="{_R}"><w:body>'
        f"{''.join(parts)}{section}</w:body></w:document>"
    )


def _header_xml() -> str:
    return (
        f'{_DECLARATION}<w:hdr xmlns:w="{_W}" xmlns:r="{_R}">'
        f"{_paragraph(MARKING, bold=True, size=24, centre=True)}</w:hdr>"
    )


_CONTENT_TYPES = (
    f"{_DECLARATION}"
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    f'<Default Extension="rels" ContentType="{_RELS_CT}"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/word/document.xml" ContentType="{_MAIN_CT}"/>'
    f'<Override PartName="/word/header1.xml" ContentType="{_HEADER_CT}"/>'
    "</Types>"
)
_PACKAGE_RELS = (
    f'{_DECLARATION}<Relationships xmlns="{_PKG_RELS}">'
    f'<Relationship Id="rId1" Type="{_DOC_TYPE}" Target="word/document.xml"/>'
    "</Relationships>"
)
_DOCUMENT_RELS = (
    f'{_DECLARATION}<Relationships xmlns="{_PKG_RELS}">'
    f'<Relationship Id="rIdHeader1" Type="{_HEADER_TYPE}" Target="header1.xml"/>'
    "</Relationships>"
)


def minutes_docx(
    *, area: str, meeting_when: str, rows: Sequence[MinutesRow], generated_at: str
) -> bytes:
    """The plan as a .docx file's bytes, ready to send as a document."""
    parts = [
        # The content types part comes first, as Office writes it and some readers expect.
        ("[Content_Types].xml", _CONTENT_TYPES),
        ("_rels/.rels", _PACKAGE_RELS),
        ("word/document.xml", _document_xml(area, meeting_when, rows, generated_at)),
        ("word/_rels/document.xml.rels", _DOCUMENT_RELS),
        ("word/header1.xml", _header_xml()),
    ]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content.encode("utf-8"))
    return buffer.getvalue()

"""The minutes of a MARAC meeting as a Word document, following SafeLives' model minutes.

For the meeting: the date, the chair, attendance by agency and name, apologies and whether
information was sent instead, and the confidentiality statement everyone present agreed to.
For each case: its reference, why it was heard (criterion, DASH, repeat), the risks
identified, the victim's views (from the IDVA), what each agency shared, the actions with
owner and date, and the review of actions from an earlier meeting.

Each reader's copy is built from a ``MeetingMinutes`` that the service has already cut to
what the access policy lets that reader see: a part that is ``None`` (or an empty tuple)
is left out of the copy, heading and all, so a copy does not say what it omits.

The document is written with python-docx. It carries case references only, never names
of the victim or the person causing harm, and is marked OFFICIAL-SENSITIVE (the government
classification that replaced RESTRICTED in 2014) in the page header and footer, so every
printed page carries the marking, and at the top and the end of the text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from docx import Document
from docx.document import Document as DocxDocument
from docx.enum.section import WD_ORIENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt
from docx.text.paragraph import Paragraph

from bot import texts
from bot.actions.states import ACTION_LABELS, ActionState
from bot.i18n import _

MARKING = texts.MINUTES_MARKING
TITLE = texts.MINUTES_TITLE
NOT_DONE = "not_done"

# Characters XML 1.0 forbids; python-docx refuses them, and Word would refuse the file.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class MinutesRow:
    """One action as it goes into the minutes; ``state`` is an ActionState value or "not_done"."""

    reference: str
    agency: str
    action: str
    due: str
    state: str


@dataclass(frozen=True)
class Attendee:
    """One agency's line in the attendance: who came (names), or its apologies."""

    agency: str
    reply: str  # attending | deputy | apologies | no reply
    names: str = ""
    information_sent: bool = False
    # Why apologies were sent: in the coordinator's copy only (it may name a person).
    reason: str | None = None


@dataclass(frozen=True)
class CaseMinutes:
    """One case as a reader's copy holds it; ``None`` parts are not in this copy."""

    reference: str
    why_heard: str | None = None
    risks: str | None = None
    victim_views: str | None = None
    research: tuple[tuple[str, str], ...] | None = None  # (agency, what it shared)
    actions: tuple[MinutesRow, ...] = ()
    review: tuple[MinutesRow, ...] = ()


@dataclass(frozen=True)
class MeetingMinutes:
    area: str
    meeting_when: str
    chair: str
    generated_at: str
    copy_for: str
    attendance: tuple[Attendee, ...] = ()
    confidentiality_agreed: str | None = None  # who recorded it and when, or None
    cases: tuple[CaseMinutes, ...] = field(default_factory=tuple)


def status_label(state: str) -> str:
    """The words the minutes use, keeping SafeLives' "not possible" and "not done" apart."""
    if state == NOT_DONE:
        return "Not done"
    if state == ActionState.NOT_POSSIBLE:
        return "Not possible (circumstances changed)"
    try:
        return ACTION_LABELS[ActionState(state)]
    except ValueError:
        return state


def clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def _one_line(text: str) -> str:
    return " ".join(clean(text).split())


def outline(minutes: MeetingMinutes) -> list[str]:
    """The headings the document will carry, in order: a short textual outline of a copy."""
    lines = [
        _(MARKING),
        f"{_(TITLE)}: {minutes.area}",
        minutes.copy_for,
        _(texts.MINUTES_HEADING_MEETING),
    ]
    lines += [_(texts.MINUTES_HEADING_ATTENDANCE), _(texts.MINUTES_HEADING_APOLOGIES)]
    lines += [_(texts.MINUTES_HEADING_CONFIDENTIALITY), _(texts.MINUTES_HEADING_CASES)]
    for case in minutes.cases:
        lines.append(case.reference)
        for heading, present in _case_parts(case):
            if present:
                lines.append(f"  {heading}")
    return lines


def _case_parts(case: CaseMinutes) -> list[tuple[str, bool]]:
    return [
        (_(texts.MINUTES_HEADING_WHY), case.why_heard is not None),
        (_(texts.MINUTES_HEADING_RISKS), case.risks is not None),
        (_(texts.MINUTES_HEADING_VIEWS), case.victim_views is not None),
        (_(texts.MINUTES_HEADING_RESEARCH), case.research is not None),
        (_(texts.MINUTES_HEADING_ACTIONS), True),
        (_(texts.MINUTES_HEADING_REVIEW), bool(case.review)),
    ]


# --- the Word document -----------------------------------------------------------------------


def _marking(paragraph: Paragraph) -> None:
    paragraph.text = ""
    run = paragraph.add_run(_(MARKING))
    run.bold = True
    run.font.size = Pt(12)
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER


def _table(document: DocxDocument, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    table = document.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, columns, strict=True):
        cell.text = ""
        cell.paragraphs[0].add_run(_(name)).bold = True
    for values in rows:
        cells = table.add_row().cells
        for cell, value in zip(cells, values, strict=True):
            cell.text = clean(value)


def apology_reason(attendee: Attendee) -> str:
    """The apology reason in the coordinator's copy; elsewhere only that one was given."""
    if attendee.reason is not None:
        return attendee.reason
    return _(texts.MINUTES_REASON_WITHHELD) if attendee.reply == "apologies" else ""


def action_rows(rows: Sequence[MinutesRow]) -> list[list[str]]:
    return [[row.agency, row.action, row.due, status_label(row.state)] for row in rows]


def present(minutes: MeetingMinutes) -> list[Attendee]:
    """Who attended (in person or by a deputy); the rest are the apologies."""
    return [a for a in minutes.attendance if a.reply in ("attending", "deputy")]


def absent(minutes: MeetingMinutes) -> list[Attendee]:
    return [a for a in minutes.attendance if a.reply not in ("attending", "deputy")]


def minutes_docx(minutes: MeetingMinutes) -> bytes:
    """A reader's copy of the minutes as a .docx file's bytes, ready to send as a document."""
    document = Document()
    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for margin in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, margin, Cm(2))
    _marking(section.header.paragraphs[0])
    _marking(section.footer.paragraphs[0])
    document.core_properties.title = f"{_(TITLE)}: {clean(minutes.area)}"
    document.core_properties.keywords = _(MARKING)

    _marking(document.add_paragraph())
    document.add_heading(f"{_(TITLE)}: {_one_line(minutes.area)}", level=0)
    document.add_paragraph(clean(minutes.copy_for))

    document.add_heading(_(texts.MINUTES_HEADING_MEETING), level=1)
    document.add_paragraph(clean(texts.minutes_meeting_line(minutes.meeting_when, minutes.chair)))
    document.add_paragraph(clean(minutes.generated_at))

    document.add_heading(_(texts.MINUTES_HEADING_ATTENDANCE), level=2)
    attended = present(minutes)
    if attended:
        _table(
            document,
            texts.MINUTES_ATTENDANCE_COLUMNS,
            [[a.agency, a.names, a.reply] for a in attended],
        )
    else:
        document.add_paragraph(_(texts.MINUTES_NONE_RECORDED))

    document.add_heading(_(texts.MINUTES_HEADING_APOLOGIES), level=2)
    apologies = absent(minutes)
    if apologies:
        _table(
            document,
            texts.MINUTES_APOLOGY_COLUMNS,
            [
                [
                    f"{a.agency} ({a.reply})",
                    _(texts.MINUTES_YES) if a.information_sent else _(texts.MINUTES_NO),
                    apology_reason(a),
                ]
                for a in apologies
            ],
        )
    else:
        document.add_paragraph(_(texts.MINUTES_NONE_RECORDED))

    document.add_heading(_(texts.MINUTES_HEADING_CONFIDENTIALITY), level=2)
    # Whether it was agreed first, so an outline's first line under the heading says so.
    document.add_paragraph(clean(minutes.confidentiality_agreed or _(texts.MINUTES_NOT_AGREED)))
    document.add_paragraph(_(texts.CONFIDENTIALITY_STATEMENT))

    document.add_heading(_(texts.MINUTES_HEADING_CASES), level=1)
    if not minutes.cases:
        document.add_paragraph(_(texts.MINUTES_NO_CASES))
    for case in minutes.cases:
        document.add_heading(_one_line(case.reference), level=2)
        if case.why_heard is not None:
            document.add_heading(_(texts.MINUTES_HEADING_WHY), level=3)
            document.add_paragraph(clean(case.why_heard))
        if case.risks is not None:
            document.add_heading(_(texts.MINUTES_HEADING_RISKS), level=3)
            document.add_paragraph(clean(case.risks or _(texts.MINUTES_NO_RISKS)))
        if case.victim_views is not None:
            document.add_heading(_(texts.MINUTES_HEADING_VIEWS), level=3)
            document.add_paragraph(clean(case.victim_views or _(texts.MINUTES_NO_VIEWS)))
        if case.research is not None:
            document.add_heading(_(texts.MINUTES_HEADING_RESEARCH), level=3)
            if not case.research:
                document.add_paragraph(_(texts.MINUTES_NONE_RECORDED))
            for agency, summary in case.research:
                document.add_paragraph(
                    clean(texts.minutes_research_line(agency, summary)), style="List Bullet"
                )
        document.add_heading(_(texts.MINUTES_HEADING_ACTIONS), level=3)
        if case.actions:
            _table(document, texts.MINUTES_COLUMNS, action_rows(case.actions))
        else:
            document.add_paragraph(_(texts.MINUTES_NO_ACTIONS))
        if case.review:
            document.add_heading(_(texts.MINUTES_HEADING_REVIEW), level=3)
            _table(document, texts.MINUTES_COLUMNS, action_rows(case.review))

    _marking(document.add_paragraph())
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def docx_outline(content: bytes, *, with_text: bool = False) -> list[str]:
    """The headings of a generated document, indented by level: what the demo prints.

    ``with_text`` adds, under each heading, the start of what follows it (a paragraph, or a
    table's rows), so a reader of the outline sees that each part has content.
    """
    document = Document(io.BytesIO(content))
    lines: list[str] = []
    indent = ""
    after_heading = False
    for block in document.iter_inner_content():
        if isinstance(block, Paragraph):
            name = block.style.name if block.style is not None else ""
            if name == "Title" or name.startswith("Heading "):
                level = 1 if name == "Title" else int(name.split()[-1])
                indent = "  " * (level - 1)
                lines.append(indent + block.text)
                after_heading = True
            elif with_text and after_heading and block.text.strip():
                lines.append(f"{indent}  > {_short(block.text)}")
                after_heading = block.style is not None and block.style.name == "List Bullet"
        elif with_text and after_heading:
            for row in block.rows[1:]:
                lines.append(f"{indent}  > {_short(' | '.join(c.text for c in row.cells))}")
            after_heading = False
    return lines


def _short(text: str, width: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"

"""The minutes as a Word file: opened with python-docx, marked, sectioned, complete, cut."""

from __future__ import annotations

import io
from dataclasses import replace

from docx import Document
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import texts
from bot.actions.minutes import (
    NOT_DONE,
    Attendee,
    CaseMinutes,
    MeetingMinutes,
    MinutesRow,
    docx_outline,
    minutes_docx,
    outline,
    status_label,
)

TRICKY = 'Visit & check <bail> "now" — then call\nand record it'
ACTIONS = (
    MinutesRow("NS-2026-0001", "Northshire Police", TRICKY, "12 Dec 2026", "assigned"),
    MinutesRow("NS-2026-0001", "Sunflower IDVA Service", "Safety plan", "14 Dec 2026", "done"),
)
REVIEW = (
    MinutesRow("NS-2026-0001", "Housing Options", "Sanctuary scheme", "1 Dec 2026", NOT_DONE),
    MinutesRow("NS-2026-0001", "Health", "GP review", "1 Dec 2026", "not_possible"),
)
FULL_CASE = CaseMinutes(
    reference="NS-2026-0001",
    why_heard=texts.minutes_why_heard("dash", 15, True),
    risks="Strangulation last month; escalating.",
    victim_views="Wants to stay at home.",
    research=(("Northshire Police", "Three callouts."), ("Health", "Nothing known.")),
    actions=ACTIONS,
    review=REVIEW,
)
ATTENDANCE = (
    Attendee("Northshire Police", "attending", "Sam Okafor", True),
    Attendee("Health", "apologies", "Nia Brown", True, "On leave"),
    Attendee("Housing Options", texts.MINUTES_NO_REPLY, "", False),
)


def minutes(*cases: CaseMinutes, agreed: str | None = "Agreed at 10:02 by Priya") -> MeetingMinutes:
    return MeetingMinutes(
        area="Northshire",
        meeting_when="Thu 10 Dec 2026 10:00",
        chair="Priya Shah",
        generated_at="Thu 10 Dec 2026 13:00",
        copy_for=texts.MINUTES_COPY_FULL,
        attendance=ATTENDANCE,
        confidentiality_agreed=agreed,
        cases=cases,
    )


def opened(data: bytes):  # type: ignore[no-untyped-def]
    return Document(io.BytesIO(data))


def all_text(data: bytes) -> str:
    document = opened(data)
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts += [cell.text for cell in row.cells]
    return "\n".join(parts)


def test_official_sensitive_in_header_footer_and_at_top_and_end() -> None:
    document = opened(minutes_docx(minutes(FULL_CASE)))
    section = document.sections[0]
    assert section.header.paragraphs[0].text == "OFFICIAL-SENSITIVE"
    assert section.footer.paragraphs[0].text == "OFFICIAL-SENSITIVE"
    assert document.paragraphs[0].text == "OFFICIAL-SENSITIVE"
    assert document.paragraphs[-1].text == "OFFICIAL-SENSITIVE"
    assert "RESTRICTED" not in all_text(minutes_docx(minutes(FULL_CASE)))


def test_the_sections_follow_safelives_model_minutes() -> None:
    headings = docx_outline(minutes_docx(minutes(FULL_CASE)))
    assert headings == [
        "MARAC minutes: Northshire",
        "The meeting",
        "  Attendance",
        "  Apologies",
        "  Confidentiality statement",
        "Cases heard",
        "  NS-2026-0001",
        "    Why the case was heard",
        "    Risks identified",
        "    The victim's views (from the IDVA)",
        "    What each agency shared",
        "    Actions agreed",
        "    Review of actions from an earlier meeting",
    ]


def test_the_meeting_part_has_date_chair_attendance_apologies_and_statement() -> None:
    data = minutes_docx(minutes(FULL_CASE))
    text = all_text(data)
    assert "Date: Thu 10 Dec 2026 10:00\nChair: Priya Shah" in text
    assert texts.CONFIDENTIALITY_STATEMENT in text
    assert "Agreed at 10:02 by Priya" in text
    tables = opened(data).tables
    attendance = [[c.text for c in row.cells] for row in tables[0].rows]
    assert attendance == [
        list(texts.MINUTES_ATTENDANCE_COLUMNS),
        ["Northshire Police", "Sam Okafor", "attending"],
    ]
    apologies = [[c.text for c in row.cells] for row in tables[1].rows]
    assert apologies == [
        list(texts.MINUTES_APOLOGY_COLUMNS),
        ["Health (apologies)", "Yes", "On leave"],
        ["Housing Options (no reply)", "No", ""],
    ]


def test_not_agreed_is_said() -> None:
    assert texts.MINUTES_NOT_AGREED in all_text(minutes_docx(minutes(FULL_CASE, agreed=None)))


def test_each_case_has_why_risks_views_research_actions_and_review() -> None:
    data = minutes_docx(minutes(FULL_CASE))
    text = all_text(data)
    assert "Criterion: dash. DASH: 15 yes answers. Repeat referral." in text
    assert "Strangulation last month; escalating." in text
    assert "Wants to stay at home." in text
    assert "Northshire Police: Three callouts." in text
    tables = opened(data).tables
    actions = [[c.text for c in row.cells] for row in tables[2].rows]
    assert actions == [
        list(texts.MINUTES_COLUMNS),
        ["Northshire Police", TRICKY, "12 Dec 2026", "Assigned"],
        ["Sunflower IDVA Service", "Safety plan", "14 Dec 2026", "Done"],
    ]
    review = [row.cells[3].text for row in tables[3].rows[1:]]
    assert review == ["Not done", "Not possible (circumstances changed)"]


def test_parts_left_out_of_a_copy_leave_no_heading() -> None:
    cut = CaseMinutes(reference="NS-2026-0001", actions=ACTIONS[:1])
    headings = docx_outline(minutes_docx(minutes(cut)))
    assert headings[-2:] == ["  NS-2026-0001", "    Actions agreed"]
    text = all_text(minutes_docx(minutes(cut)))
    assert "victim's views" not in text and "Risks identified" not in text


def test_no_cases_says_so() -> None:
    assert texts.MINUTES_NO_CASES in all_text(minutes_docx(minutes()))


def test_the_outline_matches_the_document() -> None:
    data_outline = [line.strip() for line in docx_outline(minutes_docx(minutes(FULL_CASE)))]
    planned = [line.strip() for line in outline(minutes(FULL_CASE))]
    assert [line for line in planned if line in data_outline] == data_outline


def test_status_labels_keep_not_possible_and_not_done_apart() -> None:
    assert status_label(NOT_DONE) == "Not done"
    assert status_label("not_possible") == "Not possible (circumstances changed)"
    assert status_label("something else") == "something else"


@settings(max_examples=30, deadline=None)
@given(st.text(), st.text(alphabet=st.characters(categories=("L", "N", "P", "Zs"))))
def test_any_text_makes_a_document_python_docx_opens(area: str, risks: str) -> None:
    case = CaseMinutes(reference="NS-1", risks=risks, actions=ACTIONS)
    data = minutes_docx(replace(minutes(case), area=area))
    document = opened(data)  # characters XML forbids are dropped, never fatal
    assert document.sections[0].header.paragraphs[0].text == "OFFICIAL-SENSITIVE"
    assert (risks or texts.MINUTES_NO_RISKS) in all_text(data)


def test_characters_xml_forbids_are_dropped() -> None:
    case = CaseMinutes(reference="NS-1", risks="bell\x07 and null\x00 here", actions=ACTIONS)
    assert "bell and null here" in all_text(minutes_docx(minutes(case)))

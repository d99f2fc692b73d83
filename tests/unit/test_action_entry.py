"""Quick entry of actions at the meeting: what each typed line becomes, and what is refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.actions.entry import MAX_TEXT, ActionDraft, parse_action_line, read_back
from bot.referrals.validation import InputError

AGENCIES = [
    "Northshire Police",
    "Sunflower IDVA Service",
    "Children's Social Care",
    "Adult Social Care",
    "Housing Options",
    "Probation Service",
    "CGL - Drug and Alcohol",
]
THURSDAY = date(2026, 12, 3)


def parse(text: str, today: date = THURSDAY) -> ActionDraft:
    return parse_action_line(text, AGENCIES, today)


def refusal(text: str, today: date = THURSDAY, agencies: list[str] | None = None) -> str:
    with pytest.raises(InputError) as caught:
        parse_action_line(text, AGENCIES if agencies is None else agencies, today)
    return str(caught.value)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "Police: visit victim and check bail conditions by 12/12/2026 high",
            ActionDraft(
                "Northshire Police",
                "visit victim and check bail conditions",
                date(2026, 12, 12),
                "high",
            ),
        ),
        (
            "IDVA - contact victim within 2 days",
            ActionDraft("Sunflower IDVA Service", "contact victim", date(2026, 12, 7), "normal"),
        ),
        (
            "Housing: sanctuary scheme assessment",
            ActionDraft("Housing Options", "sanctuary scheme assessment", None, "normal"),
        ),
        (
            "CSC: strategy discussion within 3 working days urgent",
            ActionDraft("Children's Social Care", "strategy discussion", date(2026, 12, 8), "high"),
        ),
        (
            "ASC - care act assessment for victim's mother",
            ActionDraft(
                "Adult Social Care", "care act assessment for victim's mother", None, "normal"
            ),
        ),
        (
            "prob: check licence conditions by 5 Jan 2027, priority",
            ActionDraft("Probation Service", "check licence conditions", date(2027, 1, 5), "high"),
        ),
        (
            "children’s social care – share plan with school by 18th December",
            ActionDraft(
                "Children's Social Care", "share plan with school", date(2026, 12, 18), "normal"
            ),
        ),
        (
            "D&A: offer treatment appointment due 2027-01-08",
            ActionDraft(
                "CGL - Drug and Alcohol", "offer treatment appointment", date(2027, 1, 8), "normal"
            ),
        ),
        (
            "CGL - Drug and Alcohol - offer treatment within a week",
            ActionDraft("CGL - Drug and Alcohol", "offer treatment", date(2026, 12, 10), "normal"),
        ),
        (
            "NORTHSHIRE POLICE: flag address by 12/12/26 (urgent)",
            ActionDraft("Northshire Police", "flag address", date(2026, 12, 12), "high"),
        ),
        (
            "Police: urgent: review bail by tomorrow",
            ActionDraft("Northshire Police", "review bail", date(2026, 12, 4), "high"),
        ),
        (
            "Police: visit victim within two working days and update IDVA",
            ActionDraft(
                "Northshire Police", "visit victim and update IDVA", date(2026, 12, 7), "normal"
            ),
        ),
        (
            "Police: check whether the risk is high",
            ActionDraft("Northshire Police", "check whether the risk is high", None, "normal"),
        ),
        (
            "IDVA: safety plan\nand refer to refuge",
            ActionDraft(
                "Sunflower IDVA Service", "safety plan and refer to refuge", None, "normal"
            ),
        ),
    ],
)
def test_good_lines(line: str, expected: ActionDraft) -> None:
    assert parse(line) == expected


def test_within_working_days_skips_the_weekend() -> None:
    friday = date(2026, 12, 4)
    assert parse("Police: visit victim within 3 working days", friday).due == date(2026, 12, 9)
    assert parse("Police: visit victim within 3 working days").due == date(2026, 12, 8)


def test_within_days_skips_christmas_and_boxing_day_substitute() -> None:
    christmas_eve = date(2026, 12, 24)
    assert parse("IDVA: contact victim within 2 days", christmas_eve).due == date(2026, 12, 30)


def test_a_due_date_of_today_is_allowed() -> None:
    assert parse("Police: visit victim by 3/12/2026").due == THURSDAY


def test_a_date_without_a_year_is_the_next_one() -> None:
    assert parse("Police: visit victim by 2 Jan").due == date(2027, 1, 2)
    assert parse("Police: visit victim by 3/12").due == THURSDAY


def test_ambiguous_agency_names_the_candidates_only() -> None:
    message = refusal("Social care: joint visit with police")
    assert "Children's Social Care" in message
    assert "Adult Social Care" in message
    assert "Housing Options" not in message
    assert "more of the agency's name" in message


def test_unknown_agency_lists_every_agency_without_echoing_the_text() -> None:
    message = refusal("Jane Doe: home fire safety visit")
    for name in AGENCIES:
        assert name in message
    assert "Jane" not in message


@pytest.mark.parametrize(
    "line", ["Police: visit victim by 2/12/2026", "Police: visit by 01/01/2020"]
)
def test_past_dates_are_refused(line: str) -> None:
    assert "in the past" in refusal(line)


@pytest.mark.parametrize(
    "line", ["Police:", "Police: by 12/12/2026 high", "Police - urgent", "Police: within 2 days"]
)
def test_missing_text_is_refused(line: str) -> None:
    assert refusal(line).startswith("Please say what Northshire Police will do")


def test_text_length_limits() -> None:
    assert "too short" in refusal("Police: go")
    assert parse("Police: visit").text == "visit"
    assert parse("Police: " + "a" * MAX_TEXT).text == "a" * MAX_TEXT
    assert "the limit is 500" in refusal("Police: " + "a" * (MAX_TEXT + 1))
    assert "one action per message" in refusal("Police: " + "a" * 5000)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("", "Please type the action"),
        ("   \n  ", "Please type the action"),
        ("Police visit victim", "Please start with the agency"),
        (": visit victim", "Please start with the agency"),
        ("Police: visit victim by 12/13/2026", "did you mean 13/12/2026?"),
        ("Police: visit victim by 31/11/2026", "31/11/2026 is not a real date"),
        ("Police: visit victim by 29 Feb", "29 Feb is not a real date"),
        ("Police: visit victim by 12/12/20266", "could not read 12/12/20266"),
        ("Police: visit victim by 12/12/2062", "more than a year away"),
        ("Police: visit victim within 24 hours", "in days or as a date"),
        ("Police: visit victim within 0 days", "at least 1 working day"),
        ("Police: visit victim within 900 days", "more than a year away"),
        ("Police: visit by 12/12/2026 and report within 2 days", "one due date"),
        ("Police: visit victim\nIDVA: call victim", "one action per message"),
    ],
)
def test_specific_refusals(line: str, words: str) -> None:
    assert words in refusal(line)


def test_no_agencies_set_up() -> None:
    assert "No agencies are set up" in refusal("Police: visit victim", agencies=[])


def test_an_exact_name_with_a_hyphen_beats_a_shorter_match() -> None:
    agencies = ["Northshire Police", "Police - CID"]
    draft = parse_action_line("Police - CID: review the file", agencies, THURSDAY)
    assert (draft.agency, draft.text) == ("Police - CID", "review the file")


def test_read_back_numbers_each_action_with_its_due_date_and_priority() -> None:
    drafts = [
        ActionDraft("Police", "visit victim and check bail conditions", date(2026, 12, 12), "high"),
        ActionDraft("Housing Options", "sanctuary scheme assessment", None, "normal"),
    ]
    assert read_back(drafts) == (
        "1. Police — visit victim and check bail conditions (due 12 Dec 2026, high priority)\n"
        "2. Housing Options — sanctuary scheme assessment (usual deadline)"
    )
    assert read_back([]) == "No actions yet."


# --- properties ------------------------------------------------------------------------------

_WORDS = ["visit", "victim", "check", "bail", "conditions", "refer", "safety", "plan", "flag"]
_FRAGMENTS = st.sampled_from(
    [
        *AGENCIES,
        "IDVA",
        "CSC",
        ":",
        " - ",
        "by",
        "within",
        "2",
        "12/12/2026",
        "31/2/2027",
        "working days",
        "hours",
        "high",
        "urgent",
        "\n",
        "",
        *_WORDS,
    ]
)


@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=8)), max_size=12))
def test_any_text_gives_a_draft_or_a_polite_refusal(parts: list[str]) -> None:
    try:
        draft = parse(" ".join(parts))
    except InputError as error:
        assert str(error).strip()
    else:
        assert draft.agency in AGENCIES
        assert 5 <= len(draft.text) <= MAX_TEXT
        assert draft.priority in ("high", "normal")
        assert draft.due is None or draft.due >= THURSDAY


@given(
    st.sampled_from(AGENCIES),
    st.lists(st.sampled_from(_WORDS), min_size=2, max_size=8),
    st.one_of(st.none(), st.integers(min_value=0, max_value=300)),
    st.booleans(),
)
def test_what_was_typed_comes_back(
    agency: str, words: list[str], days_ahead: int | None, high: bool
) -> None:
    text = " ".join(words)
    line = f"{agency}: {text}"
    due = None if days_ahead is None else THURSDAY + timedelta(days=days_ahead)
    if due is not None:
        line += f" by {due:%d/%m/%Y}"
    if high:
        line += " high"
    assert parse(line) == ActionDraft(agency, text, due, "high" if high else "normal")

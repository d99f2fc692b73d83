"""Checks on typed referral answers: what is accepted, and what each refusal tells the referrer."""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.referrals.validation import (
    MAX_NAME,
    MAX_TEXT,
    InputError,
    age_on,
    clean_free_text,
    clean_name,
    parse_count,
    parse_date_of_birth,
    parse_date_or_unknown,
)

TODAY = date(2026, 11, 26)


def refusal(function: object, *args: object, **kwargs: object) -> str:
    assert callable(function)
    with pytest.raises(InputError) as caught:
        function(*args, **kwargs)
    return str(caught.value)


def test_input_error_is_a_value_error_whose_text_is_the_message() -> None:
    error = InputError("Please type the name.")
    assert isinstance(error, ValueError)
    assert str(error) == "Please type the name."
    assert error.message == "Please type the name."


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        ("Jane Smith", "Jane Smith"),
        ("  Jane \t  Smith \n", "Jane Smith"),
        ("Mary-Ann O'Neil", "Mary-Ann O'Neil"),
        ("Siobhán Ní Bhriain", "Siobhán Ní Bhriain"),
        ("D’Arcy", "D’Arcy"),
        ("Zoë Brontë", "Zoë Brontë"),
        ("Дмитрий Иванов", "Дмитрий Иванов"),
        ("محمد علي", "محمد علي"),
        ("王秀英", "王秀英"),
        ("प्रिया शर्मा", "प्रिया शर्मा"),
        ("J. R. Smith", "J. R. Smith"),
        ("\u200fJane\u200b Smith", "Jane Smith"),
    ],
)
def test_names_are_tidied_but_kept_as_typed(typed: str, cleaned: str) -> None:
    assert clean_name(typed) == cleaned


def test_the_same_accented_name_typed_two_ways_is_stored_the_same() -> None:
    decomposed = unicodedata.normalize("NFD", "Zoë")
    assert decomposed != "Zoë"
    assert clean_name(decomposed) == "Zoë"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Please type the name."),
        ("   ", "Please type the name."),
        ("😀😀", "Please type the name in letters."),
        ("12345", "Please type the name in letters."),
        ("- '", "Please type the name in letters."),
        ("Jane 2", "Please type the name without numbers."),
        ("Jane 😀", "A name cannot contain “😀”."),
        ("Jane@Smith", "A name cannot contain “@”."),
        ("x" * 101, "That name is 101 characters; the limit is 100. Please shorten it."),
    ],
)
def test_names_that_cannot_be_used_are_refused_with_a_correction(typed: str, message: str) -> None:
    assert refusal(clean_name, typed) == message or message in refusal(clean_name, typed)


def test_a_name_of_exactly_the_limit_is_accepted() -> None:
    assert clean_name("a" * MAX_NAME) == "a" * MAX_NAME


@given(st.text(max_size=150))
def test_clean_name_never_fails_with_anything_but_input_error(text: str) -> None:
    try:
        name = clean_name(text)
    except InputError as error:
        assert str(error)
    else:
        assert name == name.strip()
        assert "  " not in name
        assert 1 <= len(name) <= MAX_NAME
        assert clean_name(name) == name


# --- dates of birth --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "31/12/1990",
        "31-12-90",
        "31.12.1990",
        "1990-12-31",
        "31 Dec 1990",
        "31 december 1990",
        "31st December 1990",
        "31 Dec 90",
        "Dec 31, 1990",
        "31 / 12 / 1990",
        "31–12–1990",
        " 31/12/1990 ",
    ],
)
def test_dates_of_birth_in_the_forms_people_type(typed: str) -> None:
    assert parse_date_of_birth(typed, TODAY) == date(1990, 12, 31)


@pytest.mark.parametrize(
    ("typed", "year"),
    [("1/1/00", 2000), ("1/1/26", 2026), ("1/1/27", 1927), ("1/1/99", 1999), ("1 Jan 05", 2005)],
)
def test_two_digit_years_are_the_latest_year_not_in_the_future(typed: str, year: int) -> None:
    assert parse_date_of_birth(typed, TODAY).year == year


def test_a_baby_born_today_has_a_date_of_birth() -> None:
    assert parse_date_of_birth("26/11/2026", TODAY) == TODAY


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("31/02/1990", "31/02/1990 is not a real date. Please check the day and month."),
        ("29/02/2023", "29/02/2023 is not a real date. Please check the day and month."),
        (
            "12/31/1990",
            "12/31/1990 is not a real date. Dates go day first: did you mean 31/12/1990?",
        ),
        ("27/11/2026", "That date of birth is in the future. Please check the year."),
        ("1/1/1900", "That date of birth would make them 126 years old. Please check the year."),
        ("31 Decembr 1990", "I did not recognise the month “decembr”."),
        ("last Tuesday", "for example 31/12/1990."),
        ("1990", "for example 31/12/1990."),
    ],
)
def test_impossible_dates_of_birth_are_refused_precisely(typed: str, message: str) -> None:
    assert message in refusal(parse_date_of_birth, typed, TODAY)


def test_110_is_the_oldest_age_accepted() -> None:
    assert parse_date_of_birth("26/11/1916", TODAY) == date(1916, 11, 26)
    assert "111 years old" in refusal(parse_date_of_birth, "25/11/1915", TODAY)


def test_leap_day_birthdays_are_real_dates() -> None:
    assert parse_date_of_birth("29/02/2000", TODAY) == date(2000, 2, 29)


@pytest.mark.parametrize(
    "typed", ["unknown", "Unknown", "not known", "NK", "n/k", "don't know", "don’t know", "dk"]
)
def test_an_unknown_date_of_birth_is_an_honest_answer(typed: str) -> None:
    assert parse_date_or_unknown(typed, TODAY) is None


def test_a_known_date_still_parses_where_unknown_is_allowed() -> None:
    assert parse_date_or_unknown("31/12/1990", TODAY) == date(1990, 12, 31)
    assert "type unknown" in refusal(parse_date_or_unknown, "no idea", TODAY)
    assert "is not a real date" in refusal(parse_date_or_unknown, "30/02/1990", TODAY)


@given(st.text(max_size=60))
def test_parse_date_of_birth_never_fails_with_anything_but_input_error(text: str) -> None:
    try:
        born = parse_date_of_birth(text, TODAY)
    except InputError as error:
        assert str(error)
    else:
        assert born <= TODAY
        assert age_on(born, TODAY) <= 110


@given(
    st.from_regex(
        r"[0-9]{1,2}[/.\- ][0-9]{1,2}[/.\- ]([0-9]{2}|[0-9]{4})|[0-9]{1,2} [a-z]{3,9} [0-9]{2,4}",
        fullmatch=True,
    )
)
def test_date_shaped_text_never_fails_with_anything_but_input_error(text: str) -> None:
    try:
        parse_date_of_birth(text, TODAY)
    except InputError as error:
        assert str(error)


@given(st.dates(min_value=TODAY - timedelta(days=365 * 110), max_value=TODAY))
def test_any_real_date_of_birth_written_day_first_reads_back(born: date) -> None:
    assert parse_date_of_birth(born.strftime("%d/%m/%Y"), TODAY) == born
    assert parse_date_of_birth(born.strftime("%d %b %Y"), TODAY) == born
    assert parse_date_of_birth(born.isoformat(), TODAY) == born


@pytest.mark.parametrize(
    ("born", "on", "age"),
    [
        (date(1990, 12, 31), date(2026, 11, 26), 35),
        (date(1990, 11, 26), date(2026, 11, 26), 36),
        (date(1990, 11, 27), date(2026, 11, 26), 35),
        (date(2008, 2, 29), date(2026, 2, 28), 17),
        (date(2008, 2, 29), date(2026, 3, 1), 18),
        (date(2026, 11, 26), date(2026, 11, 26), 0),
    ],
)
def test_age_on_counts_whole_years(born: date, on: date, age: int) -> None:
    assert age_on(born, on) == age


# --- free text and counts --------------------------------------------------------------------


def test_free_text_is_trimmed_and_keeps_its_lines() -> None:
    assert clean_free_text("  first\r\nsecond  \n") == "first\nsecond"


def test_empty_free_text_is_refused() -> None:
    assert refusal(clean_free_text, " \n ") == "That was empty. Please type your answer."


def test_free_text_over_the_limit_gives_the_length_and_the_limit() -> None:
    assert refusal(clean_free_text, "x" * 20_000) == (
        "That is 20,000 characters; the limit is 3,000. Please shorten it."
    )
    assert clean_free_text("x" * MAX_TEXT) == "x" * MAX_TEXT
    assert "the limit is 500" in refusal(clean_free_text, "x" * 501, max_length=500)


def test_free_text_can_require_a_minimum() -> None:
    assert "at least 10 characters" in refusal(clean_free_text, "scared", min_length=10)
    assert clean_free_text("very scared", min_length=10) == "very scared"


@pytest.mark.parametrize(("typed", "value"), [("0", 0), ("3", 3), (" 12 ", 12), ("none", 0)])
def test_counts(typed: str, value: int) -> None:
    assert parse_count(typed, maximum=50) == value


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("three", "Please type the number in digits, for example 3 rather than three."),
        ("3.5", "Please type a whole number from 0 to 50"),
        ("-2", "Please type a whole number from 0 to 50"),
        ("", "Please type a whole number from 0 to 50"),
        ("51", "the most I can take is 50"),
        ("9" * 5000, "the most I can take is 50"),
    ],
)
def test_count_refusals(typed: str, message: str) -> None:
    assert message in refusal(parse_count, typed, maximum=50)


@given(st.text(max_size=20), st.integers(0, 1000))
def test_parse_count_never_fails_with_anything_but_input_error(text: str, maximum: int) -> None:
    try:
        value = parse_count(text, maximum=maximum)
    except InputError as error:
        assert str(error)
    else:
        assert 0 <= value <= maximum

"""The quarterly dataset CSV: layout, hand-counted rows, and "<5" for governance users."""

from __future__ import annotations

import csv
import io

from bot.stats.dataset_csv import figures_csv
from bot.stats.figures import compute, quarter
from tests.support.stats import TODAY, q3_figures

# Written out rather than read from the module, so a renamed or moved column fails here.
EXPECTED_HEADER = [
    "Meeting date",
    "Number of cases discussed",
    "Number of repeat cases",
    "Number of children in the households",
    "Referrals from police",
    "Referrals from Idva",
    "Referrals from children's social care",
    "Referrals from adult social care",
    "Referrals from health",
    "Referrals from housing",
    "Referrals from probation",
    "Referrals from education",
    "Referrals from mental health",
    "Referrals from substance misuse",
    "Referrals from perpetrator service",
    "Referrals from other agencies",
    "Victims who are Black, Asian or racially minoritised",
    "Victims who are LGBT+",
    "Victims with a disability",
    "Male victims",
    "Victims aged 16-17",
    "Perpetrators aged 17 or under",
]


def cells(row: str) -> list[str]:
    return row.split()


# Date, cases, repeats, children; referrals: police, Idva, CSC, ASC, health, housing, probation,
# education, mental health, substance misuse, perpetrator service, other; then minoritised, LGBT+,
# disabled, male, aged 16-17, perpetrators 17 or under.
EXACT_ROWS = [
    cells("2026-07-01 6 3 7 3 1 0 0 1 1 0 0 0 0 0 0 2 1 1 1 1 1"),
    cells("2026-08-13 4 1 3 2 0 1 0 0 0 1 0 0 0 0 0 1 0 1 1 0 0"),
    cells("2026-09-10 10 3 9 7 1 0 0 0 0 0 1 0 0 0 1 1 0 5 2 0 1"),
    cells("2026-09-30 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"),
    cells("Total 20 7 19 12 2 1 0 1 1 1 1 0 0 0 1 4 1 7 4 1 2"),
]

SUPPRESSED_ROWS = [
    cells("2026-07-01 6 <5 7 <5 <5 0 0 <5 <5 0 0 0 0 0 0 <5 <5 <5 <5 <5 <5"),
    cells("2026-08-13 <5 <5 <5 <5 0 <5 0 0 0 <5 0 0 0 0 0 <5 0 <5 <5 0 0"),
    cells("2026-09-10 10 <5 9 7 <5 0 0 0 0 0 <5 0 0 0 <5 <5 0 5 <5 0 <5"),
    cells("2026-09-30 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"),
    cells("Total 20 7 19 12 <5 <5 0 <5 <5 <5 <5 0 0 0 <5 <5 <5 7 <5 <5 <5"),
]


def read(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_exact_csv_has_header_one_row_per_meeting_and_a_total() -> None:
    rows = read(figures_csv(q3_figures(), suppressed=False))
    assert rows[0] == EXPECTED_HEADER
    assert rows[1:] == EXACT_ROWS


def test_meeting_rows_add_up_to_the_total_row() -> None:
    rows = read(figures_csv(q3_figures(), suppressed=False))
    meetings, total = rows[1:-1], rows[-1]
    for column in range(1, len(EXPECTED_HEADER)):
        assert sum(int(row[column]) for row in meetings) == int(total[column]), column


def test_referral_columns_add_up_to_cases() -> None:
    for row in read(figures_csv(q3_figures(), suppressed=False))[1:]:
        assert sum(int(value) for value in row[4:16]) == int(row[1]), row[0]


def test_suppressed_csv_shows_1_to_4_as_under_5_and_keeps_0_and_5_up() -> None:
    rows = read(figures_csv(q3_figures(), suppressed=True))
    assert rows[0] == EXPECTED_HEADER
    assert rows[1:] == SUPPRESSED_ROWS
    cells = [cell for row in rows[1:] for cell in row[1:]]
    assert not {"1", "2", "3", "4"} & set(cells)


def test_csv_is_plain_utf8_with_crlf_rows() -> None:
    data = figures_csv(q3_figures(), suppressed=False)
    assert not data.startswith(b"\xef\xbb\xbf")
    assert "Children's social care" not in data.decode("utf-8")  # lower-case in headings
    assert data.count(b"\r\n") == 1 + 4 + 1


def test_period_with_no_meetings_has_just_header_and_zero_total() -> None:
    figures = compute(quarter(2026, 1), [], [], [], [], adult_female_population=None, today=TODAY)
    rows = read(figures_csv(figures, suppressed=True))
    assert rows == [EXPECTED_HEADER, ["Total"] + ["0"] * (len(EXPECTED_HEADER) - 1)]

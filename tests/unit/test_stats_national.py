"""The area's figures beside SafeLives' published national ones, each with its source and date;
the staffing SafeLives recommends for the area's volume; and no figure without a source."""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from bot.stats.chart import chart_title
from bot.stats.figures import AreaFigures, Period, compute, quarter
from bot.stats.national import (
    CAPACITY_GUIDE,
    LATEST_DATASET,
    REPEAT_DEFINITION,
    recommended_capacity,
    sourced_percents,
)
from bot.stats.report import render_text
from tests.support.stats import POPULATION, TODAY, make_cases, make_meetings, q3_figures

ROOT = Path(__file__).resolve().parents[2]


# --- the data module -------------------------------------------------------------------------


def test_the_national_dataset_is_safelives_12_months_to_30_june_2023() -> None:
    data = LATEST_DATASET
    assert data.source.publisher == "SafeLives"
    assert data.source.title == "Latest Marac National Dataset"
    assert data.source.url.startswith("https://safelives.org.uk/")
    assert (data.period_start, data.period_end) == (date(2022, 7, 1), date(2023, 6, 30))
    assert (data.repeat_percent, data.partner_referral_percent) == (Decimal(32), Decimal(36))
    assert data.cases_per_10k_adult_women == 45
    assert (data.minoritised_percent, data.lgbt_percent, data.disabled_percent) == (
        Decimal("16.1"),
        Decimal("1.6"),
        Decimal("10.0"),
    )
    assert (data.male_percent, data.aged_16_17_percent) == (Decimal("6.5"), Decimal("1.3"))
    assert CAPACITY_GUIDE.source.title == "Reviewing your Marac data"
    assert (
        CAPACITY_GUIDE.expected_cases_per_10k_adult_women,
        CAPACITY_GUIDE.cases_per_idva,
        CAPACITY_GUIDE.cases_per_administrator,
    ) == (40, 100, 400)
    assert REPEAT_DEFINITION.source.title == "Definition of a repeat at Marac"
    assert (REPEAT_DEFINITION.window_months, REPEAT_DEFINITION.window_days) == (12, 365)


# --- staffing --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cases", "idvas", "administrators"),
    [
        (250, "2.5", "0.6"),  # 0.625 administrators: to a tenth, 0.6
        (0, "0.0", "0.0"),
        (22, "0.2", "0.1"),  # 0.055 rounds half up to 0.1
        (25, "0.3", "0.1"),  # 0.25 IDVAs: half up, not to even
        (19, "0.2", "0.0"),  # 0.0475 administrators
        (1000, "10.0", "2.5"),
        (1_260, "12.6", "3.2"),  # 3.15 administrators: half up
    ],
)
def test_recommended_capacity_to_one_decimal_place(
    cases: int, idvas: str, administrators: str
) -> None:
    capacity = recommended_capacity(cases)
    assert capacity.cases == cases
    assert (str(capacity.idvas), str(capacity.administrators)) == (idvas, administrators)


def test_capacity_refuses_a_negative_count() -> None:
    with pytest.raises(ValueError, match="negative"):
        recommended_capacity(-1)


def _figures_with_year(cases_last_12_months: int, *, window: int = 365) -> AreaFigures:
    return compute(
        quarter(2026, 3),
        make_cases(),
        make_meetings(),
        [],
        [],
        adult_female_population=POPULATION,
        today=TODAY,
        repeat_window_days=window,
        cases_last_12_months=cases_last_12_months,
    )


def test_summary_shows_staffing_for_250_cases_with_its_working() -> None:
    lines = render_text(_figures_with_year(250), suppressed=False).splitlines()
    heading = lines.index("Staffing SafeLives recommends")
    assert lines[heading + 1] == (
        "250 cases heard in the 12 months to 26 Nov 2026: SafeLives recommends about "
        "2.5 full-time IDVAs and 0.6 full-time MARAC administrators "
        "(250 ÷ 100 cases a year for each IDVA, 250 ÷ 400 for each administrator)."
    )
    assert (
        "Expected volume and staffing: SafeLives, \u201cReviewing your Marac data\u201d, "
        f"{CAPACITY_GUIDE.source.url}"
    ) in lines


def test_staffing_rests_on_the_last_12_months_whatever_the_period() -> None:
    # Q3 heard 20; June's and October's meetings are in the 12 months to 26 Nov 2026 too.
    f = q3_figures()
    assert f.cases_heard == 20
    assert f.cases_last_12_months == 22
    assert f.last_year == Period(date(2025, 11, 27), TODAY, "12 months to 26 Nov 2026")
    assert (
        "22 cases heard in the 12 months to 26 Nov 2026: SafeLives recommends about "
        "0.2 full-time IDVAs and 0.1 full-time MARAC administrators "
        "(22 ÷ 100 cases a year for each IDVA, 22 ÷ 400 for each administrator)."
    ) in render_text(f, suppressed=False).splitlines()


def test_staffing_for_a_small_year_is_withheld_from_governance() -> None:
    f = _figures_with_year(3)
    assert "<5 cases heard in the 12 months to 26 Nov 2026: too few to show staffing." in (
        render_text(f, suppressed=True).splitlines()
    )
    assert "about 0.0 full-time IDVAs" in render_text(f, suppressed=False)
    empty = compute(quarter(2026, 1), [], [], [], [], adult_female_population=None, today=TODAY)
    assert (
        "No cases heard in the 12 months to 26 Nov 2026, so there is no staffing to work out."
        in render_text(empty, suppressed=True).splitlines()
    )


# --- the area beside the national figures ----------------------------------------------------


def test_area_figures_beside_national_with_source_and_date() -> None:
    lines = render_text(q3_figures(), suppressed=False).splitlines()
    for expected in [
        "Repeat cases: 7 (35%; national 32%)",
        "Referred by partners, not police: 8 (40%; national 36%)",
        "Cases per 10,000 adult women a year: 16 (national 45; SafeLives expects about 40)",
        "Male: 4 (20%; national 6.5%)",
        "LGBT+: 1 (5%; national 1.6%)",
        "Disabled: 7 (35%; national 10.0%)",
        "Black, Asian or racially minoritised: 4 (20%; national 16.1%)",
        "Aged 16–17: 1 (5%; national 1.3%)",
        "National figures: SafeLives, \u201cLatest Marac National Dataset\u201d, "
        f"12 months to 30 Jun 2023, {LATEST_DATASET.source.url}",
        "Repeat definition: SafeLives, \u201cDefinition of a repeat at Marac\u201d, "
        f"{REPEAT_DEFINITION.source.url}",
    ]:
        assert expected in lines, expected
    assert "guide range" not in "\n".join(lines)
    assert "28" not in "\n".join(lines)


def test_a_newer_dataset_changes_the_texts_in_one_place() -> None:
    newer = replace(
        LATEST_DATASET,
        period_start=date(2023, 10, 1),
        period_end=date(2024, 9, 30),
        repeat_percent=Decimal("31"),
        cases_per_10k_adult_women=44,
        male_percent=Decimal("7.0"),
    )
    f = replace(q3_figures(), national=newer)
    lines = render_text(f, suppressed=False).splitlines()
    assert "Repeat cases: 7 (35%; national 31%)" in lines
    assert "Male: 4 (20%; national 7.0%)" in lines
    assert any("12 months to 30 Sep 2024" in line for line in lines)
    assert "16 cases per 10,000 adult women a year (national 44; SafeLives expects about 40)" in (
        chart_title(f, suppressed=False)
    )


def test_governance_sees_national_figures_beside_suppressed_counts() -> None:
    lines = render_text(q3_figures(), suppressed=True).splitlines()
    assert "Male: <5 (national 6.5%)" in lines
    assert "LGBT+: <5 (national 1.6%)" in lines
    assert "Disabled: 7 (35%; national 10.0%)" in lines


def test_summary_says_the_repeat_definition_it_counts() -> None:
    lines = render_text(q3_figures(), suppressed=False).splitlines()
    assert (
        "Repeats are cases the coordinator confirmed as a repeat: any abuse between the same "
        "victim and person causing harm within 12 months of the last MARAC referral "
        "(SafeLives' definition)."
    ) in lines
    # An area that set a different window is told the comparison is not like for like.
    other = render_text(_figures_with_year(22, window=180), suppressed=False)
    assert (
        "within 180 days of the last MARAC referral, as this area is set up. SafeLives counts "
        "12 months, so compare the repeat rate with care."
    ) in other
    assert "(SafeLives' definition)" not in other


# --- no figure without a source --------------------------------------------------------------

_PERCENT = re.compile(r"(national )?(\d+(?:\.\d+)?)%")


def _area_percents(f: AreaFigures) -> set[str]:
    """Every whole percentage the area's own counts could give: n of d for its denominators."""
    denominators = {f.cases_heard, *(m.cases_heard for m in f.meetings), *f.perp_ended.values()}
    return {f"{round(100 * n / d)}" for d in denominators if d for n in range(d + 1)}


@pytest.mark.parametrize("suppressed", [False, True])
@pytest.mark.parametrize(
    "figures",
    [
        q3_figures(),
        q3_figures(population=None),
        compute(
            Period(date(2026, 8, 13), date(2026, 8, 13), "13 Aug 2026"),
            make_cases(),
            make_meetings(),
            [],
            [],
            adult_female_population=POPULATION,
            today=TODAY,
        ),
        _figures_with_year(250, window=180),
    ],
)
def test_every_figure_in_the_summary_is_the_areas_or_sourced(
    figures: AreaFigures, suppressed: bool
) -> None:
    text = render_text(figures, suppressed=suppressed)
    national = {str(p) for p in sourced_percents()}
    area = _area_percents(figures)
    for match in _PERCENT.finditer(text):
        tagged, value = match.groups()
        if tagged:
            assert value in national, match.group(0)
        else:
            assert value in area, f"{match.group(0)} is neither the area's nor sourced"
    # Per 10,000: the area's own volume, the national figure and SafeLives' expected level only.
    for line in text.splitlines():
        if "per 10,000" in line:
            assert f"national {LATEST_DATASET.cases_per_10k_adult_women};" in line
            assert line.endswith(
                f"SafeLives expects about {CAPACITY_GUIDE.expected_cases_per_10k_adult_women})"
            )


# The statistics' text-making code, and the statistics block of bot/texts.py.
_STATS_MODULES = (
    "bot/stats/figures.py",
    "bot/stats/report.py",
    "bot/stats/chart.py",
    "bot/stats/dataset_csv.py",
    "bot/services/statistics.py",
    "handlers/statistics.py",
)
_STATS_TEXTS_HEADING = "# --- Statistics against the national picture"
# A figure written into a text: "28%", "28–40%", "40 per cent", "about 40", "45 per 10,000".
# (A format spec such as ":.0%" is not a figure; an age band such as "16–17" is not either.)
_LITERAL_FIGURE = re.compile(
    r"(?<![.\d])\d+(?:\.\d+)?\s*(?:%|per ?cent)"
    r"|\b(?:about|expected|expects|national|range)\s+(?:about\s+)?\d"
    r"|\d+\s+(?:cases\s+)?per 10,000"
)


def _stats_texts_block() -> str:
    texts = (ROOT / "bot/texts.py").read_text(encoding="utf-8")
    start = texts.index(_STATS_TEXTS_HEADING)
    following = texts.find("\n# --- ", start + 1)
    return texts[start:] if following == -1 else texts[start:following]


def _text_literals(source: str) -> list[str]:
    tree = ast.parse(source)
    docs: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs
    ]


@pytest.mark.parametrize("path", [*_STATS_MODULES, "bot/texts.py (statistics block)"])
def test_no_figure_is_written_into_the_statistics_texts(path: str) -> None:
    """Figures come from bot/stats/national.py (with their source) or the area's counts,
    never from a number typed into a text."""
    if path.startswith("bot/texts.py"):
        source = _stats_texts_block()
    else:
        source = (ROOT / path).read_text(encoding="utf-8")
    offending = [s for s in _text_literals(source) if _LITERAL_FIGURE.search(s)]
    assert offending == [], f"{path} writes a figure into a text: {offending}"


def test_the_figure_check_would_catch_the_old_guide_range() -> None:
    old = 'band = "guide range 28–40%"\nexpected = f"expected about 40"\n'
    assert len([s for s in _text_literals(old) if _LITERAL_FIGURE.search(s)]) == 2

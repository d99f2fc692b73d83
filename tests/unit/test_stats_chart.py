"""The cases chart: a real PNG that decodes, with or without meetings, suppressed or not."""

from __future__ import annotations

import io
from datetime import date, timedelta

import numpy as np
from matplotlib.image import imread

from bot.stats.chart import cases_chart_png, chart_title
from bot.stats.figures import MeetingRecord, compute, last_12_months, quarter
from tests.support.stats import TODAY, make_cases, q3_figures

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def decode(png: bytes) -> np.ndarray:
    assert png.startswith(PNG_SIGNATURE)
    return np.asarray(imread(io.BytesIO(png), format="png"))


def test_chart_is_a_png_that_decodes_and_is_not_blank() -> None:
    image = decode(cases_chart_png(q3_figures()))
    assert image.shape == (500, 900, 4)
    assert float(image[..., :3].std()) > 0.05


def test_suppressed_chart_differs_where_counts_are_small() -> None:
    exact = decode(cases_chart_png(q3_figures()))
    hidden = decode(cases_chart_png(q3_figures(), suppressed=True))
    assert exact.shape == hidden.shape
    assert not np.array_equal(exact, hidden)


def test_chart_with_no_meetings_still_draws() -> None:
    figures = compute(quarter(2026, 1), [], [], [], [], adult_female_population=None, today=TODAY)
    assert decode(cases_chart_png(figures)).shape == (500, 900, 4)


def test_chart_with_a_year_of_weekly_meetings_draws() -> None:
    period = last_12_months(TODAY)
    meetings = [MeetingRecord(week, period.start + timedelta(days=7 * week)) for week in range(52)]
    figures = compute(period, [], meetings, [], [], adult_female_population=None, today=TODAY)
    assert len(figures.meetings) == 52
    assert decode(cases_chart_png(figures, suppressed=True)).shape == (500, 900, 4)


def test_title_carries_the_volume_benchmark_only_when_known_and_shareable() -> None:
    assert chart_title(q3_figures(), suppressed=False) == (
        "MARAC cases heard per meeting, 2026 Q3\n"
        "16 cases per 10,000 adult women a year (national 45; SafeLives expects about 40)"
    )
    assert chart_title(q3_figures(population=None), suppressed=False) == (
        "MARAC cases heard per meeting, 2026 Q3"
    )


def test_suppressed_chart_gives_back_nothing_beyond_under_5() -> None:
    # One meeting heard 1 case in one data set and 4 in the other: to a governance
    # user the two charts must be the same picture.
    def chart(heard: int) -> np.ndarray:
        cases = [case for case in make_cases() if case.meeting_id == 3][:heard]
        figures = compute(
            quarter(2026, 3),
            cases,
            [MeetingRecord(3, date(2026, 9, 10))],
            [],
            [],
            adult_female_population=None,
            today=TODAY,
        )
        return decode(cases_chart_png(figures, suppressed=True))

    assert np.array_equal(chart(1), chart(4))
    assert not np.array_equal(chart(4), chart(5))

"""MARAC statistics: the period's figures, the quarterly dataset CSV and a chart.

The chart lives in ``bot.stats.chart`` and is not imported here, so that loading the
figures (on every /stats) does not pull in matplotlib until a chart is asked for.
"""

from bot.stats.dataset_csv import figures_csv
from bot.stats.figures import (
    ActionRecord,
    AreaFigures,
    CaseRecord,
    MeetingFigures,
    MeetingRecord,
    Period,
    PeriodError,
    PerpRecord,
    compute,
    last_12_months,
    parse_period,
    quarter,
    suppress,
)
from bot.stats.report import render_text

__all__ = [
    "ActionRecord",
    "AreaFigures",
    "CaseRecord",
    "MeetingFigures",
    "MeetingRecord",
    "Period",
    "PeriodError",
    "PerpRecord",
    "compute",
    "figures_csv",
    "last_12_months",
    "parse_period",
    "quarter",
    "render_text",
    "suppress",
]

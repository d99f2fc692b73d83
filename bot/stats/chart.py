"""A PNG chart of cases heard and the repeat rate per meeting, for sending as a photo.

It draws on a bare ``Figure`` with the Agg canvas rather than through pyplot, so
nothing touches a display or pyplot's global figure list: the bot can draw charts
for several areas at once from worker threads without them leaking into each other.
Importing this module pulls in matplotlib, so ``bot.stats`` does not import it for you.
"""

from __future__ import annotations

import io
import math
from datetime import date

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot import texts
from bot.dates import format_uk_date
from bot.stats.figures import SUPPRESSED_COUNT, AreaFigures, is_small
from bot.stats.report import national_percent

BAR_COLOUR = "#4c72b0"
LINE_COLOUR = "#c44e52"
NATIONAL_COLOUR = "#55a868"
# More tick labels than this overlap at the chart's width; beyond it only some are labelled.
MAX_TICK_LABELS = 12
# Bar labels stop being readable past this many meetings.
MAX_BAR_LABELS = 26


def _tick_label(day: date, with_year: bool) -> str:
    return f"{day.day} {day:%b %Y}" if with_year else f"{day.day} {day:%b}"


def chart_title(figures: AreaFigures, *, suppressed: bool) -> str:
    """The title, with the volume benchmark when a population is known and not suppressed."""
    title = f"MARAC cases heard per meeting, {figures.period.label}"
    per_10k = figures.cases_per_10k_women
    if per_10k is not None and not (suppressed and is_small(figures.cases_heard)):
        title += "\n" + texts.stats_chart_volume(
            f"{per_10k:.0f}",
            figures.national.cases_per_10k_adult_women,
            figures.capacity_guide.expected_cases_per_10k_adult_women,
        )
    return title


def cases_chart_png(figures: AreaFigures, *, suppressed: bool = False) -> bytes:
    """Cases heard (bars) and repeat rate (line, right axis) per meeting, with the national
    repeat rate (SafeLives' latest dataset) drawn across as a dashed line.

    With ``suppressed`` (for governance users) a meeting with 1 to 4 cases is drawn
    as an empty hatched bar up to 5 marked "<5", and a repeat rate resting on a count
    of 1 to 4 is left out of the line, so the picture gives back no more than the text.
    """
    fig = Figure(figsize=(9, 5), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    rate_ax = ax.twinx()
    fig.suptitle(chart_title(figures, suppressed=suppressed), fontsize=11)

    rate_ax.set_ylim(0, 100)
    national = figures.national
    rate_ax.axhline(
        float(national.repeat_percent),
        color=NATIONAL_COLOUR,
        linestyle="--",
        linewidth=1.2,
        zorder=1,
        label=texts.stats_chart_national_repeat(
            national_percent(national.repeat_percent),
            national.source.publisher,
            texts.stats_twelve_months_to(format_uk_date(national.period_end)),
        ),
    )
    rate_ax.yaxis.set_major_formatter(PercentFormatter(100))
    rate_ax.set_ylabel("Repeat rate")
    ax.set_ylabel("Cases heard")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))

    meetings = figures.meetings
    if not meetings:
        ax.set_xticks([])
        ax.set_ylim(0, 5)
        ax.text(
            0.5, 0.5, "No meetings in this period", ha="center", va="center", transform=ax.transAxes
        )
    else:
        xs = list(range(len(meetings)))
        hidden = [suppressed and is_small(m.cases_heard) for m in meetings]
        heights = [5 if h else m.cases_heard for m, h in zip(meetings, hidden, strict=True)]
        bars = ax.bar(
            xs,
            heights,
            color=[("none" if h else BAR_COLOUR) for h in hidden],
            edgecolor=BAR_COLOUR,
            label="Cases heard",
            zorder=2,
        )
        for bar, h in zip(bars, hidden, strict=True):
            if h:
                bar.set_hatch("//")
        if len(meetings) <= MAX_BAR_LABELS:
            labels = [
                SUPPRESSED_COUNT if h else str(m.cases_heard)
                for m, h in zip(meetings, hidden, strict=True)
            ]
            ax.bar_label(bars, labels=labels, padding=2, fontsize=8)
        ax.set_ylim(0, max(5, *heights) * 1.2)

        rates: list[float] = []
        for m in meetings:
            if m.repeat_rate is None or (
                suppressed and (is_small(m.repeat_cases) or is_small(m.cases_heard))
            ):
                rates.append(math.nan)
            else:
                rates.append(m.repeat_rate * 100)
        rate_ax.plot(
            xs,
            rates,
            color=LINE_COLOUR,
            marker="o",
            linewidth=1.5,
            label="Repeat rate",
            zorder=3,
        )

        with_year = meetings[0].held_on.year != meetings[-1].held_on.year
        step = math.ceil(len(meetings) / MAX_TICK_LABELS)
        ticks = xs[::step]
        ax.set_xticks(ticks)
        ax.set_xticklabels(
            [_tick_label(meetings[i].held_on, with_year) for i in ticks],
            rotation=45,
            ha="right",
            fontsize=8,
        )
        ax.set_xlim(-0.75, len(meetings) - 0.25)
    ax.set_xlabel("Meeting")

    # The bars sit on the left axis, the line and band on the right; one legend for all.
    handles, names = ax.get_legend_handles_labels()
    rate_handles, rate_names = rate_ax.get_legend_handles_labels()
    rate_ax.legend(handles + rate_handles, names + rate_names, loc="upper left", fontsize=8)

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()

"""SafeLives' published national MARAC figures and recommendations, each with its source.

Every number the statistics compare an area against lives here, as data, with the title
and address of the page it comes from and the period it covers, so that when SafeLives
publishes a newer dataset one table changes and the texts follow. A figure that is not
in this module has no source the project holds and must not appear in the statistics
(tests/unit/test_stats_national.py checks the rendered texts against it).

Sources (as recorded in shared/domain-reference.md, "National MARAC dataset and
capacity", checked 2026-12, and section 1.6):
- SafeLives, "Latest Marac National Dataset": 12 months 1 July 2022 to 30 June 2023.
- SafeLives, "Reviewing your Marac data": the expected volume and the staffing levels.
- SafeLives, "Definition of a repeat at Marac": the current (broader) repeat definition.

Shares are kept as ``Decimal`` percentages written exactly as published ("10.0", not
0.1), so that a figure is shown to the precision SafeLives gave and never re-rounded.

A repeat-rate "guide range" (28–40%) used to be shown; it was marked [unverified] in
the domain reference (remembered, not found in any source) and has been removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Source:
    """Where a figure was published: shown beside the figure so a reader can check it."""

    publisher: str
    title: str
    url: str


@dataclass(frozen=True, kw_only=True)
class NationalDataset:
    """One published national MARAC dataset: shares as percentages, exactly as published."""

    source: Source
    period_start: date
    period_end: date
    maracs: int
    cases: int
    repeat_percent: Decimal
    cases_per_10k_adult_women: int
    # Referrals from partner agencies, i.e. not from the police.
    partner_referral_percent: Decimal
    minoritised_percent: Decimal
    lgbt_percent: Decimal
    disabled_percent: Decimal
    male_percent: Decimal
    aged_16_17_percent: Decimal


@dataclass(frozen=True, kw_only=True)
class CapacityGuide:
    """SafeLives' recommended volume and staffing for a MARAC."""

    source: Source
    expected_cases_per_10k_adult_women: int
    cases_per_idva: int
    cases_per_administrator: int


@dataclass(frozen=True, kw_only=True)
class RepeatDefinition:
    """SafeLives' current repeat: any abuse between the same victim and person causing harm
    within ``window_months`` of the last MARAC referral (it need not be a crime)."""

    source: Source
    window_months: int
    # The same window in days, as the bot's area setting counts it (12 months = 365 days).
    window_days: int


SAFELIVES = "SafeLives"

LATEST_DATASET = NationalDataset(
    source=Source(
        publisher=SAFELIVES,
        title="Latest Marac National Dataset",
        url="https://safelives.org.uk/practice-support/resources-marac-meetings/latest-marac-data",
    ),
    period_start=date(2022, 7, 1),
    period_end=date(2023, 6, 30),
    maracs=273,
    cases=108_775,
    repeat_percent=Decimal("32"),
    cases_per_10k_adult_women=45,
    partner_referral_percent=Decimal("36"),
    minoritised_percent=Decimal("16.1"),
    lgbt_percent=Decimal("1.6"),
    disabled_percent=Decimal("10.0"),
    male_percent=Decimal("6.5"),
    aged_16_17_percent=Decimal("1.3"),
)

CAPACITY_GUIDE = CapacityGuide(
    source=Source(
        publisher=SAFELIVES,
        title="Reviewing your Marac data",
        url="https://safelives.org.uk/resources-for-professionals/marac-resources/reviewing-your-marac-data/",
    ),
    expected_cases_per_10k_adult_women=40,
    cases_per_idva=100,
    cases_per_administrator=400,
)

REPEAT_DEFINITION = RepeatDefinition(
    source=Source(
        publisher=SAFELIVES,
        title="Definition of a repeat at Marac",
        url="https://safelives.org.uk/definition-repeat-marac",
    ),
    window_months=12,
    window_days=365,
)

_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Capacity:
    """Full-time staff SafeLives recommends for a year's cases, to one decimal place."""

    cases: int
    idvas: Decimal
    administrators: Decimal


def recommended_capacity(
    cases_in_12_months: int, guide: CapacityGuide = CAPACITY_GUIDE
) -> Capacity:
    """About one full-time IDVA per 100 cases a year and one administrator per 400.

    Rounded half up to one decimal place (250 cases: 2.5 IDVAs, 0.625 -> 0.6
    administrators), since a fraction of a post is how areas fund these roles and
    more precision than a tenth would be false.
    """
    if cases_in_12_months < 0:
        raise ValueError(f"a count of cases cannot be negative ({cases_in_12_months})")
    cases = Decimal(cases_in_12_months)
    return Capacity(
        cases=cases_in_12_months,
        idvas=(cases / guide.cases_per_idva).quantize(_TENTH, rounding=ROUND_HALF_UP),
        administrators=(cases / guide.cases_per_administrator).quantize(
            _TENTH, rounding=ROUND_HALF_UP
        ),
    )


def sourced_percents(dataset: NationalDataset = LATEST_DATASET) -> frozenset[Decimal]:
    """Every national percentage the texts may show (for the test that nothing else is)."""
    return frozenset(
        {
            dataset.repeat_percent,
            dataset.partner_referral_percent,
            dataset.minoritised_percent,
            dataset.lgbt_percent,
            dataset.disabled_percent,
            dataset.male_percent,
            dataset.aged_16_17_percent,
        }
    )

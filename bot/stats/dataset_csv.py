"""The quarterly MARAC dataset as a CSV: one row per meeting and a total row.

SafeLives collects the return at meeting level (domain-reference 1.6): meeting dates
and, per meeting, counts of cases, repeats, children, referrals by agency, victims who
are Black, Asian or racially minoritised, LGBT+, disabled or male, victims aged 16-17
and perpetrators aged 17 or under. The columns follow that list in that order. The
template's exact headings are not in the sources, so the headings use the wording of
SafeLives' published national measures; a coordinator copies the columns across.

Only counts are written (no percentages), as the return asks, so suppressing it for
governance users is a matter of the same "<5" rule as in the bot's summary.
"""

from __future__ import annotations

import csv
import io

from bot.i18n import K_, N_, _
from bot.stats.figures import (
    AGENCY_KINDS,
    SUPPRESSED_RATE,
    AreaFigures,
    CaseCounts,
    is_small,
    suppress,
)
from bot.texts import AGENCY_KIND_NAMES


def _referral_heading(kind: str) -> str:
    """The dataset's column heading: "Referrals from police", "... from Idva" as SafeLives
    spells it, "... from other agencies"."""
    if kind == "other":
        return N_("Referrals from other agencies")
    if kind == "idva":
        return N_("Referrals from Idva")
    return K_("Referrals from {agency_kind}", agency_kind=AGENCY_KIND_NAMES[kind].lower())


HEADER: tuple[str, ...] = (
    N_("Meeting date"),
    N_("Number of cases discussed"),
    N_("Number of repeat cases"),
    N_("Number of children in the households"),
    *(_referral_heading(kind) for kind in AGENCY_KINDS),
    N_("Victims who are Black, Asian or racially minoritised"),
    N_("Victims who are LGBT+"),
    N_("Victims with a disability"),
    N_("Male victims"),
    N_("Victims aged 16-17"),
    N_("Perpetrators aged 17 or under"),
)

TOTAL_LABEL = N_("Total")


def _values(counts: CaseCounts) -> list[int]:
    return [
        counts.cases_heard,
        counts.repeat_cases,
        counts.children,
        *(counts.referrals_by_agency_kind.get(kind, 0) for kind in AGENCY_KINDS),
        counts.minoritised,
        counts.lgbt,
        counts.disabled,
        counts.male,
        counts.aged_16_17,
        counts.perpetrators_under_18,
    ]


def figures_csv(figures: AreaFigures, *, suppressed: bool) -> bytes:
    """The return as UTF-8 CSV bytes (no byte-order mark, so other tools read it cleanly).

    Dates are ISO (2026-07-02), which every spreadsheet reads the same whatever its
    locale. With ``suppressed`` every count from 1 to 4 is written as "<5".
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    # Headings in the reader's language (bot.i18n); the figures are the same in both.
    writer.writerow([_(heading) for heading in HEADER])

    def row(first: str, counts: CaseCounts) -> list[str]:
        shown = [suppress(v) if suppressed else str(v) for v in _values(counts)]
        return [first, *shown]

    for meeting in figures.meetings:
        writer.writerow(row(meeting.held_on.isoformat(), meeting))
    writer.writerow(row(_(TOTAL_LABEL), figures))
    return buffer.getvalue().encode("utf-8")


PERP_HEADER: tuple[str, ...] = (
    N_("Perpetrator service"),
    N_("Referrals made"),
    N_("Waiting to start"),
    N_("First contact made"),
    N_("Median calendar days from referral to first contact"),
    N_("Started"),
    N_("Median calendar days from referral to start"),
    N_("Ended"),
    N_("Completed"),
    N_("Completion rate"),
    N_("Disengaged"),
    N_("Disengagement rate"),
)


def _rate(part: int, whole: int, suppressed: bool) -> str:
    """A rate to the nearest per cent; empty with nothing ended, withheld as in the summary
    when either count is small for a governance reader."""
    if whole == 0:
        return ""
    if suppressed and (is_small(part) or is_small(whole)):
        return SUPPRESSED_RATE
    return f"{part / whole:.0%}"


def _median(value: float | None, base: int, suppressed: bool) -> str:
    if value is None:
        return ""
    if suppressed and is_small(base):
        return SUPPRESSED_RATE
    return f"{value:g}"


def perpetrator_services_csv(figures: AreaFigures, *, suppressed: bool) -> bytes:
    """Commissioners' figures per perpetrator service, for referrals made in the period:
    coded counts only (no case, no reference), "<5" for governance readers as elsewhere."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_(heading) for heading in PERP_HEADER])

    def n(value: int) -> str:
        return suppress(value) if suppressed else str(value)

    for service, states in figures.perp_by_state.items():
        made = sum(states.values())
        contacts = figures.perp_contacts.get(service, 0)
        starts = figures.perp_starts.get(service, 0)
        ended = figures.perp_ended.get(service, 0)
        done = figures.perp_completed.get(service, 0)
        gone = figures.perp_disengaged.get(service, 0)
        writer.writerow(
            [
                service,
                n(made),
                n(figures.perp_waiting.get(service, 0)),
                n(contacts),
                _median(figures.median_days_to_first_contact.get(service), contacts, suppressed),
                n(starts),
                _median(figures.median_days_to_start.get(service), starts, suppressed),
                n(ended),
                n(done),
                _rate(done, ended, suppressed),
                n(gone),
                _rate(gone, ended, suppressed),
            ]
        )
    return buffer.getvalue().encode("utf-8")

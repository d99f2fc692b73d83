"""The statistics as a coordinator reads them: one line a figure, shares beside counts, and
counts of 1 to 4 shown as "<5" for governance readers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from bot import texts
from bot.dates import format_uk_date
from bot.stats.figures import (
    MAX_MEETING_LINES,
    SUPPRESSED_RATE,
    AreaFigures,
    MeetingFigures,
    is_small,
    suppress,
)
from bot.stats.national import recommended_capacity
from bot.texts import AGENCY_KIND_NAMES


def _count(value: int, suppressed: bool) -> str:
    return suppress(value) if suppressed else str(value)


def rate_text(numerator: int, denominator: int, *, suppressed: bool) -> str:
    """A percentage, withheld when either count behind it is small.

    A rate beside an exact total gives the small count back (3 of 20 is 15%), so it
    is withheld whenever its numerator or denominator would show as "<5".
    """
    if denominator == 0:
        return "n/a"
    if suppressed and (is_small(numerator) or is_small(denominator)):
        return SUPPRESSED_RATE
    return f"{numerator / denominator:.0%}"


def _uk(day: date) -> str:
    return format_uk_date(day)


def _noun(word: str, shown: str) -> str:
    return word if shown == "1" else f"{word}s"


def national_percent(value: Decimal) -> str:
    """A published share as SafeLives printed it: "32%", "10.0%"."""
    return f"{value}%"


def _meeting_line(meeting: MeetingFigures, suppressed: bool) -> str:
    cases = _count(meeting.cases_heard, suppressed)
    line = f"{_uk(meeting.held_on)}: {cases} {_noun('case', cases)}"
    if meeting.cases_heard:
        repeats = _count(meeting.repeat_cases, suppressed)
        rate = rate_text(meeting.repeat_cases, meeting.cases_heard, suppressed=suppressed)
        line += f", {repeats} {_noun('repeat', repeats)} ({rate})"
    return line


def _state_label(state: str) -> str:
    return state.replace("_", " ")


def render_text(figures: AreaFigures, *, suppressed: bool) -> str:
    """The /stats reply: short lines that read on a phone, exact or suppressed by audience.

    ``suppressed=True`` is for governance users: every count from 1 to 4 reads "<5"
    and any rate, volume or median resting on such a count reads "suppressed".
    Differencing (a total minus the other exact cells) is not guarded against here.
    """
    f = figures

    def c(value: int) -> str:
        return _count(value, suppressed)

    meetings = len(f.meetings)
    lines = [
        f"MARAC figures: {f.period.label}",
        f"{_uk(f.period.start)} to {_uk(f.period.end)}",
    ]
    if f.period.end > f.as_of:
        lines.append(f"Counted up to {_uk(f.as_of)}; the period has not ended.")
    lines.append(f"Meetings held: {meetings}")
    if suppressed:
        lines.append("Counts of 1 to 4 are shown as <5.")
    lines.append("")

    heard = f.cases_heard
    national = f.national
    lines.append(f"Cases heard: {c(heard)}")
    if heard:
        repeat_rate = rate_text(f.repeat_cases, heard, suppressed=suppressed)
        versus = texts.stats_against_national(
            repeat_rate, national_percent(national.repeat_percent)
        )
        lines.append(f"Repeat cases: {c(f.repeat_cases)} ({versus})")
    lines.append(f"Children in the households: {c(f.children)}")
    if heard:
        police = f.referrals_by_agency_kind.get("police", 0)
        partner_share = national_percent(national.partner_referral_percent)
        if suppressed and (is_small(police) or is_small(f.not_from_police)):
            # The police count would give the partners' back (and the other way round).
            partners = f"{SUPPRESSED_RATE} ({texts.stats_against_national('', partner_share)})"
        else:
            partners = _share_against_national(f.not_from_police, heard, suppressed, partner_share)
        lines.append(f"Referred by partners, not police: {partners}")

    if f.cases_per_10k_women is None:
        volume = "not known"
    elif suppressed and is_small(heard):
        volume = SUPPRESSED_RATE
    else:
        volume = f"{f.cases_per_10k_women:.0f}"
    lines.append(
        texts.stats_volume_against_national(
            volume,
            national.cases_per_10k_adult_women,
            f.capacity_guide.expected_cases_per_10k_adult_women,
        )
    )

    lines.append("")
    lines.append("Victims")
    for label, value, share in (
        ("Male", f.male, national.male_percent),
        ("LGBT+", f.lgbt, national.lgbt_percent),
        ("Disabled", f.disabled, national.disabled_percent),
        ("Black, Asian or racially minoritised", f.minoritised, national.minoritised_percent),
        ("Aged 16–17", f.aged_16_17, national.aged_16_17_percent),
    ):
        shown = _share_against_national(value, heard, suppressed, national_percent(share))
        lines.append(f"{label}: {shown}")
    lines.append(f"People causing harm aged 17 or under: {c(f.perpetrators_under_18)}")

    referrers = [(k, n) for k, n in f.referrals_by_agency_kind.items() if n]
    if referrers:
        lines.append("")
        lines.append("Referred by")
        for kind, value in referrers:
            lines.append(f"{AGENCY_KIND_NAMES.get(kind, kind)}: {c(value)}")

    if f.meetings:
        lines.append("")
        lines.append("By meeting")
        if meetings > MAX_MEETING_LINES:
            lines.append(f"{meetings} meetings: the CSV has one row for each.")
        else:
            lines.extend(_meeting_line(meeting, suppressed) for meeting in f.meetings)

    if f.actions_by_agency:
        lines.append("")
        lines.append("Actions due in the period")
        for agency, t in f.actions_by_agency.items():
            lines.append(
                f"{agency}: {c(t['done'])} done, {c(t['not_possible'])} not possible, "
                f"{c(t['open'])} open ({c(t['overdue'])} overdue)"
            )

    if f.perp_by_state:
        lines.append("")
        lines.append("Perpetrator-service referrals made in the period")
        lines.append("(days are calendar days from the referral)")
        for service, states in f.perp_by_state.items():
            total = sum(states.values())
            lines.append(f"{service}: {c(total)} referred")
            now = ", ".join(f"{_state_label(s)} {c(n)}" for s, n in states.items())
            lines.append(f"  now: {now}")
            lines.append(f"  waiting to start: {c(f.perp_waiting.get(service, 0))}")
            contacts = f.perp_contacts.get(service, 0)
            to_contact = f.median_days_to_first_contact.get(service)
            if to_contact is None:
                lines.append("  no first contact yet")
            elif suppressed and is_small(contacts):
                lines.append(f"  days from referral to first contact: {SUPPRESSED_RATE}")
            else:
                lines.append(
                    f"  median {to_contact:g} days from referral to first contact "
                    f"({c(contacts)} contacted)"
                )
            ended = f.perp_ended.get(service, 0)
            done = f.perp_completed.get(service, 0)
            gone = f.perp_disengaged.get(service, 0)
            lines.append(
                f"  ended: {c(ended)}; completed {c(done)} "
                f"({rate_text(done, ended, suppressed=suppressed)}), disengaged {c(gone)} "
                f"({rate_text(gone, ended, suppressed=suppressed)})"
            )
            starts = f.perp_starts.get(service, 0)
            median = f.median_days_to_start.get(service)
            if median is None:
                lines.append("  none started yet")
            elif suppressed and is_small(starts):
                lines.append(f"  days from referral to start: {SUPPRESSED_RATE}")
            else:
                lines.append(
                    f"  median {median:g} days from referral to start ({c(starts)} started)"
                )

    lines.extend(_capacity_lines(f, suppressed))
    lines.extend(_comparison_lines(f))
    return "\n".join(lines)


def _share_against_national(value: int, total: int, suppressed: bool, national: str) -> str:
    """ "8 (40%; national 36%)"; "0 (national 1.6%)"; "<5 (national 6.5%)" for governance."""
    shown = _count(value, suppressed)
    if value == 0 or (suppressed and is_small(value)):
        share = ""
    else:
        share = rate_text(value, total, suppressed=suppressed)
    return f"{shown} ({texts.stats_against_national(share, national)})"


def _capacity_lines(f: AreaFigures, suppressed: bool) -> list[str]:
    """The staffing SafeLives recommends for the area's last 12 months of cases, with working."""
    if f.last_year is None:
        return []
    guide = f.capacity_guide
    to = _uk(f.last_year.end)
    cases = f.cases_last_12_months
    if cases == 0:
        line = texts.stats_capacity_none(to)
    elif suppressed and is_small(cases):
        line = texts.stats_capacity_withheld(suppress(cases), to)
    else:
        capacity = recommended_capacity(cases, guide)
        line = texts.stats_capacity(
            str(cases),
            to,
            str(capacity.idvas),
            str(capacity.administrators),
            guide.cases_per_idva,
            guide.cases_per_administrator,
        )
    return ["", texts.STATS_CAPACITY_HEADING, line]


def _comparison_lines(f: AreaFigures) -> list[str]:
    """Which repeat the figures count, and where every national figure comes from."""
    definition = f.repeat_definition
    national = f.national
    guide = f.capacity_guide
    return [
        "",
        texts.STATS_COMPARISON_HEADING,
        texts.stats_repeat_definition(
            f.repeat_window_days, definition.window_days, definition.window_months
        ),
        texts.stats_source(
            texts.STATS_REPEAT_SOURCE_LABEL,
            definition.source.publisher,
            definition.source.title,
            definition.source.url,
        ),
        texts.stats_source(
            texts.STATS_NATIONAL_LABEL,
            national.source.publisher,
            national.source.title,
            national.source.url,
            texts.stats_twelve_months_to(_uk(national.period_end)),
        ),
        texts.stats_source(
            texts.STATS_GUIDE_LABEL,
            guide.source.publisher,
            guide.source.title,
            guide.source.url,
        ),
    ]

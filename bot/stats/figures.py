"""MARAC figures for a period: the quarterly dataset counts, benchmarks, actions and waits.

SafeLives collects MARAC data quarterly and *at meeting level* (domain-reference 1.6),
so everything here is counted per meeting first and the period totals are the sums
of those rows: the summary the bot shows, the CSV return and the chart can then
never disagree with one another.

Governance users see aggregates only, and a count of one to four people in a small
area can identify someone. Their views therefore go through ``suppress``; the
coordinator, who already sees the cases, gets exact figures.

The code is pure (plain records in, plain records out) so that it can be checked
against hand-counted data sets without a database. A large area's cases are handed
over already counted per meeting (``CaseTally``, from the database's GROUP BY) rather
than one record per case: ``compute`` treats a ``CaseRecord`` as a tally of one, so
both routes go through the same counting and a test checks that they agree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TypedDict

from bot.actions.states import median_days
from bot.dates import format_uk_date
from bot.referrals.validation import InputError
from bot.stats.national import (
    CAPACITY_GUIDE,
    LATEST_DATASET,
    REPEAT_DEFINITION,
    CapacityGuide,
    NationalDataset,
    RepeatDefinition,
)
from bot.vocabulary import AgencyKind

# The referring-agency kinds, in the order the dataset lists them.
AGENCY_KINDS: tuple[str, ...] = tuple(kind.value for kind in AgencyKind)

# Counts from 1 to this are shown as "<5" to governance users.
SMALL_COUNT_MAX = 4
SUPPRESSED_COUNT = "<5"
SUPPRESSED_RATE = "suppressed"

# A daily MARAC has about 250 meetings a year; one line each would overrun a Telegram
# message (4,096 characters), so past this many the summary points to the CSV instead.
MAX_MEETING_LINES = 16

_OPEN_ACTION_STATES = frozenset({"assigned", "accepted", "reassigned"})
_ACTION_STATES = _OPEN_ACTION_STATES | {"done", "not_possible"}
# Perpetrator-referral states in lifecycle order, so that the summary reads in order.
_PERP_STATE_ORDER: tuple[str, ...] = (
    "referred",
    "contact_planned",
    "contact_attempted",
    "assessed",
    "suitable",
    "not_suitable",
    "started",
    "attending",
    "session_attended",
    "session_missed",
    "disengaged",
    "completed",
    "ended",
)
# Not yet started: the commissioners' waiting list.
_PERP_WAITING_STATES = frozenset(
    {"referred", "contact_planned", "contact_attempted", "assessed", "suitable"}
)
# Closed: nothing follows these.
_PERP_CLOSED_STATES = frozenset({"not_suitable", "completed", "ended"})


class PeriodError(InputError):
    """A period the bot cannot read; ``str()`` is the polite correction to show."""


# --- input records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRecord:
    case_id: int
    meeting_id: int | None
    heard_on: date | None
    referred_on: date
    referring_agency_kind: str
    referring_agency: str
    repeat: bool
    children: int
    victim_gender: str | None
    victim_lgbt: bool | None
    victim_disabled: bool | None
    victim_minoritised: bool | None
    victim_aged_16_17: bool
    perpetrator_under_18: bool | None


@dataclass(frozen=True, kw_only=True)
class CaseTally:
    """Cases heard at one meeting, already counted: what a GROUP BY on the database returns.

    An area hears thousands of cases a year; reading each one into Python to count it
    took most of /stats's time, so the service has the database count them per meeting
    and hands over one of these instead. Several tallies for the same meeting add up.
    ``by_agency_kind`` must account for every case (an unknown referrer counts as
    "other"), so that the referral columns still add up to the cases heard.
    """

    meeting_id: int
    heard_on: date
    cases: int
    repeats: int
    children: int
    by_agency_kind: Mapping[str, int]
    male: int
    lgbt: int
    disabled: int
    minoritised: int
    aged_16_17: int
    perpetrators_under_18: int

    def __post_init__(self) -> None:
        # A tally that does not add up would print columns that contradict their total.
        counts = (
            self.cases,
            self.repeats,
            self.children,
            self.male,
            self.lgbt,
            self.disabled,
            self.minoritised,
            self.aged_16_17,
            self.perpetrators_under_18,
            *self.by_agency_kind.values(),
        )
        if any(count < 0 for count in counts):
            raise ValueError(f"a tally for meeting {self.meeting_id} has a negative count")
        if sum(self.by_agency_kind.values()) != self.cases:
            raise ValueError(
                f"the referrals by agency for meeting {self.meeting_id} do not add up to "
                f"its {self.cases} cases"
            )

    @classmethod
    def of(cls, case: CaseRecord) -> CaseTally:
        """One heard case as a tally of one (ValueError for a case not heard anywhere)."""
        if case.meeting_id is None or case.heard_on is None:
            raise ValueError(f"case {case.case_id} has not been heard at a meeting")
        return cls(
            meeting_id=case.meeting_id,
            heard_on=case.heard_on,
            cases=1,
            repeats=int(case.repeat),
            children=case.children,
            by_agency_kind={case.referring_agency_kind: 1},
            male=int(case.victim_gender == "male"),
            # Unknown (None) is not counted as yes: the dataset counts recorded characteristics.
            lgbt=int(case.victim_lgbt is True),
            disabled=int(case.victim_disabled is True),
            minoritised=int(case.victim_minoritised is True),
            aged_16_17=int(case.victim_aged_16_17),
            perpetrators_under_18=int(case.perpetrator_under_18 is True),
        )


@dataclass(frozen=True)
class MeetingRecord:
    meeting_id: int
    held_on: date


@dataclass(frozen=True)
class ActionRecord:
    """``count`` actions for one agency in one state, due on ``due_on``.

    ``count`` lets the database hand over actions already grouped. A group must not
    straddle the period's ends or the overdue cut-off (``overdue_cutoff``); within those
    bounds ``due_on`` only has to be one of the group's dates, since nothing else
    depends on it.
    """

    agency: str
    state: str
    due_on: date
    count: int = 1


@dataclass(frozen=True)
class PerpRecord:
    service: str
    state: str
    referred_on: date
    started_on: date | None
    # The first "contact attempted" step: the first contact with the person causing harm.
    first_contact_on: date | None = None
    # The coded reason on the closing step (``bot.vocabulary.PerpEndReason``), if closed.
    end_reason: str | None = None


# --- periods ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    """Both ends inclusive, as a quarter "1 Jul to 30 Sep" is read."""

    start: date
    end: date
    label: str

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"a period cannot end ({self.end}) before it starts ({self.start})")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def quarter(year: int, q: int) -> Period:
    """Calendar quarters (Q1 = January to March), the way the brief asks the dataset to run."""
    if q not in (1, 2, 3, 4):
        raise PeriodError(_QUARTER_HELP)
    start = date(year, 3 * q - 2, 1)
    end = date(year + 1, 1, 1) if q == 4 else date(year, 3 * q + 1, 1)
    return Period(start, end - timedelta(days=1), f"{year} Q{q}")


def last_12_months(today: date) -> Period:
    """The 12 months ending today, the rolling window SafeLives publishes its data over."""
    try:
        year_ago = today.replace(year=today.year - 1)
    except ValueError:  # 29 February: a year earlier there is only the 28th.
        year_ago = date(today.year - 1, 2, 28)
    return Period(year_ago + timedelta(days=1), today, f"12 months to {format_uk_date(today)}")


def counted_to(period: Period, today: date) -> date:
    """The last day counted: the period's end, or today for a period still running."""
    return min(period.end, today)


def overdue_cutoff(period: Period, today: date) -> date:
    """An open action due before this day is overdue: today, or the day after an ended period.

    A period that has ended is judged as it stood at its end, so its figures do not keep
    changing; one still running is judged as of today.
    """
    return min(period.end + timedelta(days=1), today)


def local_day_bounds(first: date, last: date, zone: tzinfo) -> tuple[datetime, datetime]:
    """The UTC instants whose date in ``zone`` falls from ``first`` to ``last``: [start, end).

    Meetings and referrals are stored in UTC but counted by the area's calendar day, so a
    database query has to turn the days into instants. Local midnight is the first instant
    of its day even across a clock change (Python reads a midnight that the clocks skip with
    the offset before the change, which is the instant the day starts). The ends come back
    in UTC because arithmetic between two aware times in one zone ignores the clock change.
    """
    start = datetime.combine(first, time(), tzinfo=zone)
    end = datetime.combine(last + timedelta(days=1), time(), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def _quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


_PERIOD_HELP = (
    "Please give a quarter such as 2026 Q3 (or Q3 2026), "
    "or send 'last 12 months', 'this quarter' or 'last quarter'."
)
_QUARTER_HELP = (
    "There are four quarters: Q1 is January to March, Q2 April to June, "
    "Q3 July to September and Q4 October to December."
)
_LAST_12 = re.compile(r"(?:(?:last|past|rolling)\s+)?(?:12|twelve)(?:\s+months?)?")
_YEAR_FIRST = re.compile(r"(\d{4})\s*-?\s*q\s*(\d+)")
_QUARTER_FIRST = re.compile(r"q\s*(\d+)\s*-?\s*(\d{4})")


def parse_period(text: str, today: date) -> Period:
    """Read the period a person typed after /stats; nothing typed means the last 12 months.

    Refusals never echo the text back; they show forms that will be accepted.
    A quarter that has not started yet is refused rather than reported as empty,
    since "no cases" would read as a real (and alarming) figure.
    """
    words = " ".join(text.lower().replace("_", " ").split())
    if words == "" or _LAST_12.fullmatch(words):
        return last_12_months(today)
    if words in ("this quarter", "current quarter"):
        return quarter(*_quarter_of(today))
    if words in ("last quarter", "previous quarter"):
        year, q = _quarter_of(today)
        return quarter(year - 1, 4) if q == 1 else quarter(year, q - 1)
    if match := _YEAR_FIRST.fullmatch(words):
        year, q = int(match.group(1)), int(match.group(2))
    elif match := _QUARTER_FIRST.fullmatch(words):
        q, year = int(match.group(1)), int(match.group(2))
    else:
        raise PeriodError(_PERIOD_HELP)
    period = quarter(year, q)
    if period.start > today:
        this_year, this_q = _quarter_of(today)
        raise PeriodError(
            f"{period.label} has not started yet. Please choose a quarter up to "
            f"{this_year} Q{this_q}, or send 'last 12 months'."
        )
    return period


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CaseCounts:
    """The dataset's per-meeting counts; shared by a meeting row and the period total."""

    cases_heard: int
    repeat_cases: int
    repeat_rate: float | None
    children: int
    # Every kind in AGENCY_KINDS is present (zeros included) so that columns line up.
    referrals_by_agency_kind: dict[str, int]
    not_from_police_share: float | None
    male: int
    lgbt: int
    disabled: int
    minoritised: int
    aged_16_17: int
    perpetrators_under_18: int

    @property
    def not_from_police(self) -> int:
        return self.cases_heard - self.referrals_by_agency_kind.get("police", 0)


@dataclass(frozen=True, kw_only=True)
class MeetingFigures(CaseCounts):
    meeting_id: int
    held_on: date


@dataclass(frozen=True, kw_only=True)
class AreaFigures(CaseCounts):
    period: Period
    # The day the figures were drawn up: a period still running is counted up to here.
    as_of: date
    meetings: list[MeetingFigures]
    adult_female_population: int | None
    cases_per_10k_women: float | None
    # agency -> {"done", "not_possible", "overdue", "open"}; overdue actions are also open.
    actions_by_agency: dict[str, dict[str, int]]
    # service -> {state -> referrals made in the period now in that state}
    perp_by_state: dict[str, dict[str, int]]
    # service -> referrals made in the period that have started (the median's base)
    perp_starts: dict[str, int]
    median_days_to_start: dict[str, float | None]
    # For commissioners, per service, of the referrals made in the period: how many wait to
    # start, calendar days from referral to first contact (median, and how many had one),
    # and how many ended, completed or disengaged.
    perp_waiting: dict[str, int] = field(default_factory=dict)
    perp_contacts: dict[str, int] = field(default_factory=dict)
    median_days_to_first_contact: dict[str, float | None] = field(default_factory=dict)
    perp_ended: dict[str, int] = field(default_factory=dict)
    perp_completed: dict[str, int] = field(default_factory=dict)
    perp_disengaged: dict[str, int] = field(default_factory=dict)
    # Cases heard in the 12 months to ``as_of`` (whatever the period), for the staffing
    # SafeLives recommends; ``last_year`` is that window.
    last_year: Period | None = None
    cases_last_12_months: int = 0
    # The area's repeat window (its setting, in days) and what the figures are set against:
    # SafeLives' published figures, each with its source (bot.stats.national).
    repeat_window_days: int = REPEAT_DEFINITION.window_days
    national: NationalDataset = LATEST_DATASET
    capacity_guide: CapacityGuide = CAPACITY_GUIDE
    repeat_definition: RepeatDefinition = REPEAT_DEFINITION


def _share(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


class _CountFields(TypedDict):
    cases_heard: int
    repeat_cases: int
    repeat_rate: float | None
    children: int
    referrals_by_agency_kind: dict[str, int]
    not_from_police_share: float | None
    male: int
    lgbt: int
    disabled: int
    minoritised: int
    aged_16_17: int
    perpetrators_under_18: int


def _counts(tallies: Sequence[CaseTally]) -> _CountFields:
    # One pass with plain additions: this runs once per meeting, and a daily MARAC has
    # hundreds of meetings a year.
    by_kind = dict.fromkeys(AGENCY_KINDS, 0)
    heard = repeats = children = male = lgbt = disabled = minoritised = young = perps = 0
    for tally in tallies:
        for kind, count in tally.by_agency_kind.items():
            # An unknown kind still counts in the total, so the columns still add up to it.
            by_kind[kind if kind in by_kind else "other"] += count
        heard += tally.cases
        repeats += tally.repeats
        children += tally.children
        male += tally.male
        lgbt += tally.lgbt
        disabled += tally.disabled
        minoritised += tally.minoritised
        young += tally.aged_16_17
        perps += tally.perpetrators_under_18
    return _CountFields(
        cases_heard=heard,
        repeat_cases=repeats,
        repeat_rate=_share(repeats, heard),
        children=children,
        referrals_by_agency_kind=by_kind,
        not_from_police_share=_share(heard - by_kind["police"], heard),
        male=male,
        lgbt=lgbt,
        disabled=disabled,
        minoritised=minoritised,
        aged_16_17=young,
        perpetrators_under_18=perps,
    )


def _action_counts(
    actions: Iterable[ActionRecord], period: Period, cutoff: date
) -> dict[str, dict[str, int]]:
    result: dict[str, dict[str, int]] = {}
    for action in actions:
        if action.due_on not in period:
            continue
        if action.state not in _ACTION_STATES:
            # A new state added elsewhere must be placed in a column deliberately, not dropped.
            raise ValueError(f"unknown action state {action.state!r}")
        tally = result.setdefault(
            action.agency, {"done": 0, "not_possible": 0, "overdue": 0, "open": 0}
        )
        if action.count < 0:
            raise ValueError(f"a negative count of {action.agency} actions")
        if action.state in _OPEN_ACTION_STATES:
            tally["open"] += action.count
            if action.due_on < cutoff:
                tally["overdue"] += action.count
        else:
            tally[action.state] += action.count
    return dict(sorted(result.items()))


def _perp_order(state: str) -> tuple[int, str]:
    known = state in _PERP_STATE_ORDER
    return (_PERP_STATE_ORDER.index(state) if known else len(_PERP_STATE_ORDER), state)


def _ended_because(perp: PerpRecord) -> str | None:
    """A closed referral's reason: its coded one, or what an older closing step meant."""
    if perp.end_reason is not None:
        return perp.end_reason
    return {"completed": "completed", "not_suitable": "unsuitable"}.get(perp.state)


def _heard(cases: Iterable[CaseRecord | CaseTally]) -> Iterable[CaseTally]:
    for case in cases:
        if isinstance(case, CaseTally):
            yield case
        elif case.meeting_id is not None and case.heard_on is not None:
            yield CaseTally.of(case)


def compute(
    period: Period,
    cases: Iterable[CaseRecord | CaseTally],
    meetings: Iterable[MeetingRecord],
    actions: Iterable[ActionRecord],
    perps: Iterable[PerpRecord],
    *,
    adult_female_population: int | None,
    today: date,
    repeat_window_days: int = REPEAT_DEFINITION.window_days,
    cases_last_12_months: int | None = None,
) -> AreaFigures:
    """Count a period from all of an area's records; the caller need not pre-filter them.

    ``cases`` may be one record per case (a case heard at several meetings has one per
    meeting, and one with no meeting if never heard), tallies already counted per meeting,
    or both; they are counted the same way.

    What falls in the period:
    - a case, when it was heard (``heard_on``) in the period, up to today;
    - a meeting, when it was held in the period up to today, even with no cases heard
      (a meeting only known through its cases is included with the cases' date);
    - an action, when it falls due in the period (the only date it carries);
      it is overdue when still open and due before today, or, for a period that has
      ended, due on or before the period's last day;
    - a perpetrator referral, when it was made in the period.

    The volume per 10,000 adult women is annualised over the days counted so far,
    not the whole period, so that a quarter in progress is not understated.

    The staffing SafeLives recommends rests on the cases heard in the 12 months to today,
    whatever the period: ``cases_last_12_months`` when the caller has counted them (the
    service, which fetches only the period's cases), otherwise counted from ``cases``.
    ``repeat_window_days`` is the area's setting, so that the summary can say which
    repeat its figures count.
    A perpetrator programme recorded as starting before its referral raises ValueError
    (as in the coordinator's summary), since quietly including it would flatter the wait.
    """
    last_day = counted_to(period, today)
    every_heard = list(_heard(cases))
    heard = [tally for tally in every_heard if period.start <= tally.heard_on <= last_day]
    last_year = last_12_months(today)
    if cases_last_12_months is None:
        cases_last_12_months = sum(t.cases for t in every_heard if t.heard_on in last_year)
    held: dict[int, date] = {
        meeting.meeting_id: meeting.held_on
        for meeting in meetings
        if period.start <= meeting.held_on <= last_day
    }
    by_meeting: dict[int, list[CaseTally]] = {}
    for tally in heard:
        by_meeting.setdefault(tally.meeting_id, []).append(tally)
        held.setdefault(tally.meeting_id, tally.heard_on)
    meeting_rows = [
        MeetingFigures(
            meeting_id=meeting_id, held_on=held_on, **_counts(by_meeting.get(meeting_id, []))
        )
        for meeting_id, held_on in sorted(held.items(), key=lambda item: (item[1], item[0]))
    ]

    per_10k: float | None = None
    days_counted = (last_day - period.start).days + 1
    if adult_female_population and adult_female_population > 0 and days_counted > 0:
        annual = sum(tally.cases for tally in heard) * 365 / days_counted
        per_10k = annual / adult_female_population * 10_000

    cutoff = overdue_cutoff(period, today)
    perp_list = [perp for perp in perps if perp.referred_on in period]
    services = sorted({perp.service for perp in perp_list})
    perp_by_state: dict[str, dict[str, int]] = {}
    perp_starts: dict[str, int] = {}
    median_to_start: dict[str, float | None] = {}
    waiting: dict[str, int] = {}
    contacts: dict[str, int] = {}
    to_contact: dict[str, float | None] = {}
    ended: dict[str, int] = {}
    completed: dict[str, int] = {}
    disengaged: dict[str, int] = {}
    for service in services:
        mine = [perp for perp in perp_list if perp.service == service]
        states = Counter(perp.state for perp in mine)
        perp_by_state[service] = {s: states[s] for s in sorted(states, key=_perp_order)}
        perp_starts[service] = sum(perp.started_on is not None for perp in mine)
        median_to_start[service] = median_days((p.referred_on, p.started_on) for p in mine)
        waiting[service] = sum(p.state in _PERP_WAITING_STATES for p in mine)
        contacts[service] = sum(p.first_contact_on is not None for p in mine)
        to_contact[service] = median_days((p.referred_on, p.first_contact_on) for p in mine)
        closed = [p for p in mine if p.state in _PERP_CLOSED_STATES]
        ended[service] = len(closed)
        completed[service] = sum(_ended_because(p) == "completed" for p in closed)
        disengaged[service] = sum(_ended_because(p) == "disengaged" for p in closed)

    return AreaFigures(
        period=period,
        as_of=today,
        meetings=meeting_rows,
        adult_female_population=adult_female_population,
        cases_per_10k_women=per_10k,
        actions_by_agency=_action_counts(actions, period, cutoff),
        perp_by_state=perp_by_state,
        perp_starts=perp_starts,
        median_days_to_start=median_to_start,
        perp_waiting=waiting,
        perp_contacts=contacts,
        median_days_to_first_contact=to_contact,
        perp_ended=ended,
        perp_completed=completed,
        perp_disengaged=disengaged,
        last_year=last_year,
        cases_last_12_months=cases_last_12_months,
        repeat_window_days=repeat_window_days,
        **_counts(heard),
    )


# --- small-number suppression and the bot's summary ------------------------------------------


def is_small(value: int) -> bool:
    """Whether a count is small enough (1 to 4) to risk identifying someone in an area.

    Zero is not suppressed: "nobody" identifies no one, and hiding it would make
    every empty column look like a hidden one.
    """
    return 1 <= value <= SMALL_COUNT_MAX


def suppress(value: int) -> str:
    """A count as governance users may see it: 1 to 4 become "<5", 0 and 5+ stay exact."""
    if value < 0:
        raise ValueError(f"a count cannot be negative ({value})")
    return SUPPRESSED_COUNT if is_small(value) else str(value)

"""Quick entry of a case's actions during the meeting: one short line per action.

A case gets 12-15 minutes at the table and agencies volunteer actions as they talk,
so the coordinator types them as they are said, on a phone or a laptop, one message
each: "Police: visit victim and check bail conditions by 14/12 high". A form
with a question per field would fall behind the meeting. The bot reads every line
back for confirmation, so the parser can be forgiving about how agencies are named
and dates are written; when it cannot be sure it asks rather than guesses.

Refusals echo at most a date or a number, never the typed text, which may name
someone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from bot.dates import MONTHS, example_date, format_uk_date
from bot.meetings.workdays import NO_CLOSURES, add_working_days
from bot.referrals.validation import NUMBER_WORDS, InputError

HIGH = "high"
NORMAL = "normal"
MIN_TEXT = 5
MAX_TEXT = 500
# Longer than any real action line; refusing early keeps the work per message small.
MAX_LINE = 2000
# An agency name is at most 120 characters (services/agencies.py).
MAX_AGENCY_TYPED = 120
MAX_WORKING_DAYS = 260
# Actions are reviewed at the next meetings; a due date further ahead is nearly always a
# mistyped year, and would hide the action from every chase until then.
MAX_AHEAD = timedelta(days=366)
WORKING_DAYS_PER_WEEK = 5


@dataclass(frozen=True)
class ActionDraft:
    """An action as read from one message, before anyone has confirmed it."""

    agency: str
    text: str
    due: date | None  # None: the caller applies the area's default deadline
    priority: str  # HIGH or NORMAL


# --- tidying ---------------------------------------------------------------------------------

_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-"})
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "`": "'"})


def _tidy_line(text: str) -> str:
    # NFKC turns a phone's full-width colon or digits into the plain ones the patterns use;
    # invisible and control characters are dropped because nobody can see them to fix them,
    # and a control character would make the minutes document unreadable.
    normalised = unicodedata.normalize("NFKC", text).translate(_DASHES).translate(_APOSTROPHES)
    kept = []
    for ch in normalised:
        category = unicodedata.category(ch)
        if category == "Cf":
            continue
        kept.append(" " if category == "Cc" else ch)
    return " ".join("".join(kept).split())


def _tidy_text(text: str) -> str:
    # What is left after a date or priority is cut out: close up the gaps and drop the
    # punctuation that separated the cut part from the rest.
    text = " ".join(text.split())
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    text = re.sub(r"([,;:])(?:\s*[,;:])+", r"\1", text)
    return text.strip(" ,;:-")


# --- agencies --------------------------------------------------------------------------------

_JOINING_WORDS = frozenset({"the", "and", "of", "for"})
# Words people add or leave off an agency's name without meaning another agency.
_OPTIONAL_WORDS = _JOINING_WORDS | {"team", "service", "services", "dept", "department"}
# Names an agency goes by that are neither its words nor their initials.
_ALIASES: dict[str, tuple[str, ...]] = {
    "csc": (
        "childrens social care",
        "childrens services",
        "children and families",
        "childrens social work",
    ),
    "asc": ("adult social care", "adults social care", "adult services", "adults services"),
    "idva": ("idva", "independent domestic violence", "independent domestic abuse"),
    "mh": ("mental health",),
    "gp": ("gp", "primary care", "general practi"),
    "police": ("police", "constabulary"),
    "nps": ("probation",),
    "education": ("education", "school"),
    "schools": ("education", "school"),
}


def _words(text: str) -> tuple[str, ...]:
    folded = text.casefold().translate(_APOSTROPHES).replace("'", "").replace("&", " and ")
    return tuple(re.findall(r"[^\W_]+", folded))


def _initialisms(name_words: Sequence[str]) -> set[str]:
    """Initials of every run of two or more words: "CSC" in "Northshire Children's Social Care"."""
    significant = [word for word in name_words if word not in _JOINING_WORDS]
    return {
        "".join(word[0] for word in significant[start:end])
        for start in range(len(significant))
        for end in range(start + 2, len(significant) + 1)
    }


def _abbreviation_matches(typed: Sequence[str], name_words: Sequence[str]) -> bool:
    if all(len(word) == 1 for word in typed):
        token = "".join(typed)  # "D&A" arrives as d, a
    elif len(typed) == 1:
        token = typed[0]
    else:
        return False
    if len(token) >= 2 and token in _initialisms(name_words):
        return True
    joined = " ".join(name_words)
    return any(re.search(rf"\b{re.escape(phrase)}", joined) for phrase in _ALIASES.get(token, ()))


def _match_agency(typed: str, names: Sequence[str]) -> tuple[list[str], bool]:
    """The agencies the typed name could mean, most certain reading first, and whether exact.

    Tiers, first one with any match wins: the exact name; whole words of the name, its
    initials or a known alias; then the start of each of its words. A typed name that
    fits several agencies in the winning tier is ambiguous, and the person is asked.
    """
    typed_words = _words(typed)
    if not typed_words:
        return [], False
    exact = [name for name in names if _words(name) == typed_words]
    if exact:
        return exact, True
    significant = tuple(w for w in typed_words if w not in _OPTIONAL_WORDS) or typed_words
    by_word = [
        name
        for name in names
        if set(significant) <= set(_words(name)) or _abbreviation_matches(significant, _words(name))
    ]
    if by_word:
        return by_word, False
    by_prefix = [
        name
        for name in names
        if all(
            len(word) >= 2 and any(part.startswith(word) for part in _words(name))
            for word in significant
        )
    ]
    return by_prefix, False


# ":" with any spacing, or a hyphen with a space on at least one side ("IDVA - contact").
_SEPARATOR = re.compile(r"\s*:\s*|\s+-\s*|\s*-\s+")
_MAX_SPLITS_TRIED = 6


def _example(names: Sequence[str]) -> str:
    return f"{names[0]}: contact victim within 5 working days"


def _agency_list(names: Sequence[str]) -> str:
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " or " + names[-1]


def _split_agency(line: str, names: Sequence[str]) -> tuple[str, str]:
    """Split "agency: action" at the separator that gives a certain agency.

    Agency names can themselves hold a hyphen or colon ("CGL - Drug and Alcohol"), so
    every early separator is tried. An exact name wins over a forgiving match, the
    longest exact name over a shorter one; otherwise the first unique match is used.
    """
    splits = [
        (match.start(), match.end())
        for match in _SEPARATOR.finditer(line)
        if 0 < match.start() <= MAX_AGENCY_TYPED
    ][:_MAX_SPLITS_TRIED]
    if not splits:
        raise InputError(
            "Please start with the agency, then a colon and the action, "
            f"for example: {_example(names)}."
        )
    readings = [(start, end, *_match_agency(line[:start], names)) for start, end in splits]
    exact = [(start, end, found[0]) for start, end, found, is_exact in readings if is_exact]
    if exact:
        _, end, agency = max(exact)
        return agency, line[end:]
    for _, end, found, _ in readings:
        if len(found) == 1:
            return found[0], line[end:]
    first_found = readings[0][2]
    if first_found:
        raise InputError(
            f"That could be {_agency_list(first_found)}. Please type more of the agency's name."
        )
    raise InputError(
        f"I could not match that to an agency. Please start with one of: {_agency_list(names)}. "
        f"For example: {_example(names)}."
    )


def _starts_with_agency(line: str, names: Sequence[str]) -> bool:
    match = _SEPARATOR.search(line)
    return bool(
        match
        and 0 < match.start() <= MAX_AGENCY_TYPED
        and _match_agency(line[: match.start()], names)[0]
    )


# --- due dates -------------------------------------------------------------------------------

_NUMBER = "|".join(["[0-9]{1,4}", "an?", *sorted(NUMBER_WORDS, key=len, reverse=True)])
_WEEKDAY = r"(?:(?:mon|tue|wed|thu|fri|sat|sun)[a-z]*\.?,?\s+)?"
_NOT_MORE_DATE = r"(?![0-9]|[/.\-][0-9])"
_BY_DATE = re.compile(
    rf"\b(?:due\s+by|due|by)\s+{_WEEKDAY}(?P<when>"
    rf"(?P<iso>(?P<iy>[0-9]{{4}})-(?P<im>[0-9]{{1,2}})-(?P<id>[0-9]{{1,2}})){_NOT_MORE_DATE}"
    rf"|(?P<num>(?P<nd>[0-9]{{1,2}})[/.\-](?P<nm>[0-9]{{1,2}})(?:[/.\-](?P<ny>[0-9]{{2,4}}))?)"
    rf"{_NOT_MORE_DATE}"
    rf"|(?P<words>(?P<wd>[0-9]{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<wm>[a-z]+)\.?"
    rf"(?:,?\s+(?P<wy>[0-9]{{4}}|[0-9]{{2}})\b)?)"
    r"|(?P<relative>today|tomorrow)\b)",
    re.IGNORECASE,
)
# "by 12/13/<year>" or "by 1.2.3.4": meant as a date but not one the patterns above can use.
_BY_BROKEN_DATE = re.compile(
    r"\b(?:due\s+by|due|by)\s+(?P<when>[0-9]{1,4}[/.\-][0-9/.\-]*)", re.IGNORECASE
)
_WITHIN = re.compile(
    rf"\b(?:within|in)\s+(?P<n>{_NUMBER})\s+"
    r"(?P<unit>(?:working|work|business)\s+days?|days?|weeks?|hours?|hrs?)\b",
    re.IGNORECASE,
)


def _date_help(today: date) -> str:
    return f"Please write the due date as day/month/year, for example by {example_date(today)}."


def _year_for(day: int, month: int, today: date, shown: str) -> int:
    """The year of the next such date from today, when the person left the year off."""
    for year in (today.year, today.year + 1):
        try:
            if date(year, month, day) >= today:
                return year
        except ValueError:
            continue
    raise InputError(f"{shown} is not a real date. Please check the day and month.")


def _real_date(year: int, month: int, day: int, shown: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        if 1 <= day <= 12 < month <= 31:
            raise InputError(
                f"{shown} is not a real date. Dates go day first: "
                f"did you mean {month:02d}/{day:02d}/{year}?"
            ) from None
        raise InputError(f"{shown} is not a real date. Please check the day and month.") from None


def _date_from(match: re.Match[str], today: date) -> date | None:
    """The date a "by ..." phrase names, or None when it turns out not to be a date at all."""
    shown = match["when"]
    if match["relative"]:
        return today if match["relative"].lower() == "today" else today + timedelta(days=1)
    if match["iso"]:
        return _real_date(int(match["iy"]), int(match["im"]), int(match["id"]), shown)
    if match["num"]:
        day, month, year_text = int(match["nd"]), int(match["nm"]), match["ny"]
    else:
        month_word = match["wm"].lower()
        if month_word not in MONTHS:
            return None  # "by 3 visits"
        day, month, year_text = int(match["wd"]), MONTHS[month_word], match["wy"]
    if year_text is None:
        if not 1 <= month <= 12:
            raise InputError(f"{shown} is not a real date. {_date_help(today)}")
        year = _year_for(day, month, today, shown)
    else:
        year = int(year_text) + (2000 if len(year_text) == 2 else 0)
    return _real_date(year, month, day, shown)


def _working_days_from(match: re.Match[str], today: date) -> int:
    count_text = match["n"].lower()
    if count_text in ("a", "an"):
        count = 1
    elif count_text in NUMBER_WORDS:
        count = NUMBER_WORDS[count_text]
    else:
        count = int(count_text)
    unit = match["unit"].lower()
    if unit.startswith(("hour", "hr")):
        # Hours would need a clock and a view on weekends; a date the person picks is safer.
        raise InputError(
            "Please give the deadline in days or as a date, for example "
            f"within 1 working day, or by {example_date(today)}."
        )
    if unit.startswith("week"):
        count *= WORKING_DAYS_PER_WEEK
    if count < 1:
        raise InputError("Please give a deadline of at least 1 working day.")
    if count > MAX_WORKING_DAYS:
        raise InputError("That deadline is more than a year away. Please check the number.")
    return count


def _take_due(rest: str, today: date, closures: frozenset[date]) -> tuple[str, date | None]:
    """Cut the due date out of the action text, wherever the person put it."""
    found: list[tuple[int, int, date]] = []
    for match in _BY_DATE.finditer(rest):
        due = _date_from(match, today)
        if due is not None:
            if due < today:
                raise InputError(
                    f"{match['when']} is in the past. Please give a due date from today onwards."
                )
            found.append((match.start(), match.end(), due))
    for match in _WITHIN.finditer(rest):
        found.append(
            (
                match.start(),
                match.end(),
                add_working_days(today, _working_days_from(match, today), closures),
            )
        )
    if len(found) > 1:
        raise InputError("Please give one due date for each action.")
    if not found:
        broken = _BY_BROKEN_DATE.search(rest)
        if broken:
            raise InputError(
                f"I could not read {broken['when'][:20]} as a date. {_date_help(today)}"
            )
        return rest, None
    start, end, due = found[0]
    if due - today > MAX_AHEAD:
        raise InputError(f"{format_uk_date(due)} is more than a year away. Please check the year.")
    return rest[:start] + " " + rest[end:], due


# --- priority --------------------------------------------------------------------------------

_PRIORITY_TAIL = re.compile(
    r"[\s,;:\-(\[!]*\b(?P<marker>(?:high|top|urgent)\s+priority|priority\s+(?:high|urgent)"
    r"|high|urgent|priority)\b[\s)\]!.]*$",
    re.IGNORECASE,
)
_PRIORITY_HEAD = re.compile(r"^(?:urgent|high\s+priority|priority)\s*[:!\-]+\s*", re.IGNORECASE)
# "check whether the risk is high": there "high" describes something, it is not a priority.
_HIGH_AS_WORD_AFTER = frozenset(
    {"is", "are", "was", "were", "be", "been", "very", "too", "so", "remains", "remain", "stays"}
)


def _take_priority(text: str) -> tuple[str, str]:
    priority = NORMAL
    head = _PRIORITY_HEAD.match(text)
    if head:
        text, priority = text[head.end() :], HIGH
    tail = _PRIORITY_TAIL.search(text)
    if tail:
        before = text[: tail.start()].split()
        describes = tail["marker"].lower() == "high" and bool(before)
        if not (describes and before[-1].lower() in _HIGH_AS_WORD_AFTER):
            text, priority = text[: tail.start()], HIGH
    return text, priority


# --- the line --------------------------------------------------------------------------------


def parse_action_line(
    text: str,
    agency_names: Sequence[str],
    today: date,
    closures: frozenset[date] = NO_CLOSURES,
) -> ActionDraft:
    """Read one action as typed at the meeting; InputError says what to type instead.

    ``today`` is the area's local date: a due date must not be before it, and "within
    3 working days" counts from it, skipping the area's ``closures`` as well as weekends
    and bank holidays.
    """
    if not agency_names:
        raise InputError(
            "No agencies are set up for this area yet. Please ask the coordinator to add them."
        )
    if len(text) > MAX_LINE:
        raise InputError(
            f"That is {len(text):,} characters; an action can be at most {MAX_TEXT}. "
            "Please send one action per message."
        )
    lines = [line for line in (_tidy_line(part) for part in text.splitlines()) if line]
    if not lines:
        raise InputError(f"Please type the action, for example: {_example(agency_names)}.")
    # Several "Agency: ..." lines in one message are several actions pasted together; read
    # as one they would all go to the first agency.
    if any(_starts_with_agency(line, agency_names) for line in lines[1:]):
        raise InputError("Please send one action per message, so each can be confirmed.")
    agency, rest = _split_agency(" ".join(lines), agency_names)
    rest, due = _take_due(rest, today, closures)
    rest, priority = _take_priority(_tidy_text(rest))
    action = _tidy_text(rest)
    if not action:
        raise InputError(
            f"Please say what {agency} will do, for example: {agency}: contact victim "
            "within 5 working days."
        )
    if len(action) < MIN_TEXT:
        raise InputError(
            f"That action is too short for the minutes. Please say what {agency} will do, "
            f"in at least {MIN_TEXT} characters."
        )
    if len(action) > MAX_TEXT:
        raise InputError(
            f"That action is {len(action):,} characters; the limit is {MAX_TEXT}. "
            "Please shorten it or split it into two actions."
        )
    return ActionDraft(agency=agency, text=action, due=due, priority=priority)


def read_back(drafts: Sequence[ActionDraft]) -> str:
    """The drafts as the coordinator confirms them: every reading the parser made, visible.

    A draft without a date says "usual deadline" rather than a date, because the
    default depends on the area and the meeting date, which the caller applies.
    """
    if not drafts:
        return "No actions yet."
    lines = []
    for number, draft in enumerate(drafts, start=1):
        notes = [f"due {format_uk_date(draft.due)}" if draft.due else "usual deadline"]
        if draft.priority == HIGH:
            notes.append("high priority")
        lines.append(f"{number}. {draft.agency} — {draft.text} ({', '.join(notes)})")
    return "\n".join(lines)

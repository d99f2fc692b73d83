"""A quarter of cases for the statistics tests, made from coded values only."""

from __future__ import annotations

from datetime import date

from bot.stats.figures import (
    ActionRecord,
    AreaFigures,
    CaseRecord,
    MeetingRecord,
    PerpRecord,
    compute,
    quarter,
)

TODAY = date(2026, 11, 26)


Q3 = quarter(2026, 3)


POPULATION = 50_000


MEETING_DATES = {
    1: date(2026, 7, 1),  # first day of the quarter: inside
    2: date(2026, 8, 13),
    3: date(2026, 9, 10),
    4: date(2026, 9, 30),  # last day, nobody heard: still a meeting row
    9: date(2026, 6, 11),  # the quarter before
    10: date(2026, 10, 1),  # the quarter after
}


# id, meeting, referrer kind, repeat, children, gender, lgbt, disabled, minoritised,
# aged 16-17, perpetrator under 18
Flag = bool | None


Row = tuple[int, int | None, str, bool, int, str | None, Flag, Flag, Flag, bool, Flag]


ROWS: list[Row] = [
    # meeting 1: 6 cases
    (1, 1, "police", True, 2, "female", False, True, False, False, False),
    (2, 1, "police", False, 0, "male", True, None, True, False, False),
    (3, 1, "idva", True, 3, "female", None, False, True, True, True),
    (4, 1, "health", False, 1, None, None, None, None, False, None),
    (5, 1, "police", True, 0, "other", False, False, False, False, False),
    (6, 1, "housing", False, 1, "female", False, False, None, False, False),
    # meeting 2: 4 cases
    (7, 2, "police", False, 1, "female", False, False, False, False, False),
    (8, 2, "childrens_social_care", True, 0, "female", False, True, False, False, False),
    (9, 2, "police", False, 2, "male", False, False, True, False, None),
    (10, 2, "probation", False, 0, "unknown", False, False, False, False, False),
    # meeting 3: 10 cases
    (11, 3, "police", True, 1, "female", False, True, False, False, False),
    (12, 3, "police", True, 1, "female", False, True, False, False, False),
    (13, 3, "police", True, 1, "female", False, True, False, False, False),
    (14, 3, "police", False, 2, "male", False, True, False, False, False),
    (15, 3, "police", False, 0, "male", False, True, False, False, False),
    (16, 3, "police", False, 0, "female", False, False, True, False, False),
    (17, 3, "police", False, 0, "female", False, False, False, False, False),
    (18, 3, "idva", False, 3, "female", False, False, False, False, False),
    (19, 3, "mystery_kind", False, 0, "female", False, False, False, False, False),
    (20, 3, "education", False, 1, "female", False, False, False, False, True),
    # not in Q3: heard in June, heard in October, referred but never heard
    (21, 9, "police", True, 4, "male", True, True, True, True, True),
    (22, 10, "idva", True, 4, "male", True, True, True, True, True),
    (23, None, "police", True, 4, "male", True, True, True, True, True),
]


def make_cases() -> list[CaseRecord]:
    cases = []
    for row in ROWS:
        case_id, meeting, kind, repeat, children, gender, lgbt, disabled, minor, young, perp = row
        cases.append(
            CaseRecord(
                case_id=case_id,
                meeting_id=meeting,
                heard_on=MEETING_DATES[meeting] if meeting is not None else None,
                referred_on=date(2026, 5, 1),
                referring_agency_kind=kind,
                referring_agency=f"Agency {kind}",
                repeat=repeat,
                children=children,
                victim_gender=gender,
                victim_lgbt=lgbt,
                victim_disabled=disabled,
                victim_minoritised=minor,
                victim_aged_16_17=young,
                perpetrator_under_18=perp,
            )
        )
    return cases


def make_meetings() -> list[MeetingRecord]:
    return [MeetingRecord(meeting_id, held) for meeting_id, held in MEETING_DATES.items()]


POLICE = "Northshire Police"


HOUSING = "Hearth Housing"


def make_actions() -> list[ActionRecord]:
    return [
        ActionRecord(POLICE, "done", date(2026, 7, 15)),
        ActionRecord(POLICE, "done", date(2026, 8, 20)),
        ActionRecord(POLICE, "not_possible", date(2026, 9, 1)),
        ActionRecord(POLICE, "assigned", date(2026, 9, 30)),  # last day, still open
        ActionRecord(POLICE, "accepted", date(2026, 7, 10)),
        ActionRecord(HOUSING, "reassigned", date(2026, 7, 2)),
        ActionRecord(POLICE, "assigned", date(2026, 10, 5)),  # due after the quarter
        ActionRecord(POLICE, "done", date(2026, 6, 30)),  # due before it
    ]


def make_perps() -> list[PerpRecord]:
    return [
        PerpRecord("Drive", "attending", date(2026, 7, 5), date(2026, 7, 15)),  # 10 days
        PerpRecord("Drive", "completed", date(2026, 7, 10), date(2026, 7, 30)),  # 20 days
        PerpRecord("Drive", "disengaged", date(2026, 8, 1), date(2026, 8, 31)),  # 30 days
        PerpRecord("Drive", "referred", date(2026, 9, 2), None),
        PerpRecord("Respect DVPP", "contact_attempted", date(2026, 7, 20), None),
        PerpRecord("Respect DVPP", "not_suitable", date(2026, 8, 1), None),
        PerpRecord("Drive", "completed", date(2026, 6, 30), date(2026, 7, 1)),  # before Q3
        PerpRecord("Drive", "referred", date(2026, 10, 1), None),  # after Q3
    ]


def q3_figures(population: int | None = POPULATION) -> AreaFigures:
    return compute(
        Q3,
        make_cases(),
        make_meetings(),
        make_actions(),
        make_perps(),
        adult_female_population=population,
        today=TODAY,
    )

"""MARAC meetings, one module per capability.

``MeetingService`` puts them together, so callers keep one service; each part lives in
its own module beside the queries it needs (``common`` holds what they share).
"""

from __future__ import annotations

from bot.services.meetings.agenda import Agenda
from bot.services.meetings.common import (
    ATTENDANCE,
    DIGEST_HOUR,
    MEETINGS_AHEAD,
    OFF_DAY_LOOKAHEAD_DAYS,
    REP_ROLES,
    AgendaLine,
    Listing,
    MeetingDetail,
    MeetingView,
    Schedule,
    list_case,
    location_context,
    research_context,
)
from bot.services.meetings.digest import DigestAndCalendar
from bot.services.meetings.research import ResearchAndAttendance
from bot.services.meetings.research_sheet import (
    ResearchCase,
    ResearchSheet,
    ResearchSheets,
    Returned,
)
from bot.services.meetings.scheduling import Scheduling


class MeetingService(Scheduling, Agenda, ResearchAndAttendance, ResearchSheets, DigestAndCalendar):
    """MARAC meetings, every capability together for the runtime."""


__all__ = [
    "ATTENDANCE",
    "DIGEST_HOUR",
    "MEETINGS_AHEAD",
    "OFF_DAY_LOOKAHEAD_DAYS",
    "REP_ROLES",
    "AgendaLine",
    "Listing",
    "MeetingDetail",
    "MeetingService",
    "MeetingView",
    "ResearchCase",
    "ResearchSheet",
    "Returned",
    "Schedule",
    "list_case",
    "location_context",
    "research_context",
]

"""Action plans and perpetrator referrals, one module per capability.

``ActionService`` puts them together, so callers keep one service; each part lives in
its own module beside the queries it needs (``common`` holds what they share).
"""

from __future__ import annotations

from bot.actions.states import PERP_WAITING
from bot.services.actions.agency_work import AgencyWork
from bot.services.actions.chasing import Chasing
from bot.services.actions.common import (
    CHASE_HOUR,
    IN_CHUNK,
    ActionMoved,
    ActionPage,
    ActionView,
    AgencyCounts,
    Closed,
    PerpView,
    ServiceWaiting,
    action_context,
    perp_context,
    step_context,
)
from bot.services.actions.meeting_record import MeetingRecord
from bot.services.actions.oversight import Oversight
from bot.services.actions.perpetrators import PerpetratorWork
from bot.services.actions.plans import ActionPlans


class ActionService(ActionPlans, AgencyWork, PerpetratorWork, Oversight, MeetingRecord, Chasing):
    """Action plans and perpetrator referrals, every capability together for the runtime."""


__all__ = [
    "CHASE_HOUR",
    "IN_CHUNK",
    "PERP_WAITING",
    "ActionMoved",
    "ActionPage",
    "ActionService",
    "ActionView",
    "AgencyCounts",
    "Closed",
    "PerpView",
    "ServiceWaiting",
    "action_context",
    "perp_context",
    "step_context",
]

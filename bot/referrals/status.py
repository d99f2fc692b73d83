"""A case's triage status, read from its recorded steps rather than stored as one field."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class CaseStep(StrEnum):
    SUBMITTED = "submitted"
    INFO_REQUESTED = "info_requested"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    REPEAT_SUGGESTED = "repeat_suggested"
    REPEAT_CONFIRMED = "repeat_confirmed"
    REPEAT_REJECTED = "repeat_rejected"
    URGENT_ALERTED = "urgent_alerted"
    PERSON_EXCLUDED = "person_excluded"
    # MARAC-to-MARAC transfer: asked of another area, declined there, or accepted (the case
    # is closed here as transferred, and a case of the receiving area is opened from it).
    TRANSFER_REQUESTED = "transfer_requested"
    TRANSFER_DECLINED = "transfer_declined"
    TRANSFERRED = "transferred"
    TRANSFERRED_IN = "transferred_in"


TRIAGE_STEPS = frozenset(
    {
        CaseStep.SUBMITTED,
        CaseStep.INFO_REQUESTED,
        CaseStep.ACCEPTED,
        CaseStep.DECLINED,
        CaseStep.TRANSFERRED,
    }
)
# A case closed here: declined at triage, or transferred to another MARAC.
CLOSED_STEPS = frozenset({CaseStep.DECLINED, CaseStep.TRANSFERRED})
OPEN_FOR_TRIAGE = frozenset({CaseStep.SUBMITTED, CaseStep.INFO_REQUESTED})


def triage_status(steps: Iterable[str]) -> CaseStep:
    """The latest triage step; every case starts as submitted."""
    status = CaseStep.SUBMITTED
    for step in steps:
        if step in TRIAGE_STEPS:
            status = CaseStep(step)
    return status


def can_triage(status: CaseStep) -> bool:
    return status in OPEN_FOR_TRIAGE


def repeat_decision(steps: Iterable[tuple[str, int | None]], other_case_id: int) -> str | None:
    """The latest decision on one suggested match: confirmed, rejected, or None (undecided)."""
    decision: str | None = None
    for step, related in steps:
        if related != other_case_id:
            continue
        if step == CaseStep.REPEAT_CONFIRMED:
            decision = "confirmed"
        elif step == CaseStep.REPEAT_REJECTED:
            decision = "rejected"
    return decision


# Four digits at least: an area's 10,000th referral in a year gets five (NOR-2026-10000).
REFERENCE_PATTERN = r"[A-Z]{3}\d?-\d{4}-\d{4,}"


def format_reference(area_code: str, year: int, number: int) -> str:
    return f"{area_code}-{year}-{number:04d}"

"""Who may see what of a case: the one decision every read and send path asks.

MARAC information is shared on a need-to-know basis. A coordinator or chair runs the
case; the referrer knows what they referred; an agency invited to a meeting needs the
victim's and the person causing harm's identifiers to search its own records, but only
while the research is open; an agency given an action needs the reference to do it; and a
person on the case's must-not-receive list (a colleague related to the person causing
harm, say) must not learn that the case exists. Every service used to decide this for
itself, and two of them forgot the list. Here it is decided once, from facts the services
load in one query, and nothing else decides.

The answer is a level, each including everything below it:

* ``NONE``: as if the case did not exist (no reference, no count, no file): what anyone on
  the case's must-not-receive list, a leaver and someone whose enrolment no coordinator has
  confirmed yet get;
* ``REFERENCE``: its reference, and the agency's own work on it (actions, a perpetrator
  referral), in notices and lists;
* ``SUMMARY``: criterion, DASH score, dates, the referring agency: the agenda line;
* ``RESEARCH``: the identifiers needed to search records (names, other names, dates of
  birth, addresses, the children), as far as ``identifiers_shown`` opens them: a
  perpetrator service gets the person causing harm's and never the victim's;
* ``REFERRAL``: the referral as submitted (safety details, concerns, the judgement reason,
  triage notes);
* ``FULL``: everything, with what every agency returned and the case's links.

The IDVA service represents the victim: every IDVA of the area reads a new referral (so
someone contacts the victim within two working days and takes the case); once a named IDVA
is allocated, she sees the case in full and her colleagues only that it exists and who
holds it (plus what any invited agency may research). A perpetrator service sees what it
needs to know whom it is assessing (the person causing harm, the number of children) and
never the victim's address, safe contact details or who must not be told.

A MARAC-to-MARAC transfer crosses areas only by both coordinators' action: while a
transfer asked of another area is undecided, that area's coordinators may hear of the case
by reference (the request, with its criterion, DASH score and date), and nothing more; once
accepted, the receiving area works on a case of its own.

Pure functions only: no clock (``now`` is passed in), no database, no Telegram.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from bot.permissions import Operation
from bot.vocabulary import AgencyKind, Role


class Level(enum.IntEnum):
    NONE = 0
    REFERENCE = 1
    SUMMARY = 2
    RESEARCH = 3
    REFERRAL = 4
    FULL = 5


@dataclass(frozen=True)
class Viewer:
    """The person asking (or about to be sent something), as they are now."""

    person_id: int
    role: Role
    area_id: int
    agency_id: int | None
    agency_kind: AgencyKind | None = None
    active: bool = True
    on_call: bool = False
    # A coordinator has confirmed the enrolment (or it needed none). Until then the person
    # may be someone a forwarded invite reached, so they see nothing, like a leaver.
    confirmed: bool = True


@dataclass(frozen=True)
class Listing:
    """A meeting the case is (or was) on the agenda of."""

    meeting_id: int
    starts_at: datetime
    published_at: datetime | None
    # When the agencies' access to the research identifiers ends (an area setting, some
    # working days after the meeting); None until the agenda is published.
    research_closes_at: datetime | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class CaseFacts:
    """What the decision needs to know about a case; loaded for many cases in one query."""

    case_id: int
    area_id: int
    referred_by_id: int | None
    referring_agency_id: int | None
    urgent: bool = False
    excluded: frozenset[int] = frozenset()
    listings: tuple[Listing, ...] = ()
    # Agencies with an action on the case that has been sent to them, and perpetrator
    # services with a referral for it: they need its reference to do the work.
    working_agencies: frozenset[int] = frozenset()
    # Perpetrator services with a referral for the case sent to them: they must know whom
    # they are assessing.
    assessing_agencies: frozenset[int] = frozenset()
    # The named IDVA allocated to the case (the latest allocation), if any.
    allocated_idva: int | None = None
    # Areas a MARAC-to-MARAC transfer of the case has been asked of and not yet decided:
    # their coordinators may hear of the case (its reference, in the request) to decide.
    transfer_to: frozenset[int] = frozenset()

    def published(self) -> Iterable[Listing]:
        return (item for item in self.listings if item.published_at and not item.cancelled)


# Who is invited to a published meeting: every agency representative of the area, as
# ``MeetingService.publish`` asks them all for research and attendance.
INVITED_ROLES = frozenset({Role.AGENCY_REP, Role.PERPETRATOR_REP})
# A perpetrator service is asked about the person causing harm only: it never goes past
# RESEARCH (the referral as submitted holds the victim's safe contact details), and at
# RESEARCH it is shown only the person causing harm (``identifiers_shown``).
PERPETRATOR_SERVICE_MOST = Level.RESEARCH


class Part(enum.StrEnum):
    """The research identifiers, in the parts that open separately."""

    VICTIM = "the victim's names and date of birth"
    VICTIM_ADDRESS = "the victim's address"
    PERSON_CAUSING_HARM = "the person causing harm's names, date of birth and address"
    CHILDREN = "the children"


ALL_PARTS = frozenset(Part)


def is_perpetrator_service(role: Role, agency_kind: AgencyKind | None) -> bool:
    return role is Role.PERPETRATOR_REP or agency_kind is AgencyKind.PERPETRATOR_SERVICE


def identifiers_shown(level: Level, role: Role, agency_kind: AgencyKind | None) -> frozenset[Part]:
    """Which identifiers a person at ``level`` is shown: none below RESEARCH; a perpetrator
    service only the person causing harm's (the children's number is in the summary)."""
    if level < Level.RESEARCH:
        return frozenset()
    if is_perpetrator_service(role, agency_kind):
        return frozenset({Part.PERSON_CAUSING_HARM})
    return ALL_PARTS


def case_access(viewer: Viewer, case: CaseFacts, now: datetime) -> Level:
    """The most ``viewer`` may see of ``case`` at ``now``."""
    if not viewer.active or not viewer.confirmed:
        return Level.NONE
    if viewer.person_id in case.excluded:
        return Level.NONE
    if viewer.area_id != case.area_id:
        # Nothing crosses areas, except the request of a transfer not yet decided: the
        # receiving area's coordinators hear of it by reference, with the four facts the
        # request carries (``TRANSFER_REQUEST``), never the case itself.
        if viewer.role is Role.COORDINATOR and viewer.area_id in case.transfer_to:
            return Level.REFERENCE
        return Level.NONE
    if viewer.role in (Role.COORDINATOR, Role.CHAIR):
        return Level.FULL
    if viewer.role is Role.GOVERNANCE:
        return Level.NONE  # statistics only, never a case
    level = Level.NONE
    if viewer.role is Role.AGENCY_REP and viewer.agency_kind is AgencyKind.IDVA:
        if case.allocated_idva == viewer.person_id:
            return Level.FULL  # the victim's advocate
        # Until a named IDVA holds the case, the whole service reads the referral so that
        # someone contacts the victim quickly and takes it; afterwards colleagues see that it
        # exists and who holds it (to cover or reallocate), not the victim's details.
        level = Level.REFERRAL if case.allocated_idva is None else Level.SUMMARY
    if viewer.person_id == case.referred_by_id:
        level = Level.REFERRAL
    if viewer.role in INVITED_ROLES:
        for listing in case.published():
            assert listing.published_at is not None
            researching = listing.published_at <= now and (
                listing.research_closes_at is None or now < listing.research_closes_at
            )
            level = max(level, Level.RESEARCH if researching else Level.SUMMARY)
    if viewer.agency_id is not None and viewer.agency_id == case.referring_agency_id:
        level = max(level, Level.SUMMARY)
    if viewer.agency_id is not None and viewer.agency_id in case.working_agencies:
        level = max(level, Level.REFERENCE)
    if viewer.agency_id is not None and viewer.agency_id in case.assessing_agencies:
        level = max(level, Level.RESEARCH)  # whom it is assessing
    if viewer.on_call and case.urgent:
        level = max(level, Level.REFERENCE)  # told of urgent referrals at any hour
    if is_perpetrator_service(viewer.role, viewer.agency_kind):
        level = min(level, PERPETRATOR_SERVICE_MOST)
    return level


class CasePath(enum.StrEnum):
    """Every way case information reaches a person. Each asks ``case_access`` for the level
    it needs (``NEEDS``) and records the view against the case; nothing else shows a case."""

    CASE_CARD = "case card"
    TRIAGE = "triage"
    REPEAT_DECISION = "repeat decision"
    MUST_NOT_RECEIVE = "must-not-receive list"
    AGENDA = "agenda"
    RESEARCH = "research return"
    ACTION_PLAN = "action plan"
    MINUTES = "minutes"
    # An agency's own copy of the minutes: the meeting part, and per case what its level
    # gives (``bot.services.actions.meeting_record``).
    MINUTES_COPY = "agency's copy of the minutes"
    ACTIONS_LIST = "actions list"
    ACTION_CARD = "action card"
    PERPETRATOR_REFERRALS = "perpetrator-service referrals"
    AUDIT_TRAIL = "audit trail"
    EARLY_ERASURE = "early erasure"
    NOTICE = "notice"  # any message sent to a person that names the case
    # The case workspace (a Telegram Mini App) and, where it is not set up, its stand-in in
    # the chat: a protected message that deletes itself.
    CASE_PAGE = "workspace case page"
    RESEARCH_SHEET = "workspace research sheet"
    MEETING_BOARD = "workspace meeting board"
    ACTIONS_PAGE = "workspace actions page"
    RESEARCH_MESSAGE = "research identifiers message"
    # The victim's engagement, views and wishes, recorded by the allocated IDVA (who alone
    # may record them) and read by those who hold the case in full.
    VICTIM_VOICE = "victim's views"
    # The IDVA service: who holds the case (take it, reallocate it), the named IDVA's record
    # of contact with the victim, and the coordinator's list of cases waiting for either.
    IDVA_ALLOCATION = "IDVA allocation"
    VICTIM_CONTACT = "victim contact record"
    IDVA_OVERSIGHT = "IDVA oversight list"
    # Recording a new DASH on an open case: the allocated IDVA, the referrer, the coordinator.
    REASSESSMENT = "DASH reassessment"
    # A Clare's Law application linked to the case, as far as ``dvds_parts`` opens it: its
    # one-line status on the case card, and what its owner (the police) records.
    DVDS = "Clare's Law application"
    # --- MARAC-to-MARAC transfer ---
    # The sending coordinator starts a transfer of a case to another area (and sees it).
    TRANSFER = "MARAC-to-MARAC transfer"
    # The request as the receiving area's coordinators see it before deciding: the
    # reference, criterion, DASH score and date, nothing else; and its Accept / Decline.
    TRANSFER_REQUEST = "transfer request"
    # The IDVA's handover note and the pack a transferred case carries (why it moved, the
    # actions outstanding at the sending MARAC): read by those who hold the case in full.
    HANDOVER = "transfer handover"


NEEDS: dict[CasePath, Level] = {
    CasePath.CASE_CARD: Level.SUMMARY,
    CasePath.TRIAGE: Level.FULL,
    CasePath.REPEAT_DECISION: Level.REFERRAL,
    CasePath.MUST_NOT_RECEIVE: Level.FULL,
    CasePath.AGENDA: Level.SUMMARY,
    CasePath.RESEARCH: Level.SUMMARY,
    CasePath.ACTION_PLAN: Level.FULL,
    CasePath.MINUTES: Level.FULL,
    CasePath.MINUTES_COPY: Level.REFERENCE,
    CasePath.ACTIONS_LIST: Level.REFERENCE,
    CasePath.ACTION_CARD: Level.REFERENCE,
    CasePath.PERPETRATOR_REFERRALS: Level.REFERENCE,
    CasePath.AUDIT_TRAIL: Level.FULL,
    CasePath.EARLY_ERASURE: Level.FULL,
    CasePath.NOTICE: Level.REFERENCE,
    CasePath.CASE_PAGE: Level.SUMMARY,
    CasePath.RESEARCH_SHEET: Level.SUMMARY,
    CasePath.MEETING_BOARD: Level.FULL,
    CasePath.ACTIONS_PAGE: Level.REFERENCE,
    CasePath.RESEARCH_MESSAGE: Level.SUMMARY,
    CasePath.VICTIM_VOICE: Level.FULL,
    CasePath.IDVA_ALLOCATION: Level.SUMMARY,
    CasePath.VICTIM_CONTACT: Level.FULL,
    CasePath.IDVA_OVERSIGHT: Level.SUMMARY,
    CasePath.REASSESSMENT: Level.REFERRAL,
    CasePath.DVDS: Level.SUMMARY,
    CasePath.TRANSFER: Level.FULL,
    CasePath.TRANSFER_REQUEST: Level.REFERENCE,
    CasePath.HANDOVER: Level.FULL,
}


# The operation each path is part of: a path is open to a person when the permission matrix
# gives their role the operation and this policy gives them the level it needs.
PATH_OPERATIONS: dict[CasePath, Operation | None] = {
    CasePath.CASE_CARD: Operation.VIEW_CASES,
    CasePath.TRIAGE: Operation.TRIAGE_CASES,
    CasePath.REPEAT_DECISION: Operation.VIEW_CASES,
    CasePath.MUST_NOT_RECEIVE: Operation.TRIAGE_CASES,
    CasePath.AGENDA: Operation.VIEW_MEETINGS,
    CasePath.RESEARCH: Operation.RETURN_RESEARCH,
    CasePath.ACTION_PLAN: Operation.RECORD_ACTIONS,
    CasePath.MINUTES: Operation.RECORD_ACTIONS,
    CasePath.MINUTES_COPY: Operation.VIEW_MEETINGS,
    CasePath.ACTIONS_LIST: Operation.WORK_ACTIONS,
    CasePath.ACTION_CARD: Operation.WORK_ACTIONS,
    CasePath.PERPETRATOR_REFERRALS: Operation.WORK_ACTIONS,
    CasePath.AUDIT_TRAIL: Operation.VIEW_AUDIT,
    CasePath.EARLY_ERASURE: Operation.TRIAGE_CASES,
    CasePath.NOTICE: None,  # whatever caused the message was permitted already
    CasePath.CASE_PAGE: Operation.VIEW_CASES,
    CasePath.RESEARCH_SHEET: Operation.RETURN_RESEARCH,
    CasePath.MEETING_BOARD: Operation.RECORD_ACTIONS,
    CasePath.ACTIONS_PAGE: Operation.WORK_ACTIONS,
    CasePath.RESEARCH_MESSAGE: Operation.RETURN_RESEARCH,
    CasePath.VICTIM_VOICE: Operation.VIEW_CASES,
    CasePath.IDVA_ALLOCATION: Operation.VIEW_CASES,
    CasePath.VICTIM_CONTACT: Operation.VIEW_CASES,
    CasePath.IDVA_OVERSIGHT: Operation.TRIAGE_CASES,
    CasePath.REASSESSMENT: Operation.REFER_CASE,
    CasePath.DVDS: Operation.VIEW_CASES,
    CasePath.TRANSFER: Operation.TRIAGE_CASES,
    CasePath.TRANSFER_REQUEST: Operation.TRIAGE_CASES,
    CasePath.HANDOVER: Operation.VIEW_CASES,
}


def paths_as_markdown() -> str:
    """The paths as a README table, generated from the rules so the two cannot disagree."""
    lines = ["| path | level it needs | operation |", "|---|---|---|"]
    for path in CasePath:
        operation = PATH_OPERATIONS[path]
        lines.append(
            f"| {path.value} | {NEEDS[path].name.lower()} | "
            f"{operation.value if operation else '(the event that sends it)'} |"
        )
    return "\n".join(lines)


# --- Clare's Law (the Domestic Violence Disclosure Scheme) ---


class DvdsPart(enum.StrEnum):
    """What of a Clare's Law application opens separately."""

    STATUS = "its route, dates, checks, panel date and decision (the one-line status)"
    SUBJECT = "the subject's identifiers (the person causing harm asked about)"
    APPLICANT = "the applicant's identifiers"
    SAFETY_PLAN = "the safety plan at disclosure"


@dataclass(frozen=True)
class DvdsFacts:
    """What the decision needs to know about one application."""

    area_id: int
    # The case it is linked to, if any: its must-not-receive list and its IDVA count too.
    case: CaseFacts | None = None
    # Agencies asked to check their records whose check is not yet done.
    open_checks: frozenset[int] = frozenset()


def dvds_parts(viewer: Viewer, application: DvdsFacts) -> frozenset[DvdsPart]:
    """What of a Clare's Law application ``viewer`` may see; empty means it does not exist.

    The scheme is the police's: the disclosure is made under their common-law power, so the
    police hold the application whole (the applicant's and the subject's identifiers, the
    safety plan) and alone record it. The MARAC coordinator and chair need to know that an
    application exists and where it stands (received, checks, panel, decided, disclosed or
    not), so the meeting plans with it in mind: the status, never who applied, whom it is
    about or the safety plan, which stay in the police's file. An agency asked to check its
    records needs the subject's identifiers to search them, while its check is open, and
    nothing of the applicant. The IDVA allocated to the linked case supports the victim
    through a disclosure, so she reads the status and the safety plan, not the identifiers.
    Anyone else (a perpetrator service above all, which must never learn that its client was
    asked about; an agency not asked; another area; a leaver; an enrolment not confirmed)
    sees nothing, and anyone on the linked case's must-not-receive list sees nothing even if
    they are police: a colleague related to the subject must not learn of it.
    """
    if not viewer.active or not viewer.confirmed or viewer.area_id != application.area_id:
        return frozenset()
    case = application.case
    if case is not None and viewer.person_id in case.excluded:
        return frozenset()
    if is_perpetrator_service(viewer.role, viewer.agency_kind):
        return frozenset()
    if viewer.role is Role.AGENCY_REP and viewer.agency_kind is AgencyKind.POLICE:
        return frozenset(DvdsPart)
    parts: set[DvdsPart] = set()
    if viewer.role in (Role.COORDINATOR, Role.CHAIR):
        parts.add(DvdsPart.STATUS)
    if viewer.agency_id is not None and viewer.agency_id in application.open_checks:
        parts |= {DvdsPart.STATUS, DvdsPart.SUBJECT}
    if case is not None and case.allocated_idva == viewer.person_id:
        parts |= {DvdsPart.STATUS, DvdsPart.SAFETY_PLAN}
    return frozenset(parts)


def dvds_owner(viewer: Viewer, application: DvdsFacts) -> bool:
    """Whether ``viewer`` records the application: the police, and only them."""
    return DvdsPart.APPLICANT in dvds_parts(viewer, application)

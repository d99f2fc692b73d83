"""The domain's words: who people are, what kind of agency, why a case came to MARAC.

The core, the services, the faces and storage all speak these; storage imports them to
type its columns, never the other way round. The values are stored, so they must never
change.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    COORDINATOR = "coordinator"
    CHAIR = "chair"
    AGENCY_REP = "agency_rep"
    PERPETRATOR_REP = "perpetrator_rep"
    GOVERNANCE = "governance"


class AgencyKind(enum.StrEnum):
    """In the order the SafeLives quarterly dataset lists referring agencies."""

    POLICE = "police"
    IDVA = "idva"
    CHILDRENS_SOCIAL_CARE = "childrens_social_care"
    ADULT_SOCIAL_CARE = "adult_social_care"
    HEALTH = "health"
    HOUSING = "housing"
    PROBATION = "probation"
    EDUCATION = "education"
    MENTAL_HEALTH = "mental_health"
    SUBSTANCE_MISUSE = "substance_misuse"
    PERPETRATOR_SERVICE = "perpetrator_service"
    OTHER = "other"


class PerpEndReason(enum.StrEnum):
    """Why a perpetrator-service referral ended, as commissioners count outcomes."""

    COMPLETED = "completed"
    DISENGAGED = "disengaged"
    UNSUITABLE = "unsuitable"
    BREACHED = "breached"
    MOVED_AWAY = "moved_away"


class Criterion(enum.StrEnum):
    """The four SafeLives routes to MARAC."""

    VISIBLE_HIGH_RISK = "visible_high_risk"
    PROFESSIONAL_JUDGEMENT = "professional_judgement"
    POTENTIAL_ESCALATION = "potential_escalation"
    REPEAT = "repeat"


class Engagement(enum.StrEnum):
    """How the victim is engaging with the IDVA service, as the allocated IDVA records it."""

    ENGAGING = "engaging"
    PARTLY_ENGAGING = "partly_engaging"
    NOT_ENGAGING = "not_engaging"


class OutcomeTold(enum.StrEnum):
    """Whether the victim was told the outcome of the meeting that heard the case."""

    TOLD = "told"
    COULD_NOT_TELL = "could_not_tell"


class ContactOutcome(enum.StrEnum):
    """What came of one attempt by the victim's IDVA to contact her."""

    CONTACTED = "contacted"
    NOT_REACHED = "not_reached"
    DECLINED_SUPPORT = "declined_support"


# --- Clare's Law (the Domestic Violence Disclosure Scheme) ---


class DvdsRoute(enum.StrEnum):
    """How a Clare's Law application came: someone asked, or the police had reason to tell."""

    RIGHT_TO_ASK = "right_to_ask"
    RIGHT_TO_KNOW = "right_to_know"


class DvdsStepKind(enum.StrEnum):
    """One step of a Clare's Law application, each a row with who and when."""

    RECEIVED = "received"
    CHECK_REQUESTED = "check_requested"
    CHECK_COMPLETED = "check_completed"
    PANEL_SET = "panel_set"
    DECIDED = "decided"
    SAFETY_PLAN = "safety_plan"


class DvdsDecision(enum.StrEnum):
    """What the decision panel decided."""

    DISCLOSE = "disclose"
    NOT_DISCLOSE = "not_disclose"

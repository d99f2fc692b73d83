"""Who may do what: the permission matrix, written once as data.

Every service checks the actor against this table before it touches data, so
no handler can forget a check. Scopes: ``AREA`` allows the whole of the
actor's own area; ``AGENCY`` only what concerns the actor's own agency.
Nothing ever crosses areas.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from bot.actor import Actor
from bot.i18n import N_
from bot.vocabulary import Role


class Operation(StrEnum):
    USE_BOT = "use the bot (menu, help)"
    MANAGE_AGENCIES = "list, add and rename agencies"
    INVITE_PEOPLE = "invite people and revoke invites"
    VIEW_PEOPLE = "see who is enrolled"
    MANAGE_PEOPLE = "deactivate people"
    VIEW_AUDIT = "read the audit trail"
    REFER_CASE = "refer a case (DASH checklist)"
    TRIAGE_CASES = "triage referrals; manage who must not receive a case"
    VIEW_CASES = "open case cards"
    MANAGE_MEETINGS = (
        "schedule, move and cancel meetings; keep closure days; build and publish agendas"
    )
    VIEW_MEETINGS = "see meetings and agendas (references only)"
    RETURN_RESEARCH = "return research and confirm attendance for their agency"
    RECORD_ACTIONS = "record action plans, close meetings, produce minutes"
    WORK_ACTIONS = "accept and complete their agency's actions and perpetrator-service referrals"
    VIEW_STATISTICS = "see statistics and the quarterly return (governance: small numbers hidden)"


class Scope(StrEnum):
    AREA = "own area"
    AGENCY = "own agency"


MATRIX: dict[Role, dict[Operation, Scope]] = {
    Role.COORDINATOR: {
        Operation.USE_BOT: Scope.AREA,
        Operation.MANAGE_AGENCIES: Scope.AREA,
        Operation.INVITE_PEOPLE: Scope.AREA,
        Operation.VIEW_PEOPLE: Scope.AREA,
        Operation.MANAGE_PEOPLE: Scope.AREA,
        Operation.VIEW_AUDIT: Scope.AREA,
        Operation.REFER_CASE: Scope.AREA,
        Operation.TRIAGE_CASES: Scope.AREA,
        Operation.VIEW_CASES: Scope.AREA,
        Operation.MANAGE_MEETINGS: Scope.AREA,
        Operation.VIEW_MEETINGS: Scope.AREA,
        Operation.RECORD_ACTIONS: Scope.AREA,
        Operation.VIEW_STATISTICS: Scope.AREA,
    },
    Role.CHAIR: {
        Operation.USE_BOT: Scope.AREA,
        Operation.VIEW_PEOPLE: Scope.AREA,
        Operation.VIEW_CASES: Scope.AREA,
        Operation.VIEW_MEETINGS: Scope.AREA,
        Operation.RECORD_ACTIONS: Scope.AREA,
    },
    Role.AGENCY_REP: {
        Operation.USE_BOT: Scope.AGENCY,
        Operation.VIEW_PEOPLE: Scope.AGENCY,
        Operation.REFER_CASE: Scope.AGENCY,
        Operation.VIEW_CASES: Scope.AGENCY,
        Operation.VIEW_MEETINGS: Scope.AGENCY,
        Operation.RETURN_RESEARCH: Scope.AGENCY,
        Operation.WORK_ACTIONS: Scope.AGENCY,
    },
    Role.PERPETRATOR_REP: {
        Operation.USE_BOT: Scope.AGENCY,
        Operation.VIEW_PEOPLE: Scope.AGENCY,
        Operation.VIEW_MEETINGS: Scope.AGENCY,
        Operation.RETURN_RESEARCH: Scope.AGENCY,
        Operation.WORK_ACTIONS: Scope.AGENCY,
    },
    Role.GOVERNANCE: {
        Operation.USE_BOT: Scope.AREA,
        Operation.VIEW_STATISTICS: Scope.AREA,
    },
}


class PermissionDenied(Exception):
    """The actor may not do this; carries the operation for the audit log, nothing sensitive."""

    def __init__(self, operation: Operation, reason: str = "not permitted") -> None:
        super().__init__(f"{operation.name}: {reason}")
        self.operation = operation
        self.reason = reason


def scope_for(role: Role, operation: Operation) -> Scope | None:
    return MATRIX.get(role, {}).get(operation)


def is_allowed(
    actor: Actor, operation: Operation, *, area_id: int, agency_id: int | None = None
) -> bool:
    """Whether ``actor`` may perform ``operation`` on something in that area / agency.

    ``agency_id`` is the agency the thing belongs to; None means it belongs to
    the area as a whole, which an agency-scoped role may not touch.
    """
    if not _confirmed_for(actor, operation):
        return False
    scope = scope_for(actor.role, operation)
    if scope is None or area_id != actor.area_id:
        return False
    if scope is Scope.AGENCY:
        return agency_id is not None and agency_id == actor.agency_id
    return True


def authorise(
    actor: Actor, operation: Operation, *, area_id: int, agency_id: int | None = None
) -> None:
    if not is_allowed(actor, operation, area_id=area_id, agency_id=agency_id):
        reason = "not permitted" if _confirmed_for(actor, operation) else "awaiting confirmation"
        raise PermissionDenied(operation, reason)


# What someone whose enrolment no coordinator has confirmed yet may do: an invite link can be
# forwarded, so until a coordinator says the person is who the invite was for, they get the
# menu and the help and nothing else (no referral, no list of colleagues, no invites).
UNCONFIRMED_OPERATIONS = frozenset({Operation.USE_BOT})


def _confirmed_for(actor: Actor, operation: Operation) -> bool:
    return actor.confirmed or operation in UNCONFIRMED_OPERATIONS


def may(actor: Actor, operation: Operation) -> bool:
    """Whether the person has the operation at all (for menus and /help)."""
    return _confirmed_for(actor, operation) and scope_for(actor.role, operation) is not None


@dataclass(frozen=True)
class Command:
    name: str
    description: str
    operation: Operation


COMMANDS: tuple[Command, ...] = (
    Command("start", N_("Open your menu"), Operation.USE_BOT),
    Command("help", N_("What you can do here"), Operation.USE_BOT),
    Command(
        "agencies", N_("Agencies and information-sharing agreements"), Operation.MANAGE_AGENCIES
    ),
    Command(
        "invite", N_("Invite someone, or see and revoke open invites"), Operation.INVITE_PEOPLE
    ),
    Command("people", N_("Who is enrolled; deactivate a leaver"), Operation.VIEW_PEOPLE),
    Command("audit", N_("Latest events in the audit trail"), Operation.VIEW_AUDIT),
    Command("refer", N_("Refer a case to MARAC (DASH checklist)"), Operation.REFER_CASE),
    Command("case", N_("Open a case card by its reference"), Operation.VIEW_CASES),
    Command(
        "idva",
        N_("Cases waiting for an IDVA or first contact with the victim"),
        Operation.TRIAGE_CASES,
    ),
    Command("dash", N_("Record a new DASH on an open case"), Operation.REFER_CASE),
    Command("meetings", N_("Upcoming meetings, agendas and research"), Operation.VIEW_MEETINGS),
    Command("closures", N_("Closure days: not counted as working days"), Operation.MANAGE_MEETINGS),
    Command(
        "actions",
        N_("Your agency's actions and perpetrator-service referrals"),
        Operation.WORK_ACTIONS,
    ),
    Command("plan", N_("Action plans: record, close a meeting, minutes"), Operation.RECORD_ACTIONS),
    Command("minutes", N_("A meeting's action plan as a document"), Operation.RECORD_ACTIONS),
    Command(
        "stats", N_("Statistics by quarter or for the last 12 months"), Operation.VIEW_STATISTICS
    ),
    Command("dvds", N_("Clare's Law applications (police record them)"), Operation.VIEW_CASES),
    Command("language", N_("Choose English or Cymraeg"), Operation.USE_BOT),
    Command("cancel", N_("Stop what you are doing (drafts are kept)"), Operation.USE_BOT),
)


def commands_for(role: Role, *, confirmed: bool = True) -> list[Command]:
    """The role's commands; only those of ``UNCONFIRMED_OPERATIONS`` until it is confirmed."""
    return [
        command
        for command in COMMANDS
        if scope_for(role, command.operation) is not None
        and (confirmed or command.operation in UNCONFIRMED_OPERATIONS)
    ]


def matrix_as_markdown() -> str:
    """The matrix as a README table, so the documentation is generated from the rules."""
    roles = list(Role)
    header = "| operation | " + " | ".join(role.value for role in roles) + " |"
    rule = "|---" * (len(roles) + 1) + "|"
    lines = [header, rule]
    for operation in Operation:
        cells = [(scope_for(role, operation) or "—") for role in roles]
        lines.append(f"| {operation.value} | " + " | ".join(str(cell) for cell in cells) + " |")
    return "\n".join(lines)

"""Every text the bot sends, in one place so it can be reviewed as a whole.

Style: short, plain UK English, calm, and always say what happens next.
Never put a victim's or perpetrator's name in anything built here that is not
a protected case message.
"""

from __future__ import annotations

from storage.models import Role

ROLE_NAMES: dict[Role, str] = {
    Role.COORDINATOR: "MARAC coordinator",
    Role.CHAIR: "MARAC chair",
    Role.AGENCY_REP: "agency representative",
    Role.PERPETRATOR_REP: "perpetrator-service representative",
    Role.GOVERNANCE: "governance (statistics only)",
}

NEUTRAL_UNKNOWN = (
    "This is a private service for professionals. "
    "If you have been invited, please open the link in your invitation."
)
GROUP_CHAT_REFUSAL = (
    "I only work in private chats. Please message me directly; nothing has been shared here."
)
INVITE_NOT_VALID = (
    "This invitation link does not work. It may have been used already or have expired. "
    "Please ask your MARAC coordinator for a new one."
)
INVITE_LOCKED_OUT = (
    "Too many invitation codes were tried from this account. "
    "Please wait an hour, then open the link in your invitation again."
)
ALREADY_ENROLLED = "You are already enrolled. Here is your menu."
SOMETHING_WENT_WRONG = (
    "Sorry, that did not work. Nothing you entered has been lost. Please try again in a moment."
)
SERVICE_BUSY = (
    "The service is busy or briefly unavailable. Nothing you entered has been lost. "
    "Please try again in a few minutes."
)


def welcome(display_name: str, role: Role, where: str) -> str:
    return (
        f"Welcome, {display_name}. You are now enrolled as {ROLE_NAMES[role]} for {where}.\n"
        "Send /help at any time to see what you can do."
    )


def home(display_name: str, role: Role, where: str) -> str:
    return f"Hello, {display_name}. You are signed in as {ROLE_NAMES[role]} for {where}."


def help_text(role: Role, commands: list[tuple[str, str]]) -> str:
    lines = [f"As {ROLE_NAMES[role]} you can use:"]
    lines += [f"/{name} — {description}" for name, description in commands]
    lines.append("Case details are only ever shown in this private chat, and are removed later.")
    return "\n".join(lines)


NO_LONGER_HAS_ACCESS = "You no longer have access to this. Nothing has been changed."

AGENCY_NAME_TOO_SHORT = "Please give the agency a name of at least two letters."
AGENCY_NAME_TOO_LONG = "That name is too long. Please keep it under 120 characters."
AGENCY_NOT_FOUND = "That agency is not in your area any more. Send /agencies to see the list."
ISA_SIGNED_IN_FUTURE = "The signing date is in the future. Please send the date it was signed."
ISA_REVIEW_BEFORE_SIGNED = "The review date must be after the signing date. Please send it again."


def agency_exists(name: str) -> str:
    return f"There is already an agency called {name} in your area. Please choose another name."


PERSON_NOT_FOUND = "That person is not enrolled in your area. Send /people to see the list."
PERSON_ALREADY_DEACTIVATED = "That person has already been deactivated. Nothing else to do."
CANNOT_DEACTIVATE_SELF = "You cannot deactivate yourself. Please ask another coordinator."
LAST_COORDINATOR = (
    "This is the last active coordinator of the area, so they cannot be deactivated. "
    "Invite and enrol another coordinator first."
)
NAME_ERASED = "(name erased)"

AREA_NOT_FOUND = "That area does not exist."
INVITE_NOT_FOUND = "That invite is not in your area. Send /invite to see open invites."
INVITE_NEEDS_AGENCY = "Agency representatives need an agency. Please choose one."
INVITE_ROLE_HAS_NO_AGENCY = "This role covers the whole area, so it has no agency."
PERPETRATOR_REP_NEEDS_SERVICE = (
    "A perpetrator-service representative must belong to a perpetrator service. "
    "Add the service under /agencies first."
)


def invite_no_longer_open(state: str) -> str:
    return f"That invite can no longer be revoked: it has been {state}. Nothing was changed."


NOT_ALLOWED = "Your role does not allow this. Nothing has been changed."
BUTTON_NOT_RECOGNISED = "This button is no longer valid. Please send /start for a fresh menu."
CANCELLED = "Cancelled. Nothing was changed."

AGENCY_KIND_NAMES: dict[str, str] = {
    "police": "Police",
    "idva": "IDVA service",
    "childrens_social_care": "Children's social care",
    "adult_social_care": "Adult social care",
    "health": "Health",
    "housing": "Housing",
    "probation": "Probation",
    "education": "Education",
    "mental_health": "Mental health",
    "substance_misuse": "Substance misuse",
    "perpetrator_service": "Perpetrator service",
    "other": "Other",
}
NO_AGENCIES_YET = "No agencies yet. Press Add agency to add the first one."
CHOOSE_AGENCY_KIND = "What kind of agency is it?"
ASK_AGENCY_NAME = (
    "Please send the agency's name, for example Northamptonshire Police. Send /cancel to stop."
)
ASK_AGENCY_NEW_NAME = "Please send the new name. Send /cancel to stop."
ASK_ISA_SIGNED = (
    "When was the information-sharing agreement signed? Send a date like 14/03/2026, "
    "or /cancel to stop."
)
ASK_ISA_REVIEW = "When is it due for review? Send a date like 14/03/2027, or /cancel to stop."
ISA_REMINDER_PROMISE = "I will remind the coordinators a month before the review date."


def agency_list(names: list[str]) -> str:
    if not names:
        return NO_AGENCIES_YET
    return "Agencies in your area:\n" + "\n".join(f"• {name}" for name in names)


def agency_card(name: str, kind: str, signed: str | None, review: str | None, people: int) -> str:
    agreement = (
        f"Information-sharing agreement signed {signed}, review due {review}."
        if signed and review
        else "No information-sharing agreement recorded yet."
    )
    return f"{name}\nType: {AGENCY_KIND_NAMES[kind]}\nActive people: {people}\n{agreement}"


def agency_added(name: str) -> str:
    return f"{name} has been added. You can now invite its representatives with /invite."


def agency_renamed(name: str) -> str:
    return f"The agency is now called {name}."


def agreement_recorded(name: str, review: str) -> str:
    return f"Agreement recorded for {name}, review due {review}. {ISA_REMINDER_PROMISE}"


def isa_review_reminder(agency_name: str, review: str, overdue: bool) -> str:
    when = "was due for review on" if overdue else "is due for review on"
    return (
        f"Reminder: the information-sharing agreement with {agency_name} {when} {review}. "
        "When it has been renewed, record the new dates under /agencies."
    )


CHOOSE_INVITE_ROLE = "Who are you inviting? Choose their role."
CHOOSE_INVITE_AGENCY = "Which agency are they from?"
NO_AGENCY_FOR_ROLE = "There is no suitable agency yet. Add it under /agencies first, then invite."
NO_OPEN_INVITES = "There are no open invites."
CONFIRM_REVOKE = "Revoke this invite? The link will stop working at once."
INVITE_REVOKED = "The invite has been revoked. Its link no longer works."
ROLE_BUTTONS = {
    "coordinator": "Coordinator",
    "chair": "Chair",
    "agency_rep": "Agency rep",
    "perpetrator_rep": "Perpetrator-service rep",
    "governance": "Governance (statistics)",
}


def invite_issued(role: str, where: str, link: str, expires: str) -> str:
    return (
        f"Invite for the role {role} ({where}). It works once, until {expires}.\n\n{link}\n\n"
        "Send it to them privately (for example by secure email). "
        "When they open it, they are enrolled and you will see them under /people."
    )


def open_invite_line(role: str, where: str, expires: str) -> str:
    return f"• {role}, {where}, expires {expires}"


NOBODY_ENROLLED = "Nobody is enrolled yet. Use /invite to invite people."
CONFIRM_DEACTIVATE_SUFFIX = (
    "They will lose access at once: their next message or button press is refused."
)


def person_line(name: str, role: str, last_active: str) -> str:
    return f"• {name} — {role}, last active {last_active}"


def person_card(name: str, role: str, where: str, last_active: str) -> str:
    return f"{name}\n{role}, {where}\nLast active: {last_active}"


def confirm_deactivate(name: str) -> str:
    return f"Deactivate {name}? {CONFIRM_DEACTIVATE_SUFFIX}"


def deactivated(name: str) -> str:
    return f"{name} has been deactivated and can no longer use the bot."


NO_AUDIT_EVENTS = "There are no audit events to show."


def audit_heading(count: int, subject: str | None) -> str:
    about = f" about {subject}" if subject else ""
    return f"Latest {count} audit events{about} (newest first):"


AUDIT_SUBJECT_FORMAT = (
    "Send /audit on its own for the latest events, or /audit followed by a reference "
    "such as person:4 or a case reference."
)
NOT_UNDERSTOOD = "Sorry, I did not understand that. Send /help to see what you can do."

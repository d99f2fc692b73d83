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


def welcome(display_name: str, role: Role, area_name: str, agency_name: str | None) -> str:
    where = f"{agency_name}, {area_name}" if agency_name else area_name
    return (
        f"Welcome, {display_name}. You are now enrolled as {ROLE_NAMES[role]} for {where}.\n"
        "Send /help at any time to see what you can do."
    )


def home(display_name: str, role: Role, area_name: str) -> str:
    return f"Hello, {display_name}. You are signed in as {ROLE_NAMES[role]} for {area_name}."


def help_text(role: Role, commands: list[tuple[str, str]]) -> str:
    lines = [f"As {ROLE_NAMES[role]} you can use:"]
    lines += [f"/{name} — {description}" for name, description in commands]
    lines.append("Case details are only ever shown in this private chat, and are removed later.")
    return "\n".join(lines)
NO_LONGER_HAS_ACCESS = "You no longer have access to this. Nothing has been changed."

"""Every text the bot sends, in one place so it can be reviewed as a whole.

Style: short, plain UK English, calm, and always say what happens next.
Never put a victim's or perpetrator's name in anything built here that is not
a protected case message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from bot.dates import example_date
from bot.meetings.off_days import PlannedDay
from bot.meetings.recurrence import format_day
from bot.meetings.workdays import DayOff, NotWorking
from bot.signposting import EMERGENCY_NUMBER, NATIONAL_DOMESTIC_ABUSE_HELPLINE
from bot.vocabulary import Role

ROLE_NAMES: dict[Role, str] = {
    Role.COORDINATOR: "MARAC coordinator",
    Role.CHAIR: "MARAC chair",
    Role.AGENCY_REP: "agency representative",
    Role.PERPETRATOR_REP: "perpetrator-service representative",
    Role.GOVERNANCE: "governance (statistics only)",
}

# Where help is, for a stranger who may be a victim; nothing more about what the bot is for.
SIGNPOSTING = (
    f"In an emergency call {EMERGENCY_NUMBER}. "
    f"The {NATIONAL_DOMESTIC_ABUSE_HELPLINE.name} is {NATIONAL_DOMESTIC_ABUSE_HELPLINE.hours}: "
    f"{NATIONAL_DOMESTIC_ABUSE_HELPLINE.number}."
)
NEUTRAL_UNKNOWN = (
    "This is a private service for professionals. "
    "If you have been invited, please open the link in your invitation.\n\n" + SIGNPOSTING
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


TWO_STEP_VERIFICATION = (
    "Please turn on Telegram's two-step verification now, so nobody can take over this "
    "account with a code sent to your phone: Settings > Privacy and Security > "
    "Two-Step Verification."
)


def welcome(display_name: str, role: Role, where: str) -> str:
    return (
        f"Welcome, {display_name}. You are now enrolled as {ROLE_NAMES[role]} for {where}.\n"
        "Send /help at any time to see what you can do.\n\n"
        f"{TWO_STEP_VERIFICATION}"
    )


AWAITING_CONFIRMATION = (
    "Your enrolment is waiting for a coordinator to confirm it. Until then you can use "
    "/start and /help only, and no case information is sent to you. "
    "I will tell you here as soon as it is confirmed."
)


def home_awaiting_confirmation(display_name: str, role: Role, where: str) -> str:
    return f"{home(display_name, role, where)}\n{AWAITING_CONFIRMATION}"


def enrolment_confirmed_notice(role: Role, where: str) -> str:
    return (
        f"A coordinator has confirmed your enrolment as {ROLE_NAMES[role]} for {where}. "
        "You will now receive the requests, reminders and notices your role needs. "
        "Send /start for your menu or /help to see what you can do."
    )


def home(display_name: str, role: Role, where: str) -> str:
    return f"Hello, {display_name}. You are signed in as {ROLE_NAMES[role]} for {where}."


def _minutes(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def help_text(role: Role, commands: list[tuple[str, str]], sensitive_minutes: int) -> str:
    """The commands, then exactly what the bot keeps and what it removes from this chat."""
    lines = [f"As {ROLE_NAMES[role]} you can use:"]
    lines += [f"/{name} — {description}" for name, description in commands]
    lines += [
        "",
        "What happens to case details here:",
        "• What you type about a case (names, addresses, notes, actions) is saved, encrypted, "
        "and then deleted from this chat. If something cannot be deleted, I will ask you to "
        "delete it yourself.",
        "• Messages that show case details cannot be forwarded or saved, and are deleted "
        f"after {_minutes(sensitive_minutes)}.",
        "• Reminders and notices carry only case references. Case details open in the "
        "case workspace, from the button on a message.",
        "• The bot keeps the case record, encrypted, and a record of who saw it, until your "
        "area's retention period ends. Then the case details are erased.",
    ]
    return "\n".join(lines)


TYPED_MESSAGE_NOT_REMOVED = (
    "I could not delete this message from the chat, and it holds case details. "
    "Please delete it yourself: press and hold it, then choose Delete."
)


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


def ask_isa_signed(today: date) -> str:
    return (
        "When was the information-sharing agreement signed? Send a date like "
        f"{example_date(today, -90)}, or /cancel to stop."
    )


def ask_isa_review(today: date) -> str:
    return (
        f"When is it due for review? Send a date like {example_date(today, 275)}, "
        "or /cancel to stop."
    )


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
        "When they open it, they are enrolled, and you are asked to confirm it is them "
        "before they receive any case information."
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


# -- Enrolment confirmation: an invite link can be forwarded --------------------------------

AWAITING_MARK = "awaiting confirmation"
BUTTON_CONFIRM_ENROLMENT = "Confirm"
BUTTON_REMOVE_ENROLMENT = "Remove"
BUTTON_YES_REMOVE = "Yes, remove"
BUTTON_BACK = "Back"
ENROLMENT_CHECK_PROMPT = (
    "Until you confirm, they get no case information. If you did not invite them, "
    "or do not know them, press Remove: they lose access at once."
)


def enrolment_check(name: str, role: str, where: str) -> str:
    return f"{name} enrolled as {role} for {where}. Is that right?\n{ENROLMENT_CHECK_PROMPT}"


def enrolment_check_unnamed(role: str, where: str) -> str:
    """The outbox keeps no names: this is stored, and sent if the name cannot be read."""
    return f"Someone enrolled as {role} for {where}. Is that right?\n{ENROLMENT_CHECK_PROMPT}"


def confirm_enrolment_removal(name: str) -> str:
    return (
        f"Remove {name}? They lose access at once and are sent nothing more. "
        "If it was a mistake, invite them again with /invite."
    )


def enrolment_confirmed(name: str, role: str, where: str) -> str:
    return (
        f"Confirmed: {name} is enrolled as {role} for {where}. I have told them, "
        "and they now receive what their role needs."
    )


def enrolment_removed(name: str) -> str:
    return (
        f"Done: {name} has been removed and can no longer use the bot. "
        "If they should have access, invite them again with /invite."
    )


def enrolment_already_decided(name: str, confirmed: bool, by: str | None, when: str) -> str:
    if confirmed and by is None:
        return f"{name}'s enrolment needed no confirmation: the operator invited them ({when})."
    what = "confirmed" if confirmed else "removed"
    return f"{name}'s enrolment was already {what} by {by or 'a coordinator'} on {when}."


CANNOT_CONFIRM_SELF = "You cannot confirm your own enrolment. Another coordinator will do it."


# -- The quarterly access review ------------------------------------------------------------

BUTTON_ACCESS_REVIEW = "Access review"
BUTTON_OPEN_ACCESS_REVIEW = "Open the access review"
INACTIVE_MARK = "⚠ not active for 90 days"


def access_review_due(area: str, quarter: str, enrolled: int, inactive: int, awaiting: int) -> str:
    people = "1 person can" if enrolled == 1 else f"{enrolled} people can"
    waiting = f", {awaiting} awaiting confirmation" if awaiting else ""
    return (
        f"Quarterly access review for {area} ({quarter}): {people} use the bot, "
        f"{inactive} not active for 90 days or more{waiting}. Please check that each of them "
        "still needs access, and remove anyone who has left or changed job."
    )


def access_review_heading(area: str, day: str) -> str:
    return (
        f"Access review for {area} on {day}: everyone who can use the bot, by agency. "
        "Remove anyone who has left or changed job; those marked ⚠ have not used the bot "
        "for 90 days."
    )


def access_review_line(
    name: str, role: str, last_active: str, inactive: bool, awaiting: bool
) -> str:
    line = f"• {name} — {role}, last active {last_active}"
    if awaiting:
        line += f" ({AWAITING_MARK})"
    if inactive:
        line += f" {INACTIVE_MARK}"
    return line


def access_review_remove(name: str) -> str:
    return f"Remove {name}"


def leavers_reminder(agency: str, area: str) -> str:
    return (
        f"Quarterly access check for {area}: if anyone from {agency} who uses this bot has "
        "left or changed job, please tell your MARAC coordinator, so their access can be "
        "removed. Nothing else to do."
    )


def deactivated(name: str) -> str:
    return f"{name} has been deactivated and can no longer use the bot."


NO_AUDIT_EVENTS = "There are no audit events to show."


def audit_heading(count: int, subject: str | None) -> str:
    about = f" about {subject}" if subject else ""
    return f"Latest {count} audit events{about} (newest first):"


def case_view_note(details: Mapping[str, object]) -> str:
    """Through what, and how much of the case, a person was shown: " (minutes, everything)"."""
    path, level = details.get("path"), details.get("level")
    if not path:
        return ""
    shown = ACCESS_LEVEL_NAMES.get(str(level), str(level))
    return f" ({path}, {shown})"


# What each level of the access policy (bot.access.Level, by its lower-case name) shows.
ACCESS_LEVEL_NAMES = {
    "none": "nothing",
    "reference": "reference",
    "summary": "summary",
    "research": "research identifiers",
    "referral": "the referral",
    "full": "everything",
}


AUDIT_SUBJECT_FORMAT = (
    "Send /audit on its own for the latest events, or /audit followed by a reference "
    "such as person:4 or a case reference."
)


def audit_checkpoint(area: str, events: int, link: str, signature: str, checkpoint: str) -> str:
    """The daily checkpoint a coordinator keeps: counts and hashes only, never case data."""
    return (
        f"Audit checkpoint for {area}: {events:,} events, ends {link[:4]}…{link[-2:]} "
        f"(signed {signature[:4]}…). Keep this message: with it, the people who run the bot "
        "can check later that the audit trail has not been changed since.\n"
        f"{checkpoint}"
    )


NOT_UNDERSTOOD = "Sorry, I did not understand that. Send /help to see what you can do."

# --- Referrals -----------------------------------------------------------------------------

CRITERION_NAMES: dict[str, str] = {
    "visible_high_risk": "Visible high risk (DASH)",
    "professional_judgement": "Professional judgement",
    "potential_escalation": "Potential escalation",
    "repeat": "Repeat referral",
}
REFERRAL_PROMPTS: dict[str, str] = {
    "safe_contact": "New referral. First, safety. Is it safe to contact the victim?",
    "safe_details": (
        "How can the victim be contacted safely? Give a safe number, safe times, and anyone "
        "who must not be told. Send 'none' if there is nothing to add."
    ),
    "unsafe_details": (
        "Why is it not safe, and who must not be told about this referral? "
        "Send 'none' if there is nothing to add."
    ),
    "victim_aware": "Does the victim know about this referral?",
    "consent": "Has the victim consented to the referral?",
    "consent_reason": (
        "Sharing without consent must have a reason. Why are you referring without consent "
        "(for example, risk of serious harm to the victim or children)?"
    ),
    "dash_mode": (
        "The DASH risk checklist has 24 questions. Answer them here one by one, or, if you "
        "already have a completed checklist, type the numbers answered yes and not known."
    ),
    "dash_quick": (
        "Type the question numbers answered yes, then those not known, for example:\n"
        "yes 1 3 5-9 14, not known 20\n"
        "Every question you do not list counts as no."
    ),
    "judgement_reason": "Please explain your professional judgement in a few sentences.",
    "victim_name": "Now the victim. What is their full name?",
    "victim_dob": "What is the victim's date of birth? For example 14/03/1990.",
    "victim_aliases": "Any other names the victim uses? Send 'none' if not.",
    "victim_address": "The victim's address (kept encrypted). Send 'none' if not known.",
    "victim_gender": "The victim's gender:",
    "victim_lgbt": "Does the victim identify as LGBT+? (for the quarterly return)",
    "victim_disabled": "Does the victim have a disability? (for the quarterly return)",
    "victim_minoritised": (
        "Is the victim from a Black or minoritised ethnic group? (for the quarterly return)"
    ),
    "perp_name": (
        "Now the person causing harm. What is their full name? Send 'unknown' if not known."
    ),
    "perp_dob": "Their date of birth? Send 'unknown' if not known.",
    "perp_address": (
        "Their address, if known (kept encrypted; agencies search their records on it, and "
        "the victim's address is never shown to perpetrator services). Send 'unknown' if not."
    ),
    "relationship": "Their relationship to the victim:",
    "children": (
        "The children in the household, or who see or hear the abuse (victims in their own "
        "right). One child per line: name, date of birth (day/month/year) or age, then if you "
        "know them their school or nursery, lives with victim or lives elsewhere, and CSC "
        "involved or no CSC (children's social care). For example:\n"
        "Mia Smith, age 7, Oak Primary, lives with victim, CSC involved\n"
        "Leo Smith, 18 months, Little Acorns Nursery, lives with victim, no CSC\n"
        "Type unknown for a name or age you do not know, and none if there are no children."
    ),
    "summary": "Briefly describe your concerns (kept encrypted, up to 3,000 characters).",
    "review": "Please check the referral before you submit it.",
    "urgent": (
        "Does this case need an urgent response before the next MARAC meeting? "
        "If anyone is in immediate danger, call 999 now: this bot is not an emergency service."
    ),
}
DASH_CONFIRM_INTRO = "Please check the checklist as I have read it:"
VICTIM_UNDER_16 = (
    "MARAC is for victims aged 16 and over. For a younger person, please follow your "
    "child safeguarding procedures. Check the date of birth, or send /cancel."
)
USE_THE_BUTTONS = "Please answer with one of the buttons under the question."
REVIEW_USE_BUTTONS = "Please use the buttons under the summary to submit or discard the referral."
STALE_QUESTION = "That question has already been answered. Please answer the latest question."
DRAFT_SAVED_CANCEL = "Your draft is saved. Send /refer to continue it, or to discard it."
DRAFT_DISCARDED = "The draft has been discarded and erased."
NO_DRAFT = "There is no draft referral. Send /refer to start one."
REFERRAL_NEEDS_REPEAT_MATCH = (
    "No referral of this victim in the last 12 months was found in this area, so this cannot "
    "go as a repeat. Please choose another criterion."
)


def dash_prompt(number: int, question: str, yes_so_far: int) -> str:
    return f"DASH question {number} of 24 (yes so far: {yes_so_far})\n{question}"


def criterion_prompt(yes: int, threshold: int) -> str:
    if yes >= threshold:
        return (
            f"The checklist has {yes} yes answers, at or above the area's threshold of "
            f"{threshold}: this is a visible high-risk referral."
        )
    return (
        f"The checklist has {yes} yes answers, below the area's threshold of {threshold}. "
        "On what grounds are you referring?"
    )


def police_incidents_prompt(threshold: int) -> str:
    return (
        "How many police-reported incidents in the last 12 months? "
        f"(This area's threshold for potential escalation is {threshold}.) Type a number."
    )


def resume_draft(saved_at: str) -> str:
    return f"You have a draft referral from {saved_at}. Continue it, or discard it and start again?"


def new_referral(
    reference: str, criterion: str, yes: int, referrer_agency: str, repeat_of: str | None
) -> str:
    lines = [
        f"New referral {reference} from {referrer_agency}: {criterion}, DASH {yes} of 24 yes.",
        "It is waiting for triage.",
    ]
    if repeat_of:
        # Confirmed repeats are what the statistics count: SafeLives' repeat is further abuse
        # between the same victim and person causing harm, and the match is on the victim only.
        lines.append(
            f"Possible repeat of {repeat_of}: confirm it if this is further abuse between the "
            "same victim and person causing harm, or reject the match."
        )
    lines.append(f"Send /case {reference} to read it.")
    return "\n".join(lines)


def urgent_alert(reference: str, reasons: tuple[str, ...], out_of_hours_route: str) -> str:
    return (
        f"URGENT referral {reference}: {', '.join(reasons)}.\n"
        f"This bot is not an emergency service. Out of hours, contact {out_of_hours_route}.\n"
        f"Send /case {reference} to read it."
    )


def referral_submitted(reference: str, urgent: bool, repeat_of: str | None) -> str:
    lines = [f"Thank you. Your referral is {reference}. The MARAC coordinator has been told."]
    if urgent:
        lines.append("It is marked urgent: the coordinator and on-call contacts were alerted now.")
    if repeat_of:
        lines.append(f"It may be a repeat of {repeat_of}; the coordinator will confirm.")
    lines.append("Your draft has been erased from the bot.")
    return "\n".join(lines)


CASE_NOT_FOUND = (
    "There is no case with that reference that you can open. Check the reference as it "
    "appears in your messages, and send /case followed by it."
)
CANNOT_EXCLUDE_SELF = "You cannot put yourself on the must-not-receive list."
STATUS_NAMES: dict[str, str] = {
    "submitted": "awaiting triage",
    "info_requested": "more information requested",
    "accepted": "accepted for MARAC",
    "declined": "declined",
}


def already_triaged(reference: str, status: str, who: str) -> str:
    return f"{reference} was already {STATUS_NAMES.get(status, status)} by {who}. Nothing changed."


def repeat_already_decided(other: str, decision: str) -> str:
    return f"The match with {other} was already {decision}. Nothing changed."


def triage_outcome(reference: str, step: str) -> str:
    return {
        "accepted": (
            f"Your referral {reference} has been accepted. It will be listed for the next "
            "MARAC meeting, and you will be asked for research before it."
        ),
        "info_requested": (
            f"The MARAC coordinator needs more information on {reference}. "
            f"Send /case {reference} to read the request."
        ),
        "declined": (
            f"Your referral {reference} was not accepted for MARAC. "
            f"Send /case {reference} to read the reason."
        ),
    }[step]


RELATIONSHIP_NAMES = {
    "partner": "partner",
    "ex_partner": "ex-partner",
    "family": "family member",
    "other": "other",
}


def _uk_date(value: object) -> str:
    """Dates are kept as ISO text in drafts and sealed records; people read 14 Mar 1990."""
    try:
        return date.fromisoformat(str(value)).strftime("%d %b %Y").lstrip("0")
    except ValueError:
        return "not known"


def _yes_no(value: object) -> str:
    if value is True:
        return "yes"
    if value is False:
        return "no"
    return "not known" if value is None else str(value)


def referral_review(payload: dict[str, object], yes: int, not_known: int) -> str:
    """The whole referral read back before submitting (a protected, self-deleting message)."""
    criterion = CRITERION_NAMES.get(str(payload.get("criterion")), "")
    lines = [
        "Please check the referral before you submit it.",
        f"Safe to contact: {_yes_no(payload.get('safe_to_contact'))}; "
        f"victim aware: {_yes_no(payload.get('victim_aware'))}; "
        f"consent: {_yes_no(payload.get('consent'))}",
        *(
            [dash_form_line("dara", str(payload.get("dara_level")))]
            if payload.get("dash_form") == "dara"
            else [
                f"DASH: {yes} yes, {not_known} not known, of 24",
                dash_form_line(str(payload.get("dash_form") or "safelives"), None),
            ]
        ),
        f"Criterion: {criterion}",
        f"Victim: {payload.get('victim_name')}, born {_uk_date(payload.get('victim_dob'))}",
        f"Person causing harm: {payload.get('perp_name') or 'not known'} "
        f"({RELATIONSHIP_NAMES.get(str(payload.get('relationship')), 'relationship not given')})",
        *children_lines(
            payload.get("children"), payload.get("children_count"), payload.get("children_ages")
        ),
        f"Urgent: {_yes_no(payload.get('urgent'))}",
        f"Concerns: {payload.get('summary')}",
    ]
    return "\n".join(lines)


def case_card(
    *,
    reference: str,
    status: str,
    criterion: str,
    dash_yes: int,
    dash_not_known: int,
    referred_on: str,
    referring_agency: str,
    urgent: bool,
    children: int,
    repeat_of: str | None,
    possible_repeats: list[str],
    history: list[str],
    details: list[str] | None,
    excluded: list[str],
    dash_lines: list[str] | None = None,
) -> str:
    lines = [
        f"Case {reference}" + (" — URGENT" if urgent else ""),
        f"Status: {STATUS_NAMES.get(status, status)}",
        f"Criterion: {CRITERION_NAMES.get(criterion, criterion)}; DASH {dash_yes} yes, "
        f"{dash_not_known} not known",
        f"Referred {referred_on} by {referring_agency}; children in household: {children}",
        *(dash_lines or []),
    ]
    if repeat_of:
        lines.append(f"Repeat of {repeat_of}")
    for other in possible_repeats:
        lines.append(f"Possible repeat of {other} (not yet confirmed)")
    if details:
        lines += ["", *details]
    if excluded:
        lines.append("Must not receive: " + ", ".join(excluded))
    lines += ["", "History:", *history]
    return "\n".join(lines)


STEP_NAMES = {
    "submitted": "referred",
    "info_requested": "more information requested",
    "accepted": "accepted",
    "declined": "declined",
    "repeat_suggested": "possible repeat found",
    "repeat_confirmed": "repeat confirmed",
    "repeat_rejected": "repeat match rejected",
    "urgent_alerted": "urgent alert sent",
    "person_excluded": "someone added to must-not-receive",
}
ASK_INFO_NOTE = (
    "What information do you need from the referrer? It is stored encrypted and shown to them "
    "in the case card. Send /cancel to stop."
)
ASK_DECLINE_REASON = (
    "Why is this referral declined? The referrer will see the reason. Send /cancel to stop."
)
CHOOSE_PERSON_TO_EXCLUDE = (
    "Who must not receive anything about this case (for example someone related to the "
    "person causing harm)?"
)


def case_info_requested(reference: str) -> str:
    return f"Request sent: the referrer of {reference} has been asked for more information."


def case_declined(reference: str) -> str:
    return f"{reference} declined. The referrer has been told and can read your reason."


def repeat_decided(reference: str, other: str, confirmed: bool) -> str:
    if confirmed:
        return f"{reference} is recorded as a repeat of {other}."
    return f"Noted: {reference} is not the same victim as {other}."


def person_excluded(name: str, reference: str) -> str:
    return f"{name} will not receive anything about {reference}."


RESEARCH_ONLY_NOTE = (
    "Shown so your agency can search its records. The referral's safety details and concerns "
    "stay with the coordinator and chair."
)


def case_details(
    victim: dict[str, object] | None,
    perpetrator: dict[str, object],
    safety: dict[str, object] | None,
    household: dict[str, object],
    summary: str | None,
    judgement_reason: str | None,
    notes: list[str],
    children: list[str] | None = None,
) -> list[str]:
    """The identifiers, then (when given) the referral as submitted. ``children`` holds the
    children's lines (``children_lines``); None where the reader may not see them."""
    about_victim = (
        [
            f"Victim: {victim.get('name')}, born {_uk_date(victim.get('dob'))}",
            f"Other names: {victim.get('aliases') or 'none'}; "
            f"address: {victim.get('address') or 'not given'}",
        ]
        if victim is not None
        else [NO_VICTIM_SHOWN]
    )
    lines = [
        *about_victim,
        f"Person causing harm: {perpetrator.get('name') or 'not known'}"
        + (f", born {_uk_date(perpetrator.get('dob'))}" if perpetrator.get("dob") else ""),
        f"Relationship: {RELATIONSHIP_NAMES.get(str(household.get('relationship')), 'not given')}",
        *(children or []),
    ]
    if safety is None:
        return [*lines, RESEARCH_ONLY_NOTE, *notes]
    lines += [
        f"Safe to contact: {_yes_no(safety.get('safe_to_contact'))}. "
        f"Safety notes: {safety.get('safe_details') or 'none'}",
        f"Consent: {_yes_no(safety.get('consent'))}"
        + (
            f" — shared without consent because: {safety.get('consent_reason')}"
            if safety.get("consent") is False
            else ""
        ),
        f"Concerns: {summary}",
    ]
    if judgement_reason:
        lines.append(f"Professional judgement: {judgement_reason}")
    lines += notes
    return lines


ON_CALL_NOTE = "On-call contact: receives urgent-case alerts at any hour."


def on_call_changed(name: str, on_call: bool) -> str:
    if on_call:
        return f"{name} is now an on-call contact and will receive urgent-case alerts at any hour."
    return f"{name} will no longer receive urgent-case alerts."


# --- Meetings ------------------------------------------------------------------------------

MEETING_NOT_FOUND = "That meeting is not scheduled any more. Send /meetings to see the list."
MEETING_IN_PAST = "That time has already passed. Please choose a later date or time."
MEETING_ALREADY_STARTED = "That meeting has already started, so attendance can no longer change."
AGENDA_ALREADY_PUBLISHED = "This agenda has already been published. Nothing else to do."
AGENDA_NOT_PUBLISHED = "The agenda has not been published yet, so research is not open."
AGENDA_ITEM_NOT_FOUND = "That case is no longer on this agenda. Send /meetings for the latest."
CASE_ALREADY_ON_THAT_MEETING = "The case is already listed for that meeting."
CALENDAR_DESCRIPTION = (
    "MARAC meeting. The agenda and case references are in the MARAC bot; case details are "
    "never put in calendar invitations."
)
NO_MEETINGS = "No meetings are scheduled."
UPCOMING_MEETINGS = "Upcoming MARAC meetings:"


def calendar_summary(area: str) -> str:
    return f"MARAC meeting, {area}"


def ask_meeting_date(today: date) -> str:
    return (
        "New meeting. What is the date of the first meeting? "
        f"For example {example_date(today, 14)}."
    )


ASK_MEETING_TIME = "What time does it start? For example 10:00."
ASK_MEETING_REPEAT = "How often does it repeat?"
ASK_MEETING_LOCATION = (
    "Where is it held? Send the room or the video link (kept encrypted), or 'none'."
)


def ask_move_date(today: date) -> str:
    return f"Moving the meeting. What is the new date? For example {example_date(today, 21)}."


ASK_MOVE_TIME = "And the new start time? For example 10:00."
ASK_RESEARCH_NOTE = (
    "What does your agency know? Keep it short and factual; it is stored encrypted and shared "
    "only at the MARAC. Send /cancel to stop."
)
ASK_APOLOGIES_REASON = "Please give a short reason for the apologies (for the minutes)."
REPEAT_BUTTONS = {
    "one_off": "Once only",
    "fortnightly": "Every 2 weeks",
    "four_weekly": "Every 4 weeks",
    "monthly_nth_weekday": "Monthly, same weekday",
}
ATTENDANCE_NAMES = {
    "attending": "attending",
    "deputy": "sending a deputy",
    "apologies": "apologies",
}


def meetings_scheduled(description: str, first: str, count: int, off_days: list[str]) -> str:
    text = (
        f"Scheduled {description}: {count} meeting(s), the first on {first}. "
        "Accepted cases are listed automatically until each agenda's cut-off. "
        "Everyone is invited when the agenda is published."
    )
    if off_days:
        text += "\nOn days that are not working days:\n" + "\n".join(
            f"• {line}" for line in off_days
        )
    return text


# --- Closure days -------------------------------------------------------------------------

CLOSURE_NOT_FOUND = "That day is not one of your area's closure days. Send /closures for the list."
NO_CLOSURES = "No closure days are set from today on."


def closures_list(area: str, lines: list[str]) -> str:
    return (
        f"Closure days for {area}. Like bank holidays, they are not working days: no deadline "
        "falls on them and no reminder or chase is sent on them.\n"
        + ("\n".join(f"• {line}" for line in lines) if lines else NO_CLOSURES)
    )


def closure_line(day: date, note: str | None) -> str:
    return f"{format_day(day)}: {note}" if note else format_day(day)


def ask_closure(today: date) -> str:
    return (
        "Send the closure day and what it is, for example "
        f"{example_date(today, 18)} Christmas Eve. For several days, give the first and the "
        f"last with 'to' between them, like {example_date(today, 21)} to "
        f"{example_date(today, 23)} council closure. Send /cancel to stop."
    )


def closures_added(added: list[str], already: list[str], reminders_moved: int) -> str:
    lines = []
    if added:
        lines.append("Closure days added: " + ", ".join(added) + ".")
        lines.append("Deadlines and reminders from now on skip them.")
    if reminders_moved:
        lines.append(
            f"{reminders_moved} reminder(s) already queued for them moved to a working day."
        )
    if already:
        lines.append(
            "Already not working days (weekend or bank holiday): " + ", ".join(already) + "."
        )
    return "\n".join(lines) or "Nothing to add."


def closure_meeting_warning(when: str) -> str:
    return (
        f"The MARAC meeting on {when} now falls on a closure day. Move it to the working day "
        "before or after (everyone invited is told), or keep it?"
    )


def closure_removed(day: date) -> str:
    return f"{format_day(day)} is a working day again for deadlines and reminders from now on."


def meeting_kept(when: str) -> str:
    return f"The meeting stays on {when}. Nothing was changed."


def day_off_reason(off: NotWorking) -> str:
    """Why a day is not a working day, as it completes "Fri 25 Dec 2026 is ..."."""
    if off.reason is DayOff.SATURDAY:
        return "a Saturday"
    if off.reason is DayOff.SUNDAY:
        return "a Sunday"
    if off.reason is DayOff.BANK_HOLIDAY:
        return f"{off.name}, a bank holiday"
    return f"a closure day in your area ({off.name})" if off.name else "a closure day in your area"


def off_day_warning(off: NotWorking) -> str:
    return (
        f"{format_day(off.day)} is {day_off_reason(off)}, so agencies may not be able to "
        "attend. Hold the meeting on the working day before or after, or keep this date?"
    )


def keep_day_button(day: date) -> str:
    return f"Keep {format_day(day)}"


def series_off_days_question(off_days: list[NotWorking]) -> str:
    lines = [f"• {format_day(off.day)}: {day_off_reason(off)}" for off in off_days]
    return (
        "In the next 12 months these meetings of the series fall on a day that is not a "
        "working day:\n" + "\n".join(lines) + "\nWhat should happen to them, now and "
        "whenever the series adds more meetings?"
    )


OFF_DAY_RULE_BUTTONS = {
    "before": "Move each to the working day before",
    "after": "Move each to the working day after",
    "keep": "Keep them on those days",
}


def planned_day_line(plan: PlannedDay) -> str:
    """One meeting of a series that fell on a non-working day: moved, or kept as asked."""
    assert plan.off is not None
    reason = day_off_reason(plan.off)
    if plan.moved:
        return f"{format_day(plan.series_day)} ({reason}) moved to {format_day(plan.day)}"
    return f"{format_day(plan.day)} ({reason}) kept on that day"


def series_extended_off_days(description: str, lines: list[str]) -> str:
    return (
        f"More meetings of the series ({description}) have been scheduled. "
        "On days that are not working days:\n"
        + "\n".join(f"• {line}" for line in lines)
        + "\nSend /meetings to move one."
    )


def meeting_line(when: str, listed: int, capacity: int, published: bool) -> str:
    state = "agenda published" if published else "agenda open"
    warning = " — OVER CAPACITY" if listed > capacity else ""
    return f"• {when}: {listed} of {capacity} cases, {state}{warning}"


def meeting_moved(when: str) -> str:
    return f"The MARAC meeting has moved to {when}. The updated calendar invitation is attached."


def meeting_cancelled(when: str) -> str:
    return (
        f"The MARAC meeting on {when} is cancelled. Its cases move to the next meeting. "
        "The attached file removes it from your calendar."
    )


def meeting_invitation(when: str) -> str:
    return (
        f"You are invited to the MARAC meeting on {when}. "
        "Open the attached file to add it to your calendar."
    )


def research_request(when: str, references: list[str], deadline: str) -> str:
    if not references:
        return f"The agenda for the MARAC on {when} is published. There are no cases listed yet."
    return (
        f"Research for the MARAC on {when}: {len(references)} case(s). Please return what your "
        f"agency knows about each by {deadline}. Press a case to answer."
    )


def attendance_request(when: str) -> str:
    return f"Will your agency attend the MARAC on {when}?"


def attendance_chase(when: str) -> str:
    return f"Reminder: please confirm whether your agency will attend the MARAC on {when}."


def research_due(when: str, deadline: str) -> str:
    return (
        f"Reminder: research for the MARAC on {when} is due by {deadline}. "
        "Cases not yet answered are in the research message above."
    )


def meeting_reminder(when: str, hours: int | None) -> str:
    if hours is not None:
        return f"The MARAC meeting starts in {hours} hour{'s' if hours != 1 else ''} ({when})."
    return f"Reminder: the MARAC meeting is on {when}. Send /meetings for the agenda."


def research_options(reference: str, when: str) -> str:
    return f"{reference} (MARAC on {when}): what does your agency know?"


def research_recorded(reference: str, nothing_known: bool) -> str:
    if nothing_known:
        return f"Recorded: nothing known about {reference}. Thank you."
    return f"Recorded your information on {reference}. You can add more at any time."


def attendance_recorded(when: str, status: str) -> str:
    return f"Recorded for the MARAC on {when}: {ATTENDANCE_NAMES[status]}. Thank you."


def case_listed(reference: str, when: str | None, over: bool, suggestion: str | None) -> str:
    if when is None:
        return (
            f"{reference} accepted. No meeting is open for it yet: it will be listed when you "
            "schedule one with /meetings. The referrer has been told."
        )
    text = f"{reference} accepted and listed for the MARAC on {when}. The referrer has been told."
    if over:
        text += " That meeting is over its capacity"
        text += f"; the next with room is {suggestion}." if suggestion else "."
    return text


def digest_meeting(when: str, outstanding: int, silent: list[str]) -> str:
    attendance = f"no attendance reply from {', '.join(silent)}" if silent else "all replied"
    return f"MARAC {when}: {outstanding} research answer(s) outstanding; {attendance}."


def morning_digest(
    area: str, awaiting_triage: int, meetings: list[str], idva: str | None = None
) -> str:
    lines = [f"Good morning. {area} today:", f"Referrals awaiting triage: {awaiting_triage}"]
    lines += meetings or ["No published agenda in the next two meetings."]
    if idva:
        lines.append(idva)
    return "\n".join(lines)


def apology_reason(reason: str) -> str:
    """After "apologies" in the attendance roll, for those who write the minutes."""
    return f" ({reason})"


def agenda_text(
    when: str,
    location: str | None,
    listed: int,
    capacity: int,
    published: bool,
    lines: list[str],
    grid: list[str],
    roll: list[str],
) -> str:
    head = [f"MARAC meeting {when}", f"Where: {location or 'not given'}"]
    head.append(
        f"Cases: {listed} of {capacity}" + (" — OVER CAPACITY" if listed > capacity else "")
    )
    head.append("Agenda published" if published else "Agenda not yet published")
    body = head + ["", "Agenda:"] + (lines or ["(no cases yet)"])
    if grid:
        body += ["", "Research returned (agencies):", *grid]
    if roll:
        body += ["", "Attendance:", *roll]
    return "\n".join(body)


CONFIRM_CANCEL_MEETING = (
    "Cancel this meeting? Everyone invited is told, and its cases move to the next meeting."
)
CHANGE_AGENDA_ITEM = "What should happen to this case?"
NO_LATER_MEETING = "There is no later meeting to move it to. Schedule one with /meetings first."


def meeting_cancelled_done(when: str) -> str:
    return f"The meeting on {when} is cancelled. Everyone invited has been told."


def agenda_published(when: str, cases: int) -> str:
    return (
        f"Agenda for {when} published with {cases} case(s). Every agency has been asked for "
        "research and attendance, and everyone invited gets a calendar invitation."
    )


def case_moved(reference: str, when: str) -> str:
    return f"{reference} moved to the meeting on {when}."


def case_marked_emergency(reference: str) -> str:
    return f"{reference} is marked urgent and heads the agenda."


def meeting_moved_done(when: str) -> str:
    return f"The meeting is now on {when}. Everyone invited has been told, with a new invitation."


NOTHING_KNOWN = "nothing known"


def research_line(agency: str, when: str, note: str) -> str:
    return f"Research from {agency} ({when}): {note}"


ASK_MEETING_CHAIR = "Who chairs it?"
CHAIR_CHOSEN = "Chair noted."
CHAIR_LATER = "No chair recorded for these meetings."


def case_moved_up(reference: str, position: int) -> str:
    return f"{reference} is now number {position} on the agenda."


# --- Actions and perpetrator-service referrals ----------------------------------------------

ACTION_ALREADY_SENT = "That action has already been sent to the agency, so it cannot be undone."
MEETING_ALREADY_CLOSED = "This meeting is already closed and its actions sent."
NOT_POSSIBLE_NEEDS_REASON = "Please say why it is not possible (what changed)."
ACTION_NOT_FOUND = "That action is not one of your agency's. Send /actions for your list."
REFERRAL_NOT_FOUND = "That referral is not one of your service's. Send /actions for your list."
WAITING_WEEKS_RANGE = "Please give the waiting time as a number of weeks from 0 to 104."
NO_OPEN_ACTIONS = "Your agency has no open actions."
ASK_ACTION_LINES = (
    "Send one action per message, for example:\n"
    "Police: check bail conditions and visit within 5 working days high\n"
    "Each is saved as you send it; press Undo under one to take it back. Send /done when "
    "this case is finished."
)
ASK_NOT_POSSIBLE_REASON = "What changed, so that it is not possible? (a short reason)"
ASK_DONE_NOTE = "Any short outcome note? Send 'none' if not."
CHOOSE_COLLEAGUE = "Who should take this action over?"
NO_COLLEAGUES = "There is nobody else enrolled in your agency to take it over."


def action_refused(message: str, who: str) -> str:
    return f"{message} (last changed by {who}). Nothing was changed."


def action_assigned(reference: str, due: str, high: bool) -> str:
    priority = " High priority." if high else ""
    return (
        f"New MARAC action for your agency on {reference}, due {due}.{priority} "
        "Send /actions to read it; please accept it or update it with the buttons."
    )


def action_accept_chase(reference: str) -> str:
    return f"Reminder: please accept or update your agency's MARAC action on {reference}."


def action_reassigned_to_you(reference: str) -> str:
    return f"A colleague has passed you a MARAC action on {reference}. Send /actions to read it."


def action_overdue(reference: str, due: str) -> str:
    return f"Your agency's MARAC action on {reference} was due {due} and is still open."


def action_escalated(reference: str, agency: str, due: str) -> str:
    return (
        f"Escalation: {agency}'s action on {reference} was due {due} and is over 3 working days "
        "overdue."
    )


def action_card(reference: str, agency: str, text: str, due: str, state: str, priority: str) -> str:
    high = ", high priority" if priority == "high" else ""
    return f"{reference} — {agency}{high}\n{text}\nDue {due}. Status: {state}."


def action_saved(number: int, line: str, unreachable_agency: str | None = None) -> str:
    text = f"Saved action {number}: {line}"
    if unreachable_agency:
        text += "\n" + nobody_may_receive(unreachable_agency)
    return text


def nobody_may_receive(agency: str) -> str:
    return (
        f"Warning: nobody at {agency} can be sent this action: nobody is enrolled there, or "
        "everyone enrolled is on this case's must-not-receive list. Ask the agency to enrol "
        "someone who may receive it, or give the action to another agency."
    )


def actions_closed(count: int, unreached: list[tuple[str, str]]) -> str:
    text = (
        f"Meeting closed. {count} action(s) sent to the agencies, who are asked to accept them; "
        "overdue actions are chased daily and escalated to you after 3 working days."
    )
    if unreached:
        text += "\nNot sent, because nobody at the agency may receive the case:\n" + "\n".join(
            f"• {reference}: {agency}" for reference, agency in unreached
        )
    return text


def perpetrator_stale(reference: str) -> str:
    return (
        f"The perpetrator-service referral on {reference} has not changed for 20 working days. "
        "Please update it with /actions."
    )


def summary_agency_line(agency: str, open_: int, done: int, not_possible: int, overdue: int) -> str:
    return f"• {agency}: {open_} open ({overdue} overdue), {done} done, {not_possible} not possible"


ASK_WAITING_WEEKS = "How many weeks is your service's current waiting time? Type a number."


def action_undone(reference: str) -> str:
    return f"Taken back: that action on {reference} has been removed."


def actions_recorded(count: int) -> str:
    return f"{count} action(s) recorded. They are sent to the agencies when you close the meeting."


def open_actions_heading(count: int) -> str:
    return f"Your agency has {count} open action(s), oldest due first. Press one to update it."


def action_moved(reference: str, state: str) -> str:
    return f"{reference}: action now {state.lower()}. Thank you."


def waiting_recorded(service: str, weeks: int) -> str:
    return f"Recorded: {service} has a waiting time of {weeks} weeks."


def action_button(reference: str, due: str, overdue: bool) -> str:
    return f"{reference}, due {due}" + (" (overdue)" if overdue else "")


# -- Perpetrator-service work: contact planned, sessions, end reasons (issue #18) ------------
# Every text about a step says exactly who was told of it: the case's allocated IDVA, or,
# when there is none who may receive it, the area's coordinators.

ASK_PERP_REASON = "Please give a short reason (it is shared with whoever is told of the step)."
ASK_END_REASON = "Why did the referral end? Choose one."
PERP_CONTACT_BEFORE_ATTEMPT = (
    "Please record when first contact is planned before contact is attempted, so the "
    "victim's IDVA can plan the victim's safety first."
)
PERP_CONTACT_DATE_PASSED = (
    "That date has passed. Please send the date first contact is planned for, today or later."
)
PERP_CONTACT_DATE_TOO_FAR = (
    "That date is more than a year away. Please check the year and send the date again."
)
PERP_NEEDS_CONTACT_DATE = "Please send the date first contact is planned for."
PERP_NEEDS_END_REASON = "Please choose why the referral ended."
PROBATION_INVOLVED = "Probation involved: yes"
PROBATION_NOT_KNOWN = "Probation involved: not known"
WS_PLANNED_CONTACT = "First contact planned for"
WS_PERP_ENDED_BECAUSE = "Ended because"


def ws_sessions(attended: int, missed: int) -> str:
    return f"Sessions: {attended} attended, {missed} missed"


# Who was told of a step, keyed by ``bot.actions.states.Told``.
TOLD_COORDINATORS_NO_IDVA = "No IDVA is allocated to this case, so the coordinators have been told."
TOLD_COORDINATORS_IDVA_UNREACHABLE = (
    "The case's allocated IDVA cannot be sent this, so the coordinators have been told."
)
TOLD_NOBODY = (
    "Nobody could be told: no IDVA who may receive this case is allocated, and no coordinator "
    "may receive it. Please tell the coordinator."
)


def told_idva(name: str) -> str:
    return f"The victim's allocated IDVA, {name}, has been told."


def ask_contact_date(example: str) -> str:
    return (
        "On what date is first contact with the person causing harm planned? "
        f"For example {example}. The case's IDVA (or, if none is allocated, the coordinators) "
        "is told at once, before any contact."
    )


def perpetrator_moved(reference: str, state: str, told: str) -> str:
    return f"{reference}: referral now {state.lower()}. {told}"


def perpetrator_contact_planned_moved(reference: str, when: str, told: str) -> str:
    return f"{reference}: first contact planned for {when}. {told}"


def perpetrator_update(
    reference: str, service: str, state: str, *, end_reason: str | None = None, note: str = ""
) -> str:
    because = f" ({end_reason.lower()})" if end_reason else ""
    return (
        f"Perpetrator-service referral on {reference} ({service}): "
        f"now {state.lower()}{because}.{note}"
    )


def perpetrator_contact_planned(reference: str, service: str, when: str, note: str = "") -> str:
    return (
        f"{service} plans first contact with the person causing harm on {when} ({reference}). "
        f"Plan the victim's safety before then.{note}"
    )


NOTE_NO_IDVA = " No IDVA is allocated to this case, so you are told instead: please allocate one."
NOTE_IDVA_UNREACHABLE = (
    " The case's allocated IDVA cannot be sent this, so you are told instead: please check the "
    "allocation."
)


def perpetrator_first_contact_chase(reference: str) -> str:
    return (
        f"The perpetrator-service referral on {reference} has had no contact planned or recorded "
        "for 10 working days. Please update it with /actions."
    )


def perpetrator_planned_contact_chase(reference: str, when: str) -> str:
    return (
        f"First contact on the perpetrator-service referral {reference} was planned for {when}. "
        "Please record whether contact was attempted, or plan a new date, with /actions."
    )


def perpetrator_line(
    reference: str, state: str, probation: bool, end_reason: str | None = None
) -> str:
    because = f" ({end_reason.lower()})" if end_reason else ""
    involved = PROBATION_INVOLVED if probation else PROBATION_NOT_KNOWN
    return f"Perpetrator-service referral {reference}: {state.lower()}{because}. {involved}."


def summary_service_line(
    service: str,
    waiting: int,
    weeks: int | None,
    median: float | None,
    median_first_contact: float | None = None,
    ended: int = 0,
    completed: int = 0,
    disengaged: int = 0,
) -> str:
    wait = f"{weeks} weeks' wait" if weeks is not None else "waiting time not given"
    contact = (
        f"median {median_first_contact:.0f} days to first contact"
        if median_first_contact is not None
        else "no first contact yet"
    )
    start = f"median {median:.0f} days to start" if median is not None else "none started yet"
    outcomes = (
        f"{ended} ended: {completed} completed ({rate(completed, ended)}), "
        f"{disengaged} disengaged ({rate(disengaged, ended)})"
        if ended
        else "none ended yet"
    )
    return f"• {service}: {waiting} waiting to start; {wait}; {contact}; {start}; {outcomes}"


def rate(part: int, whole: int) -> str:
    return f"{part / whole:.0%}" if whole else "no rate"


PLAN_DAYS_NOTE = "Days are calendar days from the referral."
BUTTON_PERP_CSV = "Perpetrator services CSV"


# -- Serial perpetrators: references only, never names ---------------------------------------

STEP_NAMES["serial_perpetrator"] = "person causing harm found in other cases"


def serial_perpetrator_alert(reference: str, others: list[str]) -> str:
    who = "a different victim" if len(others) == 1 else "victims other than this one"
    return (
        f"Person causing harm in other cases: the person causing harm in {reference} also "
        f"appears in {', '.join(others)} ({who}). Send /case {reference} to see the link."
    )


def serial_links(references: list[str]) -> str:
    return "Same person causing harm as: " + ", ".join(references)


def outstanding_note(count: int) -> str:
    return f" — {count} action(s) outstanding from before"


STATS_DOCUMENT = "Here it is, sent privately and protected from forwarding."

STEP_NAMES["erasure_requested"] = "early erasure requested"
STEP_NAMES["erasure_withdrawn"] = "early erasure request withdrawn"
ERASURE_REASONS = {
    "wrong_person": "Wrong person referred",
    "legal_instruction": "Legal instruction",
    "other": "Other reason",
}
CHOOSE_ERASURE_REASON = (
    "Erase this case early? Everything about it is destroyed for good, backups included. "
    "Another coordinator must confirm. Choose the reason:"
)


def erasure_requested(reference: str) -> str:
    return f"Early erasure of {reference} requested. Another coordinator must confirm it."


def erasure_confirm_request(reference: str, reason: str) -> str:
    return (
        f"Early erasure of {reference} was requested ({reason.lower()}). "
        "If you agree, confirm below: it cannot be undone."
    )


def erasure_done(reference: str) -> str:
    return f"{reference} has been erased. Only the audit trail records that it existed."


def erasure_withdrawn(reference: str) -> str:
    return f"The erasure request for {reference} was withdrawn. Nothing was erased."


# -- /actions in pages: a long list never outgrows one Telegram message ----------------------

MORE_ACTIONS = "More actions"
PREVIOUS_ACTIONS = "Previous actions"
MORE_REFERRALS = "More referrals"
PREVIOUS_REFERRALS = "Previous referrals"


def open_actions_showing(first: int, last: int, total: int) -> str:
    return f"Showing {first} to {last} of {total}."


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def open_action_line(
    number: int, reference: str, due: str, overdue: bool, state: str, by: str, action: str
) -> str:
    """One open action in the list: enough to tell it from the others; the card has the rest."""
    late = " (overdue)" if overdue else ""
    return (
        f"{number}. {reference}, due {due}{late}, {state.lower()} by {_shorten(by, 40)}: "
        f"{_shorten(action, 70)}"
    )


def referrals_showing(first: int, last: int, total: int) -> str:
    return f"Perpetrator-service referrals {first} to {last} of {total}, open ones first."


# --- Button labels ----------------------------------------------------------------------

BUTTON_ACCEPT = "Accept"
BUTTON_ADD_AGENCY = "Add agency"
BUTTON_ADD_CLOSURE_DAYS = "Add closure days"
BUTTON_ADD_INFORMATION = "Add information"
BUTTON_AGREEMENT_DATES = "Agreement dates"
BUTTON_ASK_FOR_INFORMATION = "Ask for information"
BUTTON_BACK = "Back"
BUTTON_BACK_TO_AGENCIES = "Back to agencies"
BUTTON_CANCEL = "Cancel"
BUTTON_CHART = "Chart"
BUTTON_CONFIRM_ERASURE = "Confirm erasure"
BUTTON_CONTINUE = "Continue"
BUTTON_CSV_RETURN = "CSV return"
BUTTON_DEACTIVATE = "Deactivate"
BUTTON_DECIDE_LATER = "Decide later"
BUTTON_DECLINE = "Decline"
BUTTON_DISCARD_AND_START_AGAIN = "Discard and start again"
BUTTON_DISCARD_DRAFT = "Discard draft"
BUTTON_DONE = "Done"
BUTTON_KEEP_IT = "Keep it"
BUTTON_KEEP_THE_CASE = "Keep the case"
BUTTON_MAKE_ON_CALL_CONTACT = "Make on-call contact"
BUTTON_MOVE_MEETING = "Move meeting"
BUTTON_MOVE_TO_THE_NEXT_MEETING = "Move to the next meeting"
BUTTON_MOVE_UP_THE_AGENDA = "Move up the agenda"
BUTTON_NEW_MEETING = "New meeting"
BUTTON_NOTHING_KNOWN = "Nothing known"
BUTTON_NOT_POSSIBLE = "Not possible"
BUTTON_NOT_THE_SAME_PERSON = "Not the same person"
BUTTON_OPEN_INVITES = "Open invites"
BUTTON_PUBLISH_AGENDA = "Publish agenda"
BUTTON_REASSIGN = "Reassign"
BUTTON_RENAME = "Rename"
BUTTON_SET_OUR_WAITING_TIME = "Set our waiting time"
BUTTON_STOP_URGENT_ALERTS = "Stop urgent alerts"
BUTTON_SUBMIT_REFERRAL = "Submit referral"
BUTTON_UNDO = "Undo"
BUTTON_URGENT_EMERGENCY_LISTING = "Urgent — emergency listing"
BUTTON_YES_CANCEL_IT = "Yes, cancel it"
BUTTON_YES_DEACTIVATE = "Yes, deactivate"
BUTTON_YES_REVOKE = "Yes, revoke"
BUTTON_MUST_NOT_RECEIVE = "Must not receive…"
BUTTON_ERASE_EARLY = "Erase early…"


def button_actions_for(reference: str, when: str) -> str:
    return f"Actions for {reference} ({when})"


def button_close_meeting(when: str) -> str:
    return f"Close {when} and send actions"


def button_minutes(when: str) -> str:
    return f"Minutes {when}"


def button_remove_closure(day: str) -> str:
    return f"Remove {day}"


def button_move_to(day: str) -> str:
    return f"Move to {day}"


def button_change(reference: str) -> str:
    return f"Change {reference}"


def button_research(reference: str) -> str:
    return f"Research {reference}"


def button_confirm_repeat(reference: str) -> str:
    return f"Confirm repeat of {reference}"


# The home menu's buttons, by the operation that shows each.
MENU_AGENCIES = "Agencies"
MENU_INVITE = "Invite someone"
MENU_PEOPLE = "People"
MENU_AUDIT = "Audit trail"
MENU_MEETINGS = "Meetings"

PLAN_HEADING = "Action plans."
PLAN_BY_AGENCY = "Actions by agency:"
PLAN_PERPETRATOR_SERVICES = "Perpetrator services:"
OPEN_INVITES_HEADING = "Open invites:"
ENROLLED_HEADING = "Enrolled people:"


def renaming(agency: str) -> str:
    return f"Renaming {agency}. {ASK_AGENCY_NEW_NAME}"


def revoke_invite_button(role: str, where: str) -> str:
    return f"Revoke: {role}, {where}"[:60]


# --- Early erasure refusals ---

ERASURE_UNKNOWN_REASON = (
    "Please choose why the case should be erased early: wrong person referred, "
    "a legal instruction, or other."
)
NO_ERASURE_REQUEST = (
    "No early erasure has been requested for this case. A coordinator must request it first."
)
SECOND_COORDINATOR_NEEDED = (
    "You requested this erasure, so another coordinator must confirm it. Nothing was erased."
)


def unreachable_notice(role: str, person_id: int) -> str:
    return (
        f"A message to {role} person:{person_id} could not be delivered: they have blocked the "
        "bot or left Telegram. Please contact them another way."
    )


# --- Subject access export (a document for the data protection officer) ---

SAR_NOTE = (
    "Everything held about the people in this case, decrypted. Staff appear by person id and "
    "role; the audit trail lists who did or saw what with the case."
)


def sar_pruned_note(pruned_through: int) -> str:
    return (
        f"Audit events 1-{pruned_through} (all older than 7 years) were deleted under the "
        "retention rule; the trail above begins after them."
    )


# --- The case workspace (a Telegram Mini App) and its stand-in in the chat -------------------
# Pages and chat messages use the same words; templates take every word from here.


def uk_date(value: object) -> str:
    """An ISO date as people read it (14 Mar 1990); "not known" for anything else."""
    return _uk_date(value)


WS_TITLE = "MARAC case workspace"
WS_SKIP_LINK = "Skip to the page"
WS_OPENING = "Opening your page…"
WS_NEEDS_TELEGRAM = (
    "This page opens from a button in your MARAC bot chat. Please go back to the chat and "
    "press the button again."
)
WS_SESSION_ENDED = (
    "This page has been open for a while, so it was closed to keep the case safe. Close it "
    "and open it again from the chat."
)
WS_NOT_ENROLLED = NEUTRAL_UNKNOWN
WS_NOT_FOUND = (
    "There is nothing here that you can open. It may have been moved or closed; the chat "
    "has the latest."
)
WS_NOT_PERMITTED = "This page is not part of your role. The chat shows what you can do."
WS_UNAVAILABLE = "The case workspace cannot be reached just now. Please try again in a minute."
WS_NOT_SET_UP = (
    "The case workspace is not set up here, so case details are sent in protected chat "
    "messages that delete themselves."
)
WS_BACK = "Back"
WS_SAVING = "Sending…"
WS_SAVED = "Sent. Thank you."

WS_FIELD_NAME = "Name"
WS_FIELD_OTHER_NAMES = "Other names"
WS_FIELD_DOB = "Date of birth"
WS_FIELD_ADDRESS = "Address"
WS_FIELD_CHILDREN = "Children"
WS_NOT_GIVEN = "not given"
WS_VICTIM = "Victim"
WS_PERSON_CAUSING_HARM = "Person causing harm"
WS_CRITERION = "Criterion"
WS_DASH = "DASH"
WS_REFERRED_BY = "Referred by"
WS_REFERRED_ON = "Referred on"
WS_STATUS = "Status"
WS_URGENT = "Urgent"
WS_EMERGENCY = "Heard first"
WS_CHILDREN_IN_HOUSEHOLD = "Children in the household"
WS_IDENTIFIERS_CLOSED = (
    "The names, dates of birth and addresses are no longer shown: the research window "
    "for this meeting has closed."
)
HARM_ADDRESS_WITHHELD = "withheld: the same as the victim's address"
NO_VICTIM_SHOWN = "Victim: not shown to a perpetrator service"
WS_PERPETRATOR_SERVICE_NOTE = (
    "Shown so your service knows whom it is assessing. The victim's details are not shared "
    "with perpetrator services."
)


def ws_dash(yes: int, not_known: int | None = None) -> str:
    if not_known is None:
        return f"{yes} of 24 yes"
    return f"{yes} of 24 yes, {not_known} not known"


def ws_children(count: int) -> str:
    return "none" if count == 0 else str(count)


# The research sheet.
WS_RESEARCH_HEADING = "Research"
WS_RESEARCH_NO_CASES = "There are no cases on this agenda for your agency to research."
WS_RESEARCH_YOUR_ANSWER = "Your agency's answer"
WS_RESEARCH_NOTHING_KNOWN = "Nothing known: our records hold nothing about these people"
WS_RESEARCH_INFORMATION = "We hold information (write it below)"
WS_RESEARCH_NOTE_LABEL = "What your agency knows"
WS_RESEARCH_NOTE_HINT = (
    "Facts from your records that bear on the risk: incidents, orders, contact, concerns. "
    "Up to 2,000 characters."
)
WS_RESEARCH_SEND = "Send to the coordinator"
WS_RESEARCH_RETURNED = "Already returned by your agency"
WS_RESEARCH_NONE_YET = "Nothing returned yet."
WS_RESEARCH_NOTE_NEEDED = "Please write what your agency knows, or choose 'Nothing known'."
WS_RESEARCH_CHOOSE = "Please choose 'Nothing known' or 'We hold information'."


def ws_research_title(when: str) -> str:
    return f"Research for the MARAC on {when}"


def ws_research_intro(agency: str, deadline: str, open_until: str | None) -> str:
    text = f"Please return what {agency} knows about each case by {deadline}."
    if open_until:
        text += f" The identifiers are shown until {open_until}."
    return text


def ws_returned_line(when: str, by: str, nothing_known: bool) -> str:
    return f"{when}, {by}: " + ("nothing known" if nothing_known else "information")


def ws_research_recorded(reference: str, nothing_known: bool) -> str:
    return research_recorded(reference, nothing_known)


# The meeting board (coordinator and chair).
WS_BOARD_HEADING = "Meeting board"
WS_BOARD_AGENDA = "Agenda and research"
WS_BOARD_CASE = "Case"
WS_BOARD_RESEARCH = "Research returned"
WS_BOARD_RETURNED = "returned"
WS_BOARD_NOT_YET = "not yet"
WS_BOARD_ATTENDANCE = "Attendance"
WS_BOARD_NO_REPLY = "no reply yet"
WS_BOARD_NO_CASES = "No cases are listed yet."
WS_BOARD_NOT_PUBLISHED = "The agenda is not published yet: agencies have not been asked."


def ws_board_title(when: str) -> str:
    return f"MARAC on {when}"


def ws_board_counts(listed: int, capacity: int) -> str:
    return f"{listed} of {capacity} places used."


def ws_board_returned(returned: int, invited: int) -> str:
    return f"{returned} of {invited} agencies"


# The agency's actions.
WS_ACTIONS_HEADING = "Your agency's actions"
WS_ACTIONS_NONE = "Your agency has no open actions."
WS_ACTIONS_DUE = "Due"
WS_ACTIONS_OVERDUE = "Overdue"
WS_ACTIONS_HIGH = "High priority"
WS_REFERRALS_HEADING = "Referrals to your service"
WS_REFERRALS_REFERRED = "Referred on"
WS_USE_CHAT_FOR_ACTIONS = "Accept, complete or pass on an action with its buttons in the chat."

# The case page.
WS_CASE_IDENTIFIERS = "Identifiers for research"
WS_CASE_REFERRAL = "The referral"
WS_CASE_SAFE_TO_CONTACT = "Safe to contact"
WS_CASE_SAFETY_NOTES = "Safety notes"
WS_CASE_CONSENT = "Consent"
WS_CASE_CONCERNS = "Concerns"
WS_CASE_JUDGEMENT = "Professional judgement"
WS_CASE_RESEARCH = "Research returned"
WS_CASE_HISTORY = "History"
WS_CASE_REPEAT_OF = "Repeat of"


def ws_case_title(reference: str) -> str:
    return f"Case {reference}"


def yes_no(value: object) -> str:
    return _yes_no(value)


# In the chat, where the case workspace does the reading.
BUTTON_OPEN_CASE = "Open the case"
BUTTON_MEETING_BOARD = "Open the meeting board"
BUTTON_OPEN_ACTIONS = "Open in the case workspace"


def case_in_workspace(reference: str, status: str) -> str:
    return (
        f"Case {reference} ({STATUS_NAMES.get(status, status)}). Press 'Open the case' to read "
        "it in the case workspace; nothing of it is written in this chat."
    )


def research_case_message(
    reference: str,
    when: str,
    summary: str,
    people: list[tuple[str, list[tuple[str, str]]]],
    children: list[str] | None,
    returned: list[str],
    closed: bool,
    perpetrator_service: bool,
) -> str:
    """One case's research identifiers for a protected, self-deleting chat message;
    ``children`` holds the children's lines (``children_lines``)."""
    lines = [f"{reference} (MARAC on {when}): what does your agency know?", summary]
    for heading, fields in people:
        lines.append("")
        lines.append(heading)
        lines += [f"{label}: {value}" for label, value in fields]
    if children is not None:
        lines += ["", *children]
    if closed:
        lines += ["", WS_IDENTIFIERS_CLOSED]
    elif perpetrator_service:
        lines += ["", WS_PERPETRATOR_SERVICE_NOTE]
    lines += ["", WS_RESEARCH_RETURNED + ":"]
    lines += returned or [WS_RESEARCH_NONE_YET]
    return "\n".join(lines)


def research_summary_line(
    criterion: str, dash_yes: int, children: int, referred_by: str, latest: int | None = None
) -> str:
    """The case in one line for research; a reassessed score shows as "14 → 18 of 24 yes"."""
    return (
        f"{CRITERION_NAMES.get(criterion, criterion)}; DASH {ws_dash_trend(dash_yes, latest)}; "
        f"children in the household: {ws_children(children)}; referred by {referred_by}."
    )


# --- Children as people (issue 18): each child of a referral, and children's social care ---

CHILDREN_HELP = (
    "Please put each child on their own line: name, date of birth or age, then school or "
    "nursery, lives with victim or lives elsewhere, CSC involved or no CSC. For example: "
    "Mia Smith, age 7, Oak Primary, lives with victim, CSC involved. "
    "Type none if there are no children."
)
CHILDREN_COUNT_ONLY = (
    "Please list each child rather than a number, one per line: name, date of birth or age, "
    "school or nursery, lives with victim or lives elsewhere, CSC involved or no CSC. "
    "If you do not know a name, type unknown for it, for example: unknown, age 4. "
    "Type none if there are no children."
)
CHILD_NAME_FIRST = (
    "please start the line with the child's name (or unknown if you do not know it), "
    "then a comma, then the date of birth or age."
)
CHILD_AGE_TWICE = "please give the date of birth or the age once, not both."
CHILD_LIVES_HELP = "please write lives with victim, or lives elsewhere."
CHILD_PART_UNCLEAR = (
    "I could not tell what one part of the line is. Please write the school as "
    "school: name, and use lives with victim or lives elsewhere, CSC involved or no CSC."
)
CHILDREN_READ_BACK = "If that is not right, press Back and type the children again."
WS_CHILDREN_NO_DETAILS = "no details recorded"
NO_CSC_REP = (
    "No children's social care agency with a confirmed representative is enrolled in this "
    "area, so nobody can check its records for the children of"
)
NO_CSC_ADVICE = (
    "Add the agency with /agencies and invite its representative with /invite "
    "(a coordinator confirms them), so children's social care is asked for research."
)


def child_problem(number: int, problem: str) -> str:
    return f"Child {number}: {problem}"


def child_too_old(age: int) -> str:
    return (
        f"that makes them {age}. Please list only children under 18; an older young person "
        "can be referred in their own right."
    )


def too_many_children(count: int, most: int) -> str:
    return f"That is {count} lines; one referral can list up to {most} children. Please check it."


def _age_text(child: Mapping[str, object]) -> str:
    if child.get("dob"):
        return f"born {_uk_date(child.get('dob'))}"
    age = child.get("age")
    if isinstance(age, int):
        return "under 1 at referral" if age == 0 else f"age {age} at referral"
    return "age not known"


def child_line(child: Mapping[str, object]) -> str:
    """One child as the referral gave them: name, birth or age, and what else is known."""
    if child.get("count_only"):  # referred before children were recorded as people
        return f"a child, {_age_text(child)} (no name or other details recorded)"
    parts = [str(child.get("name") or "name not known"), _age_text(child)]
    if child.get("school"):
        parts.append(str(child.get("school")))
    lives = child.get("lives_with_victim")
    if lives is not None:
        parts.append("lives with the victim" if lives else "lives elsewhere")
    csc = child.get("csc_involved")
    if csc is not None:
        parts.append("children's social care involved" if csc else "no children's social care")
    return ", ".join(parts)


def children_lines(children: object, count: object = None, ages: object = None) -> list[str]:
    """The children for a read-back, card or research sheet: a heading and one line each.

    Cases referred before children were recorded as people have a count and perhaps ages
    only; they are shown as such."""
    if isinstance(children, list | tuple):
        if not children:
            return ["Children: none"]
        return [f"Children ({len(children)}):", *(f"• {child_line(c)}" for c in children)]
    number = count if isinstance(count, int) else 0
    if number == 0:
        return ["Children: none"]
    listed = ", ".join(str(a) for a in ages) if isinstance(ages, list) and ages else ""
    return [f"Children: {number} ({f'ages {listed}' if listed else WS_CHILDREN_NO_DETAILS})"]


def no_csc_for_children(references: list[str]) -> str:
    """For the coordinator, on the agenda and when publishing it."""
    return f"Children's social care: {NO_CSC_REP} {', '.join(references)}. {NO_CSC_ADVICE}"


def research_children_note(cases: list[tuple[str, int]]) -> str:
    """Added to children's social care's research request: which cases have children."""
    listed = ", ".join(
        f"{ref} ({count} {'child' if count == 1 else 'children'})" for ref, count in cases
    )
    return (
        f"Cases with children, for children's social care to check: {listed}. "
        "The children's names and dates of birth are with each case."
    )


# --- Statistics against the national picture (issue 19) ---------------------------------------
# Every figure in these texts is passed in: the area's own, or one of SafeLives' published
# figures from bot/stats/national.py, which always travel with their source and date.


def stats_against_national(area: str, national: str) -> str:
    """An area's share beside the national one: "35%; national 32%"."""
    return f"{area}; national {national}" if area else f"national {national}"


def stats_volume_against_national(area: str, national: int, expected: int) -> str:
    return (
        f"Cases per 10,000 adult women a year: {area} "
        f"(national {national}; SafeLives expects about {expected})"
    )


def stats_chart_volume(area: str, national: int, expected: int) -> str:
    """The chart's second title line."""
    return (
        f"{area} cases per 10,000 adult women a year "
        f"(national {national}; SafeLives expects about {expected})"
    )


def stats_chart_national_repeat(national: str, publisher: str, covering: str) -> str:
    """The legend for the national repeat rate drawn across the chart."""
    return f"National repeat rate {national} ({publisher}, {covering})"


STATS_COMPARISON_HEADING = "How these compare"


def stats_repeat_definition(window_days: int, safelives_days: int, safelives_months: int) -> str:
    """Says which repeat the area's figures count, and whether it is SafeLives' own."""
    line = (
        "Repeats are cases the coordinator confirmed as a repeat: any abuse between the "
        "same victim and person causing harm within "
    )
    if window_days == safelives_days:
        return line + (
            f"{safelives_months} months of the last MARAC referral (SafeLives' definition)."
        )
    return line + (
        f"{window_days} days of the last MARAC referral, as this area is set up. SafeLives "
        f"counts {safelives_months} months, so compare the repeat rate with care."
    )


def stats_source(label: str, publisher: str, title: str, url: str, covering: str = "") -> str:
    """A source as the reader can look it up: who, what, which period, where."""
    period = f", {covering}" if covering else ""
    return f"{label}: {publisher}, \u201c{title}\u201d{period}, {url}"


STATS_REPEAT_SOURCE_LABEL = "Repeat definition"
STATS_NATIONAL_LABEL = "National figures"
STATS_GUIDE_LABEL = "Expected volume and staffing"


def stats_twelve_months_to(end: str) -> str:
    return f"12 months to {end}"


STATS_CAPACITY_HEADING = "Staffing SafeLives recommends"


def stats_capacity(
    cases: str,
    to: str,
    idvas: str,
    administrators: str,
    per_idva: int,
    per_administrator: int,
) -> str:
    """The capacity for the area's volume, with the working shown."""
    return (
        f"{cases} cases heard in the 12 months to {to}: SafeLives recommends about {idvas} "
        f"full-time IDVAs and {administrators} full-time MARAC administrators "
        f"({cases} ÷ {per_idva} cases a year for each IDVA, "
        f"{cases} ÷ {per_administrator} for each administrator)."
    )


def stats_capacity_withheld(cases: str, to: str) -> str:
    """For governance readers when the year's count is small: the staffing would give it back."""
    return f"{cases} cases heard in the 12 months to {to}: too few to show staffing."


def stats_capacity_none(to: str) -> str:
    return f"No cases heard in the 12 months to {to}, so there is no staffing to work out."


# --- The victim's voice: engagement, views and wishes, told the outcome ----------------------
# Recorded by the case's allocated IDVA. The views themselves are never written in the chat:
# they are read in the case workspace by those who hold the case in full.
BUTTON_VICTIM_VOICE = "Victim's voice"
BUTTON_RECORD_VIEWS = "Record the victim's views"
BUTTON_VICTIM_TOLD = "Victim told the outcome"
BUTTON_COULD_NOT_TELL = "Could not tell"
ENGAGEMENT_NAMES: dict[str, str] = {
    "engaging": "engaging",
    "partly_engaging": "partly engaging",
    "not_engaging": "not engaging",
}
ENGAGEMENT_BUTTONS: dict[str, str] = {
    "engaging": "Engaging",
    "partly_engaging": "Partly engaging",
    "not_engaging": "Not engaging",
}
OUTCOME_NAMES: dict[str, str] = {"told": "told", "could_not_tell": "could not be told"}
ONLY_ALLOCATED_IDVA = "Only the IDVA allocated to the case records the victim's voice."
ASK_VICTIM_VIEWS = (
    "Type the victim's views and wishes for the meeting in one message. They are stored "
    "sealed and your message is then deleted from this chat. Send /cancel to stop."
)
ASK_COULD_NOT_TELL_REASON = (
    "Why could the victim not be told the outcome? Type a short reason; it is stored sealed "
    "and your message is then deleted. Send /cancel to stop."
)


def victim_voice_status(
    reference: str,
    engagement: str | None,
    engagement_on: str | None,
    views_on: str | None,
    awaiting: list[str],
) -> str:
    """The allocated IDVA's view of what is recorded; the views themselves never appear."""
    lines = [f"The victim's voice for {reference}."]
    if engagement is None or engagement_on is None:
        lines.append("Engagement: not recorded yet.")
    else:
        named = ENGAGEMENT_NAMES.get(engagement, engagement)
        lines.append(f"Engagement: {named} ({engagement_on}).")
    if views_on is None:
        lines.append("Views and wishes for the meeting: not recorded yet.")
    else:
        lines.append(
            f"Views and wishes for the meeting: recorded {views_on}; "
            "read them in the case workspace."
        )
    for when in awaiting:
        lines.append(f"Victim told the outcome of the MARAC on {when}: not confirmed yet.")
    return "\n".join(lines)


def engagement_recorded(reference: str, engagement: str) -> str:
    named = ENGAGEMENT_NAMES.get(engagement, engagement)
    return f"Recorded for {reference}: the victim is {named}."


def victim_views_recorded(reference: str) -> str:
    return (
        f"The victim's views for {reference} are recorded, sealed, and your message has been "
        "deleted. They are read in the case workspace, not in this chat."
    )


def outcome_ask(reference: str, when: str) -> str:
    return (
        f"The MARAC on {when} that heard {reference} is closed. Please tell the victim the "
        "outcome, then press a button below."
    )


def outcome_chase(reference: str, when: str) -> str:
    return (
        f"Reminder: please confirm that the victim in {reference} has been told the outcome "
        f"of the MARAC on {when}."
    )


def outcome_no_idva(reference: str, when: str) -> str:
    return (
        f"No IDVA is allocated to {reference}, so nobody has been asked to tell the victim the "
        f"outcome of the MARAC on {when}. Once an IDVA is allocated, they will be asked."
    )


def outcome_no_idva_chase(reference: str, when: str) -> str:
    return (
        f"{reference}: nobody has confirmed that the victim was told the outcome of the MARAC "
        f"on {when}, and no IDVA is allocated to the case."
    )


def outcome_recorded(reference: str, outcome: str) -> str:
    if outcome == "told":
        return f"Recorded: the victim in {reference} was told the outcome."
    return (
        f"Recorded: the victim in {reference} could not be told the outcome. "
        "Your reason is stored sealed and your message has been deleted."
    )


def agenda_voice_note(
    views_recorded: bool, engagement: str | None, closed: bool, told: str | None
) -> str:
    """The agenda line's note on the victim's voice: whether views are recorded (never what
    they are), the engagement, and after the meeting whether the victim was told."""
    note = "; victim's views recorded" if views_recorded else "; victim's views not recorded"
    if engagement is not None:
        note += f" ({ENGAGEMENT_NAMES.get(engagement, engagement)})"
    if closed:
        note += (
            f"; victim {OUTCOME_NAMES.get(told, told)} the outcome"
            if told is not None
            else "; victim told the outcome: not confirmed yet"
        )
    return note


# The case page and the meeting board.
WS_VOICE_HEADING = "The victim's voice"
WS_VOICE_ENGAGEMENT = "Engagement"
WS_VOICE_VIEWS = "Views and wishes for the meeting"
WS_VOICE_NOT_RECORDED = "not recorded yet"
WS_BOARD_VOICE = "Victim's views"
WS_BOARD_TOLD = "Victim told the outcome"
WS_BOARD_VOICE_HEADING = "The victims' views and wishes"
WS_YES = "yes"
WS_NO = "no"
WS_NOT_CONFIRMED = "not confirmed yet"


def ws_voice_recorded(who: str, when: str) -> str:
    return f"recorded by {who}, {when}"


# -- the IDVA service: told at referral, a named IDVA allocated, contact with the victim ----------

BUTTON_TAKE_CASE = "Take this case"
BUTTON_REALLOCATE_IDVA = "Reallocate IDVA"
BUTTON_RECORD_CONTACT = "Record contact"
WS_IDVA = "IDVA"
WS_IDVA_NONE = "none allocated yet"
# Keyed by ``ContactOutcome`` value, in the order the buttons are offered.
CONTACT_OUTCOME_NAMES: dict[str, str] = {
    "contacted": "Contacted",
    "not_reached": "Could not contact",
    "declined_support": "Declined support",
}
IDVA_SERVICE_ONLY = (
    "Only the IDVA service or a coordinator can allocate an IDVA to a case. "
    "Nothing has been changed."
)
CONTACT_ONLY_BY_IDVA = (
    "Only the IDVA allocated to the case records contact with the victim. Nothing has been changed."
)
IDVA_NOT_AVAILABLE = (
    "That IDVA cannot hold this case now (they may have left, be awaiting confirmation, or be on "
    "the case's must-not-receive list). Please choose someone else. Nothing has been changed."
)
IDVA_NOTHING_WAITING = (
    "No case is waiting: every referral more than two working days old has an IDVA who has "
    "reached the victim."
)


def idva_referral_notice(reference: str, urgent: bool) -> str:
    """To every IDVA of the area when a referral is submitted: the reference only."""
    head = (
        f"URGENT referral {reference} for the IDVA service."
        if urgent
        else f"New referral {reference} for the IDVA service."
    )
    return (
        f"{head}\nThe victim should be contacted within two working days. Open the case to "
        "read it, and press Take this case if you will be the IDVA."
    )


def idva_taken(reference: str) -> str:
    return (
        f"You are now the IDVA for {reference}. You will be sent its updates. "
        "Record each attempt to contact the victim with Record contact."
    )


def idva_already_yours(reference: str) -> str:
    return f"You already hold {reference}. Nothing has been changed."


def idva_held_by(reference: str, name: str) -> str:
    return f"Thank you, but {reference} has already been taken by {name}. Nothing has been changed."


def idva_held_by_them(reference: str, name: str) -> str:
    return f"{name} already holds {reference}. Nothing has been changed."


def idva_reallocated(reference: str, name: str) -> str:
    return f"{reference} is now held by {name}, who has been told."


def idva_allocated_notice(reference: str) -> str:
    return (
        f"{reference} has been allocated to you as its IDVA. Please contact the victim if nobody "
        "has yet, and record each attempt with Record contact."
    )


def idva_moved_notice(reference: str) -> str:
    return f"{reference} has been reallocated to another IDVA. You no longer hold it."


def choose_idva(reference: str, holder: str | None) -> str:
    held = f"held by {holder}" if holder else "no IDVA allocated yet"
    return f"{reference}: {held}. Who should hold it?"


def no_other_idva(reference: str) -> str:
    return f"There is no other IDVA in the area who can hold {reference}."


def contact_prompt(reference: str, attempts: list[str]) -> str:
    lines = [f"{reference}: what came of your attempt to contact the victim?"]
    if attempts:
        lines += ["", "Recorded so far:", *attempts]
    return "\n".join(lines)


def contact_attempt_line(when: str, outcome: str, who: str) -> str:
    return f"• {when} {CONTACT_OUTCOME_NAMES.get(outcome, outcome).lower()} ({who})"


def contact_recorded(reference: str, outcome: str) -> str:
    return (
        f"Recorded for {reference}: {CONTACT_OUTCOME_NAMES.get(outcome, outcome).lower()}. "
        "Thank you."
    )


def case_card_idva(holder: str | None, contact: str | None) -> str:
    """The IDVA line of the case card, for the coordinators and the IDVA service."""
    if holder is None:
        return "IDVA: none allocated yet"
    reached = f"; last contact: {contact}" if contact else "; no contact recorded yet"
    return f"IDVA: {holder}{reached}"


def idva_triage_notice(reference: str, step: str) -> str:
    return {
        "accepted": f"{reference}, which you hold as IDVA, has been accepted for MARAC.",
        "info_requested": (
            f"{reference}, which you hold as IDVA: the coordinator has asked the referrer for "
            "more information before deciding."
        ),
        "declined": f"{reference}, which you hold as IDVA, was not accepted for MARAC.",
    }[step]


def idva_listed_notice(reference: str, when: str) -> str:
    return (
        f"{reference}, which you hold as IDVA, is listed for the MARAC on {when}. "
        "Please bring the victim's views and wishes."
    )


def idva_plan_notice(reference: str, actions: int) -> str:
    return (
        f"The MARAC action plan for {reference}, which you hold as IDVA, has been recorded: "
        f"{actions} action(s) sent to agencies. Open the case to read it."
    )


def idva_waiting_heading(count: int) -> str:
    return (
        f"Cases with no IDVA, or no contact with the victim, more than two working days "
        f"after referral ({count}):"
    )


def idva_waiting_line(reference: str, days: int, holder: str | None, attempts: int) -> str:
    if holder is None:
        state = "no IDVA allocated"
    else:
        state = f"held by {holder}, victim not reached yet"
        if attempts:
            state += f" ({attempts} attempt(s) recorded)"
    return f"• {reference}: {days} working days; {state}"


def digest_idva(lines: list[tuple[str, int, bool]]) -> str:
    """The digest's line for cases waiting on the IDVA service; no names (it is queued)."""
    parts = [
        f"{reference} ({days} working days, "
        + ("IDVA allocated, victim not reached" if allocated else "no IDVA")
        + ")"
        for reference, days, allocated in lines
    ]
    return "No IDVA contact after two working days: " + "; ".join(parts) + ". Send /idva."


# --- The meeting's record and its minutes (SafeLives' model minutes) -------------------------

# The government classification that replaced RESTRICTED in 2014; on every page of the minutes.
MINUTES_MARKING = "OFFICIAL-SENSITIVE"
MINUTES_TITLE = "MARAC minutes"
# Read out at the start of every meeting; everyone present agrees to it, and the minutes say so.
CONFIDENTIALITY_STATEMENT = (
    "Information shared at this meeting is confidential. It is shared only to keep the victim, "
    "the children and others safe, under the information sharing agreement. It must not be "
    "passed on without the agreement of the agency it came from, except to protect someone "
    "from serious harm. Everyone may use it to carry out the actions agreed here. Each agency "
    "keeps the minutes securely and does not copy them into records the person causing harm "
    "or the victim could see without advice."
)
MINUTES_HEADING_MEETING = "The meeting"
MINUTES_HEADING_ATTENDANCE = "Attendance"
MINUTES_HEADING_APOLOGIES = "Apologies"
MINUTES_HEADING_CONFIDENTIALITY = "Confidentiality statement"
MINUTES_HEADING_CASES = "Cases heard"
MINUTES_HEADING_WHY = "Why the case was heard"
MINUTES_HEADING_RISKS = "Risks identified"
MINUTES_HEADING_VIEWS = "The victim's views (from the IDVA)"
MINUTES_HEADING_RESEARCH = "What each agency shared"
MINUTES_HEADING_ACTIONS = "Actions agreed"
MINUTES_HEADING_REVIEW = "Review of actions from an earlier meeting"
MINUTES_COLUMNS = ("Agency", "Action", "Due", "Status")
MINUTES_ATTENDANCE_COLUMNS = ("Agency", "Name", "Reply")
MINUTES_APOLOGY_COLUMNS = ("Agency", "Information sent instead", "Reason")
MINUTES_NONE_RECORDED = "None recorded."
MINUTES_NO_CASES = "No cases are in this copy."
MINUTES_NO_REPLY = "no reply"
MINUTES_NO_CHAIR = "Not recorded"
MINUTES_NO_VIEWS = "Not recorded by the IDVA."
MINUTES_NO_RISKS = "Not recorded."
MINUTES_NO_ACTIONS = "No actions were agreed."
MINUTES_NOTHING_KNOWN = "Nothing known."
MINUTES_YES = "Yes"
MINUTES_NO = "No"
MINUTES_REASON_WITHHELD = "Given to the coordinator"
MINUTES_MEETING_OPEN = "Close the meeting first: the minutes are sent once its actions are sent."
MINUTES_COPY_FULL = "Full copy (coordinator and chair)"
MINUTES_SENT = (
    "Here are the minutes, marked OFFICIAL-SENSITIVE (references only). It is removed later."
)
MINUTES_COPY_SENT = (
    "Here is your agency's copy of the minutes, marked OFFICIAL-SENSITIVE. "
    "It holds only what your agency may see. It is removed later."
)
ASK_RISK_SUMMARY = (
    "Type a short summary of the risks the meeting identified for this case "
    "(no names; up to 1,000 characters). Send /cancel to stop."
)
CONFIDENTIALITY_ASK = "Read the statement to everyone present, then press Agreed.\n\n"
BUTTON_CONFIDENTIALITY_AGREED = "Agreed by everyone present"
BUTTON_SEND_MINUTES = "Send the minutes to the agencies"
BUTTON_MY_MINUTES = "Our copy of the minutes"
RUNNING_ORDER_NOTE = "Emergency cases first, then as listed on the agenda."


def minutes_copy_for(agency: str) -> str:
    return f"Copy for {agency}"


def minutes_meeting_line(when: str, chair: str) -> str:
    return f"Date: {when}\nChair: {chair}"


def minutes_agreed(when: str, by: str) -> str:
    return f"Agreed by everyone present; recorded by {by} at {when}."


MINUTES_NOT_AGREED = "Not recorded as agreed."


def button_read_minutes(when: str) -> str:
    return f"Read the minutes {when}"


def minutes_why_heard(
    criterion: str, dash_yes: int, repeat: bool, latest: int | None = None
) -> str:
    """Why the case was heard; a reassessment since the referral shows as "15 → 18"."""
    score = str(dash_yes) if latest is None or latest == dash_yes else f"{dash_yes} → {latest}"
    line = f"Criterion: {CRITERION_NAMES.get(criterion, criterion)}. DASH: {score} yes answers."
    return line + (" Repeat referral." if repeat else "")


def minutes_research_line(agency: str, summary: str) -> str:
    return f"{agency}: {summary}"


def running_order(when: str, references: list[str]) -> str:
    lines = [f"Running order for {when}. {RUNNING_ORDER_NOTE}"]
    lines += [f"{number}. {ref}" for number, ref in enumerate(references, start=1)]
    return "\n".join(lines)


def button_risks_for(reference: str) -> str:
    return f"Risks: {reference}"


def button_confidentiality(when: str) -> str:
    return f"Confidentiality statement {when}"


def risk_summary_saved(reference: str) -> str:
    return f"Risk summary for {reference} saved. Your message was removed."


def confidentiality_recorded(when: str) -> str:
    return f"Recorded: everyone present agreed to the confidentiality statement ({when})."


def minutes_sent_to(count: int) -> str:
    return f"The minutes were sent: {count} people were told their agency's copy is ready."


def minutes_ready(when: str) -> str:
    return f"The minutes of the MARAC on {when} are ready. Press the button for your agency's copy."


def minutes_due_reminder(when: str) -> str:
    return (
        f"The minutes of the MARAC on {when} have not been sent and are due today "
        "(three working days after the meeting). Send /plan and press Send the minutes."
    )


# --- DASH: which form, the story against the answers, reassessment -------------------------

DASH_FORM_NAMES = {
    "safelives": "SafeLives DASH (24 questions)",
    "acpo_2009": "Police ACPO DASH 2009 (27 questions)",
    "dara": "A police DARA assessment",
}
DASH_FORM_SHORT = {
    "safelives": "SafeLives DASH",
    "acpo_2009": "ACPO DASH 2009",
    "dara": "police DARA",
}
DARA_LEVEL_NAMES = {"standard": "Standard", "medium": "Medium", "high": "High"}
DASH_FORM_PROMPT = (
    "Which form do the numbers come from? The police ACPO DASH has 27 questions and numbers "
    "them differently from question 10 on, so the numbers are read as on the form you have."
)
DARA_LEVEL_PROMPT = (
    "A DARA assessment is not a count of yes answers: it is recorded with its risk level, and "
    "the referral goes on professional judgement. What risk level did the officer record?"
)
DASH_EXTRA_NOT_COUNTED = "Not among the 24 questions the MARAC score counts:"
BUTTON_CHANGE_TO_YES = "Change to yes"
BUTTON_KEEP = "Keep"
STORY_CONCERN_NAMES = {
    "strangulation": "strangulation",
    "weapons": "weapons",
    "threats_to_kill": "threats to kill",
    "pregnancy": "pregnancy",
    "escalation": "the abuse getting worse",
    "stalking": "stalking or harassment",
    "sexual_abuse": "sexual abuse",
    "children_threats": "threats about the children",
}
STEP_NAMES["dash_story_checked"] = "checklist reviewed against the concerns"
STEP_NAMES["dash_reassessed"] = "new DASH recorded"
BUTTON_NEW_DASH = "New DASH"
BUTTON_THAT_IS_RIGHT = "That is right"
BUTTON_TYPE_IT_AGAIN = "Type it again"
DASH_REASSESS_WHICH_FORM = "New DASH for {reference}. Which form was completed?"
DASH_REASSESS_NOT_OPEN = "A new DASH can only be recorded on an open case."
DASH_REASSESS_USAGE = "Send /dash and the case reference, for example /dash NOR-2026-0001."


def dash_quick_prompt(form: str, count: int) -> str:
    return (
        f"{DASH_FORM_NAMES.get(form, form)}: type the question numbers answered yes, then "
        "those not known, numbered as on that form, for example:\n"
        "yes 1 3 5-9 14, not known 20\n"
        f"Every question of the {count} you do not list counts as no."
    )


def dash_form_read_back(
    form: str,
    yes: list[tuple[int, str]],
    not_known: list[tuple[int, str]],
    extra: list[tuple[int, str, str]],
    score: int,
) -> str:
    """The answers as numbered and named on the referrer's own form, and the score they make."""
    lines = [f"{DASH_FORM_NAMES.get(form, form)}, as numbered on that form:"]
    lines.append(f"Yes ({len(yes)}):" if yes else "Yes: none")
    lines.extend(f"{number}. {topic}" for number, topic in yes)
    lines.append(f"Not known ({len(not_known)}):" if not_known else "Not known: none")
    lines.extend(f"{number}. {topic}" for number, topic in not_known)
    lines.append("All other questions: no.")
    if extra:
        lines.append(DASH_EXTRA_NOT_COUNTED)
        lines.extend(f"{number}. {topic}: {answer}" for number, topic, answer in extra)
    lines.append(f"MARAC score (the 24 SafeLives questions): {score} yes")
    return "\n".join(lines)


def story_prompt(concern: str, number: int, form: str, answer: str) -> str:
    """Asked before submitting when the concerns mention what a question is answered no to."""
    on_form = "" if form == "safelives" else f" on the {DASH_FORM_SHORT.get(form, form)}"
    return (
        f"Your concerns mention {STORY_CONCERN_NAMES.get(concern, concern)}; question {number}"
        f"{on_form} is answered {answer}. Change it, or keep it?"
    )


def dash_form_name(form: str | None, dara_level: str | None) -> str:
    """The form the DASH came from (with a DARA assessment's level), for the case page."""
    if form == "dara":
        level = DARA_LEVEL_NAMES.get(str(dara_level), "not given")
        return f"police DARA, {level.lower()} risk (not a count; professional judgement)"
    return DASH_FORM_NAMES.get(str(form or "safelives"), str(form))


def dash_form_line(form: str | None, dara_level: str | None) -> str:
    """The form the DASH came from, for the review and the case card."""
    return f"{WS_DASH_FORM}: {dash_form_name(form, dara_level)}"


def dash_assessment_line(
    when: str, who: str, form: str, yes: int | None, not_known: int | None, dara_level: str | None
) -> str:
    if form == "dara":
        result = f"DARA {DARA_LEVEL_NAMES.get(str(dara_level), str(dara_level)).lower()} risk"
    else:
        result = f"{yes} of 24 yes, {not_known} not known ({DASH_FORM_SHORT.get(form, form)})"
    return f"{when}: {result}, by {who}"


DASH_ASSESSMENTS_HEADING = "DASH assessments:"
WS_DASH_FORM = "Risk form"


def dash_trend(first: int, latest: int | None) -> str:
    """The score on an agenda line: "DASH 14", or "DASH 14 → 18" when it has risen."""
    if latest is None or latest == first:
        return f"DASH {first}"
    return f"DASH {first} → {latest}"


def dash_recorded(reference: str, yes: int | None, before: int | None, form: str) -> str:
    if form == "dara":
        return f"New DARA assessment recorded for {reference}."
    change = f" (was {before})" if before is not None and before != yes else ""
    return f"New DASH recorded for {reference}: {yes} of 24 yes{change}."


def ws_dash_trend(first: int, latest: int | None) -> str:
    """The board's DASH cell: "14 of 24 yes", or "14 → 18 of 24 yes" when it has changed."""
    if latest is None or latest == first:
        return ws_dash(first)
    return f"{first} → {latest} of 24 yes"


# --- Clare's Law (the Domestic Violence Disclosure Scheme) ---

DVDS_ROUTES = {"right_to_ask": "Right to ask", "right_to_know": "Right to know"}
DVDS_DECISIONS = {"disclose": "Disclose", "not_disclose": "Do not disclose"}
DVDS_STAGES = {
    "received": "received, no checks asked yet",
    "checks": "checks under way",
    "checks_done": "checks done, no panel date yet",
    "panel": "panel date set",
    "disclose": "decided: disclose (no safety plan recorded yet)",
    "safety_plan": "decided: disclose, safety plan recorded",
    "not_disclose": "decided: do not disclose",
}
DVDS_NOT_FOUND = "No Clare's Law application with that number that you can see."
DVDS_POLICE_ONLY = "Only the police record Clare's Law applications."
DVDS_NOT_ASKED = "Your agency has not been asked to check this application."
DVDS_AGENCY_NOT_FOUND = "That agency cannot be asked to check."
DVDS_ALREADY_DECIDED = "This application has been decided already."
DVDS_PANEL_BEFORE_RECEIVED = "The panel cannot meet before the application was received."
DVDS_PLAN_ONLY_ON_DISCLOSURE = "A safety plan is recorded only when the panel decides to disclose."
DVDS_ASK_CASE = "Which case is it linked to? Send the case reference, or press No case."
DVDS_ASK_APPLICANT = (
    "Who applied? Send their name and date of birth (for right to know: who is told). "
    "Your message is deleted once stored."
)
DVDS_ASK_SUBJECT = (
    "Whom is it about? Send the person causing harm's name and date of birth. "
    "Your message is deleted once stored."
)
DVDS_ASK_SAFETY_PLAN = (
    "Send the safety plan agreed at disclosure. Your message is deleted once stored."
)
DVDS_ASK_AGENCY = "Which agency should check its records?"
DVDS_NO_AGENCIES = "There is no other agency here that can be asked to check."
DVDS_ASK_PANEL = "When does the decision panel meet?"
DVDS_NONE = "No Clare's Law applications yet."
DVDS_LIST_HEADING = "Clare's Law applications:"
DVDS_MENU = "Clare's Law (Domestic Violence Disclosure Scheme)."
BUTTON_DVDS_NEW_ASK = "New right to ask"
BUTTON_DVDS_NEW_KNOW = "New right to know"
BUTTON_DVDS_NO_CASE = "No case"
BUTTON_DVDS_CHECK = "Ask an agency to check"
BUTTON_DVDS_CHECK_DONE = "Check done"
BUTTON_DVDS_PANEL = "Set the panel date"
BUTTON_DVDS_DISCLOSE = "Decided: disclose"
BUTTON_DVDS_NOT_DISCLOSE = "Decided: do not disclose"
BUTTON_DVDS_SAFETY_PLAN = "Record the safety plan"
BUTTON_DVDS_OPEN = "Open"


def dvds_day(day: date) -> str:
    return format_day(day)


def dvds_guidance_note() -> str:
    """Where the timescale comes from, said beside every figure that uses it."""
    from bot.dvds import CURRENT_GUIDANCE as g

    return f"{g.days_to_decision} days: Home Office, {g.title}, {g.published}."


def dvds_status_line(
    label: str,
    route: str,
    stage: str,
    due: date,
    overdue: bool,
    reference: str | None = None,
    days_taken: int | None = None,
) -> str:
    """The one line a coordinator sees: never who applied or whom it is about."""
    case = f" ({reference})" if reference else ""
    if days_taken is not None:
        plural = "" if days_taken == 1 else "s"
        when = f"decided in {days_taken} day{plural} (due {dvds_day(due)})"
    else:
        when = f"decision due {dvds_day(due)}{' OVERDUE' if overdue else ''}"
    return f"Clare's Law {label}{case}: {DVDS_ROUTES[route]}, {DVDS_STAGES[stage]}; {when}"


def dvds_check_line(agency: str, due: date, done: date | None) -> str:
    if done is not None:
        return f"  • {agency}: check done {dvds_day(done)}"
    return f"  • {agency}: check due {dvds_day(due)}"


def dvds_panel_line(day: date) -> str:
    return f"Panel: {dvds_day(day)}"


def dvds_sealed_lines(applicant: str | None, subject: str | None, plan: str | None) -> list[str]:
    """What only some may read, each line only when opened for the reader."""
    lines = []
    if applicant:
        lines.append(f"Applicant: {applicant}")
    if subject:
        lines.append(f"About: {subject}")
    if plan:
        lines.append(f"Safety plan: {plan}")
    return lines


def dvds_created(label: str) -> str:
    return f"Clare's Law application {label} recorded. The identifiers are stored sealed."


def dvds_check_request(label: str, due: str) -> str:
    return (
        f"The police ask your agency to check its records for Clare's Law application {label}, "
        f"by {due}. Open it to see whom it is about; press Check done when you have told them."
    )


def dvds_check_chase(label: str, due: str) -> str:
    return (
        f"Reminder: your agency's check for Clare's Law application {label} was due {due}. "
        "Press Check done when you have told the police."
    )


def dvds_decision_chase(label: str, due: str) -> str:
    return (
        f"Clare's Law application {label} has no decision and was due {due} "
        f"({dvds_guidance_note()})"
    )


def dvds_check_done_notice(label: str, agency: str) -> str:
    return f"{agency} has finished its check for Clare's Law application {label}."


def dvds_check_recorded(label: str) -> str:
    return f"Thank you: your check for {label} is recorded as done."


def dvds_safety_plan_recorded(label: str) -> str:
    return f"Safety plan for {label} recorded and stored sealed."


def dvds_figures(
    received: Mapping[str, int | str],
    decided: int | str,
    in_time: int | str,
    median_days: float | None,
    disclosed: int | str,
    not_disclosed: int | str,
) -> str:
    median = "none decided" if median_days is None else f"{median_days:g} days"
    routes = ", ".join(f"{DVDS_ROUTES[route]} {count}" for route, count in received.items())
    return "\n".join(
        [
            "Clare's Law applications received",
            f"  {routes}",
            f"  Decided: {decided}, of which within the timescale: {in_time}",
            f"  Median days to decision: {median}",
            f"  Disclosed: {disclosed}, not disclosed: {not_disclosed}",
            f"  Timescale: {dvds_guidance_note()}",
        ]
    )


# --- MARAC-to-MARAC transfer ---
STATUS_NAMES["transferred"] = "closed: transferred to another MARAC"
STEP_NAMES["transfer_requested"] = "transfer to another MARAC asked"
STEP_NAMES["transfer_declined"] = "transfer declined by the other MARAC"
STEP_NAMES["transferred"] = "transferred to another MARAC"
STEP_NAMES["transferred_in"] = "transferred in from another MARAC"
BUTTON_TRANSFER = "Transfer to another MARAC"
BUTTON_ACCEPT_TRANSFER = "Accept transfer"
BUTTON_DECLINE_TRANSFER = "Decline transfer"
BUTTON_HANDOVER_NOTE = "Write handover note"
BUTTON_TRANSFER_PACK = "Transfer handover"
CHOOSE_TRANSFER_AREA = "Which MARAC should take this case? Its coordinators will be asked."
NO_OTHER_AREAS = "There is no other MARAC area in this service to transfer to."
ASK_TRANSFER_REASON = (
    "Why is the case moving (for example, the victim has moved to the area)? The reason is "
    "stored encrypted and your message deleted. The other MARAC reads it only if it accepts. "
    "Send /cancel to stop."
)
ASK_HANDOVER_NOTE = (
    "Write your handover note for the IDVA who will take the case (what the victim wants, "
    "safe ways to contact her, what is in hand). It is stored encrypted and your message "
    "deleted. Send /cancel to stop."
)
TRANSFER_NOT_FOUND = "That transfer request was not found, or it is not for you."
TRANSFER_AREA_NOT_FOUND = "That MARAC area was not found."
TRANSFER_RECEIVING_ONLY = "Only a coordinator of the MARAC receiving the case can answer this."
TRANSFER_NOT_POSSIBLE = "This case can no longer be transferred: its data has been erased."
HANDOVER_ONLY_ALLOCATED_IDVA = "Only the case's allocated IDVA can write the handover note."
NO_HANDOVER_NOTE = "No handover note: the sending IDVA did not write one."


def transfer_case_closed(reference: str) -> str:
    return f"{reference} is closed, so it cannot be transferred."


def transfer_already_asked(reference: str) -> str:
    return f"A transfer of {reference} is already waiting for an answer. Nothing changed."


def transfer_already_decided(decision: str) -> str:
    return f"This transfer request was already {decision or 'answered'}. Nothing changed."


def transfer_requested(reference: str, area: str) -> str:
    return (
        f"Transfer of {reference} to {area} asked. Its coordinators will accept or decline; "
        "the case stays open here until they accept."
    )


def transfer_request_notice(
    reference: str, from_area: str, criterion: str, dash_yes: int, referred_on: str
) -> str:
    """To the receiving coordinators: the four facts, no names."""
    return (
        f"Transfer request from {from_area} MARAC.\n"
        f"Case {reference}: {criterion}, DASH {dash_yes} of 24 yes, referred {referred_on}.\n"
        "Accept to open it as a case of your MARAC with its risk, history and outstanding "
        "actions; decline to leave it with them."
    )


def transfer_request_card(
    reference: str,
    from_area: str,
    to_area: str,
    criterion: str,
    dash_yes: int,
    referred_on: str,
    asked_on: str,
    decision: str | None,
) -> str:
    state = {"accepted": "accepted", "declined": "declined"}.get(decision or "", "waiting")
    return (
        f"Transfer of {reference} from {from_area} to {to_area} (asked {asked_on}): {state}.\n"
        f"{criterion}, DASH {dash_yes} of 24 yes, referred {referred_on}."
    )


def transfer_accepted(new_reference: str, from_reference: str) -> str:
    return (
        f"Transfer accepted. The case is now {new_reference} in your MARAC (was "
        f"{from_reference}). It is waiting for triage; your IDVA service has been told. "
        f"Send /case {new_reference} to read it."
    )


def transfer_declined(reference: str) -> str:
    return f"Transfer of {reference} declined. It stays with the sending MARAC, who are told."


def transfer_accepted_notice(reference: str, area: str) -> str:
    return f"{area} MARAC accepted the transfer of {reference}. It is closed here as transferred."


def transfer_declined_notice(reference: str, area: str) -> str:
    return f"{area} MARAC declined the transfer of {reference}. The case stays open here."


def idva_transferred_out_notice(reference: str, area: str) -> str:
    return (
        f"{reference} has been transferred to {area} MARAC. If you have not written a "
        "handover note yet, open the case and write one: it goes with the case."
    )


def idva_transfer_notice(reference: str, urgent: bool) -> str:
    head = "URGENT case" if urgent else "Case"
    return (
        f"{head} {reference} has been transferred to this MARAC from another one, for the "
        "IDVA service.\nThe victim should be contacted within two working days. Open the case "
        "to read it and the handover, and press Take this case if you will be the IDVA."
    )


def transferred_summary(reference: str, area: str) -> str:
    return f"Transferred from {area} MARAC (their reference {reference})."


def transfer_found_at_referral(asked_on: str, new_reference: str | None) -> str:
    """A new referral whose victim was recently transferred to this MARAC."""
    if new_reference:
        return (
            f"This victim's case was transferred to this MARAC from another one ({asked_on}): "
            f"{new_reference}. Check whether this is a repeat."
        )
    return (
        f"Another MARAC asked on {asked_on} to transfer this victim's case here; the request "
        "is waiting for an answer. Check it before triage."
    )


def handover_written(reference: str) -> str:
    return f"Handover note for {reference} saved. It goes with the case if it is transferred."


def handover_view(
    reference: str,
    transferred_in: bool,
    from_reference: str | None,
    from_area: str | None,
    transferred_on: str | None,
    reason: str | None,
    actions: list[str],
    note: str | None,
    note_by: str | None,
    note_on: str | None,
) -> str:
    lines = [f"{reference}: transfer handover"]
    if transferred_in:
        lines.append(f"Transferred from {from_area} MARAC ({from_reference}) on {transferred_on}.")
        if reason:
            lines.append(f"Why it moved: {reason}")
        if actions:
            lines.append("Actions outstanding at the sending MARAC (for information):")
            lines += [f"• {line}" for line in actions]
        else:
            lines.append("No actions were outstanding at the sending MARAC.")
    if note:
        lines.append(f"IDVA handover note ({note_by}, {note_on}):\n{note}")
    else:
        lines.append(NO_HANDOVER_NOTE)
    return "\n".join(lines)


def carried_action_line(agency: str, text: str, due_on: str) -> str:
    return f"{agency}: {text} (due {due_on})"


WS_TRANSFERRED_FROM = "Transferred from"
WS_TRANSFER_REASON = "Why it moved"
WS_TRANSFER_ACTIONS = "Actions outstanding at the sending MARAC (for information)"
WS_NONE_OUTSTANDING = "None"
WS_HANDOVER_NOTE = "IDVA handover note"

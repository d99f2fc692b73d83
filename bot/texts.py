"""Every text the bot sends, in one place so it can be reviewed as a whole.

Style: short, plain UK English, calm, and always say what happens next.
Never put a victim's or perpetrator's name in anything built here that is not
a protected case message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from bot.dates import example_date
from bot.i18n import K_, N_, _, localised
from bot.meetings.off_days import PlannedDay
from bot.meetings.recurrence import format_day
from bot.meetings.workdays import DayOff, NotWorking
from bot.signposting import EMERGENCY_NUMBER, NATIONAL_DOMESTIC_ABUSE_HELPLINE
from bot.vocabulary import Role

ROLE_NAMES: dict[Role, str] = {
    Role.COORDINATOR: N_("MARAC coordinator"),
    Role.CHAIR: N_("MARAC chair"),
    Role.AGENCY_REP: N_("agency representative"),
    Role.PERPETRATOR_REP: N_("perpetrator-service representative"),
    Role.GOVERNANCE: N_("governance (statistics only)"),
}

# Where help is, for a stranger who may be a victim; nothing more about what the bot is for.
SIGNPOSTING = K_(
    "In an emergency call {emergency_number}. The {name} is {hours}: {number}.",
    emergency_number=EMERGENCY_NUMBER,
    name=NATIONAL_DOMESTIC_ABUSE_HELPLINE.name,
    hours=NATIONAL_DOMESTIC_ABUSE_HELPLINE.hours,
    number=NATIONAL_DOMESTIC_ABUSE_HELPLINE.number,
)
NEUTRAL_UNKNOWN = (
    N_(
        "This is a private service for professionals. "
        "If you have been invited, please open the link in your invitation.\n\n"
    )
    + SIGNPOSTING
)
GROUP_CHAT_REFUSAL = N_(
    "I only work in private chats. Please message me directly; nothing has been shared here."
)
INVITE_NOT_VALID = N_(
    "This invitation link does not work. It may have been used already or have expired. "
    "Please ask your MARAC coordinator for a new one."
)
INVITE_LOCKED_OUT = N_(
    "Too many invitation codes were tried from this account. "
    "Please wait an hour, then open the link in your invitation again."
)
ALREADY_ENROLLED = N_("You are already enrolled. Here is your menu.")
SOMETHING_WENT_WRONG = N_(
    "Sorry, that did not work. Nothing you entered has been lost. Please try again in a moment."
)
SERVICE_BUSY = N_(
    "The service is busy or briefly unavailable. Nothing you entered has been lost. "
    "Please try again in a few minutes."
)


TWO_STEP_VERIFICATION = N_(
    "Please turn on Telegram's two-step verification now, so nobody can take over this "
    "account with a code sent to your phone: Settings > Privacy and Security > "
    "Two-Step Verification."
)


@localised
def welcome(display_name: str, role: Role, where: str) -> str:
    return _(
        "Welcome, {display_name}. You are now enrolled as {role} for {where}.\n"
        "Send /help at any time to see what you can do.\n\n{two_step_verification}"
    ).format(
        display_name=display_name,
        role=_(ROLE_NAMES[role]),
        where=where,
        two_step_verification=_(TWO_STEP_VERIFICATION),
    )


AWAITING_CONFIRMATION = N_(
    "Your enrolment is waiting for a coordinator to confirm it. Until then you can use "
    "/start and /help only, and no case information is sent to you. "
    "I will tell you here as soon as it is confirmed."
)


@localised
def home_awaiting_confirmation(display_name: str, role: Role, where: str) -> str:
    return f"{home(display_name, role, where)}\n{_(AWAITING_CONFIRMATION)}"


@localised
def enrolment_confirmed_notice(role: Role, where: str) -> str:
    return _(
        "A coordinator has confirmed your enrolment as {role} for {where}. You "
        "will now receive the requests, reminders and notices your role needs. "
        "Send /start for your menu or /help to see what you can do."
    ).format(role=_(ROLE_NAMES[role]), where=where)


@localised
def home(display_name: str, role: Role, where: str) -> str:
    return _("Hello, {display_name}. You are signed in as {role} for {where}.").format(
        display_name=display_name, role=_(ROLE_NAMES[role]), where=where
    )


@localised
def _minutes(minutes: int) -> str:
    if minutes % 60 == 0:
        hours = minutes // 60
        return _("{hours} hour{s}").format(hours=hours, s="s" if hours != 1 else "")
    return _("{minutes} minute{s}").format(minutes=minutes, s="s" if minutes != 1 else "")


@localised
def help_text(role: Role, commands: list[tuple[str, str]], sensitive_minutes: int) -> str:
    """The commands, then exactly what the bot keeps and what it removes from this chat."""
    lines = [_("As {role} you can use:").format(role=_(ROLE_NAMES[role]))]
    lines += [f"/{name} — {_(description)}" for name, description in commands]
    lines += [
        "",
        _("What happens to case details here:"),
        _(
            "• What you type about a case (names, addresses, notes, actions) is saved, encrypted, "
            "and then deleted from this chat. If something cannot be deleted, I will ask you to "
            "delete it yourself."
        ),
        _(
            "• Messages that show case details cannot be forwarded or saved, and are "
            "deleted after {minutes}."
        ).format(minutes=_minutes(sensitive_minutes)),
        _(
            "• Reminders and notices carry only case references. Case details open in the "
            "case workspace, from the button on a message."
        ),
        _(
            "• The bot keeps the case record, encrypted, and a record of who saw it, until your "
            "area's retention period ends. Then the case details are erased."
        ),
    ]
    return "\n".join(lines)


TYPED_MESSAGE_NOT_REMOVED = N_(
    "I could not delete this message from the chat, and it holds case details. "
    "Please delete it yourself: press and hold it, then choose Delete."
)


NO_LONGER_HAS_ACCESS = N_("You no longer have access to this. Nothing has been changed.")

AGENCY_NAME_TOO_SHORT = N_("Please give the agency a name of at least two letters.")
AGENCY_NAME_TOO_LONG = N_("That name is too long. Please keep it under 120 characters.")
AGENCY_NOT_FOUND = N_("That agency is not in your area any more. Send /agencies to see the list.")
ISA_SIGNED_IN_FUTURE = N_("The signing date is in the future. Please send the date it was signed.")
ISA_REVIEW_BEFORE_SIGNED = N_(
    "The review date must be after the signing date. Please send it again."
)


@localised
def agency_exists(name: str) -> str:
    return _(
        "There is already an agency called {name} in your area. Please choose another name."
    ).format(name=name)


PERSON_NOT_FOUND = N_("That person is not enrolled in your area. Send /people to see the list.")
PERSON_ALREADY_DEACTIVATED = N_("That person has already been deactivated. Nothing else to do.")
CANNOT_DEACTIVATE_SELF = N_("You cannot deactivate yourself. Please ask another coordinator.")
LAST_COORDINATOR = N_(
    "This is the last active coordinator of the area, so they cannot be deactivated. "
    "Invite and enrol another coordinator first."
)
NAME_ERASED = N_("(name erased)")

AREA_NOT_FOUND = N_("That area does not exist.")
INVITE_NOT_FOUND = N_("That invite is not in your area. Send /invite to see open invites.")
INVITE_NEEDS_AGENCY = N_("Agency representatives need an agency. Please choose one.")
INVITE_ROLE_HAS_NO_AGENCY = N_("This role covers the whole area, so it has no agency.")
PERPETRATOR_REP_NEEDS_SERVICE = N_(
    "A perpetrator-service representative must belong to a perpetrator service. "
    "Add the service under /agencies first."
)


@localised
def invite_no_longer_open(state: str) -> str:
    return _(
        "That invite can no longer be revoked: it has been {state}. Nothing was changed."
    ).format(state=state)


NOT_ALLOWED = N_("Your role does not allow this. Nothing has been changed.")
BUTTON_NOT_RECOGNISED = N_("This button is no longer valid. Please send /start for a fresh menu.")
CANCELLED = N_("Cancelled. Nothing was changed.")

AGENCY_KIND_NAMES: dict[str, str] = {
    "police": N_("Police"),
    "idva": N_("IDVA service"),
    "childrens_social_care": N_("Children's social care"),
    "adult_social_care": N_("Adult social care"),
    "health": N_("Health"),
    "housing": N_("Housing"),
    "probation": N_("Probation"),
    "education": N_("Education"),
    "mental_health": N_("Mental health"),
    "substance_misuse": N_("Substance misuse"),
    "perpetrator_service": N_("Perpetrator service"),
    "other": N_("Other"),
}
NO_AGENCIES_YET = N_("No agencies yet. Press Add agency to add the first one.")
CHOOSE_AGENCY_KIND = N_("What kind of agency is it?")
ASK_AGENCY_NAME = N_(
    "Please send the agency's name, for example Northamptonshire Police. Send /cancel to stop."
)
ASK_AGENCY_NEW_NAME = N_("Please send the new name. Send /cancel to stop.")


@localised
def ask_isa_signed(today: date) -> str:
    return _(
        "When was the information-sharing agreement signed? Send a date like "
        "{example_date}, or /cancel to stop."
    ).format(example_date=example_date(today, -90))


@localised
def ask_isa_review(today: date) -> str:
    return _(
        "When is it due for review? Send a date like {example_date}, or /cancel to stop."
    ).format(example_date=example_date(today, 275))


ISA_REMINDER_PROMISE = N_("I will remind the coordinators a month before the review date.")


@localised
def agency_list(names: list[str]) -> str:
    if not names:
        return _(NO_AGENCIES_YET)
    return _("Agencies in your area:\n") + "\n".join(f"• {name}" for name in names)


@localised
def agency_card(name: str, kind: str, signed: str | None, review: str | None, people: int) -> str:
    agreement = (
        _("Information-sharing agreement signed {signed}, review due {review}.").format(
            signed=signed, review=review
        )
        if signed and review
        else _("No information-sharing agreement recorded yet.")
    )
    return _("{name}\nType: {kind}\nActive people: {people}\n{agreement}").format(
        name=name, kind=_(AGENCY_KIND_NAMES[kind]), people=people, agreement=agreement
    )


@localised
def agency_added(name: str) -> str:
    return _("{name} has been added. You can now invite its representatives with /invite.").format(
        name=name
    )


@localised
def agency_renamed(name: str) -> str:
    return _("The agency is now called {name}.").format(name=name)


@localised
def agreement_recorded(name: str, review: str) -> str:
    return _("Agreement recorded for {name}, review due {review}. {isa_reminder_promise}").format(
        name=name, review=review, isa_reminder_promise=_(ISA_REMINDER_PROMISE)
    )


@localised
def isa_review_reminder(agency_name: str, review: str, overdue: bool) -> str:
    when = _("was due for review on") if overdue else _("is due for review on")
    return _(
        "Reminder: the information-sharing agreement with {agency_name} {when} "
        "{review}. When it has been renewed, record the new dates under "
        "/agencies."
    ).format(agency_name=agency_name, when=when, review=review)


CHOOSE_INVITE_ROLE = N_("Who are you inviting? Choose their role.")
CHOOSE_INVITE_AGENCY = N_("Which agency are they from?")
NO_AGENCY_FOR_ROLE = N_(
    "There is no suitable agency yet. Add it under /agencies first, then invite."
)
NO_OPEN_INVITES = N_("There are no open invites.")
CONFIRM_REVOKE = N_("Revoke this invite? The link will stop working at once.")
INVITE_REVOKED = N_("The invite has been revoked. Its link no longer works.")
ROLE_BUTTONS = {
    "coordinator": N_("Coordinator"),
    "chair": N_("Chair"),
    "agency_rep": N_("Agency rep"),
    "perpetrator_rep": N_("Perpetrator-service rep"),
    "governance": N_("Governance (statistics)"),
}


@localised
def invite_issued(role: str, where: str, link: str, expires: str) -> str:
    return _(
        "Invite for the role {role} ({where}). It works once, until {expires}.\n\n"
        "{link}\n\nSend it to them privately (for example by secure email). When "
        "they open it, they are enrolled, and you are asked to confirm it is "
        "them before they receive any case information."
    ).format(role=role, where=where, expires=expires, link=link)


@localised
def open_invite_line(role: str, where: str, expires: str) -> str:
    return _("• {role}, {where}, expires {expires}").format(role=role, where=where, expires=expires)


NOBODY_ENROLLED = N_("Nobody is enrolled yet. Use /invite to invite people.")
CONFIRM_DEACTIVATE_SUFFIX = N_(
    "They will lose access at once: their next message or button press is refused."
)


@localised
def person_line(name: str, role: str, last_active: str) -> str:
    return _("• {name} — {role}, last active {last_active}").format(
        name=name, role=role, last_active=last_active
    )


@localised
def person_card(name: str, role: str, where: str, last_active: str) -> str:
    return _("{name}\n{role}, {where}\nLast active: {last_active}").format(
        name=name, role=role, where=where, last_active=last_active
    )


@localised
def confirm_deactivate(name: str) -> str:
    return _("Deactivate {name}? {confirm_deactivate_suffix}").format(
        name=name, confirm_deactivate_suffix=_(CONFIRM_DEACTIVATE_SUFFIX)
    )


# -- Enrolment confirmation: an invite link can be forwarded --------------------------------

AWAITING_MARK = N_("awaiting confirmation")
BUTTON_CONFIRM_ENROLMENT = N_("Confirm")
BUTTON_REMOVE_ENROLMENT = N_("Remove")
BUTTON_YES_REMOVE = N_("Yes, remove")
BUTTON_BACK = N_("Back")
ENROLMENT_CHECK_PROMPT = N_(
    "Until you confirm, they get no case information. If you did not invite them, "
    "or do not know them, press Remove: they lose access at once."
)


@localised
def enrolment_check(name: str, role: str, where: str) -> str:
    return _(
        "{name} enrolled as {role} for {where}. Is that right?\n{enrolment_check_prompt}"
    ).format(name=name, role=role, where=where, enrolment_check_prompt=_(ENROLMENT_CHECK_PROMPT))


@localised
def enrolment_check_unnamed(role: str, where: str) -> str:
    """The outbox keeps no names: this is stored, and sent if the name cannot be read."""
    return _(
        "Someone enrolled as {role} for {where}. Is that right?\n{enrolment_check_prompt}"
    ).format(role=role, where=where, enrolment_check_prompt=_(ENROLMENT_CHECK_PROMPT))


@localised
def confirm_enrolment_removal(name: str) -> str:
    return _(
        "Remove {name}? They lose access at once and are sent nothing more. If "
        "it was a mistake, invite them again with /invite."
    ).format(name=name)


@localised
def enrolment_confirmed(name: str, role: str, where: str) -> str:
    return _(
        "Confirmed: {name} is enrolled as {role} for {where}. I have told them, "
        "and they now receive what their role needs."
    ).format(name=name, role=role, where=where)


@localised
def enrolment_removed(name: str) -> str:
    return _(
        "Done: {name} has been removed and can no longer use the bot. If they "
        "should have access, invite them again with /invite."
    ).format(name=name)


@localised
def enrolment_already_decided(name: str, confirmed: bool, by: str | None, when: str) -> str:
    if confirmed and by is None:
        return _(
            "{name}'s enrolment needed no confirmation: the operator invited them ({when})."
        ).format(name=name, when=when)
    what = _("confirmed") if confirmed else _("removed")
    return _("{name}'s enrolment was already {what} by {by} on {when}.").format(
        name=name, what=what, by=by or _("a coordinator"), when=when
    )


CANNOT_CONFIRM_SELF = N_("You cannot confirm your own enrolment. Another coordinator will do it.")


# -- The quarterly access review ------------------------------------------------------------

BUTTON_ACCESS_REVIEW = N_("Access review")
BUTTON_OPEN_ACCESS_REVIEW = N_("Open the access review")
INACTIVE_MARK = N_("⚠ not active for 90 days")


@localised
def access_review_due(area: str, quarter: str, enrolled: int, inactive: int, awaiting: int) -> str:
    people = (
        _("1 person can") if enrolled == 1 else _("{enrolled} people can").format(enrolled=enrolled)
    )
    waiting = _(", {awaiting} awaiting confirmation").format(awaiting=awaiting) if awaiting else ""
    return _(
        "Quarterly access review for {area} ({quarter}): {people} use the bot, "
        "{inactive} not active for 90 days or more{waiting}. Please check that "
        "each of them still needs access, and remove anyone who has left or "
        "changed job."
    ).format(area=area, quarter=quarter, people=people, inactive=inactive, waiting=waiting)


@localised
def access_review_heading(area: str, day: str) -> str:
    return _(
        "Access review for {area} on {day}: everyone who can use the bot, by "
        "agency. Remove anyone who has left or changed job; those marked ⚠ have "
        "not used the bot for 90 days."
    ).format(area=area, day=day)


@localised
def access_review_line(
    name: str, role: str, last_active: str, inactive: bool, awaiting: bool
) -> str:
    line = _("• {name} — {role}, last active {last_active}").format(
        name=name, role=role, last_active=last_active
    )
    if awaiting:
        line += f" ({_(AWAITING_MARK)})"
    if inactive:
        line += f" {_(INACTIVE_MARK)}"
    return line


@localised
def access_review_remove(name: str) -> str:
    return _("Remove {name}").format(name=name)


@localised
def leavers_reminder(agency: str, area: str) -> str:
    return _(
        "Quarterly access check for {area}: if anyone from {agency} who uses "
        "this bot has left or changed job, please tell your MARAC coordinator, "
        "so their access can be removed. Nothing else to do."
    ).format(area=area, agency=agency)


@localised
def deactivated(name: str) -> str:
    return _("{name} has been deactivated and can no longer use the bot.").format(name=name)


NO_AUDIT_EVENTS = N_("There are no audit events to show.")


@localised
def audit_heading(count: int, subject: str | None) -> str:
    about = _(" about {subject}").format(subject=subject) if subject else ""
    return _("Latest {count} audit events{about} (newest first):").format(count=count, about=about)


@localised
def case_view_note(details: Mapping[str, object]) -> str:
    """Through what, and how much of the case, a person was shown: " (minutes, everything)"."""
    path, level = details.get("path"), details.get("level")
    if not path:
        return ""
    shown = ACCESS_LEVEL_NAMES.get(str(level), str(level))
    return f" ({path}, {shown})"


# What each level of the access policy (bot.access.Level, by its lower-case name) shows.
ACCESS_LEVEL_NAMES = {
    "none": N_("nothing"),
    "reference": N_("reference"),
    "summary": N_("summary"),
    "research": N_("research identifiers"),
    "referral": N_("the referral"),
    "full": N_("everything"),
}


AUDIT_SUBJECT_FORMAT = N_(
    "Send /audit on its own for the latest events, or /audit followed by a reference "
    "such as person:4 or a case reference."
)


@localised
def audit_checkpoint(area: str, events: int, link: str, signature: str, checkpoint: str) -> str:
    """The daily checkpoint a coordinator keeps: counts and hashes only, never case data."""
    return _(
        "Audit checkpoint for {area}: {events:,} events, ends {link}…{link2} "
        "(signed {signature}…). Keep this message: with it, the people who run "
        "the bot can check later that the audit trail has not been changed "
        "since.\n{checkpoint}"
    ).format(
        area=area,
        events=events,
        link=link[:4],
        link2=link[-2:],
        signature=signature[:4],
        checkpoint=checkpoint,
    )


NOT_UNDERSTOOD = N_("Sorry, I did not understand that. Send /help to see what you can do.")

# --- Referrals -----------------------------------------------------------------------------

CRITERION_NAMES: dict[str, str] = {
    "visible_high_risk": N_("Visible high risk (DASH)"),
    "professional_judgement": N_("Professional judgement"),
    "potential_escalation": N_("Potential escalation"),
    "repeat": N_("Repeat referral"),
}
REFERRAL_PROMPTS: dict[str, str] = {
    "safe_contact": N_("New referral. First, safety. Is it safe to contact the victim?"),
    "safe_details": (
        N_(
            "How can the victim be contacted safely? Give a safe number, safe times, and anyone "
            "who must not be told. Send 'none' if there is nothing to add."
        )
    ),
    "unsafe_details": (
        N_(
            "Why is it not safe, and who must not be told about this referral? "
            "Send 'none' if there is nothing to add."
        )
    ),
    "victim_aware": N_("Does the victim know about this referral?"),
    "consent": N_("Has the victim consented to the referral?"),
    "consent_reason": (
        N_(
            "Sharing without consent must have a reason. Why are you referring without consent "
            "(for example, risk of serious harm to the victim or children)?"
        )
    ),
    "dash_mode": (
        N_(
            "The DASH risk checklist has 24 questions. Answer them here one by one, or, if you "
            "already have a completed checklist, type the numbers answered yes and not known."
        )
    ),
    "dash_quick": (
        N_(
            "Type the question numbers answered yes, then those not known, for example:\n"
            "yes 1 3 5-9 14, not known 20\n"
            "Every question you do not list counts as no."
        )
    ),
    "judgement_reason": N_("Please explain your professional judgement in a few sentences."),
    "victim_name": N_("Now the victim. What is their full name?"),
    "victim_dob": N_("What is the victim's date of birth? For example 14/03/1990."),
    "victim_aliases": N_("Any other names the victim uses? Send 'none' if not."),
    "victim_address": N_("The victim's address (kept encrypted). Send 'none' if not known."),
    "victim_gender": N_("The victim's gender:"),
    "victim_lgbt": N_("Does the victim identify as LGBT+? (for the quarterly return)"),
    "victim_disabled": N_("Does the victim have a disability? (for the quarterly return)"),
    "victim_minoritised": (
        N_("Is the victim from a Black or minoritised ethnic group? (for the quarterly return)")
    ),
    "perp_name": (
        N_("Now the person causing harm. What is their full name? Send 'unknown' if not known.")
    ),
    "perp_dob": N_("Their date of birth? Send 'unknown' if not known."),
    "perp_address": (
        N_(
            "Their address, if known (kept encrypted; agencies search their records on it, and "
            "the victim's address is never shown to perpetrator services). Send 'unknown' if not."
        )
    ),
    "relationship": N_("Their relationship to the victim:"),
    "children": (
        N_(
            "The children in the household, or who see or hear the abuse (victims in their own "
            "right). One child per line: name, date of birth (day/month/year) or age, then if you "
            "know them their school or nursery, lives with victim or lives elsewhere, and CSC "
            "involved or no CSC (children's social care). For example:\n"
            "Mia Smith, age 7, Oak Primary, lives with victim, CSC involved\n"
            "Leo Smith, 18 months, Little Acorns Nursery, lives with victim, no CSC\n"
            "Type unknown for a name or age you do not know, and none if there are no children."
        )
    ),
    "summary": N_("Briefly describe your concerns (kept encrypted, up to 3,000 characters)."),
    "review": N_("Please check the referral before you submit it."),
    "urgent": (
        N_(
            "Does this case need an urgent response before the next MARAC meeting? "
            "If anyone is in immediate danger, call 999 now: this bot is not an emergency service."
        )
    ),
}
DASH_CONFIRM_INTRO = N_("Please check the checklist as I have read it:")
VICTIM_UNDER_16 = N_(
    "MARAC is for victims aged 16 and over. For a younger person, please follow your "
    "child safeguarding procedures. Check the date of birth, or send /cancel."
)
USE_THE_BUTTONS = N_("Please answer with one of the buttons under the question.")
REVIEW_USE_BUTTONS = N_(
    "Please use the buttons under the summary to submit or discard the referral."
)
STALE_QUESTION = N_("That question has already been answered. Please answer the latest question.")
DRAFT_SAVED_CANCEL = N_("Your draft is saved. Send /refer to continue it, or to discard it.")
DRAFT_DISCARDED = N_("The draft has been discarded and erased.")
NO_DRAFT = N_("There is no draft referral. Send /refer to start one.")
REFERRAL_NEEDS_REPEAT_MATCH = N_(
    "No referral of this victim in the last 12 months was found in this area, so this cannot "
    "go as a repeat. Please choose another criterion."
)


@localised
def dash_prompt(number: int, question: str, yes_so_far: int) -> str:
    return _("DASH question {number} of 24 (yes so far: {yes_so_far})\n{question}").format(
        number=number, yes_so_far=yes_so_far, question=question
    )


@localised
def criterion_prompt(yes: int, threshold: int) -> str:
    if yes >= threshold:
        return _(
            "The checklist has {yes} yes answers, at or above the area's threshold "
            "of {threshold}: this is a visible high-risk referral."
        ).format(yes=yes, threshold=threshold)
    return _(
        "The checklist has {yes} yes answers, below the area's threshold of "
        "{threshold}. On what grounds are you referring?"
    ).format(yes=yes, threshold=threshold)


@localised
def police_incidents_prompt(threshold: int) -> str:
    return _(
        "How many police-reported incidents in the last 12 months? (This area's "
        "threshold for potential escalation is {threshold}.) Type a number."
    ).format(threshold=threshold)


@localised
def resume_draft(saved_at: str) -> str:
    return _(
        "You have a draft referral from {saved_at}. Continue it, or discard it and start again?"
    ).format(saved_at=saved_at)


@localised
def new_referral(
    reference: str, criterion: str, yes: int, referrer_agency: str, repeat_of: str | None
) -> str:
    lines = [
        _(
            "New referral {reference} from {referrer_agency}: {criterion}, DASH {yes} of 24 yes."
        ).format(
            reference=reference, referrer_agency=referrer_agency, criterion=criterion, yes=yes
        ),
        _("It is waiting for triage."),
    ]
    if repeat_of:
        # Confirmed repeats are what the statistics count: SafeLives' repeat is further abuse
        # between the same victim and person causing harm, and the match is on the victim only.
        lines.append(
            _(
                "Possible repeat of {repeat_of}: confirm it if this is further abuse "
                "between the same victim and person causing harm, or reject the match."
            ).format(repeat_of=repeat_of)
        )
    lines.append(_("Send /case {reference} to read it.").format(reference=reference))
    return "\n".join(lines)


@localised
def urgent_alert(reference: str, reasons: tuple[str, ...], out_of_hours_route: str) -> str:
    return _(
        "URGENT referral {reference}: {reasons}.\nThis bot is not an emergency "
        "service. Out of hours, contact {out_of_hours_route}.\nSend /case "
        "{reference} to read it."
    ).format(reference=reference, reasons=", ".join(reasons), out_of_hours_route=out_of_hours_route)


@localised
def referral_submitted(reference: str, urgent: bool, repeat_of: str | None) -> str:
    lines = [
        _("Thank you. Your referral is {reference}. The MARAC coordinator has been told.").format(
            reference=reference
        )
    ]
    if urgent:
        lines.append(
            _("It is marked urgent: the coordinator and on-call contacts were alerted now.")
        )
    if repeat_of:
        lines.append(
            _("It may be a repeat of {repeat_of}; the coordinator will confirm.").format(
                repeat_of=repeat_of
            )
        )
    lines.append(_("Your draft has been erased from the bot."))
    return "\n".join(lines)


CASE_NOT_FOUND = N_(
    "There is no case with that reference that you can open. Check the reference as it "
    "appears in your messages, and send /case followed by it."
)
CANNOT_EXCLUDE_SELF = N_("You cannot put yourself on the must-not-receive list.")
STATUS_NAMES: dict[str, str] = {
    "submitted": N_("awaiting triage"),
    "info_requested": N_("more information requested"),
    "accepted": N_("accepted for MARAC"),
    "declined": N_("declined"),
}


@localised
def already_triaged(reference: str, status: str, who: str) -> str:
    return _("{reference} was already {status} by {who}. Nothing changed.").format(
        reference=reference, status=STATUS_NAMES.get(status, status), who=who
    )


@localised
def repeat_already_decided(other: str, decision: str) -> str:
    return _("The match with {other} was already {decision}. Nothing changed.").format(
        other=other, decision=decision
    )


@localised
def triage_outcome(reference: str, step: str) -> str:
    return {
        "accepted": (
            _(
                "Your referral {reference} has been accepted. It will be listed for the "
                "next MARAC meeting, and you will be asked for research before it."
            ).format(reference=reference)
        ),
        "info_requested": (
            _(
                "The MARAC coordinator needs more information on {reference}. Send /case "
                "{reference} to read the request."
            ).format(reference=reference)
        ),
        "declined": (
            _(
                "Your referral {reference} was not accepted for MARAC. Send /case "
                "{reference} to read the reason."
            ).format(reference=reference)
        ),
    }[step]


RELATIONSHIP_NAMES = {
    "partner": N_("partner"),
    "ex_partner": N_("ex-partner"),
    "family": N_("family member"),
    "other": N_("other"),
}


@localised
def _uk_date(value: object) -> str:
    """Dates are kept as ISO text in drafts and sealed records; people read 14 Mar 1990."""
    try:
        return date.fromisoformat(str(value)).strftime("%d %b %Y").lstrip("0")
    except ValueError:
        return _("not known")


@localised
def _yes_no(value: object) -> str:
    if value is True:
        return _("yes")
    if value is False:
        return _("no")
    return _("not known") if value is None else str(value)


@localised
def referral_review(payload: dict[str, object], yes: int, not_known: int) -> str:
    """The whole referral read back before submitting (a protected, self-deleting message)."""
    criterion = CRITERION_NAMES.get(str(payload.get("criterion")), "")
    lines = [
        _("Please check the referral before you submit it."),
        _("Safe to contact: {yes_no}; victim aware: {yes_no2}; consent: {yes_no3}").format(
            yes_no=_yes_no(payload.get("safe_to_contact")),
            yes_no2=_yes_no(payload.get("victim_aware")),
            yes_no3=_yes_no(payload.get("consent")),
        ),
        *(
            [dash_form_line("dara", str(payload.get("dara_level")))]
            if payload.get("dash_form") == "dara"
            else [
                _("DASH: {yes} yes, {not_known} not known, of 24").format(
                    yes=yes, not_known=not_known
                ),
                dash_form_line(str(payload.get("dash_form") or "safelives"), None),
            ]
        ),
        _("Criterion: {criterion}").format(criterion=criterion),
        _("Victim: {victim_name}, born {uk_date}").format(
            victim_name=payload.get("victim_name"), uk_date=_uk_date(payload.get("victim_dob"))
        ),
        _("Person causing harm: {perp_name} ({relationship})").format(
            perp_name=payload.get("perp_name") or _("not known"),
            relationship=RELATIONSHIP_NAMES.get(
                str(payload.get("relationship")), _("relationship not given")
            ),
        ),
        *children_lines(
            payload.get("children"), payload.get("children_count"), payload.get("children_ages")
        ),
        _("Urgent: {yes_no}").format(yes_no=_yes_no(payload.get("urgent"))),
        _("Concerns: {summary}").format(summary=payload.get("summary")),
    ]
    return "\n".join(lines)


@localised
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
        _("Case {reference}").format(reference=reference) + (_(" — URGENT") if urgent else ""),
        _("Status: {status}").format(status=STATUS_NAMES.get(status, status)),
        _("Criterion: {criterion}; DASH {dash_yes} yes, {dash_not_known} not known").format(
            criterion=CRITERION_NAMES.get(criterion, criterion),
            dash_yes=dash_yes,
            dash_not_known=dash_not_known,
        ),
        _("Referred {referred_on} by {referring_agency}; children in household: {children}").format(
            referred_on=referred_on, referring_agency=referring_agency, children=children
        ),
        *(dash_lines or []),
    ]
    if repeat_of:
        lines.append(_("Repeat of {repeat_of}").format(repeat_of=repeat_of))
    for other in possible_repeats:
        lines.append(_("Possible repeat of {other} (not yet confirmed)").format(other=other))
    if details:
        lines += ["", *details]
    if excluded:
        lines.append(_("Must not receive: ") + ", ".join(excluded))
    lines += ["", _("History:"), *history]
    return "\n".join(lines)


STEP_NAMES = {
    "submitted": N_("referred"),
    "info_requested": N_("more information requested"),
    "accepted": N_("accepted"),
    "declined": N_("declined"),
    "repeat_suggested": N_("possible repeat found"),
    "repeat_confirmed": N_("repeat confirmed"),
    "repeat_rejected": N_("repeat match rejected"),
    "urgent_alerted": N_("urgent alert sent"),
    "person_excluded": N_("someone added to must-not-receive"),
}
ASK_INFO_NOTE = N_(
    "What information do you need from the referrer? It is stored encrypted and shown to them "
    "in the case card. Send /cancel to stop."
)
ASK_DECLINE_REASON = N_(
    "Why is this referral declined? The referrer will see the reason. Send /cancel to stop."
)
CHOOSE_PERSON_TO_EXCLUDE = N_(
    "Who must not receive anything about this case (for example someone related to the "
    "person causing harm)?"
)


@localised
def case_info_requested(reference: str) -> str:
    return _(
        "Request sent: the referrer of {reference} has been asked for more information."
    ).format(reference=reference)


@localised
def case_declined(reference: str) -> str:
    return _("{reference} declined. The referrer has been told and can read your reason.").format(
        reference=reference
    )


@localised
def repeat_decided(reference: str, other: str, confirmed: bool) -> str:
    if confirmed:
        return _("{reference} is recorded as a repeat of {other}.").format(
            reference=reference, other=other
        )
    return _("Noted: {reference} is not the same victim as {other}.").format(
        reference=reference, other=other
    )


@localised
def person_excluded(name: str, reference: str) -> str:
    return _("{name} will not receive anything about {reference}.").format(
        name=name, reference=reference
    )


RESEARCH_ONLY_NOTE = N_(
    "Shown so your agency can search its records. The referral's safety details and concerns "
    "stay with the coordinator and chair."
)


@localised
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
            _("Victim: {name}, born {uk_date}").format(
                name=victim.get("name"), uk_date=_uk_date(victim.get("dob"))
            ),
            _("Other names: {aliases}; address: {address}").format(
                aliases=victim.get("aliases") or _("none"),
                address=victim.get("address") or _("not given"),
            ),
        ]
        if victim is not None
        else [_(NO_VICTIM_SHOWN)]
    )
    lines = [
        *about_victim,
        _("Person causing harm: {name}").format(name=perpetrator.get("name") or _("not known"))
        + (
            _(", born {uk_date}").format(uk_date=_uk_date(perpetrator.get("dob")))
            if perpetrator.get("dob")
            else ""
        ),
        _("Relationship: {relationship}").format(
            relationship=RELATIONSHIP_NAMES.get(str(household.get("relationship")), _("not given"))
        ),
        *(children or []),
    ]
    if safety is None:
        return [*lines, _(RESEARCH_ONLY_NOTE), *notes]
    lines += [
        _("Safe to contact: {yes_no}. Safety notes: {safe_details}").format(
            yes_no=_yes_no(safety.get("safe_to_contact")),
            safe_details=safety.get("safe_details") or _("none"),
        ),
        _("Consent: {yes_no}").format(yes_no=_yes_no(safety.get("consent")))
        + (
            _(" — shared without consent because: {consent_reason}").format(
                consent_reason=safety.get("consent_reason")
            )
            if safety.get("consent") is False
            else ""
        ),
        _("Concerns: {summary}").format(summary=summary),
    ]
    if judgement_reason:
        lines.append(
            _("Professional judgement: {judgement_reason}").format(
                judgement_reason=judgement_reason
            )
        )
    lines += notes
    return lines


ON_CALL_NOTE = N_("On-call contact: receives urgent-case alerts at any hour.")


@localised
def on_call_changed(name: str, on_call: bool) -> str:
    if on_call:
        return _(
            "{name} is now an on-call contact and will receive urgent-case alerts at any hour."
        ).format(name=name)
    return _("{name} will no longer receive urgent-case alerts.").format(name=name)


# --- Meetings ------------------------------------------------------------------------------

MEETING_NOT_FOUND = N_("That meeting is not scheduled any more. Send /meetings to see the list.")
MEETING_IN_PAST = N_("That time has already passed. Please choose a later date or time.")
MEETING_ALREADY_STARTED = N_(
    "That meeting has already started, so attendance can no longer change."
)
AGENDA_ALREADY_PUBLISHED = N_("This agenda has already been published. Nothing else to do.")
AGENDA_NOT_PUBLISHED = N_("The agenda has not been published yet, so research is not open.")
AGENDA_ITEM_NOT_FOUND = N_("That case is no longer on this agenda. Send /meetings for the latest.")
CASE_ALREADY_ON_THAT_MEETING = N_("The case is already listed for that meeting.")
CALENDAR_DESCRIPTION = N_(
    "MARAC meeting. The agenda and case references are in the MARAC bot; case details are "
    "never put in calendar invitations."
)
NO_MEETINGS = N_("No meetings are scheduled.")
UPCOMING_MEETINGS = N_("Upcoming MARAC meetings:")


@localised
def calendar_summary(area: str) -> str:
    return _("MARAC meeting, {area}").format(area=area)


@localised
def ask_meeting_date(today: date) -> str:
    return _(
        "New meeting. What is the date of the first meeting? For example {example_date}."
    ).format(example_date=example_date(today, 14))


ASK_MEETING_TIME = N_("What time does it start? For example 10:00.")
ASK_MEETING_REPEAT = N_("How often does it repeat?")
ASK_MEETING_LOCATION = N_(
    "Where is it held? Send the room or the video link (kept encrypted), or 'none'."
)


@localised
def ask_move_date(today: date) -> str:
    return _("Moving the meeting. What is the new date? For example {example_date}.").format(
        example_date=example_date(today, 21)
    )


ASK_MOVE_TIME = N_("And the new start time? For example 10:00.")
ASK_RESEARCH_NOTE = N_(
    "What does your agency know? Keep it short and factual; it is stored encrypted and shared "
    "only at the MARAC. Send /cancel to stop."
)
ASK_APOLOGIES_REASON = N_("Please give a short reason for the apologies (for the minutes).")
REPEAT_BUTTONS = {
    "one_off": N_("Once only"),
    "fortnightly": N_("Every 2 weeks"),
    "four_weekly": N_("Every 4 weeks"),
    "monthly_nth_weekday": N_("Monthly, same weekday"),
}
ATTENDANCE_NAMES = {
    "attending": N_("attending"),
    "deputy": N_("sending a deputy"),
    "apologies": N_("apologies"),
}


@localised
def meetings_scheduled(description: str, first: str, count: int, off_days: list[str]) -> str:
    text = _(
        "Scheduled {description}: {count} meeting(s), the first on {first}. "
        "Accepted cases are listed automatically until each agenda's cut-off. "
        "Everyone is invited when the agenda is published."
    ).format(description=description, count=count, first=first)
    if off_days:
        text += _("\nOn days that are not working days:\n") + "\n".join(
            f"• {line}" for line in off_days
        )
    return text


# --- Closure days -------------------------------------------------------------------------

CLOSURE_NOT_FOUND = N_(
    "That day is not one of your area's closure days. Send /closures for the list."
)
NO_CLOSURES = N_("No closure days are set from today on.")


@localised
def closures_list(area: str, lines: list[str]) -> str:
    return _(
        "Closure days for {area}. Like bank holidays, they are not working days: "
        "no deadline falls on them and no reminder or chase is sent on them.\n"
    ).format(area=area) + ("\n".join(f"• {line}" for line in lines) if lines else _(NO_CLOSURES))


@localised
def closure_line(day: date, note: str | None) -> str:
    return f"{format_day(day)}: {note}" if note else format_day(day)


@localised
def ask_closure(today: date) -> str:
    return _(
        "Send the closure day and what it is, for example {example_date} "
        "Christmas Eve. For several days, give the first and the last with 'to' "
        "between them, like {example_date2} to {example_date3} council closure. "
        "Send /cancel to stop."
    ).format(
        example_date=example_date(today, 18),
        example_date2=example_date(today, 21),
        example_date3=example_date(today, 23),
    )


@localised
def closures_added(added: list[str], already: list[str], reminders_moved: int) -> str:
    lines = []
    if added:
        lines.append(_("Closure days added: ") + ", ".join(added) + ".")
        lines.append(_("Deadlines and reminders from now on skip them."))
    if reminders_moved:
        lines.append(
            _(
                "{reminders_moved} reminder(s) already queued for them moved to a working day."
            ).format(reminders_moved=reminders_moved)
        )
    if already:
        lines.append(
            _("Already not working days (weekend or bank holiday): ") + ", ".join(already) + "."
        )
    return "\n".join(lines) or _("Nothing to add.")


@localised
def closure_meeting_warning(when: str) -> str:
    return _(
        "The MARAC meeting on {when} now falls on a closure day. Move it to the "
        "working day before or after (everyone invited is told), or keep it?"
    ).format(when=when)


@localised
def closure_removed(day: date) -> str:
    return _("{format_day} is a working day again for deadlines and reminders from now on.").format(
        format_day=format_day(day)
    )


@localised
def meeting_kept(when: str) -> str:
    return _("The meeting stays on {when}. Nothing was changed.").format(when=when)


@localised
def day_off_reason(off: NotWorking) -> str:
    """Why a day is not a working day, as it completes "Fri 25 Dec 2026 is ..."."""
    if off.reason is DayOff.SATURDAY:
        return _("a Saturday")
    if off.reason is DayOff.SUNDAY:
        return _("a Sunday")
    if off.reason is DayOff.BANK_HOLIDAY:
        return _("{name}, a bank holiday").format(name=off.name)
    return (
        _("a closure day in your area ({name})").format(name=off.name)
        if off.name
        else _("a closure day in your area")
    )


@localised
def off_day_warning(off: NotWorking) -> str:
    return _(
        "{format_day} is {day_off_reason}, so agencies may not be able to "
        "attend. Hold the meeting on the working day before or after, or keep "
        "this date?"
    ).format(format_day=format_day(off.day), day_off_reason=day_off_reason(off))


@localised
def keep_day_button(day: date) -> str:
    return _("Keep {format_day}").format(format_day=format_day(day))


@localised
def series_off_days_question(off_days: list[NotWorking]) -> str:
    lines = [f"• {format_day(off.day)}: {day_off_reason(off)}" for off in off_days]
    return (
        _(
            "In the next 12 months these meetings of the series fall on a day that is not a "
            "working day:\n"
        )
        + "\n".join(lines)
        + _("\nWhat should happen to them, now and whenever the series adds more meetings?")
    )


OFF_DAY_RULE_BUTTONS = {
    "before": N_("Move each to the working day before"),
    "after": N_("Move each to the working day after"),
    "keep": N_("Keep them on those days"),
}


@localised
def planned_day_line(plan: PlannedDay) -> str:
    """One meeting of a series that fell on a non-working day: moved, or kept as asked."""
    assert plan.off is not None
    reason = day_off_reason(plan.off)
    if plan.moved:
        return _("{format_day} ({reason}) moved to {format_day2}").format(
            format_day=format_day(plan.series_day), reason=reason, format_day2=format_day(plan.day)
        )
    return _("{format_day} ({reason}) kept on that day").format(
        format_day=format_day(plan.day), reason=reason
    )


@localised
def series_extended_off_days(description: str, lines: list[str]) -> str:
    return (
        _(
            "More meetings of the series ({description}) have been scheduled. On "
            "days that are not working days:\n"
        ).format(description=description)
        + "\n".join(f"• {line}" for line in lines)
        + _("\nSend /meetings to move one.")
    )


@localised
def meeting_line(when: str, listed: int, capacity: int, published: bool) -> str:
    state = _("agenda published") if published else _("agenda open")
    warning = _(" — OVER CAPACITY") if listed > capacity else ""
    return _("• {when}: {listed} of {capacity} cases, {state}{warning}").format(
        when=when, listed=listed, capacity=capacity, state=state, warning=warning
    )


@localised
def meeting_moved(when: str) -> str:
    return _(
        "The MARAC meeting has moved to {when}. The updated calendar invitation is attached."
    ).format(when=when)


@localised
def meeting_cancelled(when: str) -> str:
    return _(
        "The MARAC meeting on {when} is cancelled. Its cases move to the next "
        "meeting. The attached file removes it from your calendar."
    ).format(when=when)


@localised
def meeting_invitation(when: str) -> str:
    return _(
        "You are invited to the MARAC meeting on {when}. Open the attached file "
        "to add it to your calendar."
    ).format(when=when)


@localised
def research_request(when: str, references: list[str], deadline: str) -> str:
    if not references:
        return _(
            "The agenda for the MARAC on {when} is published. There are no cases listed yet."
        ).format(when=when)
    return _(
        "Research for the MARAC on {when}: {references_count} case(s). Please "
        "return what your agency knows about each by {deadline}. Press a case to "
        "answer."
    ).format(when=when, references_count=len(references), deadline=deadline)


@localised
def attendance_request(when: str) -> str:
    return _("Will your agency attend the MARAC on {when}?").format(when=when)


@localised
def attendance_chase(when: str) -> str:
    return _(
        "Reminder: please confirm whether your agency will attend the MARAC on {when}."
    ).format(when=when)


@localised
def research_due(when: str, deadline: str) -> str:
    return _(
        "Reminder: research for the MARAC on {when} is due by {deadline}. Cases "
        "not yet answered are in the research message above."
    ).format(when=when, deadline=deadline)


@localised
def meeting_reminder(when: str, hours: int | None) -> str:
    if hours is not None:
        return _("The MARAC meeting starts in {hours} hour{s} ({when}).").format(
            hours=hours, s="s" if hours != 1 else "", when=when
        )
    return _("Reminder: the MARAC meeting is on {when}. Send /meetings for the agenda.").format(
        when=when
    )


@localised
def research_options(reference: str, when: str) -> str:
    return _("{reference} (MARAC on {when}): what does your agency know?").format(
        reference=reference, when=when
    )


@localised
def research_recorded(reference: str, nothing_known: bool) -> str:
    if nothing_known:
        return _("Recorded: nothing known about {reference}. Thank you.").format(
            reference=reference
        )
    return _("Recorded your information on {reference}. You can add more at any time.").format(
        reference=reference
    )


@localised
def attendance_recorded(when: str, status: str) -> str:
    return _("Recorded for the MARAC on {when}: {status}. Thank you.").format(
        when=when, status=_(ATTENDANCE_NAMES[status])
    )


@localised
def case_listed(reference: str, when: str | None, over: bool, suggestion: str | None) -> str:
    if when is None:
        return _(
            "{reference} accepted. No meeting is open for it yet: it will be listed "
            "when you schedule one with /meetings. The referrer has been told."
        ).format(reference=reference)
    text = _(
        "{reference} accepted and listed for the MARAC on {when}. The referrer has been told."
    ).format(reference=reference, when=when)
    if over:
        text += _(" That meeting is over its capacity")
        text += (
            _("; the next with room is {suggestion}.").format(suggestion=suggestion)
            if suggestion
            else "."
        )
    return text


@localised
def digest_meeting(when: str, outstanding: int, silent: list[str]) -> str:
    attendance = (
        _("no attendance reply from {silent}").format(silent=", ".join(silent))
        if silent
        else _("all replied")
    )
    return _("MARAC {when}: {outstanding} research answer(s) outstanding; {attendance}.").format(
        when=when, outstanding=outstanding, attendance=attendance
    )


@localised
def morning_digest(
    area: str, awaiting_triage: int, meetings: list[str], idva: str | None = None
) -> str:
    lines = [
        _("Good morning. {area} today:").format(area=area),
        _("Referrals awaiting triage: {awaiting_triage}").format(awaiting_triage=awaiting_triage),
    ]
    lines += meetings or [_("No published agenda in the next two meetings.")]
    if idva:
        lines.append(idva)
    return "\n".join(lines)


@localised
def apology_reason(reason: str) -> str:
    """After "apologies" in the attendance roll, for those who write the minutes."""
    return f" ({reason})"


@localised
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
    head = [
        _("MARAC meeting {when}").format(when=when),
        _("Where: {location}").format(location=location or _("not given")),
    ]
    head.append(
        _("Cases: {listed} of {capacity}").format(listed=listed, capacity=capacity)
        + (_(" — OVER CAPACITY") if listed > capacity else "")
    )
    head.append(_("Agenda published") if published else _("Agenda not yet published"))
    body = head + ["", _("Agenda:")] + (lines or [_("(no cases yet)")])
    if grid:
        body += ["", _("Research returned (agencies):"), *grid]
    if roll:
        body += ["", _("Attendance:"), *roll]
    return "\n".join(body)


CONFIRM_CANCEL_MEETING = N_(
    "Cancel this meeting? Everyone invited is told, and its cases move to the next meeting."
)
CHANGE_AGENDA_ITEM = N_("What should happen to this case?")
NO_LATER_MEETING = N_("There is no later meeting to move it to. Schedule one with /meetings first.")


@localised
def meeting_cancelled_done(when: str) -> str:
    return _("The meeting on {when} is cancelled. Everyone invited has been told.").format(
        when=when
    )


@localised
def agenda_published(when: str, cases: int) -> str:
    return _(
        "Agenda for {when} published with {cases} case(s). Every agency has been "
        "asked for research and attendance, and everyone invited gets a calendar "
        "invitation."
    ).format(when=when, cases=cases)


@localised
def case_moved(reference: str, when: str) -> str:
    return _("{reference} moved to the meeting on {when}.").format(reference=reference, when=when)


@localised
def case_marked_emergency(reference: str) -> str:
    return _("{reference} is marked urgent and heads the agenda.").format(reference=reference)


@localised
def meeting_moved_done(when: str) -> str:
    return _(
        "The meeting is now on {when}. Everyone invited has been told, with a new invitation."
    ).format(when=when)


NOTHING_KNOWN = N_("nothing known")


@localised
def research_line(agency: str, when: str, note: str) -> str:
    return _("Research from {agency} ({when}): {note}").format(agency=agency, when=when, note=note)


ASK_MEETING_CHAIR = N_("Who chairs it?")
CHAIR_CHOSEN = N_("Chair noted.")
CHAIR_LATER = N_("No chair recorded for these meetings.")


@localised
def case_moved_up(reference: str, position: int) -> str:
    return _("{reference} is now number {position} on the agenda.").format(
        reference=reference, position=position
    )


# --- Actions and perpetrator-service referrals ----------------------------------------------

ACTION_ALREADY_SENT = N_("That action has already been sent to the agency, so it cannot be undone.")
MEETING_ALREADY_CLOSED = N_("This meeting is already closed and its actions sent.")
NOT_POSSIBLE_NEEDS_REASON = N_("Please say why it is not possible (what changed).")
ACTION_NOT_FOUND = N_("That action is not one of your agency's. Send /actions for your list.")
REFERRAL_NOT_FOUND = N_("That referral is not one of your service's. Send /actions for your list.")
WAITING_WEEKS_RANGE = N_("Please give the waiting time as a number of weeks from 0 to 104.")
NO_OPEN_ACTIONS = N_("Your agency has no open actions.")
ASK_ACTION_LINES = N_(
    "Send one action per message, for example:\n"
    "Police: check bail conditions and visit within 5 working days high\n"
    "Each is saved as you send it; press Undo under one to take it back. Send /done when "
    "this case is finished."
)
ASK_NOT_POSSIBLE_REASON = N_("What changed, so that it is not possible? (a short reason)")
ASK_DONE_NOTE = N_("Any short outcome note? Send 'none' if not.")
CHOOSE_COLLEAGUE = N_("Who should take this action over?")
NO_COLLEAGUES = N_("There is nobody else enrolled in your agency to take it over.")


@localised
def action_refused(message: str, who: str) -> str:
    return _("{message} (last changed by {who}). Nothing was changed.").format(
        message=message, who=who
    )


@localised
def action_assigned(reference: str, due: str, high: bool) -> str:
    priority = _(" High priority.") if high else ""
    return _(
        "New MARAC action for your agency on {reference}, due {due}.{priority} "
        "Send /actions to read it; please accept it or update it with the "
        "buttons."
    ).format(reference=reference, due=due, priority=priority)


@localised
def action_accept_chase(reference: str) -> str:
    return _("Reminder: please accept or update your agency's MARAC action on {reference}.").format(
        reference=reference
    )


@localised
def action_reassigned_to_you(reference: str) -> str:
    return _(
        "A colleague has passed you a MARAC action on {reference}. Send /actions to read it."
    ).format(reference=reference)


@localised
def action_overdue(reference: str, due: str) -> str:
    return _("Your agency's MARAC action on {reference} was due {due} and is still open.").format(
        reference=reference, due=due
    )


@localised
def action_escalated(reference: str, agency: str, due: str) -> str:
    return _(
        "Escalation: {agency}'s action on {reference} was due {due} and is over "
        "3 working days overdue."
    ).format(agency=agency, reference=reference, due=due)


@localised
def action_card(reference: str, agency: str, text: str, due: str, state: str, priority: str) -> str:
    high = _(", high priority") if priority == "high" else ""
    return _("{reference} — {agency}{high}\n{text}\nDue {due}. Status: {state}.").format(
        reference=reference, agency=agency, high=high, text=text, due=due, state=state
    )


@localised
def action_saved(number: int, line: str, unreachable_agency: str | None = None) -> str:
    text = _("Saved action {number}: {line}").format(number=number, line=line)
    if unreachable_agency:
        text += "\n" + nobody_may_receive(unreachable_agency)
    return text


@localised
def nobody_may_receive(agency: str) -> str:
    return _(
        "Warning: nobody at {agency} can be sent this action: nobody is enrolled "
        "there, or everyone enrolled is on this case's must-not-receive list. "
        "Ask the agency to enrol someone who may receive it, or give the action "
        "to another agency."
    ).format(agency=agency)


@localised
def actions_closed(count: int, unreached: list[tuple[str, str]]) -> str:
    text = _(
        "Meeting closed. {count} action(s) sent to the agencies, who are asked "
        "to accept them; overdue actions are chased daily and escalated to you "
        "after 3 working days."
    ).format(count=count)
    if unreached:
        text += _("\nNot sent, because nobody at the agency may receive the case:\n") + "\n".join(
            f"• {reference}: {agency}" for reference, agency in unreached
        )
    return text


@localised
def perpetrator_stale(reference: str) -> str:
    return _(
        "The perpetrator-service referral on {reference} has not changed for 20 "
        "working days. Please update it with /actions."
    ).format(reference=reference)


@localised
def summary_agency_line(agency: str, open_: int, done: int, not_possible: int, overdue: int) -> str:
    return _(
        "• {agency}: {open_} open ({overdue} overdue), {done} done, {not_possible} not possible"
    ).format(agency=agency, open_=open_, overdue=overdue, done=done, not_possible=not_possible)


ASK_WAITING_WEEKS = N_("How many weeks is your service's current waiting time? Type a number.")


@localised
def action_undone(reference: str) -> str:
    return _("Taken back: that action on {reference} has been removed.").format(reference=reference)


@localised
def actions_recorded(count: int) -> str:
    return _(
        "{count} action(s) recorded. They are sent to the agencies when you close the meeting."
    ).format(count=count)


@localised
def open_actions_heading(count: int) -> str:
    return _(
        "Your agency has {count} open action(s), oldest due first. Press one to update it."
    ).format(count=count)


@localised
def action_moved(reference: str, state: str) -> str:
    return _("{reference}: action now {lower}. Thank you.").format(
        reference=reference, lower=state.lower()
    )


@localised
def waiting_recorded(service: str, weeks: int) -> str:
    return _("Recorded: {service} has a waiting time of {weeks} weeks.").format(
        service=service, weeks=weeks
    )


@localised
def action_button(reference: str, due: str, overdue: bool) -> str:
    return _("{reference}, due {due}").format(reference=reference, due=due) + (
        _(" (overdue)") if overdue else ""
    )


# -- Perpetrator-service work: contact planned, sessions, end reasons (issue #18) ------------
# Every text about a step says exactly who was told of it: the case's allocated IDVA, or,
# when there is none who may receive it, the area's coordinators.

ASK_PERP_REASON = N_("Please give a short reason (it is shared with whoever is told of the step).")
ASK_END_REASON = N_("Why did the referral end? Choose one.")
PERP_CONTACT_BEFORE_ATTEMPT = N_(
    "Please record when first contact is planned before contact is attempted, so the "
    "victim's IDVA can plan the victim's safety first."
)
PERP_CONTACT_DATE_PASSED = N_(
    "That date has passed. Please send the date first contact is planned for, today or later."
)
PERP_CONTACT_DATE_TOO_FAR = N_(
    "That date is more than a year away. Please check the year and send the date again."
)
PERP_NEEDS_CONTACT_DATE = N_("Please send the date first contact is planned for.")
PERP_NEEDS_END_REASON = N_("Please choose why the referral ended.")
PROBATION_INVOLVED = N_("Probation involved: yes")
PROBATION_NOT_KNOWN = N_("Probation involved: not known")
WS_PLANNED_CONTACT = N_("First contact planned for")
WS_PERP_ENDED_BECAUSE = N_("Ended because")


@localised
def ws_sessions(attended: int, missed: int) -> str:
    return _("Sessions: {attended} attended, {missed} missed").format(
        attended=attended, missed=missed
    )


# Who was told of a step, keyed by ``bot.actions.states.Told``.
TOLD_COORDINATORS_NO_IDVA = N_(
    "No IDVA is allocated to this case, so the coordinators have been told."
)
TOLD_COORDINATORS_IDVA_UNREACHABLE = N_(
    "The case's allocated IDVA cannot be sent this, so the coordinators have been told."
)
TOLD_NOBODY = N_(
    "Nobody could be told: no IDVA who may receive this case is allocated, and no coordinator "
    "may receive it. Please tell the coordinator."
)


@localised
def told_idva(name: str) -> str:
    return _("The victim's allocated IDVA, {name}, has been told.").format(name=name)


@localised
def ask_contact_date(example: str) -> str:
    return _(
        "On what date is first contact with the person causing harm planned? For "
        "example {example}. The case's IDVA (or, if none is allocated, the "
        "coordinators) is told at once, before any contact."
    ).format(example=example)


@localised
def perpetrator_moved(reference: str, state: str, told: str) -> str:
    return _("{reference}: referral now {lower}. {told}").format(
        reference=reference, lower=state.lower(), told=told
    )


@localised
def perpetrator_contact_planned_moved(reference: str, when: str, told: str) -> str:
    return _("{reference}: first contact planned for {when}. {told}").format(
        reference=reference, when=when, told=told
    )


@localised
def perpetrator_update(
    reference: str, service: str, state: str, *, end_reason: str | None = None, note: str = ""
) -> str:
    because = f" ({end_reason.lower()})" if end_reason else ""
    return _(
        "Perpetrator-service referral on {reference} ({service}): now {lower}{because}.{note}"
    ).format(reference=reference, service=service, lower=state.lower(), because=because, note=note)


@localised
def perpetrator_contact_planned(reference: str, service: str, when: str, note: str = "") -> str:
    return _(
        "{service} plans first contact with the person causing harm on {when} "
        "({reference}). Plan the victim's safety before then.{note}"
    ).format(service=service, when=when, reference=reference, note=note)


NOTE_NO_IDVA = N_(
    " No IDVA is allocated to this case, so you are told instead: please allocate one."
)
NOTE_IDVA_UNREACHABLE = N_(
    " The case's allocated IDVA cannot be sent this, so you are told instead: please check the "
    "allocation."
)


@localised
def perpetrator_first_contact_chase(reference: str) -> str:
    return _(
        "The perpetrator-service referral on {reference} has had no contact "
        "planned or recorded for 10 working days. Please update it with /actions."
    ).format(reference=reference)


@localised
def perpetrator_planned_contact_chase(reference: str, when: str) -> str:
    return _(
        "First contact on the perpetrator-service referral {reference} was "
        "planned for {when}. Please record whether contact was attempted, or "
        "plan a new date, with /actions."
    ).format(reference=reference, when=when)


@localised
def perpetrator_line(
    reference: str, state: str, probation: bool, end_reason: str | None = None
) -> str:
    because = f" ({end_reason.lower()})" if end_reason else ""
    involved = _(PROBATION_INVOLVED) if probation else _(PROBATION_NOT_KNOWN)
    return _("Perpetrator-service referral {reference}: {lower}{because}. {involved}.").format(
        reference=reference, lower=state.lower(), because=because, involved=involved
    )


@localised
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
    wait = (
        _("{weeks} weeks' wait").format(weeks=weeks)
        if weeks is not None
        else _("waiting time not given")
    )
    contact = (
        _("median {median_first_contact:.0f} days to first contact").format(
            median_first_contact=median_first_contact
        )
        if median_first_contact is not None
        else _("no first contact yet")
    )
    start = (
        _("median {median:.0f} days to start").format(median=median)
        if median is not None
        else _("none started yet")
    )
    outcomes = (
        _(
            "{ended} ended: {completed} completed ({rate}), {disengaged} disengaged ({rate2})"
        ).format(
            ended=ended,
            completed=completed,
            rate=rate(completed, ended),
            disengaged=disengaged,
            rate2=rate(disengaged, ended),
        )
        if ended
        else _("none ended yet")
    )
    return _(
        "• {service}: {waiting} waiting to start; {wait}; {contact}; {start}; {outcomes}"
    ).format(
        service=service, waiting=waiting, wait=wait, contact=contact, start=start, outcomes=outcomes
    )


@localised
def rate(part: int, whole: int) -> str:
    return _("{value:.0%}").format(value=part / whole) if whole else _("no rate")


PLAN_DAYS_NOTE = N_("Days are calendar days from the referral.")
BUTTON_PERP_CSV = N_("Perpetrator services CSV")


# -- Serial perpetrators: references only, never names ---------------------------------------

STEP_NAMES["serial_perpetrator"] = N_("person causing harm found in other cases")


@localised
def serial_perpetrator_alert(reference: str, others: list[str]) -> str:
    who = _("a different victim") if len(others) == 1 else _("victims other than this one")
    return _(
        "Person causing harm in other cases: the person causing harm in "
        "{reference} also appears in {others} ({who}). Send /case {reference} to "
        "see the link."
    ).format(reference=reference, others=", ".join(others), who=who)


@localised
def serial_links(references: list[str]) -> str:
    return _("Same person causing harm as: ") + ", ".join(references)


@localised
def outstanding_note(count: int) -> str:
    return _(" — {count} action(s) outstanding from before").format(count=count)


STATS_DOCUMENT = N_("Here it is, sent privately and protected from forwarding.")

STEP_NAMES["erasure_requested"] = N_("early erasure requested")
STEP_NAMES["erasure_withdrawn"] = N_("early erasure request withdrawn")
ERASURE_REASONS = {
    "wrong_person": N_("Wrong person referred"),
    "legal_instruction": N_("Legal instruction"),
    "other": N_("Other reason"),
}
CHOOSE_ERASURE_REASON = N_(
    "Erase this case early? Everything about it is destroyed for good, backups included. "
    "Another coordinator must confirm. Choose the reason:"
)


@localised
def erasure_requested(reference: str) -> str:
    return _("Early erasure of {reference} requested. Another coordinator must confirm it.").format(
        reference=reference
    )


@localised
def erasure_confirm_request(reference: str, reason: str) -> str:
    return _(
        "Early erasure of {reference} was requested ({lower}). If you agree, "
        "confirm below: it cannot be undone."
    ).format(reference=reference, lower=reason.lower())


@localised
def erasure_done(reference: str) -> str:
    return _("{reference} has been erased. Only the audit trail records that it existed.").format(
        reference=reference
    )


@localised
def erasure_withdrawn(reference: str) -> str:
    return _("The erasure request for {reference} was withdrawn. Nothing was erased.").format(
        reference=reference
    )


# -- /actions in pages: a long list never outgrows one Telegram message ----------------------

MORE_ACTIONS = N_("More actions")
PREVIOUS_ACTIONS = N_("Previous actions")
MORE_REFERRALS = N_("More referrals")
PREVIOUS_REFERRALS = N_("Previous referrals")


@localised
def open_actions_showing(first: int, last: int, total: int) -> str:
    return _("Showing {first} to {last} of {total}.").format(first=first, last=last, total=total)


@localised
def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@localised
def open_action_line(
    number: int, reference: str, due: str, overdue: bool, state: str, by: str, action: str
) -> str:
    """One open action in the list: enough to tell it from the others; the card has the rest."""
    late = _(" (overdue)") if overdue else ""
    return _("{number}. {reference}, due {due}{late}, {lower} by {shorten}: {shorten2}").format(
        number=number,
        reference=reference,
        due=due,
        late=late,
        lower=state.lower(),
        shorten=_shorten(by, 40),
        shorten2=_shorten(action, 70),
    )


@localised
def referrals_showing(first: int, last: int, total: int) -> str:
    return _("Perpetrator-service referrals {first} to {last} of {total}, open ones first.").format(
        first=first, last=last, total=total
    )


# --- Button labels ----------------------------------------------------------------------

BUTTON_ACCEPT = N_("Accept")
BUTTON_ADD_AGENCY = N_("Add agency")
BUTTON_ADD_CLOSURE_DAYS = N_("Add closure days")
BUTTON_ADD_INFORMATION = N_("Add information")
BUTTON_AGREEMENT_DATES = N_("Agreement dates")
BUTTON_ASK_FOR_INFORMATION = N_("Ask for information")
BUTTON_BACK = N_("Back")
BUTTON_BACK_TO_AGENCIES = N_("Back to agencies")
BUTTON_CANCEL = N_("Cancel")
BUTTON_CHART = N_("Chart")
BUTTON_CONFIRM_ERASURE = N_("Confirm erasure")
BUTTON_CONTINUE = N_("Continue")
BUTTON_CSV_RETURN = N_("CSV return")
BUTTON_DEACTIVATE = N_("Deactivate")
BUTTON_DECIDE_LATER = N_("Decide later")
BUTTON_DECLINE = N_("Decline")
BUTTON_DISCARD_AND_START_AGAIN = N_("Discard and start again")
BUTTON_DISCARD_DRAFT = N_("Discard draft")
BUTTON_DONE = N_("Done")
BUTTON_KEEP_IT = N_("Keep it")
BUTTON_KEEP_THE_CASE = N_("Keep the case")
BUTTON_MAKE_ON_CALL_CONTACT = N_("Make on-call contact")
BUTTON_MOVE_MEETING = N_("Move meeting")
BUTTON_MOVE_TO_THE_NEXT_MEETING = N_("Move to the next meeting")
BUTTON_MOVE_UP_THE_AGENDA = N_("Move up the agenda")
BUTTON_NEW_MEETING = N_("New meeting")
BUTTON_NOTHING_KNOWN = N_("Nothing known")
BUTTON_NOT_POSSIBLE = N_("Not possible")
BUTTON_NOT_THE_SAME_PERSON = N_("Not the same person")
BUTTON_OPEN_INVITES = N_("Open invites")
BUTTON_PUBLISH_AGENDA = N_("Publish agenda")
BUTTON_REASSIGN = N_("Reassign")
BUTTON_RENAME = N_("Rename")
BUTTON_SET_OUR_WAITING_TIME = N_("Set our waiting time")
BUTTON_STOP_URGENT_ALERTS = N_("Stop urgent alerts")
BUTTON_SUBMIT_REFERRAL = N_("Submit referral")
BUTTON_UNDO = N_("Undo")
BUTTON_URGENT_EMERGENCY_LISTING = N_("Urgent — emergency listing")
BUTTON_YES_CANCEL_IT = N_("Yes, cancel it")
BUTTON_YES_DEACTIVATE = N_("Yes, deactivate")
BUTTON_YES_REVOKE = N_("Yes, revoke")
BUTTON_MUST_NOT_RECEIVE = N_("Must not receive…")
BUTTON_ERASE_EARLY = N_("Erase early…")


@localised
def button_actions_for(reference: str, when: str) -> str:
    return _("Actions for {reference} ({when})").format(reference=reference, when=when)


@localised
def button_close_meeting(when: str) -> str:
    return _("Close {when} and send actions").format(when=when)


@localised
def button_minutes(when: str) -> str:
    return _("Minutes {when}").format(when=when)


@localised
def button_remove_closure(day: str) -> str:
    return _("Remove {day}").format(day=day)


@localised
def button_move_to(day: str) -> str:
    return _("Move to {day}").format(day=day)


@localised
def button_change(reference: str) -> str:
    return _("Change {reference}").format(reference=reference)


@localised
def button_research(reference: str) -> str:
    return _("Research {reference}").format(reference=reference)


@localised
def button_confirm_repeat(reference: str) -> str:
    return _("Confirm repeat of {reference}").format(reference=reference)


# The home menu's buttons, by the operation that shows each.
MENU_AGENCIES = N_("Agencies")
MENU_INVITE = N_("Invite someone")
MENU_PEOPLE = N_("People")
MENU_AUDIT = N_("Audit trail")
MENU_MEETINGS = N_("Meetings")

PLAN_HEADING = N_("Action plans.")
PLAN_BY_AGENCY = N_("Actions by agency:")
PLAN_PERPETRATOR_SERVICES = N_("Perpetrator services:")
OPEN_INVITES_HEADING = N_("Open invites:")
ENROLLED_HEADING = N_("Enrolled people:")


@localised
def renaming(agency: str) -> str:
    return _("Renaming {agency}. {ask_agency_new_name}").format(
        agency=agency, ask_agency_new_name=_(ASK_AGENCY_NEW_NAME)
    )


@localised
def revoke_invite_button(role: str, where: str) -> str:
    return f"Revoke: {role}, {where}"[:60]


# --- Early erasure refusals ---

ERASURE_UNKNOWN_REASON = N_(
    "Please choose why the case should be erased early: wrong person referred, "
    "a legal instruction, or other."
)
NO_ERASURE_REQUEST = N_(
    "No early erasure has been requested for this case. A coordinator must request it first."
)
SECOND_COORDINATOR_NEEDED = N_(
    "You requested this erasure, so another coordinator must confirm it. Nothing was erased."
)


@localised
def unreachable_notice(role: str, person_id: int) -> str:
    return _(
        "A message to {role} person:{person_id} could not be delivered: they "
        "have blocked the bot or left Telegram. Please contact them another way."
    ).format(role=role, person_id=person_id)


# --- Subject access export (a document for the data protection officer) ---

SAR_NOTE = N_(
    "Everything held about the people in this case, decrypted. Staff appear by person id and "
    "role; the audit trail lists who did or saw what with the case."
)


@localised
def sar_pruned_note(pruned_through: int) -> str:
    return _(
        "Audit events 1-{pruned_through} (all older than 7 years) were deleted "
        "under the retention rule; the trail above begins after them."
    ).format(pruned_through=pruned_through)


# --- The case workspace (a Telegram Mini App) and its stand-in in the chat -------------------
# Pages and chat messages use the same words; templates take every word from here.


@localised
def uk_date(value: object) -> str:
    """An ISO date as people read it (14 Mar 1990); "not known" for anything else."""
    return _uk_date(value)


WS_TITLE = N_("MARAC case workspace")
WS_SKIP_LINK = N_("Skip to the page")
WS_OPENING = N_("Opening your page…")
WS_NEEDS_TELEGRAM = N_(
    "This page opens from a button in your MARAC bot chat. Please go back to the chat and "
    "press the button again."
)
WS_SESSION_ENDED = N_(
    "This page has been open for a while, so it was closed to keep the case safe. Close it "
    "and open it again from the chat."
)
WS_NOT_ENROLLED = NEUTRAL_UNKNOWN
WS_NOT_FOUND = N_(
    "There is nothing here that you can open. It may have been moved or closed; the chat "
    "has the latest."
)
WS_NOT_PERMITTED = N_("This page is not part of your role. The chat shows what you can do.")
WS_UNAVAILABLE = N_("The case workspace cannot be reached just now. Please try again in a minute.")
WS_NOT_SET_UP = N_(
    "The case workspace is not set up here, so case details are sent in protected chat "
    "messages that delete themselves."
)
WS_BACK = N_("Back")
WS_SAVING = N_("Sending…")
WS_SAVED = N_("Sent. Thank you.")

WS_FIELD_NAME = N_("Name")
WS_FIELD_OTHER_NAMES = N_("Other names")
WS_FIELD_DOB = N_("Date of birth")
WS_FIELD_ADDRESS = N_("Address")
WS_FIELD_CHILDREN = N_("Children")
WS_NOT_GIVEN = N_("not given")
WS_VICTIM = N_("Victim")
WS_PERSON_CAUSING_HARM = N_("Person causing harm")
WS_CRITERION = N_("Criterion")
WS_DASH = N_("DASH")
WS_REFERRED_BY = N_("Referred by")
WS_REFERRED_ON = N_("Referred on")
WS_STATUS = N_("Status")
WS_URGENT = N_("Urgent")
WS_EMERGENCY = N_("Heard first")
WS_CHILDREN_IN_HOUSEHOLD = N_("Children in the household")
WS_IDENTIFIERS_CLOSED = N_(
    "The names, dates of birth and addresses are no longer shown: the research window "
    "for this meeting has closed."
)
HARM_ADDRESS_WITHHELD = N_("withheld: the same as the victim's address")
NO_VICTIM_SHOWN = N_("Victim: not shown to a perpetrator service")
WS_PERPETRATOR_SERVICE_NOTE = N_(
    "Shown so your service knows whom it is assessing. The victim's details are not shared "
    "with perpetrator services."
)


@localised
def ws_dash(yes: int, not_known: int | None = None) -> str:
    if not_known is None:
        return _("{yes} of 24 yes").format(yes=yes)
    return _("{yes} of 24 yes, {not_known} not known").format(yes=yes, not_known=not_known)


@localised
def ws_children(count: int) -> str:
    return _("none") if count == 0 else str(count)


# The research sheet.
WS_RESEARCH_HEADING = N_("Research")
WS_RESEARCH_NO_CASES = N_("There are no cases on this agenda for your agency to research.")
WS_RESEARCH_YOUR_ANSWER = N_("Your agency's answer")
WS_RESEARCH_NOTHING_KNOWN = N_("Nothing known: our records hold nothing about these people")
WS_RESEARCH_INFORMATION = N_("We hold information (write it below)")
WS_RESEARCH_NOTE_LABEL = N_("What your agency knows")
WS_RESEARCH_NOTE_HINT = N_(
    "Facts from your records that bear on the risk: incidents, orders, contact, concerns. "
    "Up to 2,000 characters."
)
WS_RESEARCH_SEND = N_("Send to the coordinator")
WS_RESEARCH_RETURNED = N_("Already returned by your agency")
WS_RESEARCH_NONE_YET = N_("Nothing returned yet.")
WS_RESEARCH_NOTE_NEEDED = N_("Please write what your agency knows, or choose 'Nothing known'.")
WS_RESEARCH_CHOOSE = N_("Please choose 'Nothing known' or 'We hold information'.")


@localised
def ws_research_title(when: str) -> str:
    return _("Research for the MARAC on {when}").format(when=when)


@localised
def ws_research_intro(agency: str, deadline: str, open_until: str | None) -> str:
    text = _("Please return what {agency} knows about each case by {deadline}.").format(
        agency=agency, deadline=deadline
    )
    if open_until:
        text += _(" The identifiers are shown until {open_until}.").format(open_until=open_until)
    return text


@localised
def ws_returned_line(when: str, by: str, nothing_known: bool) -> str:
    return f"{when}, {by}: " + (_("nothing known") if nothing_known else _("information"))


@localised
def ws_research_recorded(reference: str, nothing_known: bool) -> str:
    return research_recorded(reference, nothing_known)


# The meeting board (coordinator and chair).
WS_BOARD_HEADING = N_("Meeting board")
WS_BOARD_AGENDA = N_("Agenda and research")
WS_BOARD_CASE = N_("Case")
WS_BOARD_RESEARCH = N_("Research returned")
WS_BOARD_RETURNED = N_("returned")
WS_BOARD_NOT_YET = N_("not yet")
WS_BOARD_ATTENDANCE = N_("Attendance")
WS_BOARD_NO_REPLY = N_("no reply yet")
WS_BOARD_NO_CASES = N_("No cases are listed yet.")
WS_BOARD_NOT_PUBLISHED = N_("The agenda is not published yet: agencies have not been asked.")


@localised
def ws_board_title(when: str) -> str:
    return _("MARAC on {when}").format(when=when)


@localised
def ws_board_counts(listed: int, capacity: int) -> str:
    return _("{listed} of {capacity} places used.").format(listed=listed, capacity=capacity)


@localised
def ws_board_returned(returned: int, invited: int) -> str:
    return _("{returned} of {invited} agencies").format(returned=returned, invited=invited)


# The agency's actions.
WS_ACTIONS_HEADING = N_("Your agency's actions")
WS_ACTIONS_NONE = N_("Your agency has no open actions.")
WS_ACTIONS_DUE = N_("Due")
WS_ACTIONS_OVERDUE = N_("Overdue")
WS_ACTIONS_HIGH = N_("High priority")
WS_REFERRALS_HEADING = N_("Referrals to your service")
WS_REFERRALS_REFERRED = N_("Referred on")
WS_USE_CHAT_FOR_ACTIONS = N_("Accept, complete or pass on an action with its buttons in the chat.")

# The case page.
WS_CASE_IDENTIFIERS = N_("Identifiers for research")
WS_CASE_REFERRAL = N_("The referral")
WS_CASE_SAFE_TO_CONTACT = N_("Safe to contact")
WS_CASE_SAFETY_NOTES = N_("Safety notes")
WS_CASE_CONSENT = N_("Consent")
WS_CASE_CONCERNS = N_("Concerns")
WS_CASE_JUDGEMENT = N_("Professional judgement")
WS_CASE_RESEARCH = N_("Research returned")
WS_CASE_HISTORY = N_("History")
WS_CASE_REPEAT_OF = N_("Repeat of")


@localised
def ws_case_title(reference: str) -> str:
    return _("Case {reference}").format(reference=reference)


@localised
def yes_no(value: object) -> str:
    return _yes_no(value)


# In the chat, where the case workspace does the reading.
BUTTON_OPEN_CASE = N_("Open the case")
BUTTON_MEETING_BOARD = N_("Open the meeting board")
BUTTON_OPEN_ACTIONS = N_("Open in the case workspace")


@localised
def case_in_workspace(reference: str, status: str) -> str:
    return _(
        "Case {reference} ({status}). Press 'Open the case' to read it in the "
        "case workspace; nothing of it is written in this chat."
    ).format(reference=reference, status=STATUS_NAMES.get(status, status))


@localised
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
    lines = [
        _("{reference} (MARAC on {when}): what does your agency know?").format(
            reference=reference, when=when
        ),
        summary,
    ]
    for heading, fields in people:
        lines.append("")
        lines.append(heading)
        lines += [f"{label}: {value}" for label, value in fields]
    if children is not None:
        lines += ["", *children]
    if closed:
        lines += ["", _(WS_IDENTIFIERS_CLOSED)]
    elif perpetrator_service:
        lines += ["", _(WS_PERPETRATOR_SERVICE_NOTE)]
    lines += ["", _(WS_RESEARCH_RETURNED) + ":"]
    lines += returned or [_(WS_RESEARCH_NONE_YET)]
    return "\n".join(lines)


@localised
def research_summary_line(
    criterion: str, dash_yes: int, children: int, referred_by: str, latest: int | None = None
) -> str:
    """The case in one line for research; a reassessed score shows as "14 → 18 of 24 yes"."""
    return _(
        "{criterion}; DASH {ws_dash_trend}; children in the household: "
        "{ws_children}; referred by {referred_by}."
    ).format(
        criterion=CRITERION_NAMES.get(criterion, criterion),
        ws_dash_trend=ws_dash_trend(dash_yes, latest),
        ws_children=ws_children(children),
        referred_by=referred_by,
    )


# --- Children as people (issue 18): each child of a referral, and children's social care ---

CHILDREN_HELP = N_(
    "Please put each child on their own line: name, date of birth or age, then school or "
    "nursery, lives with victim or lives elsewhere, CSC involved or no CSC. For example: "
    "Mia Smith, age 7, Oak Primary, lives with victim, CSC involved. "
    "Type none if there are no children."
)
CHILDREN_COUNT_ONLY = N_(
    "Please list each child rather than a number, one per line: name, date of birth or age, "
    "school or nursery, lives with victim or lives elsewhere, CSC involved or no CSC. "
    "If you do not know a name, type unknown for it, for example: unknown, age 4. "
    "Type none if there are no children."
)
CHILD_NAME_FIRST = N_(
    "please start the line with the child's name (or unknown if you do not know it), "
    "then a comma, then the date of birth or age."
)
CHILD_AGE_TWICE = N_("please give the date of birth or the age once, not both.")
CHILD_LIVES_HELP = N_("please write lives with victim, or lives elsewhere.")
CHILD_PART_UNCLEAR = N_(
    "I could not tell what one part of the line is. Please write the school as "
    "school: name, and use lives with victim or lives elsewhere, CSC involved or no CSC."
)
CHILDREN_READ_BACK = N_("If that is not right, press Back and type the children again.")
WS_CHILDREN_NO_DETAILS = N_("no details recorded")
NO_CSC_REP = N_(
    "No children's social care agency with a confirmed representative is enrolled in this "
    "area, so nobody can check its records for the children of"
)
NO_CSC_ADVICE = N_(
    "Add the agency with /agencies and invite its representative with /invite "
    "(a coordinator confirms them), so children's social care is asked for research."
)


@localised
def child_problem(number: int, problem: str) -> str:
    return _("Child {number}: {problem}").format(number=number, problem=problem)


@localised
def child_too_old(age: int) -> str:
    return _(
        "that makes them {age}. Please list only children under 18; an older "
        "young person can be referred in their own right."
    ).format(age=age)


@localised
def too_many_children(count: int, most: int) -> str:
    return _(
        "That is {count} lines; one referral can list up to {most} children. Please check it."
    ).format(count=count, most=most)


@localised
def _age_text(child: Mapping[str, object]) -> str:
    if child.get("dob"):
        return _("born {uk_date}").format(uk_date=_uk_date(child.get("dob")))
    age = child.get("age")
    if isinstance(age, int):
        return _("under 1 at referral") if age == 0 else _("age {age} at referral").format(age=age)
    return _("age not known")


@localised
def child_line(child: Mapping[str, object]) -> str:
    """One child as the referral gave them: name, birth or age, and what else is known."""
    if child.get("count_only"):  # referred before children were recorded as people
        return _("a child, {age_text} (no name or other details recorded)").format(
            age_text=_age_text(child)
        )
    parts = [str(child.get("name") or _("name not known")), _age_text(child)]
    if child.get("school"):
        parts.append(str(child.get("school")))
    lives = child.get("lives_with_victim")
    if lives is not None:
        parts.append(_("lives with the victim") if lives else _("lives elsewhere"))
    csc = child.get("csc_involved")
    if csc is not None:
        parts.append(
            _("children's social care involved") if csc else _("no children's social care")
        )
    return ", ".join(parts)


@localised
def children_lines(children: object, count: object = None, ages: object = None) -> list[str]:
    """The children for a read-back, card or research sheet: a heading and one line each.

    Cases referred before children were recorded as people have a count and perhaps ages
    only; they are shown as such."""
    if isinstance(children, list | tuple):
        if not children:
            return [_("Children: none")]
        return [
            _("Children ({children_count}):").format(children_count=len(children)),
            *(f"• {child_line(c)}" for c in children),
        ]
    number = count if isinstance(count, int) else 0
    if number == 0:
        return [_("Children: none")]
    listed = ", ".join(str(a) for a in ages) if isinstance(ages, list) and ages else ""
    return [
        _("Children: {number} ({choice})").format(
            number=number,
            choice=_("ages {listed}").format(listed=listed)
            if listed
            else _(WS_CHILDREN_NO_DETAILS),
        )
    ]


@localised
def no_csc_for_children(references: list[str]) -> str:
    """For the coordinator, on the agenda and when publishing it."""
    return _("Children's social care: {no_csc_rep} {references}. {no_csc_advice}").format(
        no_csc_rep=_(NO_CSC_REP), references=", ".join(references), no_csc_advice=_(NO_CSC_ADVICE)
    )


@localised
def research_children_note(cases: list[tuple[str, int]]) -> str:
    """Added to children's social care's research request: which cases have children."""
    listed = ", ".join(
        ("{ref} ({count} {choice})").format(
            ref=ref, count=count, choice=_("child") if count == 1 else _("children")
        )
        for ref, count in cases
    )
    return _(
        "Cases with children, for children's social care to check: {listed}. The "
        "children's names and dates of birth are with each case."
    ).format(listed=listed)


# --- Statistics against the national picture (issue 19) ---------------------------------------
# Every figure in these texts is passed in: the area's own, or one of SafeLives' published
# figures from bot/stats/national.py, which always travel with their source and date.


@localised
def stats_against_national(area: str, national: str) -> str:
    """An area's share beside the national one: "35%; national 32%"."""
    return (
        _("{area}; national {national}").format(area=area, national=national)
        if area
        else _("national {national}").format(national=national)
    )


@localised
def stats_volume_against_national(area: str, national: int, expected: int) -> str:
    return _(
        "Cases per 10,000 adult women a year: {area} (national {national}; "
        "SafeLives expects about {expected})"
    ).format(area=area, national=national, expected=expected)


@localised
def stats_chart_volume(area: str, national: int, expected: int) -> str:
    """The chart's second title line."""
    return _(
        "{area} cases per 10,000 adult women a year (national {national}; "
        "SafeLives expects about {expected})"
    ).format(area=area, national=national, expected=expected)


@localised
def stats_chart_national_repeat(national: str, publisher: str, covering: str) -> str:
    """The legend for the national repeat rate drawn across the chart."""
    return _("National repeat rate {national} ({publisher}, {covering})").format(
        national=national, publisher=publisher, covering=covering
    )


STATS_COMPARISON_HEADING = N_("How these compare")


@localised
def stats_repeat_definition(window_days: int, safelives_days: int, safelives_months: int) -> str:
    """Says which repeat the area's figures count, and whether it is SafeLives' own."""
    line = _(
        "Repeats are cases the coordinator confirmed as a repeat: any abuse between the "
        "same victim and person causing harm within "
    )
    if window_days == safelives_days:
        return line + (
            _(
                "{safelives_months} months of the last MARAC referral (SafeLives' definition)."
            ).format(safelives_months=safelives_months)
        )
    return line + (
        _(
            "{window_days} days of the last MARAC referral, as this area is set up. "
            "SafeLives counts {safelives_months} months, so compare the repeat rate "
            "with care."
        ).format(window_days=window_days, safelives_months=safelives_months)
    )


@localised
def stats_source(label: str, publisher: str, title: str, url: str, covering: str = "") -> str:
    """A source as the reader can look it up: who, what, which period, where."""
    period = f", {covering}" if covering else ""
    return f"{label}: {publisher}, \u201c{title}\u201d{period}, {url}"


STATS_REPEAT_SOURCE_LABEL = N_("Repeat definition")
STATS_NATIONAL_LABEL = N_("National figures")
STATS_GUIDE_LABEL = N_("Expected volume and staffing")


@localised
def stats_twelve_months_to(end: str) -> str:
    return _("12 months to {end}").format(end=end)


STATS_CAPACITY_HEADING = N_("Staffing SafeLives recommends")


@localised
def stats_capacity(
    cases: str,
    to: str,
    idvas: str,
    administrators: str,
    per_idva: int,
    per_administrator: int,
) -> str:
    """The capacity for the area's volume, with the working shown."""
    return _(
        "{cases} cases heard in the 12 months to {to}: SafeLives recommends "
        "about {idvas} full-time IDVAs and {administrators} full-time MARAC "
        "administrators ({cases} ÷ {per_idva} cases a year for each IDVA, "
        "{cases} ÷ {per_administrator} for each administrator)."
    ).format(
        cases=cases,
        to=to,
        idvas=idvas,
        administrators=administrators,
        per_idva=per_idva,
        per_administrator=per_administrator,
    )


@localised
def stats_capacity_withheld(cases: str, to: str) -> str:
    """For governance readers when the year's count is small: the staffing would give it back."""
    return _("{cases} cases heard in the 12 months to {to}: too few to show staffing.").format(
        cases=cases, to=to
    )


@localised
def stats_capacity_none(to: str) -> str:
    return _(
        "No cases heard in the 12 months to {to}, so there is no staffing to work out."
    ).format(to=to)


# --- The victim's voice: engagement, views and wishes, told the outcome ----------------------
# Recorded by the case's allocated IDVA. The views themselves are never written in the chat:
# they are read in the case workspace by those who hold the case in full.
BUTTON_VICTIM_VOICE = N_("Victim's voice")
BUTTON_RECORD_VIEWS = N_("Record the victim's views")
BUTTON_VICTIM_TOLD = N_("Victim told the outcome")
BUTTON_COULD_NOT_TELL = N_("Could not tell")
ENGAGEMENT_NAMES: dict[str, str] = {
    "engaging": N_("engaging"),
    "partly_engaging": N_("partly engaging"),
    "not_engaging": N_("not engaging"),
}
ENGAGEMENT_BUTTONS: dict[str, str] = {
    "engaging": N_("Engaging"),
    "partly_engaging": N_("Partly engaging"),
    "not_engaging": N_("Not engaging"),
}
OUTCOME_NAMES: dict[str, str] = {"told": N_("told"), "could_not_tell": N_("could not be told")}
ONLY_ALLOCATED_IDVA = N_("Only the IDVA allocated to the case records the victim's voice.")
ASK_VICTIM_VIEWS = N_(
    "Type the victim's views and wishes for the meeting in one message. They are stored "
    "sealed and your message is then deleted from this chat. Send /cancel to stop."
)
ASK_COULD_NOT_TELL_REASON = N_(
    "Why could the victim not be told the outcome? Type a short reason; it is stored sealed "
    "and your message is then deleted. Send /cancel to stop."
)


@localised
def victim_voice_status(
    reference: str,
    engagement: str | None,
    engagement_on: str | None,
    views_on: str | None,
    awaiting: list[str],
) -> str:
    """The allocated IDVA's view of what is recorded; the views themselves never appear."""
    lines = [_("The victim's voice for {reference}.").format(reference=reference)]
    if engagement is None or engagement_on is None:
        lines.append(_("Engagement: not recorded yet."))
    else:
        named = ENGAGEMENT_NAMES.get(engagement, engagement)
        lines.append(
            _("Engagement: {named} ({engagement_on}).").format(
                named=named, engagement_on=engagement_on
            )
        )
    if views_on is None:
        lines.append(_("Views and wishes for the meeting: not recorded yet."))
    else:
        lines.append(
            _(
                "Views and wishes for the meeting: recorded {views_on}; read them in the "
                "case workspace."
            ).format(views_on=views_on)
        )
    for when in awaiting:
        lines.append(
            _("Victim told the outcome of the MARAC on {when}: not confirmed yet.").format(
                when=when
            )
        )
    return "\n".join(lines)


@localised
def engagement_recorded(reference: str, engagement: str) -> str:
    named = ENGAGEMENT_NAMES.get(engagement, engagement)
    return _("Recorded for {reference}: the victim is {named}.").format(
        reference=reference, named=named
    )


@localised
def victim_views_recorded(reference: str) -> str:
    return _(
        "The victim's views for {reference} are recorded, sealed, and your "
        "message has been deleted. They are read in the case workspace, not in "
        "this chat."
    ).format(reference=reference)


@localised
def outcome_ask(reference: str, when: str) -> str:
    return _(
        "The MARAC on {when} that heard {reference} is closed. Please tell the "
        "victim the outcome, then press a button below."
    ).format(when=when, reference=reference)


@localised
def outcome_chase(reference: str, when: str) -> str:
    return _(
        "Reminder: please confirm that the victim in {reference} has been told "
        "the outcome of the MARAC on {when}."
    ).format(reference=reference, when=when)


@localised
def outcome_no_idva(reference: str, when: str) -> str:
    return _(
        "No IDVA is allocated to {reference}, so nobody has been asked to tell "
        "the victim the outcome of the MARAC on {when}. Once an IDVA is "
        "allocated, they will be asked."
    ).format(reference=reference, when=when)


@localised
def outcome_no_idva_chase(reference: str, when: str) -> str:
    return _(
        "{reference}: nobody has confirmed that the victim was told the outcome "
        "of the MARAC on {when}, and no IDVA is allocated to the case."
    ).format(reference=reference, when=when)


@localised
def outcome_recorded(reference: str, outcome: str) -> str:
    if outcome == "told":
        return _("Recorded: the victim in {reference} was told the outcome.").format(
            reference=reference
        )
    return _(
        "Recorded: the victim in {reference} could not be told the outcome. Your "
        "reason is stored sealed and your message has been deleted."
    ).format(reference=reference)


@localised
def agenda_voice_note(
    views_recorded: bool, engagement: str | None, closed: bool, told: str | None
) -> str:
    """The agenda line's note on the victim's voice: whether views are recorded (never what
    they are), the engagement, and after the meeting whether the victim was told."""
    note = _("; victim's views recorded") if views_recorded else _("; victim's views not recorded")
    if engagement is not None:
        note += f" ({ENGAGEMENT_NAMES.get(engagement, engagement)})"
    if closed:
        note += (
            _("; victim {told} the outcome").format(told=OUTCOME_NAMES.get(told, told))
            if told is not None
            else _("; victim told the outcome: not confirmed yet")
        )
    return note


# The case page and the meeting board.
WS_VOICE_HEADING = N_("The victim's voice")
WS_VOICE_ENGAGEMENT = N_("Engagement")
WS_VOICE_VIEWS = N_("Views and wishes for the meeting")
WS_VOICE_NOT_RECORDED = N_("not recorded yet")
WS_BOARD_VOICE = N_("Victim's views")
WS_BOARD_TOLD = N_("Victim told the outcome")
WS_BOARD_VOICE_HEADING = N_("The victims' views and wishes")
WS_YES = N_("yes")
WS_NO = N_("no")
WS_NOT_CONFIRMED = N_("not confirmed yet")


@localised
def ws_voice_recorded(who: str, when: str) -> str:
    return _("recorded by {who}, {when}").format(who=who, when=when)


# -- the IDVA service: told at referral, a named IDVA allocated, contact with the victim ----------

BUTTON_TAKE_CASE = N_("Take this case")
BUTTON_REALLOCATE_IDVA = N_("Reallocate IDVA")
BUTTON_RECORD_CONTACT = N_("Record contact")
WS_IDVA = N_("IDVA")
WS_IDVA_NONE = N_("none allocated yet")
# Keyed by ``ContactOutcome`` value, in the order the buttons are offered.
CONTACT_OUTCOME_NAMES: dict[str, str] = {
    "contacted": N_("Contacted"),
    "not_reached": N_("Could not contact"),
    "declined_support": N_("Declined support"),
}
IDVA_SERVICE_ONLY = N_(
    "Only the IDVA service or a coordinator can allocate an IDVA to a case. "
    "Nothing has been changed."
)
CONTACT_ONLY_BY_IDVA = N_(
    "Only the IDVA allocated to the case records contact with the victim. Nothing has been changed."
)
IDVA_NOT_AVAILABLE = N_(
    "That IDVA cannot hold this case now (they may have left, be awaiting confirmation, or be on "
    "the case's must-not-receive list). Please choose someone else. Nothing has been changed."
)
IDVA_NOTHING_WAITING = N_(
    "No case is waiting: every referral more than two working days old has an IDVA who has "
    "reached the victim."
)


@localised
def idva_referral_notice(reference: str, urgent: bool) -> str:
    """To every IDVA of the area when a referral is submitted: the reference only."""
    head = (
        _("URGENT referral {reference} for the IDVA service.").format(reference=reference)
        if urgent
        else _("New referral {reference} for the IDVA service.").format(reference=reference)
    )
    return _(
        "{head}\nThe victim should be contacted within two working days. Open the "
        "case to read it, and press Take this case if you will be the IDVA."
    ).format(head=head)


@localised
def idva_taken(reference: str) -> str:
    return _(
        "You are now the IDVA for {reference}. You will be sent its updates. "
        "Record each attempt to contact the victim with Record contact."
    ).format(reference=reference)


@localised
def idva_already_yours(reference: str) -> str:
    return _("You already hold {reference}. Nothing has been changed.").format(reference=reference)


@localised
def idva_held_by(reference: str, name: str) -> str:
    return _(
        "Thank you, but {reference} has already been taken by {name}. Nothing has been changed."
    ).format(reference=reference, name=name)


@localised
def idva_held_by_them(reference: str, name: str) -> str:
    return _("{name} already holds {reference}. Nothing has been changed.").format(
        name=name, reference=reference
    )


@localised
def idva_reallocated(reference: str, name: str) -> str:
    return _("{reference} is now held by {name}, who has been told.").format(
        reference=reference, name=name
    )


@localised
def idva_allocated_notice(reference: str) -> str:
    return _(
        "{reference} has been allocated to you as its IDVA. Please contact the "
        "victim if nobody has yet, and record each attempt with Record contact."
    ).format(reference=reference)


@localised
def idva_moved_notice(reference: str) -> str:
    return _("{reference} has been reallocated to another IDVA. You no longer hold it.").format(
        reference=reference
    )


@localised
def choose_idva(reference: str, holder: str | None) -> str:
    held = _("held by {holder}").format(holder=holder) if holder else _("no IDVA allocated yet")
    return _("{reference}: {held}. Who should hold it?").format(reference=reference, held=held)


@localised
def no_other_idva(reference: str) -> str:
    return _("There is no other IDVA in the area who can hold {reference}.").format(
        reference=reference
    )


@localised
def contact_prompt(reference: str, attempts: list[str]) -> str:
    lines = [
        _("{reference}: what came of your attempt to contact the victim?").format(
            reference=reference
        )
    ]
    if attempts:
        lines += ["", _("Recorded so far:"), *attempts]
    return "\n".join(lines)


@localised
def contact_attempt_line(when: str, outcome: str, who: str) -> str:
    return f"• {when} {CONTACT_OUTCOME_NAMES.get(outcome, outcome).lower()} ({who})"


@localised
def contact_recorded(reference: str, outcome: str) -> str:
    return _("Recorded for {reference}: {lower}. Thank you.").format(
        reference=reference, lower=CONTACT_OUTCOME_NAMES.get(outcome, outcome).lower()
    )


@localised
def case_card_idva(holder: str | None, contact: str | None) -> str:
    """The IDVA line of the case card, for the coordinators and the IDVA service."""
    if holder is None:
        return _("IDVA: none allocated yet")
    reached = (
        _("; last contact: {contact}").format(contact=contact)
        if contact
        else _("; no contact recorded yet")
    )
    return _("IDVA: {holder}{reached}").format(holder=holder, reached=reached)


@localised
def idva_triage_notice(reference: str, step: str) -> str:
    return {
        "accepted": _("{reference}, which you hold as IDVA, has been accepted for MARAC.").format(
            reference=reference
        ),
        "info_requested": (
            _(
                "{reference}, which you hold as IDVA: the coordinator has asked the "
                "referrer for more information before deciding."
            ).format(reference=reference)
        ),
        "declined": _("{reference}, which you hold as IDVA, was not accepted for MARAC.").format(
            reference=reference
        ),
    }[step]


@localised
def idva_listed_notice(reference: str, when: str) -> str:
    return _(
        "{reference}, which you hold as IDVA, is listed for the MARAC on {when}. "
        "Please bring the victim's views and wishes."
    ).format(reference=reference, when=when)


@localised
def idva_plan_notice(reference: str, actions: int) -> str:
    return _(
        "The MARAC action plan for {reference}, which you hold as IDVA, has been "
        "recorded: {actions} action(s) sent to agencies. Open the case to read "
        "it."
    ).format(reference=reference, actions=actions)


@localised
def idva_waiting_heading(count: int) -> str:
    return _(
        "Cases with no IDVA, or no contact with the victim, more than two "
        "working days after referral ({count}):"
    ).format(count=count)


@localised
def idva_waiting_line(reference: str, days: int, holder: str | None, attempts: int) -> str:
    if holder is None:
        state = _("no IDVA allocated")
    else:
        state = _("held by {holder}, victim not reached yet").format(holder=holder)
        if attempts:
            state += _(" ({attempts} attempt(s) recorded)").format(attempts=attempts)
    return _("• {reference}: {days} working days; {state}").format(
        reference=reference, days=days, state=state
    )


@localised
def digest_idva(lines: list[tuple[str, int, bool]]) -> str:
    """The digest's line for cases waiting on the IDVA service; no names (it is queued)."""
    parts = [
        _("{reference} ({days} working days, ").format(reference=reference, days=days)
        + (_("IDVA allocated, victim not reached") if allocated else _("no IDVA"))
        + ")"
        for reference, days, allocated in lines
    ]
    return _("No IDVA contact after two working days: ") + "; ".join(parts) + _(". Send /idva.")


# --- The meeting's record and its minutes (SafeLives' model minutes) -------------------------

# The government classification that replaced RESTRICTED in 2014; on every page of the minutes.
MINUTES_MARKING = N_("OFFICIAL-SENSITIVE")
MINUTES_TITLE = N_("MARAC minutes")
# Read out at the start of every meeting; everyone present agrees to it, and the minutes say so.
CONFIDENTIALITY_STATEMENT = N_(
    "Information shared at this meeting is confidential. It is shared only to keep the victim, "
    "the children and others safe, under the information sharing agreement. It must not be "
    "passed on without the agreement of the agency it came from, except to protect someone "
    "from serious harm. Everyone may use it to carry out the actions agreed here. Each agency "
    "keeps the minutes securely and does not copy them into records the person causing harm "
    "or the victim could see without advice."
)
MINUTES_HEADING_MEETING = N_("The meeting")
MINUTES_HEADING_ATTENDANCE = N_("Attendance")
MINUTES_HEADING_APOLOGIES = N_("Apologies")
MINUTES_HEADING_CONFIDENTIALITY = N_("Confidentiality statement")
MINUTES_HEADING_CASES = N_("Cases heard")
MINUTES_HEADING_WHY = N_("Why the case was heard")
MINUTES_HEADING_RISKS = N_("Risks identified")
MINUTES_HEADING_VIEWS = N_("The victim's views (from the IDVA)")
MINUTES_HEADING_RESEARCH = N_("What each agency shared")
MINUTES_HEADING_ACTIONS = N_("Actions agreed")
MINUTES_HEADING_REVIEW = N_("Review of actions from an earlier meeting")
MINUTES_COLUMNS = (N_("Agency"), N_("Action"), N_("Due"), N_("Status"))
MINUTES_ATTENDANCE_COLUMNS = (N_("Agency"), N_("Name"), N_("Reply"))
MINUTES_APOLOGY_COLUMNS = (N_("Agency"), N_("Information sent instead"), N_("Reason"))
MINUTES_NONE_RECORDED = N_("None recorded.")
MINUTES_NO_CASES = N_("No cases are in this copy.")
MINUTES_NO_REPLY = N_("no reply")
MINUTES_NO_CHAIR = N_("Not recorded")
MINUTES_NO_VIEWS = N_("Not recorded by the IDVA.")
MINUTES_NO_RISKS = N_("Not recorded.")
MINUTES_NO_ACTIONS = N_("No actions were agreed.")
MINUTES_NOTHING_KNOWN = N_("Nothing known.")
MINUTES_YES = N_("Yes")
MINUTES_NO = N_("No")
MINUTES_REASON_WITHHELD = N_("Given to the coordinator")
MINUTES_MEETING_OPEN = N_(
    "Close the meeting first: the minutes are sent once its actions are sent."
)
MINUTES_COPY_FULL = N_("Full copy (coordinator and chair)")
MINUTES_SENT = N_(
    "Here are the minutes, marked OFFICIAL-SENSITIVE (references only). It is removed later."
)
MINUTES_COPY_SENT = N_(
    "Here is your agency's copy of the minutes, marked OFFICIAL-SENSITIVE. "
    "It holds only what your agency may see. It is removed later."
)
ASK_RISK_SUMMARY = N_(
    "Type a short summary of the risks the meeting identified for this case "
    "(no names; up to 1,000 characters). Send /cancel to stop."
)
CONFIDENTIALITY_ASK = N_("Read the statement to everyone present, then press Agreed.\n\n")
BUTTON_CONFIDENTIALITY_AGREED = N_("Agreed by everyone present")
BUTTON_SEND_MINUTES = N_("Send the minutes to the agencies")
BUTTON_MY_MINUTES = N_("Our copy of the minutes")
RUNNING_ORDER_NOTE = N_("Emergency cases first, then as listed on the agenda.")


@localised
def minutes_copy_for(agency: str) -> str:
    return _("Copy for {agency}").format(agency=agency)


@localised
def minutes_meeting_line(when: str, chair: str) -> str:
    return _("Date: {when}\nChair: {chair}").format(when=when, chair=chair)


@localised
def minutes_agreed(when: str, by: str) -> str:
    return _("Agreed by everyone present; recorded by {by} at {when}.").format(by=by, when=when)


MINUTES_NOT_AGREED = N_("Not recorded as agreed.")


@localised
def button_read_minutes(when: str) -> str:
    return _("Read the minutes {when}").format(when=when)


@localised
def minutes_why_heard(
    criterion: str, dash_yes: int, repeat: bool, latest: int | None = None
) -> str:
    """Why the case was heard; a reassessment since the referral shows as "15 → 18"."""
    score = str(dash_yes) if latest is None or latest == dash_yes else f"{dash_yes} → {latest}"
    line = _("Criterion: {criterion}. DASH: {score} yes answers.").format(
        criterion=CRITERION_NAMES.get(criterion, criterion), score=score
    )
    return line + (_(" Repeat referral.") if repeat else "")


@localised
def minutes_research_line(agency: str, summary: str) -> str:
    return f"{agency}: {summary}"


@localised
def running_order(when: str, references: list[str]) -> str:
    lines = [
        _("Running order for {when}. {running_order_note}").format(
            when=when, running_order_note=_(RUNNING_ORDER_NOTE)
        )
    ]
    lines += [f"{number}. {ref}" for number, ref in enumerate(references, start=1)]
    return "\n".join(lines)


@localised
def button_risks_for(reference: str) -> str:
    return _("Risks: {reference}").format(reference=reference)


@localised
def button_confidentiality(when: str) -> str:
    return _("Confidentiality statement {when}").format(when=when)


@localised
def risk_summary_saved(reference: str) -> str:
    return _("Risk summary for {reference} saved. Your message was removed.").format(
        reference=reference
    )


@localised
def confidentiality_recorded(when: str) -> str:
    return _("Recorded: everyone present agreed to the confidentiality statement ({when}).").format(
        when=when
    )


@localised
def minutes_sent_to(count: int) -> str:
    return _(
        "The minutes were sent: {count} people were told their agency's copy is ready."
    ).format(count=count)


@localised
def minutes_ready(when: str) -> str:
    return _(
        "The minutes of the MARAC on {when} are ready. Press the button for your agency's copy."
    ).format(when=when)


@localised
def minutes_due_reminder(when: str) -> str:
    return _(
        "The minutes of the MARAC on {when} have not been sent and are due today "
        "(three working days after the meeting). Send /plan and press Send the "
        "minutes."
    ).format(when=when)


# --- DASH: which form, the story against the answers, reassessment -------------------------

DASH_FORM_NAMES = {
    "safelives": N_("SafeLives DASH (24 questions)"),
    "acpo_2009": N_("Police ACPO DASH 2009 (27 questions)"),
    "dara": N_("A police DARA assessment"),
}
DASH_FORM_SHORT = {
    "safelives": N_("SafeLives DASH"),
    "acpo_2009": N_("ACPO DASH 2009"),
    "dara": N_("police DARA"),
}
DARA_LEVEL_NAMES = {"standard": N_("Standard"), "medium": N_("Medium"), "high": N_("High")}
DASH_FORM_PROMPT = N_(
    "Which form do the numbers come from? The police ACPO DASH has 27 questions and numbers "
    "them differently from question 10 on, so the numbers are read as on the form you have."
)
DARA_LEVEL_PROMPT = N_(
    "A DARA assessment is not a count of yes answers: it is recorded with its risk level, and "
    "the referral goes on professional judgement. What risk level did the officer record?"
)
DASH_EXTRA_NOT_COUNTED = N_("Not among the 24 questions the MARAC score counts:")
BUTTON_CHANGE_TO_YES = N_("Change to yes")
BUTTON_KEEP = N_("Keep")
STORY_CONCERN_NAMES = {
    "strangulation": N_("strangulation"),
    "weapons": N_("weapons"),
    "threats_to_kill": N_("threats to kill"),
    "pregnancy": N_("pregnancy"),
    "escalation": N_("the abuse getting worse"),
    "stalking": N_("stalking or harassment"),
    "sexual_abuse": N_("sexual abuse"),
    "children_threats": N_("threats about the children"),
}
STEP_NAMES["dash_story_checked"] = N_("checklist reviewed against the concerns")
STEP_NAMES["dash_reassessed"] = N_("new DASH recorded")
BUTTON_NEW_DASH = N_("New DASH")
BUTTON_THAT_IS_RIGHT = N_("That is right")
BUTTON_TYPE_IT_AGAIN = N_("Type it again")
DASH_REASSESS_WHICH_FORM = N_("New DASH for {reference}. Which form was completed?")
DASH_REASSESS_NOT_OPEN = N_("A new DASH can only be recorded on an open case.")
DASH_REASSESS_USAGE = N_("Send /dash and the case reference, for example /dash NOR-2026-0001.")


@localised
def dash_quick_prompt(form: str, count: int) -> str:
    return _(
        "{form}: type the question numbers answered yes, then those not known, "
        "numbered as on that form, for example:\nyes 1 3 5-9 14, not known 20\n"
        "Every question of the {count} you do not list counts as no."
    ).format(form=DASH_FORM_NAMES.get(form, form), count=count)


@localised
def dash_form_read_back(
    form: str,
    yes: list[tuple[int, str]],
    not_known: list[tuple[int, str]],
    extra: list[tuple[int, str, str]],
    score: int,
) -> str:
    """The answers as numbered and named on the referrer's own form, and the score they make."""
    lines = [_("{form}, as numbered on that form:").format(form=DASH_FORM_NAMES.get(form, form))]
    lines.append(_("Yes ({yes_count}):").format(yes_count=len(yes)) if yes else _("Yes: none"))
    lines.extend(f"{number}. {topic}" for number, topic in yes)
    lines.append(
        _("Not known ({not_known_count}):").format(not_known_count=len(not_known))
        if not_known
        else _("Not known: none")
    )
    lines.extend(f"{number}. {topic}" for number, topic in not_known)
    lines.append(_("All other questions: no."))
    if extra:
        lines.append(_(DASH_EXTRA_NOT_COUNTED))
        lines.extend(f"{number}. {topic}: {answer}" for number, topic, answer in extra)
    lines.append(_("MARAC score (the 24 SafeLives questions): {score} yes").format(score=score))
    return "\n".join(lines)


@localised
def story_prompt(concern: str, number: int, form: str, answer: str) -> str:
    """Asked before submitting when the concerns mention what a question is answered no to."""
    on_form = (
        ""
        if form == "safelives"
        else _(" on the {form}").format(form=DASH_FORM_SHORT.get(form, form))
    )
    return _(
        "Your concerns mention {concern}; question {number}{on_form} is answered "
        "{answer}. Change it, or keep it?"
    ).format(
        concern=STORY_CONCERN_NAMES.get(concern, concern),
        number=number,
        on_form=on_form,
        answer=answer,
    )


@localised
def dash_form_name(form: str | None, dara_level: str | None) -> str:
    """The form the DASH came from (with a DARA assessment's level), for the case page."""
    if form == "dara":
        level = DARA_LEVEL_NAMES.get(str(dara_level), _("not given"))
        return _("police DARA, {lower} risk (not a count; professional judgement)").format(
            lower=level.lower()
        )
    return DASH_FORM_NAMES.get(str(form or "safelives"), str(form))


@localised
def dash_form_line(form: str | None, dara_level: str | None) -> str:
    """The form the DASH came from, for the review and the case card."""
    return f"{_(WS_DASH_FORM)}: {dash_form_name(form, dara_level)}"


@localised
def dash_assessment_line(
    when: str, who: str, form: str, yes: int | None, not_known: int | None, dara_level: str | None
) -> str:
    if form == "dara":
        result = _("DARA {lower} risk").format(
            lower=DARA_LEVEL_NAMES.get(str(dara_level), str(dara_level)).lower()
        )
    else:
        result = _("{yes} of 24 yes, {not_known} not known ({form})").format(
            yes=yes, not_known=not_known, form=DASH_FORM_SHORT.get(form, form)
        )
    return _("{when}: {result}, by {who}").format(when=when, result=result, who=who)


DASH_ASSESSMENTS_HEADING = N_("DASH assessments:")
WS_DASH_FORM = N_("Risk form")


@localised
def dash_trend(first: int, latest: int | None) -> str:
    """The score on an agenda line: "DASH 14", or "DASH 14 → 18" when it has risen."""
    if latest is None or latest == first:
        return _("DASH {first}").format(first=first)
    return _("DASH {first} → {latest}").format(first=first, latest=latest)


@localised
def dash_recorded(reference: str, yes: int | None, before: int | None, form: str) -> str:
    if form == "dara":
        return _("New DARA assessment recorded for {reference}.").format(reference=reference)
    change = (
        _(" (was {before})").format(before=before) if before is not None and before != yes else ""
    )
    return _("New DASH recorded for {reference}: {yes} of 24 yes{change}.").format(
        reference=reference, yes=yes, change=change
    )


@localised
def ws_dash_trend(first: int, latest: int | None) -> str:
    """The board's DASH cell: "14 of 24 yes", or "14 → 18 of 24 yes" when it has changed."""
    if latest is None or latest == first:
        return ws_dash(first)
    return _("{first} → {latest} of 24 yes").format(first=first, latest=latest)


# --- Clare's Law (the Domestic Violence Disclosure Scheme) ---

DVDS_ROUTES = {"right_to_ask": N_("Right to ask"), "right_to_know": N_("Right to know")}
DVDS_DECISIONS = {"disclose": N_("Disclose"), "not_disclose": N_("Do not disclose")}
DVDS_STAGES = {
    "received": N_("received, no checks asked yet"),
    "checks": N_("checks under way"),
    "checks_done": N_("checks done, no panel date yet"),
    "panel": N_("panel date set"),
    "disclose": N_("decided: disclose (no safety plan recorded yet)"),
    "safety_plan": N_("decided: disclose, safety plan recorded"),
    "not_disclose": N_("decided: do not disclose"),
}
DVDS_NOT_FOUND = N_("No Clare's Law application with that number that you can see.")
DVDS_POLICE_ONLY = N_("Only the police record Clare's Law applications.")
DVDS_NOT_ASKED = N_("Your agency has not been asked to check this application.")
DVDS_AGENCY_NOT_FOUND = N_("That agency cannot be asked to check.")
DVDS_ALREADY_DECIDED = N_("This application has been decided already.")
DVDS_PANEL_BEFORE_RECEIVED = N_("The panel cannot meet before the application was received.")
DVDS_PLAN_ONLY_ON_DISCLOSURE = N_(
    "A safety plan is recorded only when the panel decides to disclose."
)
DVDS_ASK_CASE = N_("Which case is it linked to? Send the case reference, or press No case.")
DVDS_ASK_APPLICANT = N_(
    "Who applied? Send their name and date of birth (for right to know: who is told). "
    "Your message is deleted once stored."
)
DVDS_ASK_SUBJECT = N_(
    "Whom is it about? Send the person causing harm's name and date of birth. "
    "Your message is deleted once stored."
)
DVDS_ASK_SAFETY_PLAN = N_(
    "Send the safety plan agreed at disclosure. Your message is deleted once stored."
)
DVDS_ASK_AGENCY = N_("Which agency should check its records?")
DVDS_NO_AGENCIES = N_("There is no other agency here that can be asked to check.")
DVDS_ASK_PANEL = N_("When does the decision panel meet?")
DVDS_NONE = N_("No Clare's Law applications yet.")
DVDS_LIST_HEADING = N_("Clare's Law applications:")
DVDS_MENU = N_("Clare's Law (Domestic Violence Disclosure Scheme).")
BUTTON_DVDS_NEW_ASK = N_("New right to ask")
BUTTON_DVDS_NEW_KNOW = N_("New right to know")
BUTTON_DVDS_NO_CASE = N_("No case")
BUTTON_DVDS_CHECK = N_("Ask an agency to check")
BUTTON_DVDS_CHECK_DONE = N_("Check done")
BUTTON_DVDS_PANEL = N_("Set the panel date")
BUTTON_DVDS_DISCLOSE = N_("Decided: disclose")
BUTTON_DVDS_NOT_DISCLOSE = N_("Decided: do not disclose")
BUTTON_DVDS_SAFETY_PLAN = N_("Record the safety plan")
BUTTON_DVDS_OPEN = N_("Open")


@localised
def dvds_day(day: date) -> str:
    return format_day(day)


@localised
def dvds_guidance_note() -> str:
    """Where the timescale comes from, said beside every figure that uses it."""
    from bot.dvds import CURRENT_GUIDANCE as g

    return _("{days_to_decision} days: Home Office, {title}, {published}.").format(
        days_to_decision=g.days_to_decision, title=g.title, published=g.published
    )


@localised
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
        when = _("decided in {days_taken} day{plural} (due {dvds_day})").format(
            days_taken=days_taken, plural=plural, dvds_day=dvds_day(due)
        )
    else:
        when = _("decision due {dvds_day}{choice}").format(
            dvds_day=dvds_day(due), choice=_(" OVERDUE") if overdue else ""
        )
    return _("Clare's Law {label}{case}: {route}, {stage}; {when}").format(
        label=label, case=case, route=_(DVDS_ROUTES[route]), stage=_(DVDS_STAGES[stage]), when=when
    )


@localised
def dvds_check_line(agency: str, due: date, done: date | None) -> str:
    if done is not None:
        return _("  • {agency}: check done {dvds_day}").format(
            agency=agency, dvds_day=dvds_day(done)
        )
    return _("  • {agency}: check due {dvds_day}").format(agency=agency, dvds_day=dvds_day(due))


@localised
def dvds_panel_line(day: date) -> str:
    return _("Panel: {dvds_day}").format(dvds_day=dvds_day(day))


@localised
def dvds_sealed_lines(applicant: str | None, subject: str | None, plan: str | None) -> list[str]:
    """What only some may read, each line only when opened for the reader."""
    lines = []
    if applicant:
        lines.append(_("Applicant: {applicant}").format(applicant=applicant))
    if subject:
        lines.append(_("About: {subject}").format(subject=subject))
    if plan:
        lines.append(_("Safety plan: {plan}").format(plan=plan))
    return lines


@localised
def dvds_created(label: str) -> str:
    return _("Clare's Law application {label} recorded. The identifiers are stored sealed.").format(
        label=label
    )


@localised
def dvds_check_request(label: str, due: str) -> str:
    return _(
        "The police ask your agency to check its records for Clare's Law "
        "application {label}, by {due}. Open it to see whom it is about; press "
        "Check done when you have told them."
    ).format(label=label, due=due)


@localised
def dvds_check_chase(label: str, due: str) -> str:
    return _(
        "Reminder: your agency's check for Clare's Law application {label} was "
        "due {due}. Press Check done when you have told the police."
    ).format(label=label, due=due)


@localised
def dvds_decision_chase(label: str, due: str) -> str:
    return _(
        "Clare's Law application {label} has no decision and was due {due} ({dvds_guidance_note})"
    ).format(label=label, due=due, dvds_guidance_note=dvds_guidance_note())


@localised
def dvds_check_done_notice(label: str, agency: str) -> str:
    return _("{agency} has finished its check for Clare's Law application {label}.").format(
        agency=agency, label=label
    )


@localised
def dvds_check_recorded(label: str) -> str:
    return _("Thank you: your check for {label} is recorded as done.").format(label=label)


@localised
def dvds_safety_plan_recorded(label: str) -> str:
    return _("Safety plan for {label} recorded and stored sealed.").format(label=label)


@localised
def dvds_figures(
    received: Mapping[str, int | str],
    decided: int | str,
    in_time: int | str,
    median_days: float | None,
    disclosed: int | str,
    not_disclosed: int | str,
) -> str:
    median = (
        _("none decided")
        if median_days is None
        else _("{median_days:g} days").format(median_days=median_days)
    )
    routes = ", ".join((f"{_(DVDS_ROUTES[route])} {count}") for route, count in received.items())
    return "\n".join(
        [
            _("Clare's Law applications received"),
            f"  {routes}",
            _("  Decided: {decided}, of which within the timescale: {in_time}").format(
                decided=decided, in_time=in_time
            ),
            _("  Median days to decision: {median}").format(median=median),
            _("  Disclosed: {disclosed}, not disclosed: {not_disclosed}").format(
                disclosed=disclosed, not_disclosed=not_disclosed
            ),
            _("  Timescale: {dvds_guidance_note}").format(dvds_guidance_note=dvds_guidance_note()),
        ]
    )


# --- MARAC-to-MARAC transfer ---
STATUS_NAMES["transferred"] = N_("closed: transferred to another MARAC")
STEP_NAMES["transfer_requested"] = N_("transfer to another MARAC asked")
STEP_NAMES["transfer_declined"] = N_("transfer declined by the other MARAC")
STEP_NAMES["transferred"] = N_("transferred to another MARAC")
STEP_NAMES["transferred_in"] = N_("transferred in from another MARAC")
BUTTON_TRANSFER = N_("Transfer to another MARAC")
BUTTON_ACCEPT_TRANSFER = N_("Accept transfer")
BUTTON_DECLINE_TRANSFER = N_("Decline transfer")
BUTTON_HANDOVER_NOTE = N_("Write handover note")
BUTTON_TRANSFER_PACK = N_("Transfer handover")
CHOOSE_TRANSFER_AREA = N_("Which MARAC should take this case? Its coordinators will be asked.")
NO_OTHER_AREAS = N_("There is no other MARAC area in this service to transfer to.")
ASK_TRANSFER_REASON = N_(
    "Why is the case moving (for example, the victim has moved to the area)? The reason is "
    "stored encrypted and your message deleted. The other MARAC reads it only if it accepts. "
    "Send /cancel to stop."
)
ASK_HANDOVER_NOTE = N_(
    "Write your handover note for the IDVA who will take the case (what the victim wants, "
    "safe ways to contact her, what is in hand). It is stored encrypted and your message "
    "deleted. Send /cancel to stop."
)
TRANSFER_NOT_FOUND = N_("That transfer request was not found, or it is not for you.")
TRANSFER_AREA_NOT_FOUND = N_("That MARAC area was not found.")
TRANSFER_RECEIVING_ONLY = N_("Only a coordinator of the MARAC receiving the case can answer this.")
TRANSFER_NOT_POSSIBLE = N_("This case can no longer be transferred: its data has been erased.")
HANDOVER_ONLY_ALLOCATED_IDVA = N_("Only the case's allocated IDVA can write the handover note.")
NO_HANDOVER_NOTE = N_("No handover note: the sending IDVA did not write one.")


@localised
def transfer_case_closed(reference: str) -> str:
    return _("{reference} is closed, so it cannot be transferred.").format(reference=reference)


@localised
def transfer_already_asked(reference: str) -> str:
    return _("A transfer of {reference} is already waiting for an answer. Nothing changed.").format(
        reference=reference
    )


@localised
def transfer_already_decided(decision: str) -> str:
    return _("This transfer request was already {decision}. Nothing changed.").format(
        decision=decision or _("answered")
    )


@localised
def transfer_requested(reference: str, area: str) -> str:
    return _(
        "Transfer of {reference} to {area} asked. Its coordinators will accept "
        "or decline; the case stays open here until they accept."
    ).format(reference=reference, area=area)


@localised
def transfer_request_notice(
    reference: str, from_area: str, criterion: str, dash_yes: int, referred_on: str
) -> str:
    """To the receiving coordinators: the four facts, no names."""
    return _(
        "Transfer request from {from_area} MARAC.\nCase {reference}: {criterion}, "
        "DASH {dash_yes} of 24 yes, referred {referred_on}.\nAccept to open it as "
        "a case of your MARAC with its risk, history and outstanding actions; "
        "decline to leave it with them."
    ).format(
        from_area=from_area,
        reference=reference,
        criterion=criterion,
        dash_yes=dash_yes,
        referred_on=referred_on,
    )


@localised
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
    state = {"accepted": _("accepted"), "declined": _("declined")}.get(decision or "", _("waiting"))
    return _(
        "Transfer of {reference} from {from_area} to {to_area} (asked "
        "{asked_on}): {state}.\n{criterion}, DASH {dash_yes} of 24 yes, referred "
        "{referred_on}."
    ).format(
        reference=reference,
        from_area=from_area,
        to_area=to_area,
        asked_on=asked_on,
        state=state,
        criterion=criterion,
        dash_yes=dash_yes,
        referred_on=referred_on,
    )


@localised
def transfer_accepted(new_reference: str, from_reference: str) -> str:
    return _(
        "Transfer accepted. The case is now {new_reference} in your MARAC (was "
        "{from_reference}). It is waiting for triage; your IDVA service has been "
        "told. Send /case {new_reference} to read it."
    ).format(new_reference=new_reference, from_reference=from_reference)


@localised
def transfer_declined(reference: str) -> str:
    return _(
        "Transfer of {reference} declined. It stays with the sending MARAC, who are told."
    ).format(reference=reference)


@localised
def transfer_accepted_notice(reference: str, area: str) -> str:
    return _(
        "{area} MARAC accepted the transfer of {reference}. It is closed here as transferred."
    ).format(area=area, reference=reference)


@localised
def transfer_declined_notice(reference: str, area: str) -> str:
    return _("{area} MARAC declined the transfer of {reference}. The case stays open here.").format(
        area=area, reference=reference
    )


@localised
def idva_transferred_out_notice(reference: str, area: str) -> str:
    return _(
        "{reference} has been transferred to {area} MARAC. If you have not "
        "written a handover note yet, open the case and write one: it goes with "
        "the case."
    ).format(reference=reference, area=area)


@localised
def idva_transfer_notice(reference: str, urgent: bool) -> str:
    head = _("URGENT case") if urgent else _("Case")
    return _(
        "{head} {reference} has been transferred to this MARAC from another one, "
        "for the IDVA service.\nThe victim should be contacted within two working "
        "days. Open the case to read it and the handover, and press Take this "
        "case if you will be the IDVA."
    ).format(head=head, reference=reference)


@localised
def transferred_summary(reference: str, area: str) -> str:
    return _("Transferred from {area} MARAC (their reference {reference}).").format(
        area=area, reference=reference
    )


@localised
def transfer_found_at_referral(asked_on: str, new_reference: str | None) -> str:
    """A new referral whose victim was recently transferred to this MARAC."""
    if new_reference:
        return _(
            "This victim's case was transferred to this MARAC from another one "
            "({asked_on}): {new_reference}. Check whether this is a repeat."
        ).format(asked_on=asked_on, new_reference=new_reference)
    return _(
        "Another MARAC asked on {asked_on} to transfer this victim's case here; "
        "the request is waiting for an answer. Check it before triage."
    ).format(asked_on=asked_on)


@localised
def handover_written(reference: str) -> str:
    return _(
        "Handover note for {reference} saved. It goes with the case if it is transferred."
    ).format(reference=reference)


@localised
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
    lines = [_("{reference}: transfer handover").format(reference=reference)]
    if transferred_in:
        lines.append(
            _("Transferred from {from_area} MARAC ({from_reference}) on {transferred_on}.").format(
                from_area=from_area, from_reference=from_reference, transferred_on=transferred_on
            )
        )
        if reason:
            lines.append(_("Why it moved: {reason}").format(reason=reason))
        if actions:
            lines.append(_("Actions outstanding at the sending MARAC (for information):"))
            lines += [f"• {line}" for line in actions]
        else:
            lines.append(_("No actions were outstanding at the sending MARAC."))
    if note:
        lines.append(
            _("IDVA handover note ({note_by}, {note_on}):\n{note}").format(
                note_by=note_by, note_on=note_on, note=note
            )
        )
    else:
        lines.append(_(NO_HANDOVER_NOTE))
    return "\n".join(lines)


@localised
def carried_action_line(agency: str, text: str, due_on: str) -> str:
    return _("{agency}: {text} (due {due_on})").format(agency=agency, text=text, due_on=due_on)


WS_TRANSFERRED_FROM = N_("Transferred from")
WS_TRANSFER_REASON = N_("Why it moved")
WS_TRANSFER_ACTIONS = N_("Actions outstanding at the sending MARAC (for information)")
WS_NONE_OUTSTANDING = N_("None")
WS_HANDOVER_NOTE = N_("IDVA handover note")


# --- Welsh language ---
# Asked in both languages: whoever reads it can answer it. The buttons name each language
# in itself (bot.i18n.LANGUAGE_NAMES).
LANGUAGE_QUESTION = N_(
    "Which language would you like me to write to you in? "
    "Pa iaith hoffech chi i mi ysgrifennu atoch ynddi?"
)
LANGUAGE_SET = N_(
    "I will write to you in English from now on. Your documents (minutes, calendar "
    "invitations and statistics) will be in English too. Send /language to change it."
)
LANGUAGE_SET_HINT = N_("Where a text has not been translated yet, you will see it in English.")


@localised
def language_now(name: str) -> str:
    return _("Language: {name}").format(name=name)

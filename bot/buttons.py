"""Every inline button the bot makes, named once: the one button vocabulary.

A button's callback data is ``area:action:id:id...`` (``bot.callbacks``): server ids only,
never content. Services queue buttons in outbox rows that may be sent hours later, and
handlers answer the presses; both take the data from here, so a button can neither be
made that no handler answers nor be renamed on one side only (a test checks every kind
has its handler, and that no service writes button data by hand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import texts
from bot.callbacks import Callback, parse
from bot.i18n import N_


@dataclass(frozen=True)
class ButtonKind:
    """One kind of button: which handler area and action it calls, with how many ids."""

    area: str
    action: str
    ids: int
    what: str
    # The case workspace's page this button opens where a workspace is set up (a Mini App
    # button); elsewhere it is an ordinary button whose handler shows the same in the chat.
    page: str | None = None

    def page_path(self, *ids: int) -> str:
        """The page's path under the workspace address, e.g. ``/case/12``; ids only."""
        if self.page is None:
            raise ValueError(f"{self.area}:{self.action} opens no workspace page")
        if len(ids) != self.ids:
            raise ValueError(f"{self.area}:{self.action} carries {self.ids} id(s), not {len(ids)}")
        return "/" + "/".join([self.page, *(str(i) for i in ids)])

    def data(self, *ids: int) -> str:
        if len(ids) != self.ids:
            raise ValueError(f"{self.area}:{self.action} carries {self.ids} id(s), not {len(ids)}")
        return Callback(self.area, self.action, tuple(ids)).encode()

    def __call__(self, label: str, *ids: int) -> tuple[str, str]:
        """(label, data), the form outbox rows store buttons in."""
        return label, self.data(*ids)

    @property
    def pattern(self) -> re.Pattern[str]:
        """What a CallbackQueryHandler matches for this kind (its ids checked by the handler)."""
        return re.compile(
            rf"^{re.escape(self.area)}:{re.escape(self.action)}(?::\d{{1,18}}){{0,3}}$"
        )


def _kind(area: str, action: str, ids: int, what: str, page: str | None = None) -> ButtonKind:
    return ButtonKind(area, action, ids, what, page)


# -- buttons that services queue in messages sent later ----------------------------------------

TRIAGE_ACCEPT = _kind("tri", "acc", 1, "accept a referral (case)")
TRIAGE_ASK = _kind("tri", "info", 1, "ask the referrer for information (case)")
TRIAGE_DECLINE = _kind("tri", "dec", 1, "decline a referral (case)")
REPEAT_CONFIRM = _kind("rep", "yes", 2, "confirm a suggested repeat (case, other case)")
REPEAT_REJECT = _kind("rep", "no", 2, "not the same person (case, other case)")
ACTION_ACCEPT = _kind("act", "acc", 1, "accept an action (action)")
ACTION_DONE = _kind("act", "done", 1, "mark an action done (action)")
ACTION_NOT_POSSIBLE = _kind("act", "np", 1, "mark an action not possible (action)")
ACTION_REASSIGN = _kind("act", "re", 1, "pass an action to a colleague (action)")
MEETING_RESEARCH = _kind(
    "mtg", "res", 1, "research a listed case (agenda item)", page="research-item"
)
MEETING_ATTENDANCE = _kind("mtg", "att", 2, "attending / deputy / apologies (meeting, choice)")
ERASURE_CONFIRM = _kind("era", "ok", 1, "confirm an early erasure (case)")
ERASURE_KEEP = _kind("era", "no", 1, "keep the case (case)")
ENROLMENT_CONFIRM = _kind("enr", "ok", 2, "confirm who enrolled (person, invite)")
ENROLMENT_REMOVE = _kind("enr", "rm", 2, "remove who enrolled (person, invite)")
ACCESS_REVIEW = _kind("ppl", "review", 0, "the access review: everyone enrolled")
VOICE_TOLD = _kind("vv", "told", 2, "the victim was told the outcome (case, meeting)")
VOICE_NOT_TOLD = _kind("vv", "nott", 2, "the victim could not be told the outcome (case, meeting)")
IDVA_TAKE = _kind("idv", "take", 1, "an IDVA takes a case (case)")
IDVA_CONTACT_MENU = _kind("idv", "rec", 1, "record contact with the victim (case)")
# Where the workspace is set up the copy is read there (the chat carries no case content);
# otherwise it is sent as a protected document that deletes itself.
MINUTES_COPY = _kind(
    "act", "mc", 1, "an agency's own copy of the minutes (meeting)", page="minutes"
)

# -- buttons that open a page of the case workspace where there is one ----------------------------

CASE_OPEN = _kind("cas", "open", 1, "open a case (case)", page="case")
MEETING_BOARD = _kind("mtg", "board", 1, "the meeting board (meeting)", page="board")
ACTIONS_OPEN = _kind("act", "ws", 0, "the agency's actions and referrals", page="actions")
PAGE_KINDS: tuple[ButtonKind, ...] = (CASE_OPEN, MEETING_BOARD, ACTIONS_OPEN)

# -- buttons handlers make and answer themselves -------------------------------------------------

_HANDLER_KINDS = [
    ("act", "rec", 2, "record actions for a case (meeting, case)"),
    ("act", "close", 1, "close a meeting and send its actions (meeting)"),
    ("act", "min", 1, "the minutes (meeting)"),
    ("act", "risk", 2, "record the risks identified for a case (meeting, case)"),
    ("act", "conf", 1, "everyone present agreed to the confidentiality statement (meeting)"),
    ("act", "confy", 1, "confirm the confidentiality statement was agreed (meeting)"),
    ("act", "send", 1, "send the minutes to the agencies (meeting)"),
    ("act", "undo", 1, "take a recorded action back (action)"),
    ("act", "open", 1, "open an action (action)"),
    ("act", "pg", 2, "a page of actions (offset, referral offset)"),
    ("act", "pm", 2, "move a perpetrator-service referral (referral, state)"),
    ("act", "pe", 2, "end a perpetrator-service referral (referral, end reason)"),
    ("act", "wait", 0, "set a perpetrator service's waiting time"),
    ("act", "rto", 2, "pass an action to this colleague (action, person)"),
    ("ag", "open", 1, "open an agency (agency)"),
    ("ag", "new", 0, "add an agency"),
    ("ag", "ren", 1, "rename an agency (agency)"),
    ("ag", "isa", 1, "information-sharing agreement dates (agency)"),
    ("ag", "list", 0, "the agencies"),
    ("ag", "kind", 1, "the kind of a new agency (index)"),
    ("aud", "latest", 0, "the latest audit events"),
    ("cas", "exc", 1, "the must-not-receive list (case)"),
    ("cas", "exy", 2, "put someone on the list (case, person)"),
    ("cls", "add", 0, "add closure days"),
    ("cls", "rm", 1, "remove a closure day (day ordinal)"),
    ("cls", "mv", 2, "move a meeting off a closure day (meeting, day ordinal)"),
    ("cls", "keep", 1, "keep a meeting on a closure day (meeting)"),
    ("dsh", "new", 1, "record a new DASH on a case (case)"),
    ("dsh", "f", 2, "the form a new DASH was completed on (case, form)"),
    ("dsh", "l", 2, "a DARA assessment's risk level (case, level)"),
    ("dsh", "ok", 3, "confirm a new DASH as read back (case, form, answers)"),
    ("era", "ask", 1, "ask for early erasure (case)"),
    ("era", "req", 2, "the reason for early erasure (case, reason)"),
    ("enr", "rmy", 2, "yes, remove who enrolled (person, invite)"),
    ("enr", "back", 2, "back to confirm or remove (person, invite)"),
    ("idv", "re", 1, "reallocate a case to another IDVA (case)"),
    ("idv", "rto", 2, "reallocate to this IDVA (case, person)"),
    ("idv", "con", 2, "the outcome of a contact attempt (case, outcome index)"),
    ("inv", "menu", 0, "the invite menu"),
    ("inv", "role", 1, "invite for a role (index)"),
    ("inv", "ag", 2, "invite for an agency (role index, agency)"),
    ("inv", "open", 0, "open invites"),
    ("inv", "rev", 1, "revoke an invite (invite)"),
    ("inv", "revy", 1, "confirm revoking (invite)"),
    ("mtg", "list", 0, "the meetings"),
    ("mtg", "open", 1, "open a meeting (meeting)"),
    ("mtg", "new", 0, "schedule a meeting"),
    ("mtg", "day", 1, "a working day offered instead (day ordinal)"),
    ("mtg", "mday", 1, "a working day offered for a move (day ordinal)"),
    ("mtg", "rep", 1, "how a series repeats (index)"),
    ("mtg", "offr", 1, "what a series does on non-working days (index)"),
    ("mtg", "chair", 1, "the chair (person, or 0 to decide later)"),
    ("mtg", "pub", 1, "publish the agenda (meeting)"),
    ("mtg", "move", 1, "move a meeting (meeting)"),
    ("mtg", "cancel", 1, "cancel a meeting (meeting)"),
    ("mtg", "cancely", 1, "confirm cancelling (meeting)"),
    ("mtg", "item", 1, "change an agenda item (item)"),
    ("mtg", "up", 1, "move a case up the agenda (item)"),
    ("mtg", "mvnext", 1, "move a case to the next meeting (item)"),
    ("mtg", "emerg", 1, "list a case as an emergency (item)"),
    ("mtg", "none", 1, "nothing known (item)"),
    ("mtg", "info", 1, "add research information (item)"),
    ("ppl", "list", 0, "the people"),
    ("ppl", "open", 1, "open a person (person)"),
    ("ppl", "off", 1, "deactivate (person)"),
    ("ppl", "offy", 1, "confirm deactivating (person)"),
    ("ppl", "keep", 1, "keep them (person)"),
    ("ppl", "callon", 1, "make an on-call contact (person)"),
    ("ppl", "calloff", 1, "stop urgent alerts (person)"),
    ("ref", "o", 2, "an answer to a referral question (step, option)"),
    ("ref", "back", 1, "back a question (step)"),
    ("ref", "submit", 1, "submit the referral (step)"),
    ("ref", "discard", 0, "discard the draft"),
    ("ref", "go", 0, "continue the draft"),
    ("ref", "new", 0, "start again"),
    ("st", "csv", 2, "the quarterly return as CSV (year, quarter)"),
    ("st", "png", 2, "the chart (year, quarter)"),
    ("st", "pcsv", 2, "the perpetrator services' figures as CSV (year, quarter)"),
    ("vv", "open", 1, "the victim's voice of a case (case)"),
    ("vv", "eng", 2, "the victim's engagement (case, choice)"),
    ("vv", "views", 1, "record the victim's views and wishes (case)"),
]

SERVICE_KINDS: tuple[ButtonKind, ...] = (
    TRIAGE_ACCEPT,
    TRIAGE_ASK,
    TRIAGE_DECLINE,
    REPEAT_CONFIRM,
    REPEAT_REJECT,
    ACTION_ACCEPT,
    ACTION_DONE,
    ACTION_NOT_POSSIBLE,
    ACTION_REASSIGN,
    MEETING_RESEARCH,
    MEETING_ATTENDANCE,
    ERASURE_CONFIRM,
    ERASURE_KEEP,
    ENROLMENT_CONFIRM,
    ENROLMENT_REMOVE,
    ACCESS_REVIEW,
    VOICE_TOLD,
    VOICE_NOT_TOLD,
    IDVA_TAKE,
    IDVA_CONTACT_MENU,
    MINUTES_COPY,
)
KINDS: dict[tuple[str, str], ButtonKind] = {
    (kind.area, kind.action): kind
    for kind in (*SERVICE_KINDS, *PAGE_KINDS, *(_kind(*row) for row in _HANDLER_KINDS))
}
DASH_NEW = KINDS[("dsh", "new")]
# The workspace's pages, each opened by one kind of button: the server's routes come from here.
PAGES: dict[str, ButtonKind] = {k.page: k for k in KINDS.values() if k.page is not None}


def workspace_url(data: str, webapp_url: str | None) -> str | None:
    """Where a button opens in the case workspace, or None to keep it an ordinary button
    (no workspace is set up, or the kind has no page)."""
    if webapp_url is None:
        return None
    found = parse(data)
    if found is None:
        return None
    of = KINDS.get((found.area, found.action))
    if of is None or of.page is None or len(found.ids) != of.ids:
        return None
    return webapp_url + of.page_path(*found.ids)


def kind(area: str, action: str) -> ButtonKind:
    """The registered kind; a button nobody registered cannot be made or answered."""
    try:
        return KINDS[(area, action)]
    except KeyError:
        raise ValueError(f"no button {area}:{action} is registered in bot.buttons") from None


def attendance_buttons(meeting_id: int) -> list[list[tuple[str, str]]]:
    """Attending, sending a deputy, apologies: asked at publication and chased later."""
    return [
        [
            MEETING_ATTENDANCE(N_("Attending"), meeting_id, 0),
            MEETING_ATTENDANCE(N_("Sending a deputy"), meeting_id, 1),
        ],
        [MEETING_ATTENDANCE(N_("Apologies"), meeting_id, 2)],
    ]


def action_buttons(action_id: int) -> list[list[tuple[str, str]]]:
    """Accept, Done, Not possible, Reassign: under every message about an agency's action."""
    return [
        [ACTION_ACCEPT(N_("Accept"), action_id), ACTION_DONE(N_("Done"), action_id)],
        [
            ACTION_NOT_POSSIBLE(N_("Not possible"), action_id),
            ACTION_REASSIGN(N_("Reassign"), action_id),
        ],
    ]


def enrolment_buttons(person_id: int, invite_id: int) -> list[list[tuple[str, str]]]:
    """Confirm or Remove, under the question to the coordinators about who enrolled."""
    return [
        [
            ENROLMENT_CONFIRM(texts.BUTTON_CONFIRM_ENROLMENT, person_id, invite_id),
            ENROLMENT_REMOVE(texts.BUTTON_REMOVE_ENROLMENT, person_id, invite_id),
        ]
    ]


def outcome_buttons(case_id: int, meeting_id: int) -> list[list[tuple[str, str]]]:
    """Told / could not tell, under the question to the IDVA after the meeting."""
    return [
        [
            VOICE_TOLD(texts.BUTTON_VICTIM_TOLD, case_id, meeting_id),
            VOICE_NOT_TOLD(texts.BUTTON_COULD_NOT_TELL, case_id, meeting_id),
        ]
    ]


# --- Clare's Law (the Domestic Violence Disclosure Scheme) ---

DVDS_OPEN = _kind("cl", "open", 1, "open a Clare's Law application (application)")
DVDS_CHECK_DONE = _kind("cl", "done", 1, "our agency's check is done (application)")
_DVDS_KINDS = (
    DVDS_OPEN,
    DVDS_CHECK_DONE,
    _kind("cl", "list", 0, "the Clare's Law applications"),
    _kind("cl", "ask", 0, "a new right-to-ask application"),
    _kind("cl", "know", 0, "a new right-to-know application"),
    _kind("cl", "nocase", 0, "the application is linked to no case"),
    _kind("cl", "chk", 1, "ask an agency to check (application)"),
    _kind("cl", "agency", 2, "ask this agency to check (application, agency)"),
    _kind("cl", "panel", 1, "set the panel date (application)"),
    _kind("cl", "pday", 2, "the panel meets on this day (application, day)"),
    _kind("cl", "disc", 1, "decided: disclose (application)"),
    _kind("cl", "nodisc", 1, "decided: do not disclose (application)"),
    _kind("cl", "plan", 1, "record the safety plan (application)"),
)
KINDS.update({(k.area, k.action): k for k in _DVDS_KINDS})


def dvds_open_buttons(application_id: int) -> list[list[tuple[str, str]]]:
    """Open, under a notice to the officer about their application."""
    return [[DVDS_OPEN(texts.BUTTON_DVDS_OPEN, application_id)]]


def dvds_check_buttons(application_id: int) -> list[list[tuple[str, str]]]:
    """Open and Check done, under the request to an agency to check its records."""
    return [
        [
            DVDS_OPEN(texts.BUTTON_DVDS_OPEN, application_id),
            DVDS_CHECK_DONE(texts.BUTTON_DVDS_CHECK_DONE, application_id),
        ]
    ]


# --- MARAC-to-MARAC transfer ---
# Accept / Decline go in the request queued for the receiving coordinators; the rest are made
# and answered by handlers/transfers.py.
TRANSFER_ACCEPT = _kind("trf", "acc", 1, "accept a MARAC-to-MARAC transfer (transfer)")
TRANSFER_DECLINE = _kind("trf", "dec", 1, "decline a MARAC-to-MARAC transfer (transfer)")
TRANSFER_START = _kind("trf", "start", 1, "transfer a case to another MARAC (case)")
TRANSFER_TO = _kind("trf", "to", 2, "the area a case is transferred to (case, area)")
TRANSFER_NOTE = _kind("trf", "note", 1, "write the IDVA's handover note (case)")
# Where a workspace is set up it opens the case's page, which shows the handover; otherwise
# the chat sends it as a protected message. (Not in PAGES: the case page is CASE_OPEN's.)
TRANSFER_PACK = _kind(
    "trf", "pack", 1, "what a transferred case carries, and the note (case)", page="case"
)
KINDS.update(
    {
        (k.area, k.action): k
        for k in (
            TRANSFER_ACCEPT,
            TRANSFER_DECLINE,
            TRANSFER_START,
            TRANSFER_TO,
            TRANSFER_NOTE,
            TRANSFER_PACK,
        )
    }
)
# --- Welsh language ---
# /language: English or Cymraeg (index into bot.i18n.LANGUAGES). Registered here, at the end,
# so other features' blocks merge cleanly.
LANGUAGE_CHOOSE = _kind("lang", "set", 1, "the language the bot writes in (index)")
KINDS[(LANGUAGE_CHOOSE.area, LANGUAGE_CHOOSE.action)] = LANGUAGE_CHOOSE

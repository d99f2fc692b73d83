"""The database tables, as typed SQLAlchemy 2 models.

Columns ending in ``_sealed`` hold AES-GCM ciphertext (see storage.crypto);
everything else is safe to read in a database dump. Steps are recorded as
"who did it and when" columns rather than one mutable status, so the history
of a record can always be told.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.vocabulary import (
    AgencyKind,
    ContactOutcome,
    Criterion,
    DvdsDecision,
    DvdsRoute,
    DvdsStepKind,
    Engagement,
    OutcomeTold,
    Role,
)
from storage.base import Base, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def _enum(kind: type[enum.StrEnum]) -> Enum:
    return Enum(
        kind,
        native_enum=False,
        length=32,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


class DataKey(Base):
    """A record's own data key, stored only wrapped by a key-encryption key."""

    __tablename__ = "data_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(32))
    kek_id: Mapped[str] = mapped_column(String(64), index=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Area(Base):
    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    code: Mapped[str] = mapped_column(String(8), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/London")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AreaClosure(Base):
    """A day the area's agencies are closed (a council shutdown, Christmas Eve).

    Counted as non-working for every deadline and reminder, like a bank holiday. The note
    says what the day is ("Christmas Eve"); it names no person, so it is not sealed.
    """

    __tablename__ = "area_closures"
    __table_args__ = (UniqueConstraint("area_id", "day", name="uq_area_closures_area_day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    day: Mapped[date] = mapped_column(Date())
    note: Mapped[str | None] = mapped_column(String(80), default=None)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)


class Agency(Base):
    __tablename__ = "agencies"
    __table_args__ = (UniqueConstraint("area_id", "name", name="uq_agencies_area_name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[AgencyKind] = mapped_column(_enum(AgencyKind))
    isa_signed_on: Mapped[date | None] = mapped_column(Date(), default=None)
    isa_review_on: Mapped[date | None] = mapped_column(Date(), default=None)
    # The review date a reminder was last sent for, so each review is reminded once.
    isa_reminded_for: Mapped[date | None] = mapped_column(Date(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    # Perpetrator services record their current waiting time, to show gaps in provision.
    waiting_weeks: Mapped[int | None] = mapped_column(Integer(), default=None)


class Person(Base):
    """Someone enrolled to use the bot. Their name is sealed under their own data key."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    role: Mapped[Role] = mapped_column(_enum(Role))
    telegram_user_id: Mapped[int] = mapped_column(BigInteger(), unique=True)
    data_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_keys.id", ondelete="SET NULL"), default=None
    )
    display_name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    enrolled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    enrolled_via_invite_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    last_active_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    deactivated_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    # Gets urgent-case alerts, in and out of hours, alongside the coordinators.
    on_call: Mapped[bool] = mapped_column(Boolean(), default=False)
    # Set when Telegram says this person blocked the bot; cleared when they write again.
    unreachable_since: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # Who confirmed that the person who enrolled is the one the invite was for, and when.
    # Until then they get no case information. An enrolment by the operator's invite (the
    # area's first coordinator) is confirmed at enrolment, by nobody (None).
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    confirmed_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    # The language the bot writes to this person in, and their documents: "en" or "cy"
    # (bot.i18n.LANGUAGES), chosen with /language.
    language: Mapped[str] = mapped_column(String(2), default="en", server_default="en")

    @property
    def active(self) -> bool:
        return self.deactivated_at is None

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None


class Invite(Base):
    """A single-use enrolment code; only its hash is stored."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    role: Mapped[Role] = mapped_column(_enum(Role))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    redeemed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    redeemed_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    revoked_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)


class InviteAttempt(Base):
    """Every code someone tried, kept to stop guessing (5 failures an hour lock a user out)."""

    __tablename__ = "invite_attempts"
    __table_args__ = (Index("ix_invite_attempts_user_at", "telegram_user_id", "attempted_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger())
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    succeeded: Mapped[bool] = mapped_column(Boolean())


class AuditHead(Base):
    """One row holding the chain's tip; updating it first serialises appends on both databases."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer(), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger())
    last_hash: Mapped[str] = mapped_column(String(64))
    # Events up to this seq were pruned under the retention rule; the chain is verified from
    # the next one, whose prev_hash must equal pruned_hash.
    pruned_seq: Mapped[int] = mapped_column(BigInteger(), default=0, server_default="0")
    pruned_hash: Mapped[str] = mapped_column(String(64), default="0" * 64, server_default="0" * 64)


class AuditEvent(Base):
    """Append-only, hash-chained record of who did what, when, and with what outcome.

    Never holds the sensitive values themselves, only references to them.
    """

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_area_seq", "area_id", "seq"),
        Index("ix_audit_events_subject", "area_id", "subject", "seq"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger(), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    area_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    actor_person_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    actor_label: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[str] = mapped_column(Text(), default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class SensitiveMessage(Base):
    """A message with case content in a private chat that the bot must delete.

    Either one the bot sent (deleted after the sensitive-message time) or one the person
    typed (``typed``: deleted as soon as what it says is stored). Telegram lets a bot delete
    a person's message for 48 hours only, so a typed one that cannot be deleted by then is
    marked ``failed_at`` and the person is asked to delete it themselves.
    """

    __tablename__ = "sensitive_messages"
    __table_args__ = (Index("ix_sensitive_messages_due", "deleted_at", "delete_after"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger())
    message_id: Mapped[int] = mapped_column(BigInteger())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delete_after: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    typed: Mapped[bool] = mapped_column(Boolean(), default=False, server_default=false())
    attempts: Mapped[int] = mapped_column(Integer(), default=0, server_default="0")
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class AreaPolicy(Base):
    """Per-area thresholds and routes; created with defaults the first time they are needed."""

    __tablename__ = "area_policies"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)
    dash_threshold: Mapped[int] = mapped_column(Integer(), default=14)
    escalation_threshold: Mapped[int] = mapped_column(Integer(), default=3)
    repeat_window_days: Mapped[int] = mapped_column(Integer(), default=365)
    draft_ttl_days: Mapped[int] = mapped_column(Integer(), default=7)
    out_of_hours_route: Mapped[str] = mapped_column(
        String(300), default="the police on 999 if anyone is in immediate danger"
    )
    agenda_cutoff_days: Mapped[int] = mapped_column(Integer(), default=5, server_default="5")
    research_days: Mapped[int] = mapped_column(Integer(), default=2, server_default="2")
    reminder_days_before: Mapped[int] = mapped_column(Integer(), default=2, server_default="2")
    reminder_hours_before: Mapped[int] = mapped_column(Integer(), default=2, server_default="2")
    meeting_capacity: Mapped[int] = mapped_column(Integer(), default=20, server_default="20")
    # For "cases per 10,000 adult women" in the statistics (the ONS mid-year estimate).
    adult_female_population: Mapped[int | None] = mapped_column(Integer(), default=None)
    case_retention_years: Mapped[int] = mapped_column(Integer(), default=6, server_default="6")
    # Working days after a meeting during which invited agencies keep the identifiers of the
    # cases on it (research, then the actions agreed); then reference and summary only.
    research_open_days_after: Mapped[int] = mapped_column(Integer(), default=5, server_default="5")
    # Calendar invitations go to every invitee unprotected: the location only if the area says.
    calendar_location: Mapped[bool] = mapped_column(
        Boolean(), default=False, server_default=false()
    )


class CaseCounter(Base):
    """The last case number used per area and year, for references like NOR-2026-0042."""

    __tablename__ = "case_counters"

    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer(), primary_key=True)
    last: Mapped[int] = mapped_column(Integer(), default=0)


class Case(Base):
    """A referral to MARAC. Identifying content is sealed; what statistics need is coded.

    The coded columns (score, criterion, counts, equality flags) carry no name, date
    of birth or address, so the quarterly figures can be computed without opening a case.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_victim_index", "area_id", "victim_index"),
        Index("ix_cases_perpetrator_index", "area_id", "perpetrator_index"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    data_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_keys.id", ondelete="SET NULL"), default=None
    )
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    referred_by_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    referring_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    criterion: Mapped[Criterion] = mapped_column(_enum(Criterion))
    dash_yes: Mapped[int] = mapped_column(Integer())
    dash_not_known: Mapped[int] = mapped_column(Integer())
    police_incidents_12m: Mapped[int | None] = mapped_column(Integer(), default=None)
    urgent: Mapped[bool] = mapped_column(Boolean(), default=False)
    consent_given: Mapped[bool] = mapped_column(Boolean())
    children_count: Mapped[int] = mapped_column(Integer(), default=0)
    victim_gender: Mapped[str | None] = mapped_column(String(16), default=None)
    victim_lgbt: Mapped[bool | None] = mapped_column(Boolean(), default=None)
    victim_disabled: Mapped[bool | None] = mapped_column(Boolean(), default=None)
    victim_minoritised: Mapped[bool | None] = mapped_column(Boolean(), default=None)
    victim_aged_16_17: Mapped[bool] = mapped_column(Boolean(), default=False)
    perpetrator_under_18: Mapped[bool | None] = mapped_column(Boolean(), default=None)
    victim_index: Mapped[str] = mapped_column(String(64))
    perpetrator_index: Mapped[str | None] = mapped_column(String(64), default=None)
    repeat_of_case_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    victim_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    perpetrator_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    safety_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    risk_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    household_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    summary_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)


class CaseEvent(Base):
    """One step in a case's life (submitted, accepted, declined, repeat confirmed, ...).

    The case's status is read from its latest triage step; nothing is overwritten.
    """

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case_at", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_person_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    related_case_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)


class IdvaAllocation(Base):
    """A named IDVA allocated to a case, by whom and when.

    Every allocation and reallocation is a new row; the case's IDVA is the latest one
    (``bot.services.idva_allocations.allocated_idvas``), so who held the case before, and who
    moved it, can always be told.
    """

    __tablename__ = "idva_allocations"
    __table_args__ = (Index("ix_idva_allocations_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    allocated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    allocated_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)


class VictimVoiceEntry(Base):
    """What the allocated IDVA recorded of the victim's voice: the victim's engagement, or
    the victim's views and wishes for the meeting (sealed with the case's data key).

    Each record is a new row with who and when; the latest of each kind is the one shown.
    """

    __tablename__ = "victim_voice_entries"
    __table_args__ = (Index("ix_victim_voice_entries_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    engagement: Mapped[Engagement | None] = mapped_column(_enum(Engagement), default=None)
    views_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by_id: Mapped[int] = mapped_column(BigInteger())


class VictimOutcomeReply(Base):
    """The allocated IDVA's answer, after the meeting that heard the case, to "was the victim
    told the outcome?": told, or could not tell (with a sealed reason). Every answer is kept."""

    __tablename__ = "victim_outcome_replies"
    __table_args__ = (Index("ix_victim_outcome_replies_case", "case_id", "meeting_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    outcome: Mapped[OutcomeTold] = mapped_column(_enum(OutcomeTold))
    reason_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_person_id: Mapped[int] = mapped_column(BigInteger())


class VictimContact(Base):
    """One attempt by the case's IDVA to contact the victim: who, when, and what came of it.

    Every attempt is a row; whether the victim has been reached is read from them
    (``bot.idva.reached``), not kept as a status.
    """

    __tablename__ = "victim_contacts"
    __table_args__ = (Index("ix_victim_contacts_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    outcome: Mapped[ContactOutcome] = mapped_column(_enum(ContactOutcome))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class DashAssessment(Base):
    """A DASH (or DARA) risk assessment of a case: when, by whom, on which form, its score.

    The referral's own checklist is the first; an IDVA or the referrer may record more while
    the case is open (a reassessment), each a new row, so the agenda can show a rising score.
    Only coded values: the form, the counts of yes and not known (the 24 SafeLives
    questions), and a DARA assessment's graded level (it is not a count).
    """

    __tablename__ = "dash_assessments"
    __table_args__ = (Index("ix_dash_assessments_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_person_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    form: Mapped[str] = mapped_column(String(16))
    dash_yes: Mapped[int | None] = mapped_column(Integer(), default=None)
    dash_not_known: Mapped[int | None] = mapped_column(Integer(), default=None)
    dara_level: Mapped[str | None] = mapped_column(String(16), default=None)


class CaseExclusion(Base):
    """Someone who must never receive anything about this case."""

    __tablename__ = "case_exclusions"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by_id: Mapped[int] = mapped_column(BigInteger())


class ReferralDraft(Base):
    """A half-written referral, sealed after every step so nothing is lost or readable."""

    __tablename__ = "referral_drafts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    data_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_keys.id", ondelete="SET NULL"), default=None
    )
    payload_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class OutboxMessage(Base):
    """A notification or reminder waiting to be sent, written with the event that causes it.

    Text carries case references, never names. ``dedupe_key`` makes the same
    reminder impossible to queue twice; ``claimed_until`` is a lease so two
    dispatchers never send one row both.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "sent_at", "cancelled_at", "due_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(160), unique=True)
    area_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    person_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    chat_id: Mapped[int] = mapped_column(BigInteger())
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text())
    buttons: Mapped[str | None] = mapped_column(Text(), default=None)
    # The cases the message names ("12,15"), so whether the recipient may still receive it is
    # asked again when it is sent (bot.access): an exclusion or a change of role after it was
    # queued stops it.
    case_ids: Mapped[str | None] = mapped_column(Text(), default=None)
    # A file built at send time from current data, e.g. "meeting_ics:12" (the calendar invite).
    attachment: Mapped[str | None] = mapped_column(String(60), default=None)
    # Text built at send time from current data, e.g. "enrolment:12": for messages that name
    # a person, whose name is sealed and so is never written here; ``text`` holds a version
    # without the name, sent if it cannot be built.
    text_from: Mapped[str | None] = mapped_column(String(60), default=None)
    urgent: Mapped[bool] = mapped_column(Boolean(), default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    attempts: Mapped[int] = mapped_column(Integer(), default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    last_error: Mapped[str | None] = mapped_column(String(200), default=None)


class MeetingSeries(Base):
    """How an area's MARAC repeats; its meetings are materialised a few months ahead."""

    __tablename__ = "meeting_series"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    repeat: Mapped[str] = mapped_column(String(24))
    nth: Mapped[int | None] = mapped_column(Integer(), default=None)
    first_date: Mapped[date] = mapped_column(Date())
    start_time: Mapped[str] = mapped_column(String(5))  # local "HH:MM" in the area's zone
    # What happens to a meeting that falls on a non-working day: "before" (the working day
    # before), "after" (the working day after) or "keep" (bot.meetings.recurrence.OffDayRule).
    off_day_rule: Mapped[str] = mapped_column(String(8), default="before", server_default="before")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int] = mapped_column(BigInteger())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class Meeting(Base):
    """One MARAC meeting. Its place or video link is sealed; moves keep the calendar UID."""

    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_area_start", "area_id", "starts_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    series_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_series.id"), default=None)
    # The series' own date for this meeting, kept when it is moved off a non-working day,
    # so the series is continued from its rhythm and not from the moved date.
    series_day: Mapped[date | None] = mapped_column(Date(), default=None)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    duration_minutes: Mapped[int] = mapped_column(Integer(), default=180)
    capacity: Mapped[int] = mapped_column(Integer(), default=20)
    chair_person_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    data_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_keys.id", ondelete="SET NULL"), default=None
    )
    location_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    calendar_uid: Mapped[str] = mapped_column(String(80), unique=True)
    calendar_sequence: Mapped[int] = mapped_column(Integer(), default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int] = mapped_column(BigInteger())
    moved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    moved_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    published_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    cancelled_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    closed_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)


class AgendaItem(Base):
    """A case listed for a meeting; moving it elsewhere closes this row and opens another."""

    __tablename__ = "agenda_items"
    __table_args__ = (Index("ix_agenda_items_meeting", "meeting_id", "removed_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer())
    emergency: Mapped[bool] = mapped_column(Boolean(), default=False)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    removed_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)


class ResearchReturn(Base):
    """What one agency knows about one listed case; several notes are allowed."""

    __tablename__ = "research_returns"
    __table_args__ = (Index("ix_research_returns_item", "agenda_item_id", "agency_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    agenda_item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    outcome: Mapped[str] = mapped_column(String(16))  # nothing_known | information
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    by_person_id: Mapped[int] = mapped_column(BigInteger())
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class AttendanceReply(Base):
    """An agency's answer to a meeting invitation; the latest reply counts, all are kept.

    Its apology reason is sealed under the meeting's data key (``Meeting.data_key_id``).
    """

    __tablename__ = "attendance_replies"
    __table_args__ = (Index("ix_attendance_meeting_agency", "meeting_id", "agency_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    status: Mapped[str] = mapped_column(String(16))  # attending | deputy | apologies
    # Why apologies were sent, sealed with the meeting's data key (it may name a person).
    reason_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    by_person_id: Mapped[int] = mapped_column(BigInteger())
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class Action(Base):
    """An action agreed at a MARAC for one agency; what it says is sealed with the case's key.

    Its state is read from its steps (assigned, accepted, done, not possible, reassigned).
    """

    __tablename__ = "actions"
    __table_args__ = (
        # Covers the statistics' count of actions due in a period (no row lookups).
        Index("ix_actions_agency_due", "agency_id", "due_on", "sent_at", "closed_state"),
        Index("ix_actions_agency_open", "agency_id", "closed_at", "due_on"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id"), default=None)
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    text_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    due_on: Mapped[date] = mapped_column(Date())
    priority: Mapped[str] = mapped_column(String(8), default="normal")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int] = mapped_column(BigInteger())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # When its final step (done / not possible) was recorded. The steps stay the record; this
    # copy, written in the same transaction, lets "open actions" be found by an index.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    # ... and what that final step was (done / not possible), for the counts per agency.
    closed_state: Mapped[str | None] = mapped_column(String(16), default=None)


class ActionStep(Base):
    __tablename__ = "action_steps"
    __table_args__ = (Index("ix_action_steps_action", "action_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_person_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    assigned_to_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)


class PerpetratorReferral(Base):
    """A referral to a perpetrator service, followed step by step until an outcome."""

    __tablename__ = "perpetrator_referrals"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("actions.id", ondelete="CASCADE"))
    service_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    referred_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PerpetratorStep(Base):
    __tablename__ = "perpetrator_steps"
    __table_args__ = (Index("ix_perpetrator_steps_referral", "referral_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    referral_id: Mapped[int] = mapped_column(
        ForeignKey("perpetrator_referrals.id", ondelete="CASCADE")
    )
    state: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_person_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    reason_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    # "contact planned": the day first contact with the person causing harm is planned for.
    planned_on: Mapped[date | None] = mapped_column(Date(), default=None)
    # "ended": why, as a coded ``bot.vocabulary.PerpEndReason`` value commissioners count.
    end_reason: Mapped[str | None] = mapped_column(String(20), default=None)


class CaseRiskSummary(Base):
    """The risks the meeting identified for a case, recorded by the chair or coordinator as
    the case is heard (sealed with the case's data key). Each record is a new row with who
    and when; the latest for the meeting is the one in the minutes."""

    __tablename__ = "case_risk_summaries"
    __table_args__ = (Index("ix_case_risk_summaries_meeting", "meeting_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    summary_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by_id: Mapped[int] = mapped_column(BigInteger())


class MeetingConfidentiality(Base):
    """Everyone present agreed to the confidentiality statement: who recorded it, and when."""

    __tablename__ = "meeting_confidentiality"
    __table_args__ = (Index("ix_meeting_confidentiality_meeting", "meeting_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    agreed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    recorded_by_id: Mapped[int] = mapped_column(BigInteger())


class MinutesSent(Base):
    """The minutes were sent to the agencies (each gets its own copy): by whom, and when."""

    __tablename__ = "minutes_sent"
    __table_args__ = (Index("ix_minutes_sent_meeting", "meeting_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_by_id: Mapped[int] = mapped_column(BigInteger())


class BotState(Base):
    """One persisted value of python-telegram-bot's state (``bot.adapter.persistence``): a
    conversation's state, or one user's, chat's or the bot's data dict, as plain JSON."""

    __tablename__ = "bot_state"

    kind: Mapped[str] = mapped_column(String(32), primary_key=True)
    # The ConversationHandler's name; "" for the data kinds.
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    # JSON: the conversation key as a list, or the user/chat id; "" for bot_data.
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value: Mapped[str] = mapped_column(Text, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, nullable=False)


class DvdsApplication(Base):
    """A Clare's Law application (the Domestic Violence Disclosure Scheme), owned by the
    police: its route, the day it was received, the case it is linked to if any, and who
    applied and whom it is about (sealed with its own data key, so a standalone application
    needs no case). Everything that happens to it is a ``DvdsStep``."""

    __tablename__ = "dvds_applications"
    __table_args__ = (Index("ix_dvds_applications_area", "area_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), default=None, index=True
    )
    route: Mapped[DvdsRoute] = mapped_column(_enum(DvdsRoute))
    received_on: Mapped[date] = mapped_column(Date())
    data_key_id: Mapped[str | None] = mapped_column(
        ForeignKey("data_keys.id", ondelete="SET NULL"), default=None
    )
    applicant_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    subject_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by_id: Mapped[int] = mapped_column(BigInteger())


class DvdsStep(Base):
    """One step of a Clare's Law application, with who and when: received, a check asked of
    an agency (with its due day) and completed, the panel's date set, the decision, the
    safety plan at disclosure (sealed with the application's key)."""

    __tablename__ = "dvds_steps"
    __table_args__ = (Index("ix_dvds_steps_application", "application_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(
        ForeignKey("dvds_applications.id", ondelete="CASCADE")
    )
    kind: Mapped[DvdsStepKind] = mapped_column(_enum(DvdsStepKind))
    on: Mapped[date] = mapped_column(Date())
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), default=None)
    due_on: Mapped[date | None] = mapped_column(Date(), default=None)
    panel_on: Mapped[date | None] = mapped_column(Date(), default=None)
    decision: Mapped[DvdsDecision | None] = mapped_column(_enum(DvdsDecision), default=None)
    safety_plan_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    by_person_id: Mapped[int] = mapped_column(BigInteger())


class CaseTransfer(Base):
    """A MARAC-to-MARAC transfer of a case to another area of the deployment, step by step.

    The sending coordinator's request (who, when, the reason sealed with the case's key, and
    the victim's blind index under the receiving area's key, so a referral there finds it);
    then a receiving coordinator's decision (who, when, accepted or declined) and, when
    accepted, the case opened in the receiving area. The pack the new case carries (the
    reason and the outstanding actions, as information) is sealed with the new case's key.
    """

    __tablename__ = "case_transfers"
    __table_args__ = (
        Index("ix_case_transfers_case", "case_id", "id"),
        Index("ix_case_transfers_to_victim", "to_area_id", "victim_index"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    from_area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    to_area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"))
    victim_index: Mapped[str | None] = mapped_column(String(64), default=None)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime())
    requested_by_id: Mapped[int] = mapped_column(BigInteger())
    reason_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    decided_by_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    decision: Mapped[str | None] = mapped_column(String(16), default=None)
    new_case_id: Mapped[int | None] = mapped_column(BigInteger(), default=None)
    pack_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)


class HandoverNote(Base):
    """The sending IDVA's handover note for a case that moves to another MARAC, sealed with
    the key of the case it is read on. Written on the sending case by its allocated IDVA
    (before or after the transfer is requested) and copied onto the case opened in the
    receiving area; each note is a new row and the latest is the one read."""

    __tablename__ = "handover_notes"
    __table_args__ = (Index("ix_handover_notes_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"))
    from_case_id: Mapped[int] = mapped_column(BigInteger())
    written_at: Mapped[datetime] = mapped_column(UTCDateTime())
    written_by_id: Mapped[int] = mapped_column(BigInteger())
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary(), default=None)

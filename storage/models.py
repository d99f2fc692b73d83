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
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime

# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a BIGINT.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Role(enum.StrEnum):
    COORDINATOR = "coordinator"
    CHAIR = "chair"
    AGENCY_REP = "agency_rep"
    PERPETRATOR_REP = "perpetrator_rep"
    GOVERNANCE = "governance"


class AgencyKind(enum.StrEnum):
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

    @property
    def active(self) -> bool:
        return self.deactivated_at is None


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


class AuditEvent(Base):
    """Append-only, hash-chained record of who did what, when, and with what outcome.

    Never holds the sensitive values themselves, only references to them.
    """

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_area_seq", "area_id", "seq"),)

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
    """A message with case content the bot sent and must delete after its time."""

    __tablename__ = "sensitive_messages"
    __table_args__ = (Index("ix_sensitive_messages_due", "deleted_at", "delete_after"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger())
    message_id: Mapped[int] = mapped_column(BigInteger())
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    delete_after: Mapped[datetime] = mapped_column(UTCDateTime())
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)

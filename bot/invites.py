"""Rules for invite codes: how they look, how they are stored, when they work."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot import texts
from bot.vocabulary import AgencyKind, Role

AGENCY_ROLES = frozenset({Role.AGENCY_REP, Role.PERPETRATOR_REP})

CODE_BYTES = 24  # 192 bits: guessing is hopeless even before the lockout
CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_FAILED_ATTEMPTS = 5
LOCKOUT_WINDOW = timedelta(hours=1)


def generate_code() -> str:
    """A URL-safe code that fits Telegram's 64-character deep-link payload."""
    return secrets.token_urlsafe(CODE_BYTES)


def hash_code(code: str) -> str:
    """Codes are high-entropy, so a plain SHA-256 is enough to make a stolen table useless."""
    return hashlib.sha256(code.strip().encode()).hexdigest()


def looks_like_code(text: str) -> bool:
    return bool(CODE_PATTERN.match(text.strip()))


def deep_link(bot_username: str, code: str) -> str:
    return f"https://t.me/{bot_username}?start={code}"


class InviteState(StrEnum):
    OPEN = "open"
    EXPIRED = "expired"
    USED = "used"
    REVOKED = "revoked"


@dataclass(frozen=True)
class InviteFacts:
    expires_at: datetime
    redeemed_at: datetime | None
    revoked_at: datetime | None


def invite_state(invite: InviteFacts, now: datetime) -> InviteState:
    if invite.revoked_at is not None:
        return InviteState.REVOKED
    if invite.redeemed_at is not None:
        return InviteState.USED
    if now >= invite.expires_at:
        return InviteState.EXPIRED
    return InviteState.OPEN


def is_locked_out(failed_attempts_in_window: int) -> bool:
    return failed_attempts_in_window >= MAX_FAILED_ATTEMPTS


def role_agency_problem(role: Role, agency_kind: AgencyKind | None) -> str | None:
    """Agency reps belong to an agency (perpetrator reps to a perpetrator service); others don't."""
    if role in AGENCY_ROLES and agency_kind is None:
        return texts.INVITE_NEEDS_AGENCY
    if role not in AGENCY_ROLES and agency_kind is not None:
        return texts.INVITE_ROLE_HAS_NO_AGENCY
    if role is Role.PERPETRATOR_REP and agency_kind is not AgencyKind.PERPETRATOR_SERVICE:
        return texts.PERPETRATOR_REP_NEEDS_SERVICE
    return None

"""Short workspace sessions: proof, for half an hour, that Telegram vouched for this person.

The page trades Telegram's launch data for a session token once, then sends the token with
each request (an ``Authorization`` header, not a cookie: the workspace is framed by
Telegram's web client on another site, where a cookie would be a third-party one). The
token is signed, not stored: it names the person and their Telegram account and when it
expires, under a key derived from the bot token, so every process of the bot (active and
standby) accepts it and nothing is written per page view. It grants nothing by itself:
each request still finds the person active and asks the access policy afresh, so a
deactivation or a must-not-receive entry applies at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

SESSION_LENGTH: Final = timedelta(minutes=30)


@dataclass(frozen=True)
class SessionClaims:
    person_id: int
    telegram_user_id: int
    expires_at: datetime


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionKeys:
    """Signs and reads session tokens; the key never leaves this object."""

    def __init__(self, bot_token: str) -> None:
        # A key of its own, so a session token can never pass for launch data or the reverse.
        self._key = hmac.new(b"MaracWorkspaceSession", bot_token.encode(), hashlib.sha256).digest()

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def issue(self, person_id: int, telegram_user_id: int, now: datetime) -> str:
        expires = int((now + SESSION_LENGTH).timestamp())
        body = _b64(json.dumps({"p": person_id, "u": telegram_user_id, "e": expires}).encode())
        return f"{body}.{self._mac(body)}"

    def read(self, token: str, now: datetime) -> SessionClaims | None:
        """The claims of a genuine, unexpired token; None for anything else."""
        body, _, mac = token.partition(".")
        if not body or not mac or len(token) > 512:
            return None
        if not hmac.compare_digest(self._mac(body).encode(), mac.encode()):
            return None
        try:
            claims = json.loads(_unb64(body))
            expires = datetime.fromtimestamp(int(claims["e"]), UTC)
            person_id, user_id = int(claims["p"]), int(claims["u"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires <= now:
            return None
        return SessionClaims(person_id, user_id, expires)

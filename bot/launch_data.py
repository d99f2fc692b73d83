"""Telegram Mini App launch data (``initData``): checked exactly as Telegram specifies.

When someone opens the case workspace from a ``web_app`` button, their Telegram app hands
the page a query string (``Telegram.WebApp.initData``) signed with a key only Telegram and
this bot know. It is the only proof of who is at the other end, so it is checked the way
Telegram's documentation ("Validating data received via the Mini App") describes:

* the data-check-string is every received field except ``hash``, as ``key=value`` with the
  values URL-decoded, sorted by key and joined with a line feed;
* the secret key is HMAC-SHA256 of the bot token under the key ``WebAppData``;
* ``hash`` must equal the hex HMAC-SHA256 of the data-check-string under that secret,
  compared in constant time;
* ``auth_date`` must be recent (an hour here): launch data copied from a log or a
  screenshot stops working.

A field given twice is refused rather than guessed at. :func:`sign_init_data` signs the
same way, for the local Bot API stand-in, the demo and the tests: it plays Telegram's part.

Pure functions: the time is passed in, nothing is read or written; the workspace (which
checks) and the stand-in (which signs) both stand above it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final
from urllib.parse import parse_qsl, urlencode

MAX_AGE: Final = timedelta(hours=1)
# A phone's clock may run a little fast; launch data from further ahead is not believed.
CLOCK_SKEW: Final = timedelta(minutes=5)
MAX_LENGTH: Final = 4096  # Telegram's launch data is a few hundred bytes


class InitDataRejected(Exception):
    """The launch data is not Telegram's for this bot, or no longer fresh; ``reason`` says
    which, for the log (it never holds the data itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WebAppUser:
    """Who opened the page, as Telegram vouches for it."""

    telegram_user_id: int
    first_name: str
    auth_date: datetime


def _secret(bot_token: str) -> bytes:
    return hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()


def _check_string(fields: Mapping[str, str]) -> bytes:
    return "\n".join(f"{key}={fields[key]}" for key in sorted(fields)).encode()


def _fields(raw: str) -> dict[str, str]:
    if not raw or len(raw) > MAX_LENGTH:
        raise InitDataRejected("empty or too long")
    try:
        pairs = parse_qsl(raw, keep_blank_values=True, strict_parsing=True)
    except ValueError as error:
        raise InitDataRejected("not a query string") from error
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields:
            raise InitDataRejected(f"field {key!r} given twice")
        fields[key] = value
    return fields


def verify_init_data(
    raw: str, bot_token: str, now: datetime, *, max_age: timedelta = MAX_AGE
) -> WebAppUser:
    """The Telegram user the launch data vouches for, or :class:`InitDataRejected`."""
    fields = _fields(raw)
    received = fields.pop("hash", "")
    expected = hmac.new(_secret(bot_token), _check_string(fields), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), received.lower().encode()):
        raise InitDataRejected("hash does not match")
    try:
        auth_date = datetime.fromtimestamp(int(fields["auth_date"]), UTC)
    except (KeyError, ValueError, OverflowError, OSError) as error:
        raise InitDataRejected("no auth_date") from error
    if now - auth_date > max_age:
        raise InitDataRejected("too old")
    if auth_date - now > CLOCK_SKEW:
        raise InitDataRejected("from the future")
    try:
        user = json.loads(fields["user"])
        user_id = int(user["id"])
    except (KeyError, ValueError, TypeError) as error:
        raise InitDataRejected("no user") from error
    return WebAppUser(user_id, str(user.get("first_name", "")), auth_date)


def sign_init_data(fields: Mapping[str, str], bot_token: str) -> str:
    """Launch data for ``fields`` as Telegram would sign it for this bot."""
    digest = hmac.new(_secret(bot_token), _check_string(fields), hashlib.sha256).hexdigest()
    return urlencode({**fields, "hash": digest})


def launch_data_for(telegram_user_id: int, first_name: str, bot_token: str, now: datetime) -> str:
    """What Telegram hands the page when this user opens it now (the stand-in's part)."""
    user = json.dumps(
        {"id": telegram_user_id, "first_name": first_name, "language_code": "en"},
        separators=(",", ":"),
    )
    return sign_init_data(
        {
            "auth_date": str(int(now.timestamp())),
            "query_id": f"AA{telegram_user_id:x}{int(now.timestamp()):x}",
            "user": user,
        },
        bot_token,
    )

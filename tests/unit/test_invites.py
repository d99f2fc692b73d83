"""Invite codes: shape, storage hash, state and lockout rules."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.invites import (
    MAX_FAILED_ATTEMPTS,
    InviteFacts,
    InviteState,
    deep_link,
    generate_code,
    hash_code,
    invite_state,
    is_locked_out,
    looks_like_code,
)

TELEGRAM_START_PAYLOAD = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(hours=72)


def test_generated_codes_fit_a_telegram_deep_link_payload() -> None:
    for _ in range(200):
        code = generate_code()
        assert TELEGRAM_START_PAYLOAD.match(code), code
        assert len(code) >= 32  # at least 192 bits of base64url
        assert looks_like_code(code)


def test_generated_codes_are_unique() -> None:
    codes = {generate_code() for _ in range(5000)}
    assert len(codes) == 5000


def test_hash_is_stable_and_is_not_the_code() -> None:
    code = generate_code()
    digest = hash_code(code)
    assert digest == hash_code(code)
    assert code not in digest
    assert re.fullmatch(r"[0-9a-f]{64}", digest)


def test_hash_ignores_surrounding_whitespace_pasted_with_the_code() -> None:
    code = generate_code()
    assert hash_code(f"  {code}\n") == hash_code(code)


def test_different_codes_hash_differently() -> None:
    first, second = generate_code(), generate_code()
    assert hash_code(first) != hash_code(second)
    # Case matters: base64url codes are case-sensitive.
    assert hash_code("AbCdEfGhIjKlMnOpQr") != hash_code("abcdefghijklmnopqr")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "short",
        "a" * 15,
        "a" * 65,
        "abcdefgh ijklmnopqrs",
        "abcdefghijklmnop!",
        "abcdefghijklmnop+/",
        "abcdefghijklmnop=",
        "abcdefghijklmnop.",
        "abcdéfghijklmnopq",
        "abcdefghijklmnop\u0661",  # Arabic-Indic digit one
        "abcdefghijklmnop\nextra",
        "/start abcdefghijklmnopqrstuvwx",
        "https://t.me/bot?start=abcdefghijklmnop",
    ],
)
def test_looks_like_code_rejects_things_that_are_not_codes(text: str) -> None:
    assert looks_like_code(text) is False


@pytest.mark.parametrize(
    "text",
    ["a" * 16, "A" * 64, "abc-DEF_123-xyz_789", "  abcdefghijklmnopqrstuvwx \n"],
)
def test_looks_like_code_accepts_codes(text: str) -> None:
    assert looks_like_code(text) is True


def facts(
    *, redeemed: datetime | None = None, revoked: datetime | None = None, expires=EXPIRES
) -> InviteFacts:
    return InviteFacts(expires_at=expires, redeemed_at=redeemed, revoked_at=revoked)


@pytest.mark.parametrize(
    ("invite", "now", "expected"),
    [
        (facts(), NOW, InviteState.OPEN),
        (facts(), EXPIRES - timedelta(microseconds=1), InviteState.OPEN),
        (facts(), EXPIRES, InviteState.EXPIRED),
        (facts(), EXPIRES + timedelta(days=1), InviteState.EXPIRED),
        (facts(redeemed=NOW), NOW, InviteState.USED),
        (facts(redeemed=NOW), EXPIRES + timedelta(days=1), InviteState.USED),
        (facts(revoked=NOW), NOW, InviteState.REVOKED),
        (facts(revoked=NOW), EXPIRES + timedelta(days=1), InviteState.REVOKED),
        (facts(redeemed=NOW, revoked=NOW), NOW, InviteState.REVOKED),
        (facts(redeemed=NOW, revoked=NOW), EXPIRES + timedelta(days=1), InviteState.REVOKED),
    ],
    ids=[
        "fresh-open",
        "just-before-expiry-open",
        "exactly-at-expiry-expired",
        "after-expiry-expired",
        "used",
        "used-beats-expired",
        "revoked",
        "revoked-beats-expired",
        "revoked-beats-used",
        "revoked-beats-used-and-expired",
    ],
)
def test_invite_state_precedence(invite: InviteFacts, now: datetime, expected: InviteState) -> None:
    assert invite_state(invite, now) is expected


def test_lockout_starts_at_five_failures_not_four() -> None:
    assert MAX_FAILED_ATTEMPTS == 5
    assert is_locked_out(0) is False
    assert is_locked_out(4) is False
    assert is_locked_out(5) is True
    assert is_locked_out(6) is True


def test_deep_link_format() -> None:
    code = generate_code()
    link = deep_link("marac_test_bot", code)
    assert link == f"https://t.me/marac_test_bot?start={code}"
    parts = urlsplit(link)
    assert parts.scheme == "https"
    assert parts.netloc == "t.me"
    assert parts.path == "/marac_test_bot"
    assert parse_qs(parts.query) == {"start": [code]}

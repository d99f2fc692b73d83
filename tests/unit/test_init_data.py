"""Mini App launch data is believed only when Telegram signed it for this bot, recently."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.launch_data import (
    InitDataRejected,
    launch_data_for,
    sign_init_data,
    verify_init_data,
)

TOKEN = "123456789:AAH4kKxExampleExampleExampleExample"
NOW = datetime(2030, 3, 4, 10, 0, tzinfo=UTC)  # an input: no wall clock here


def launch(now: datetime = NOW, user_id: int = 501, token: str = TOKEN) -> str:
    return launch_data_for(user_id, "Sam", token, now)


def test_data_signed_for_this_bot_names_the_user() -> None:
    user = verify_init_data(launch(), TOKEN, NOW + timedelta(minutes=10))
    assert (user.telegram_user_id, user.first_name, user.auth_date) == (501, "Sam", NOW)


def test_a_maintained_librarys_test_vector_is_accepted() -> None:
    # aiogram's tests (tests/test_utils/test_web_app.py): token "42:TEST" and launch data
    # signed by Telegram's rule; it must verify here too, and fail with another token.
    raw = (
        "auth_date=1650385342"
        "&user=%7B%22id%22%3A42%2C%22first_name%22%3A%22Test%22%7D"
        "&query_id=test"
        "&hash=46d2ea5e32911ec8d30999b56247654460c0d20949b6277af519e76271182803"
    )
    signed_at = datetime.fromtimestamp(1650385342, UTC)
    user = verify_init_data(raw, "42:TEST", signed_at + timedelta(seconds=30))
    assert user.telegram_user_id == 42 and user.first_name == "Test"
    with pytest.raises(InitDataRejected, match="hash"):
        verify_init_data(raw, "42:INVALID", signed_at)


def test_the_order_of_the_fields_does_not_matter_but_the_signed_order_does() -> None:
    fields = dict(parse_qsl(launch()))
    shuffled = urlencode(dict(reversed(list(fields.items()))))
    assert verify_init_data(shuffled, TOKEN, NOW).telegram_user_id == 501
    # A hash over the fields in the order received, not sorted, is not Telegram's.
    unsorted = {k: v for k, v in fields.items() if k != "hash"}
    secret = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    check = "\n".join(f"{k}={v}" for k, v in reversed(list(unsorted.items()))).encode()
    forged = urlencode({**unsorted, "hash": hmac.new(secret, check, hashlib.sha256).hexdigest()})
    with pytest.raises(InitDataRejected, match="hash"):
        verify_init_data(forged, TOKEN, NOW)


def test_a_changed_user_or_date_breaks_the_signature() -> None:
    fields = dict(parse_qsl(launch()))
    someone_else = {**fields, "user": json.dumps({"id": 999, "first_name": "Eve"})}
    later = {**fields, "auth_date": str(int((NOW + timedelta(hours=5)).timestamp()))}
    for forged in (someone_else, later):
        with pytest.raises(InitDataRejected, match="hash"):
            verify_init_data(urlencode(forged), TOKEN, NOW)


def test_another_bots_data_is_refused() -> None:
    other = launch(token="987654321:BBH4kKxExampleExampleExampleExample")
    with pytest.raises(InitDataRejected, match="hash"):
        verify_init_data(other, TOKEN, NOW)


def test_old_or_future_data_is_refused() -> None:
    with pytest.raises(InitDataRejected, match="too old"):
        verify_init_data(launch(), TOKEN, NOW + timedelta(hours=1, seconds=1))
    with pytest.raises(InitDataRejected, match="future"):
        verify_init_data(launch(NOW + timedelta(minutes=6)), TOKEN, NOW)
    assert verify_init_data(launch(), TOKEN, NOW + timedelta(minutes=59)).telegram_user_id == 501


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not a query string",
        "hash=abc",
        "auth_date=1&auth_date=2&hash=00",
        "x" * 5000,
        "auth_date=1650385342&hash=%C3%A9",
    ],
)
def test_malformed_data_is_refused_not_crashed_on(raw: str) -> None:
    with pytest.raises(InitDataRejected):
        verify_init_data(raw, TOKEN, NOW)


def test_signed_without_a_user_is_refused() -> None:
    raw = sign_init_data({"auth_date": str(int(NOW.timestamp()))}, TOKEN)
    with pytest.raises(InitDataRejected, match="no user"):
        verify_init_data(raw, TOKEN, NOW)


def test_every_field_is_signed_including_ones_added_later() -> None:
    # Telegram adds fields over time (signature, chat_instance...): all are in the check.
    fields = {**dict(parse_qsl(launch())), "signature": "abc"}
    fields.pop("hash")
    raw = sign_init_data(fields, TOKEN)
    assert verify_init_data(raw, TOKEN, NOW).telegram_user_id == 501
    tampered = raw.replace("signature=abc", "signature=abd")
    with pytest.raises(InitDataRejected):
        verify_init_data(tampered, TOKEN, NOW)

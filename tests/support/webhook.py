"""Webhook test helpers: the public address, the secret, and an update as Telegram posts it."""

from __future__ import annotations

import itertools
import time
from typing import Any

SECRET = "webhook-secret_0123456789abcdefXYZ"


PATH = "/telegram/9f2c-updates"


PUBLIC_URL = "https://marac.example.test"


_update_ids = itertools.count(1000)


def message_update(user_id: int, first_name: str, text: str) -> dict[str, Any]:
    """An update shaped like the ones the stand-in (and Telegram) deliver for a private message."""
    entities = (
        [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        if text.startswith("/")
        else []
    )
    return {
        "update_id": next(_update_ids),
        "message": {
            "message_id": next(_update_ids),
            "from": {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name,
                "language_code": "en",
            },
            "chat": {"id": user_id, "type": "private", "first_name": first_name},
            "date": int(time.time()),
            "text": text,
            **({"entities": entities} if entities else {}),
        },
    }

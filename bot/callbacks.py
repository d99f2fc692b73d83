"""Callback data for inline buttons: an operation name and server-side ids, nothing else.

Telegram allows 64 bytes. Whatever arrives is untrusted: it may be stale,
someone else's, or forged, so every press is parsed strictly here and then
re-authorised by the service that acts on it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot import texts
from bot.errors import NotFound

MAX_BYTES = 64
_PATTERN = re.compile(r"^([a-z]{1,12}):([a-z]{1,12})((?::\d{1,18}){0,3})$")


@dataclass(frozen=True)
class Callback:
    area: str
    action: str
    ids: tuple[int, ...] = ()

    def encode(self) -> str:
        data = ":".join([self.area, self.action, *(str(i) for i in self.ids)])
        if len(data.encode()) > MAX_BYTES:
            raise ValueError("callback data too long")
        return data

    def id(self, index: int = 0) -> int:
        """The index-th id; a button without it was not made by this bot, so it is refused."""
        if not 0 <= index < len(self.ids):
            raise NotFound(texts.BUTTON_NOT_RECOGNISED)
        return self.ids[index]


def parse(data: str | None) -> Callback | None:
    """None for anything that is not exactly what this bot would have produced."""
    if not data or len(data.encode()) > MAX_BYTES:
        return None
    match = _PATTERN.match(data)
    if match is None:
        return None
    ids = tuple(int(part) for part in match.group(3).split(":")[1:])
    return Callback(match.group(1), match.group(2), ids)

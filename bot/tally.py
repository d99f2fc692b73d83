"""Counting a flood instead of recording every drop of it.

Anyone can write to the bot or post to its webhook, so anything done once per refused request
(an audit event, a warning in the log) is something a stranger can make grow without bound.
A :class:`Tally` turns a stream of such events into at most two records per window: the first
event of a window is recorded as it happens (so a lone stranger is seen at once, as before);
the rest are counted, and when the window is over a :class:`Summary` says how many there were,
of which kinds, from how many sources. Pure: the caller passes the time and writes the records.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

# Distinct sources (e.g. Telegram user ids) remembered per window, and distinct kinds: past
# these the summary says so rather than memory growing with the flood.
MAX_SOURCES: Final = 10_000
MAX_KINDS: Final = 20
OTHER_KIND: Final = "other"


@dataclass(frozen=True)
class Summary:
    """One window's events, the first (recorded on its own) included."""

    since: datetime
    until: datetime
    count: int
    kinds: tuple[tuple[str, int], ...]  # (kind, count), most frequent first
    sources: int  # distinct sources among the events that named one
    sources_capped: bool  # more than MAX_SOURCES: ``sources`` is a lower bound

    def kinds_text(self) -> str:
        return "; ".join(f"{kind}: {count}" for kind, count in self.kinds)


@dataclass
class Tally:
    window: timedelta
    _since: datetime | None = None
    _count: int = 0
    _kinds: Counter[str] = field(default_factory=Counter)
    _sources: set[int] = field(default_factory=set)
    _capped: bool = False

    def note(
        self, now: datetime, kind: str, source: int | None = None
    ) -> tuple[bool, Summary | None]:
        """Count one event at ``now``.

        Returns whether to record this event on its own (the first of a window), and the
        summary of a window that ended before it, to be recorded first (None if none is due).
        """
        summary = self.close(now)
        opens = self._since is None
        if opens:
            self._since = now
        self._count += 1
        if kind not in self._kinds and len(self._kinds) >= MAX_KINDS:
            kind = OTHER_KIND
        self._kinds[kind] += 1
        if source is not None:
            if len(self._sources) < MAX_SOURCES:
                self._sources.add(source)
            elif source not in self._sources:
                self._capped = True
        return opens, summary

    def close(self, now: datetime, *, force: bool = False) -> Summary | None:
        """End the window if it is over (or ``force``); its summary if more than the first
        event happened in it, since that one was recorded already."""
        if self._since is None or (not force and now < self._since + self.window):
            return None
        summary = (
            Summary(
                since=self._since,
                until=now if force else self._since + self.window,
                count=self._count,
                kinds=tuple(self._kinds.most_common()),
                sources=len(self._sources),
                sources_capped=self._capped,
            )
            if self._count > 1
            else None
        )
        self._since, self._count, self._capped = None, 0, False
        self._kinds.clear()
        self._sources.clear()
        return summary

"""An SQLite built without SQLITE_SECURE_DELETE, as python.org's and most others are.

Debian builds SQLite with secure delete on by default, so on this machine deleted content is
overwritten whatever the bot asks. Tests that check the bot asks for it itself turn the
default off on every new connection, as such a build would have it.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest


def use_build_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> None:
    original = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = original(*args, **kwargs)
        connection.execute("PRAGMA secure_delete=OFF")
        return connection

    monkeypatch.setattr(sqlite3, "connect", connect)


def files_holding(folder: Path, *secrets: bytes) -> list[str]:
    """The database files (main, -wal, -shm, -journal) in which any of ``secrets`` appears."""
    found = []
    for path in sorted(folder.glob("marac.db*")):
        content = path.read_bytes()
        found += [f"{path.name}: secret {n}" for n, s in enumerate(secrets) if s in content]
    return found

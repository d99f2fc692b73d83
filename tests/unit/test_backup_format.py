"""The backup file's encryption on its own: chunks, order, the end, the header (no database)."""

from __future__ import annotations

import io
import os
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

import storage.backup as backup
from storage.backup import MAGIC, BackupError, BackupHeader

KEY = bytes(range(32))
HEADER = BackupHeader(
    backend="sqlite",
    created_at=datetime(2026, 3, 1, 2, 30, tzinfo=UTC),
    key_id="backup-test",
    kek_id="kek-test",
    wrapped=b"w" * 61,
    nonce_prefix=b"n" * 7,
)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(backup, "CHUNK_BYTES", 64)
    return 64


def sealed(tmp_path: Path, plain: bytes) -> Path:
    source = tmp_path / "plain"
    source.write_bytes(plain)
    target = tmp_path / "backup.mbk"
    with target.open("wb") as out:
        backup._encrypt_file(source, out, KEY, HEADER)
    return target


def opened(path: Path) -> bytes:
    out = io.BytesIO()
    backup._decrypt_file(path, KEY, out)
    return out.getvalue()


@pytest.mark.parametrize("size", [0, 1, 63, 64, 65, 64 * 5, 64 * 5 + 17])
def test_any_size_comes_back_exactly(tmp_path: Path, small_chunks: int, size: int) -> None:
    plain = os.urandom(size)
    path = sealed(tmp_path, plain)
    assert opened(path) == plain
    assert backup.read_header(path) == HEADER


def _chunks(raw: bytes) -> tuple[bytes, list[bytes]]:
    (length,) = struct.unpack(">I", raw[len(MAGIC) : len(MAGIC) + 4])
    head_end = len(MAGIC) + 4 + length
    chunks, at = [], head_end
    while at < len(raw):
        (size,) = struct.unpack(">I", raw[at : at + 4])
        chunks.append(raw[at : at + 4 + size])
        at += 4 + size
    return raw[:head_end], chunks


def test_reordered_dropped_or_extra_chunks_and_a_changed_header_are_refused(
    tmp_path: Path, small_chunks: int
) -> None:
    path = sealed(tmp_path, os.urandom(64 * 3 + 5))
    head, chunks = _chunks(path.read_bytes())
    assert len(chunks) == 4
    cases = {
        "swapped": head + chunks[1] + chunks[0] + chunks[2] + chunks[3],
        "last chunk dropped": head + b"".join(chunks[:3]),
        "a chunk repeated at the end": head + b"".join(chunks) + chunks[3],
        "header changed": head.replace(b'"kek-test"', b'"kek-tesT"') + b"".join(chunks),
    }
    for raw in cases.values():
        path.write_bytes(raw)
        with pytest.raises(BackupError, match=r"failed its integrity check|cut short"):
            opened(path)


def test_other_files_are_not_taken_for_backups(tmp_path: Path) -> None:
    other = tmp_path / "marac.db"
    other.write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with pytest.raises(BackupError, match="is not a marac-bot backup"):
        backup.read_header(other)
    assert backup.stamp_of(other) is None
    assert backup.stamp_of(tmp_path / "marac-backup-20260301T023000Z.mbk") == HEADER.created_at

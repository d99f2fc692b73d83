"""Helpers shared by ``bench.throughput`` and ``bench.scale``: databases, seeding, figures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import resource
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@contextlib.asynccontextmanager
async def database_url(kind: str, folder: Path, admin_url: str, tag: str) -> AsyncIterator[str]:
    """A fresh SQLite file in ``folder``, or a throwaway PostgreSQL database dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        return
    name = f"marac_{tag}_{os.getpid()}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(admin_url)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def run_seeder(url: str, key_file: Path, out: Path, options: Sequence[str]) -> dict[str, Any]:
    """Seed in a child process (``python -m bench.seed``), so this process's memory stays its own.

    The child's progress lines go to our stderr; its fixtures come back as JSON.
    """
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bench.seed",
        "--url",
        url,
        "--key-file",
        str(key_file),
        "--out",
        str(out),
        *options,
        stdout=None,
        stderr=None,
    )
    code = await process.wait()
    if code != 0:
        raise RuntimeError(f"seeding failed with exit status {code}")
    fixtures: dict[str, Any] = json.loads(await asyncio.to_thread(out.read_text))
    return fixtures


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence."""
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), math.ceil(fraction * len(ordered))))
    return ordered[rank - 1]


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (Linux reports kibibytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib() -> float:
    """Resident set size now, from /proc (falls back to the peak elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def reset_peak_rss() -> bool:
    """Reset the kernel's high-water mark (VmHWM) so the next peak is measured afresh.

    Linux 4.0+ supports writing 5 to /proc/self/clear_refs; ``resource.getrusage``'s
    ``ru_maxrss`` is not reset by it, so :func:`hwm_mib` reads VmHWM instead.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def hwm_mib() -> float:
    """VmHWM: the peak RSS since the process started or since :func:`reset_peak_rss`."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return peak_rss_mib()


def row(label: str, value: str, note: str = "", width: int = 38) -> str:
    return f"  {label:<{width}} {value:>14}  {note}".rstrip()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"

"""The daily audit checkpoint reaches the coordinator's chat; what she keeps checks the trail."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver
from config import Settings
from storage.audit import verify_chain
from storage.audit_checkpoint import Checkpoint, compare, find_checkpoints, refuse_forged
from storage.audit_retention import audit_cutoff
from tests.support.audit_tamper import cut_tail
from tests.support.e2e import Area, wait_for_text


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        key_file=tmp_path / "keys.json",
        job_interval_seconds=0.1,
        morning_digest=False,
        audit_checkpoints=True,
    )


async def against(runtime: Runtime, kept: Checkpoint) -> str:
    async with runtime.sessions() as session:
        report = await verify_chain(session, watch={kept.seq})
    assert report.intact
    (comparison,) = compare(report, [kept], audit_cutoff(runtime.clock.now().date()))
    return comparison.outcome


async def test_the_coordinator_is_sent_a_checkpoint_that_later_shows_a_cut_tail(
    app: object, area: Area, driver: Driver, runtime: Runtime, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    clock.advance(timedelta(days=1))  # the next day's checkpoint covers her enrolment
    text = await wait_for_text(driver, priya, "Audit checkpoint for Northamptonshire: ")
    assert "Keep this message" in text and "Priya" not in text

    (kept,) = find_checkpoints(text)
    refuse_forged([kept], runtime.vault.key_ring.audit_key())
    assert await against(runtime, kept) == "matches"
    await cut_tail(runtime.sessions, keep_through=kept.seq - 1)
    assert await against(runtime, kept) == "truncated"

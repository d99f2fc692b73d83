"""The coordinators' view of the IDVA service end to end: a referral nobody has taken appears in
/idva and the 08:00 digest once more than two working days have passed (the weekend does not
count), and not before."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot import texts
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver, SimulatedUser
from bot.sandbox.records import RecordedMessage
from bot.sandbox.scenarios import make_referral
from bot.vocabulary import AgencyKind, Role
from config import Settings
from tests.support.e2e import Area, agency, submit, wait_for_text


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        key_file=tmp_path / "keys.json",
        job_interval_seconds=0.1,
        morning_digest=True,  # what this module is about
        access_review=False,
        audit_checkpoints=False,
    )


async def digest(driver: Driver, priya: SimulatedUser, count: int) -> RecordedMessage:
    """The ``count``-th morning digest Priya has been sent."""

    def arrived() -> RecordedMessage | None:
        found = [m for m in priya.bot_messages() if (m.text or "").startswith("Good morning")]
        return found[count - 1] if len(found) >= count else None

    return await driver.wait_for(arrived, description=f"digest {count} for Priya")


async def test_an_untaken_referral_is_listed_after_two_working_days_not_before(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    police = await agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    idva = await agency(runtime, area, "Sunflower IDVA", AgencyKind.IDVA)
    priya = await area.enrol(501, "Priya", "Shah")
    await digest(driver, priya, 1)  # Thursday's, before anything was referred
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    await area.enrol(604, "Jo", "Evans", Role.AGENCY_REP, idva)
    await make_referral(sam)  # Thursday 26 November 2026, 09:00
    reference = await submit(sam)
    await wait_for_text(driver, priya, f"New referral {reference}")

    (reply,) = await priya.send_and_wait("/idva")
    assert reply.text == texts.IDVA_NOTHING_WAITING

    clock.set(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))  # Monday: two working days on
    monday = await digest(driver, priya, 2)
    assert reference not in (monday.text or "")
    (reply,) = await priya.send_and_wait("/idva")
    assert reply.text == texts.IDVA_NOTHING_WAITING

    clock.set(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))  # Tuesday: three
    tuesday = await digest(driver, priya, 3)
    assert f"{reference} (3 working days, no IDVA)" in (tuesday.text or "")
    (reply,) = await priya.send_and_wait("/idva")
    assert reply.text == "\n".join(
        [
            texts.idva_waiting_heading(1),
            texts.idva_waiting_line(reference, 3, None, 0),
        ]
    )
    # Not for an agency: /idva is the coordinators'.
    (refused,) = await sam.send_and_wait("/idva")
    assert refused.text == texts.NOT_ALLOWED

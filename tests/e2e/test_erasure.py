"""Early erasure through the bot: one coordinator asks, a second confirms, the case is gone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot import texts
from bot.runtime import Runtime
from bot.sandbox import Driver
from bot.sandbox.scenarios import make_referral
from bot.vocabulary import AgencyKind, Role
from storage.audit import verify_chain
from storage.models import Case, DataKey
from tests.support.e2e import REFERENCE, Area, _agency, wait_for_text
from tests.support.sqlite_builds import files_holding, use_build_without_secure_delete
from tests.support.waiting import eventually


@pytest.fixture
def build_without_secure_delete(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    use_build_without_secure_delete(monkeypatch)
    yield


async def test_second_coordinator_confirms_early_erasure(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    police = await _agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    priya = await area.enrol(501, "Priya", "Shah")
    omar = await area.enrol(502, "Omar", "Ali")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    await make_referral(sam)
    submitted = await sam.press_and_wait("Submit referral", expect_edit=True)
    match = REFERENCE.search(submitted.message.text or "")
    assert match
    reference = match.group(1)
    await wait_for_text(driver, priya, f"New referral {reference}")

    (card,) = await priya.send_and_wait(f"/case {reference}")
    reasons = await priya.press_and_wait("Erase early…", message=card, count=1)
    done = await priya.press_and_wait(
        "Wrong person referred", message=reasons.new_messages[-1], expect_edit=True
    )
    assert done.message.text == texts.erasure_requested(reference)
    # The requester cannot confirm their own request.
    query = await priya.press_data(done.message.message_id, f"era:ok:{_case_id(card)}")
    assert "another coordinator" in ((await driver.wait_for_answer(query)).text or "").lower()

    ask = await wait_for_text(driver, omar, f"Early erasure of {reference} was requested")
    assert "wrong person referred" in ask
    erased = await omar.press_and_wait("Confirm erasure", expect_edit=True)
    assert erased.message.text == texts.erasure_done(reference)
    (gone,) = await priya.send_and_wait(f"/case {reference}")
    assert gone.text == texts.CASE_NOT_FOUND
    async with runtime.sessions() as session:
        assert (await verify_chain(session)).intact


def _case_id(message: object) -> int:
    for row in getattr(message, "buttons", []):
        for button in row:
            if button.callback_data and button.callback_data.startswith("era:ask:"):
                return int(button.callback_data.rsplit(":", 1)[1])
    raise AssertionError("no erase button on the card")


async def test_an_early_erasure_leaves_nothing_the_database_could_still_remove(
    build_without_secure_delete: None,
    backend: str,
    app: object,
    runtime: Runtime,
    area: Area,
    driver: Driver,
    tmp_path: Path,
) -> None:
    """PostgreSQL vacuums the erased rows; SQLite's files no longer hold the wrapped key or
    the sealed victim, on an SQLite built without secure delete by default too."""
    police = await _agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    priya = await area.enrol(501, "Priya", "Shah")
    omar = await area.enrol(502, "Omar", "Ali")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    await make_referral(sam)
    submitted = await sam.press_and_wait("Submit referral", expect_edit=True)
    match = REFERENCE.search(submitted.message.text or "")
    assert match
    reference = match.group(1)
    await wait_for_text(driver, priya, f"New referral {reference}")
    async with runtime.sessions() as session:
        case = await session.scalar(select(Case).where(Case.reference == reference))
        assert case is not None and case.data_key_id and case.victim_sealed
        key = await session.get(DataKey, case.data_key_id)
        assert key is not None
        secrets = (bytes(key.wrapped), bytes(case.victim_sealed))

    (card,) = await priya.send_and_wait(f"/case {reference}")
    reasons = await priya.press_and_wait("Erase early…", message=card, count=1)
    await priya.press_and_wait(
        "Wrong person referred", message=reasons.new_messages[-1], expect_edit=True
    )
    await wait_for_text(driver, omar, f"Early erasure of {reference} was requested")
    erased = await omar.press_and_wait("Confirm erasure", expect_edit=True)
    assert erased.message.text == texts.erasure_done(reference)

    if backend == "postgresql":
        tables = ("cases", "case_events", "data_keys")

        async def vacuumed() -> bool:
            async with runtime.sessions() as session:
                rows = await session.execute(
                    text(
                        "SELECT relname, n_dead_tup FROM pg_stat_user_tables "
                        "WHERE relname = ANY(:tables) AND last_vacuum IS NOT NULL"
                    ),
                    {"tables": list(tables)},
                )
                return {name: dead for name, dead in rows.all()} == dict.fromkeys(tables, 0)

        await eventually(vacuumed, "the erased tables vacuumed, no dead rows left")
    else:

        async def gone() -> bool:
            return files_holding(tmp_path, *secrets) == []

        await eventually(gone, "the wrapped key and the sealed victim gone from every file")

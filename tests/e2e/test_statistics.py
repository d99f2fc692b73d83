"""/stats end to end: exact for the coordinator, suppressed for governance, CSV and chart."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import Driver
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, _agency, refer_and_accept, schedule


async def test_stats_exact_for_coordinator_and_suppressed_for_governance(
    app: object, runtime: Runtime, area: Area, driver: Driver, clock: ManualClock
) -> None:
    police = await _agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    gina = await area.enrol(801, "Gina", "Gov", Role.GOVERNANCE)
    await schedule(priya, repeat="Once only")
    for _ in range(2):
        await refer_and_accept(driver, priya, sam)
    clock.set(datetime(2026, 12, 11, 9, 0, tzinfo=UTC))  # the meeting has been held

    (exact,) = await priya.send_and_wait("/stats 2026 Q4")
    (hidden,) = await gina.send_and_wait("/stats 2026 Q4")
    assert "2" in (exact.text or "") and "<5" not in (exact.text or "")
    assert "<5" in (hidden.text or "")
    assert "Jane" not in (exact.text or "")

    result = await gina.press_and_wait("CSV return", message=hidden, count=2)
    document = next(m.document for m in result.new_messages if m.document)
    assert document is not None and document.filename.endswith(".csv")
    rows = list(csv.reader(io.StringIO(document.content.decode())))
    assert len(rows) >= 3 and any("<5" in cell for cell in rows[1])
    result = await priya.press_and_wait("Chart", message=exact, count=2)
    chart = next(m.document for m in result.new_messages if m.document)
    assert chart is not None and chart.content.startswith(b"\x89PNG")
    (refused,) = await sam.send_and_wait("/stats")
    assert refused.text is not None and "does not allow" in refused.text

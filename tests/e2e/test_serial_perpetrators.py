"""Serial perpetrators end to end: two victims, one person causing harm, through the bot."""

from __future__ import annotations

from bot.runtime import Runtime
from bot.sandbox import Driver
from bot.sandbox.scenarios import Referral, make_referral
from bot.vocabulary import AgencyKind, Role
from tests.support.e2e import Area, agency, submit, wait_for_text

NAMES = ("Jane", "Mary", "Major", "John", "Doe")


async def test_same_perpetrator_for_two_victims_alerts_coordinator_and_links_cases(
    app: object, runtime: Runtime, area: Area, driver: Driver
) -> None:
    police = await agency(runtime, area, "Northamptonshire Police", AgencyKind.POLICE)
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)

    await make_referral(sam, Referral(victim="Jane Doe", perpetrator="John Doe"))
    first = await submit(sam)
    await wait_for_text(driver, priya, f"New referral {first}")
    await make_referral(
        sam, Referral(victim="Mary Major", victim_dob="02/07/1988", perpetrator="john  DOE")
    )
    second = await submit(sam)
    thanks = sam.bot_messages()[-1].text or ""
    assert "repeat" not in thanks and first not in thanks  # the referrer is not told

    alert = await wait_for_text(driver, priya, "Person causing harm in other cases")
    assert alert == (
        f"Person causing harm in other cases: the person causing harm in {second} also appears in "
        f"{first} (a different victim). Send /case {second} to see the link."
    )
    assert not any(name in alert for name in NAMES)

    (card,) = await priya.send_and_wait(f"/case {second}")
    assert f"Same person causing harm as: {first}" in (card.text or "")
    assert "person causing harm found in other cases" in (card.text or "")
    (older,) = await priya.send_and_wait(f"/case {first}")
    assert f"Same person causing harm as: {second}" in (older.text or "")

    # The referring agency rep opens both cases but sees no link and no trace of one.
    for reference, victim in ((second, "Mary Major"), (first, "Jane Doe")):
        (own,) = await sam.send_and_wait(f"/case {reference}")
        assert victim in (own.text or "")
        assert "Same person causing harm" not in (own.text or "")
        assert "serial" not in (own.text or "")
    assert all("serial" not in (m.text or "") for m in sam.bot_messages())

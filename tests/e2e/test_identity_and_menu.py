"""What issue #20's savings keep from the updates before them, through the real bot.

Each update still reads who the person is and what they may do afresh (only their opened name
is kept, keyed by the sealed bytes), and the command menu is set only when it changed. So: a
deactivated person's very next update is refused; a role changed elsewhere (another process
writing the same database) shows in the very next /help, menu included; a new name shows at
once; an exclusion from a case applies to the very next command; and /help no longer sets
the menu each time.
"""

from __future__ import annotations

from sqlalchemy import select, update

from bot import texts
from bot.permissions import commands_for
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn, Driver
from bot.services.names import name_context
from bot.vocabulary import AgencyKind, Role
from storage.models import Person
from tests.support.e2e import Area, add_agency
from tests.support.service_scenarios import refer


def menu_of(role: Role) -> list[tuple[str, str]]:
    return [(c.name, c.description) for c in commands_for(role, confirmed=True)]


async def test_help_sets_the_menu_only_when_the_persons_menu_changed(
    app: object, area: Area, driver: Driver, server: BotApiStandIn, runtime: Runtime
) -> None:
    police = await add_agency(
        runtime, area.area_id, "Police", AgencyKind.POLICE, runtime.clock.now()
    )
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    assert driver.commands_for(sam.chat_id) == menu_of(Role.AGENCY_REP)
    before = server.call_count("setMyCommands")
    for _ in range(3):
        (reply,) = await sam.send_and_wait("/help")
        assert "/actions" in (reply.text or "")
    assert server.call_count("setMyCommands") == before  # the welcome already set it

    # The role changes behind this process's back (another instance, the command line):
    # the next /help answers for the new role and sets the new menu, once.
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Person)
            .where(Person.telegram_user_id == sam.id)
            .values(role=Role.COORDINATOR, agency_id=None)
        )
    (reply,) = await sam.send_and_wait("/help")
    assert "/actions" not in (reply.text or "") and "/invite" in (reply.text or "")
    assert driver.commands_for(sam.chat_id) == menu_of(Role.COORDINATOR)
    assert server.call_count("setMyCommands") == before + 1
    await sam.send_and_wait("/help")
    assert server.call_count("setMyCommands") == before + 1


async def test_a_deactivated_person_is_refused_at_once_and_a_new_name_shows_at_once(
    app: object, area: Area, runtime: Runtime
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.CHAIR)
    (home,) = await sam.send_and_wait("/start")
    assert "Sam Okafor" in (home.text or "")  # the name is opened, and kept

    # Renamed elsewhere: the sealed bytes differ, so the kept name is not used.
    async with runtime.sessions.begin() as session:
        row = await session.scalar(select(Person).where(Person.telegram_user_id == sam.id))
        assert row is not None and row.data_key_id is not None
        row.display_name_sealed = await runtime.vault.seal(
            session, row.data_key_id, name_context(row.id), "Samuel Okafor"
        )
        sam_id = row.id
    (home,) = await sam.send_and_wait("/start")
    assert "Samuel Okafor" in (home.text or "")

    coordinator = await runtime.services.enrolment.identify(priya.id)
    assert coordinator is not None
    await runtime.services.people.deactivate(coordinator, sam_id)
    (reply,) = await sam.send_and_wait("/help")
    assert reply.text == texts.NEUTRAL_UNKNOWN


async def test_a_role_change_by_enrolling_again_applies_to_the_next_update(
    app: object, area: Area, driver: Driver, runtime: Runtime
) -> None:
    police = await add_agency(
        runtime, area.area_id, "Police", AgencyKind.POLICE, runtime.clock.now()
    )
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    (reply,) = await sam.send_and_wait("/actions")
    assert reply.text != texts.NOT_ALLOWED
    coordinator = await runtime.services.enrolment.identify(priya.id)
    before = await runtime.services.enrolment.identify(sam.id)
    assert coordinator is not None and before is not None
    await runtime.services.people.deactivate(coordinator, before.person_id)

    code = await area.code(Role.CHAIR)
    welcome, _ = await sam.send_and_wait(f"/start {code}", count=2)
    assert "chair" in (welcome.text or "").lower()
    (reply,) = await sam.send_and_wait("/actions")
    assert reply.text == texts.NOT_ALLOWED
    assert driver.commands_for(sam.chat_id) == menu_of(Role.CHAIR)


async def test_an_exclusion_from_a_case_applies_to_the_very_next_command(
    app: object, area: Area, runtime: Runtime
) -> None:
    police = await add_agency(
        runtime, area.area_id, "Police", AgencyKind.POLICE, runtime.clock.now()
    )
    priya = await area.enrol(501, "Priya", "Shah")
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police)
    coordinator = await runtime.services.enrolment.identify(priya.id)
    referrer = await runtime.services.enrolment.identify(sam.id)
    assert coordinator is not None and referrer is not None
    submitted = await refer(runtime, referrer)
    await runtime.services.cases.accept(coordinator, submitted.case_id)

    replies = await sam.send_and_wait(f"/case {submitted.reference}")
    assert any(submitted.reference in (r.text or "") for r in replies)
    await runtime.services.cases.exclude(coordinator, submitted.case_id, referrer.person_id)
    (reply,) = await sam.send_and_wait(f"/case {submitted.reference}")
    assert reply.text == texts.CASE_NOT_FOUND

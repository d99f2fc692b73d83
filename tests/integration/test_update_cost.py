"""What the per-update savings must not change (issue #8, throughput).

Every update is checked against the database (``EnrolmentService.identify``) and most read a
case or write an audit event; these were made cheaper by reading less, writing only what
changed and taking fewer trips to the database. Here: access still ends on the very next
update, "last active" is still kept (at its resolution), key preloading still reports erased
keys, the one-trip SQLite connection behaves as a SQLite connection should, and a PostgreSQL
connection that went stale in the pool is still replaced without anyone noticing.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import event, select, text, update
from sqlalchemy.exc import IntegrityError

import storage.db
from bot import texts
from bot.access import Level
from bot.actor import Actor
from bot.adapter.application import MaracApplication
from bot.adapter.local import running_bot
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.sandbox import BotApiStandIn
from bot.services.case_access import identified_this_update, levels_for
from bot.services.enrolment import LAST_ACTIVE_RESOLUTION
from bot.services.policy import DEFAULTS, area_calendar, area_policy, research_open_days
from bot.vocabulary import AgencyKind, Role
from storage.crypto import CryptoError, FieldContext
from storage.db import create_engine, is_database_unavailable
from storage.models import Agency, AreaClosure, Person
from tests.support.access_world import build
from tests.support.e2e import Area


@pytest.fixture
async def server() -> AsyncIterator[BotApiStandIn]:
    async with BotApiStandIn() as stand_in:
        yield stand_in


@pytest.fixture
async def app(runtime: Runtime, server: BotApiStandIn) -> AsyncIterator[MaracApplication]:
    async with running_bot(runtime, server) as application:
        yield application


@pytest.fixture
async def area(runtime: Runtime, server: BotApiStandIn) -> Area:
    helper = Area(runtime, server.driver())
    await helper.create()
    return helper


@contextmanager
def writes(runtime: Runtime) -> Iterator[list[str]]:
    """The INSERT, UPDATE and DELETE statements sent while the block runs."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def person_row(runtime: Runtime, telegram_user_id: int) -> Person:
    async with runtime.sessions() as session:
        person = await session.scalar(
            select(Person).where(Person.telegram_user_id == telegram_user_id)
        )
    assert person is not None
    return person


# -- access is decided afresh on every update -------------------------------------------------


async def test_a_deactivated_person_is_refused_on_their_very_next_update(
    app: MaracApplication, runtime: Runtime, area: Area, clock: ManualClock
) -> None:
    priya = await area.enrol(501, "Priya", "Shah")
    async with runtime.sessions.begin() as session:
        police = Agency(
            area_id=area.area_id, kind=AgencyKind.POLICE, name="Police", created_at=clock.now()
        )
        session.add(police)
        await session.flush()
        police_id = police.id
    sam = await area.enrol(601, "Sam", "Okafor", Role.AGENCY_REP, police_id)
    (help_reply,) = await sam.send_and_wait("/help")
    assert help_reply.text not in (texts.NEUTRAL_UNKNOWN, texts.NO_LONGER_HAS_ACCESS)
    home = sam.bot_messages()[1]  # the welcome's home menu, with its buttons

    coordinator = await runtime.services.enrolment.identify(priya.id)
    assert coordinator is not None
    sam_row = await person_row(runtime, sam.id)
    # No time passes: nothing may have been kept from Sam's update a moment ago.
    await runtime.services.people.deactivate(coordinator, sam_row.id)

    (reply,) = await sam.send_and_wait("/help")
    assert reply.text == texts.NEUTRAL_UNKNOWN
    pressed = await sam.press_and_wait("People", message=home, expect_edit=True)
    assert pressed.answer is not None and pressed.answer.text == texts.NO_LONGER_HAS_ACCESS


async def test_last_active_is_kept_at_its_resolution_without_a_write_per_update(
    runtime: Runtime, area: Area, clock: ManualClock, server: BotApiStandIn
) -> None:
    async with running_bot(runtime, server):
        priya = await area.enrol(501, "Priya", "Shah")
    enrolled = (await person_row(runtime, priya.id)).last_active_at
    assert enrolled == clock.now()

    clock.advance(LAST_ACTIVE_RESOLUTION - timedelta(seconds=1))
    with writes(runtime) as written:
        actor = await runtime.services.enrolment.identify(priya.id)
    assert actor is not None and actor.display_name == "Priya Shah"
    assert written == []  # recognising someone is a read, not a write
    assert (await person_row(runtime, priya.id)).last_active_at == enrolled

    clock.advance(timedelta(seconds=2))
    with writes(runtime) as written:
        assert await runtime.services.enrolment.identify(priya.id) is not None
    assert len(written) == 1
    assert (await person_row(runtime, priya.id)).last_active_at == clock.now()


async def test_writing_again_makes_an_unreachable_person_reachable_at_once(
    runtime: Runtime, area: Area, clock: ManualClock, server: BotApiStandIn
) -> None:
    async with running_bot(runtime, server):
        priya = await area.enrol(501, "Priya", "Shah")
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Person)
            .where(Person.telegram_user_id == priya.id)
            .values(unreachable_since=clock.now())
        )
    clock.advance(timedelta(seconds=10))  # well inside the last-active resolution
    assert await runtime.services.enrolment.identify(priya.id) is not None
    assert (await person_row(runtime, priya.id)).unreachable_since is None


async def test_strangers_are_not_recognised(runtime: Runtime) -> None:
    assert await runtime.services.enrolment.identify(424242) is None


# -- data keys --------------------------------------------------------------------------------


async def test_preloaded_keys_open_values_and_erased_keys_still_refuse(runtime: Runtime) -> None:
    vault = runtime.vault
    context = FieldContext("cases", "summary", 1)
    async with runtime.sessions.begin() as session:
        kept = await vault.create_data_key(session, "case")
        erased = await vault.create_data_key(session, "case")
        kept_sealed = await vault.seal(session, kept, context, "kept")
        erased_sealed = await vault.seal(session, erased, context, "erased")
    async with runtime.sessions.begin() as session:
        assert await vault.destroy(session, [erased]) == 1

    fresh = type(vault)(vault.key_ring)  # as after a restart: nothing cached
    async with runtime.sessions() as session:
        await fresh.preload(session, [kept, erased, None, kept])
        assert await fresh.open(session, kept, context, kept_sealed) == "kept"
        with pytest.raises(CryptoError):
            await fresh.open(session, erased, context, erased_sealed)


# -- the one-trip SQLite connection -----------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_one_trip_sqlite_connection_behaves_like_sqlite(runtime: Runtime) -> None:
    async with runtime.engine.begin() as connection:
        await connection.execute(
            text("CREATE TABLE trip (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)")
        )
        # executemany, then a statement with RETURNING, then lastrowid of a plain insert
        await connection.execute(
            text("INSERT INTO trip (name) VALUES (:name)"), [{"name": f"n{i}"} for i in range(5)]
        )
        returned = await connection.execute(
            text("UPDATE trip SET name = name || '!' WHERE id <= 2 RETURNING id, name")
        )
        assert sorted(returned.all()) == [(1, "n0!"), (2, "n1!")]
        inserted = await connection.execute(text("INSERT INTO trip (name) VALUES ('last')"))
        assert inserted.lastrowid == 6
        changed = await connection.execute(text("UPDATE trip SET name = name WHERE id > 3"))
        assert changed.rowcount == 3

    # What one connection commits, another (as another process would) sees; a read alone
    # commits nothing and holds nothing up.
    other = create_engine(runtime.settings.database_url)
    try:
        async with runtime.engine.begin() as connection:
            await connection.execute(text("SELECT count(*) FROM trip"))
        async with other.begin() as connection:
            assert await connection.scalar(text("SELECT count(*) FROM trip")) == 6
    finally:
        await other.dispose()

    # A failing statement raises SQLAlchemy's error and its transaction leaves nothing behind.
    with pytest.raises(IntegrityError):
        async with runtime.engine.begin() as connection:
            await connection.execute(text("INSERT INTO trip (name) VALUES ('before')"))
            await connection.execute(text("INSERT INTO trip (name) VALUES ('n2')"))
    async with runtime.engine.connect() as connection:
        names = (await connection.execute(text("SELECT name FROM trip ORDER BY id"))).scalars()
        assert list(names) == ["n0!", "n1!", "n2", "n3", "n4", "last"]
        streamed = await connection.stream(
            select(text("id")).select_from(text("trip")).order_by(text("id"))
        )
        assert [row[0] async for row in streamed] == [1, 2, 3, 4, 5, 6]
        foreign_keys = await connection.scalar(text("PRAGMA foreign_keys"))
        assert foreign_keys == 1


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_ids_from_the_orm_come_back_through_the_one_trip_connection(
    runtime: Runtime, area: Area, clock: ManualClock
) -> None:
    async with runtime.sessions.begin() as session:
        agencies = [
            Agency(
                area_id=area.area_id,
                kind=AgencyKind.HOUSING,
                name=f"Housing {n}",
                created_at=clock.now(),
            )
            for n in range(3)
        ]
        session.add_all(agencies)
        await session.flush()
        ids = [agency.id for agency in agencies]
    assert len(set(ids)) == 3 and all(isinstance(i, int) for i in ids)
    async with runtime.sessions() as session:
        names = await session.scalars(select(Agency.name).where(Agency.id.in_(ids)))
        assert sorted(names) == ["Housing 0", "Housing 1", "Housing 2"]


# -- stale PostgreSQL connections -------------------------------------------------------------


async def _terminate(url: str, pid: int) -> None:
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_connection_that_died_while_idle_is_replaced_unnoticed(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert first is not None
        await _terminate(database_url, first)  # a database restart, while the bot was quiet
        monkeypatch.setattr(storage.db, "PING_AFTER_IDLE_SECONDS", 0.0)
        async with engine.connect() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert second is not None and second != first
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_connection_cut_between_updates_is_replaced_or_fails_once_as_unavailable(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            first = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert first is not None
        await _terminate(database_url, first)
        # Returned a moment ago, so not pinged. If the driver has already seen the server close
        # it, checkout replaces it unnoticed; otherwise the one statement fails as "try again
        # shortly". Either way nothing runs on the dead connection and nothing hangs.
        try:
            async with engine.connect() as connection:
                replaced = await connection.scalar(text("SELECT pg_backend_pid()"))
            assert replaced != first
        except Exception as failure:
            assert is_database_unavailable(failure)
        # and the pool has let go of it: the next one works.
        async with engine.connect() as connection:
            second = await connection.scalar(text("SELECT pg_backend_pid()"))
        assert second is not None and second != first
    finally:
        await engine.dispose()


def test_the_postgresql_pool_has_a_connection_for_every_update_handled_at_once() -> None:
    """Updates handled side by side each hold a connection; none should wait for the pool."""
    url = "postgresql+asyncpg://nobody@127.0.0.1:1/none"  # never connected to
    small = create_engine(url)
    busy = create_engine(url, updates_at_once=16)
    try:
        assert small.sync_engine.pool.size() == 5  # type: ignore[attr-defined]
        assert busy.sync_engine.pool.size() == 18  # type: ignore[attr-defined]
    finally:
        small.sync_engine.dispose()
        busy.sync_engine.dispose()


# -- what one update reads once (issue #20) ---------------------------------------------------


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[str]]:
    """Every statement sent while the block runs."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(" ".join(statement.split()))

    engine = runtime.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_the_guards_read_of_the_person_stands_only_for_that_actor_in_that_update(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build(runtime, clock)
    rep = world.people["referrer"]
    now = clock.now()

    async def levels(actor: Actor) -> tuple[Level, list[str]]:
        with statements(runtime) as seen:
            async with runtime.sessions() as session:
                found = await levels_for(session, actor, [world.case_id], now)
        return found.get(world.case_id, Level.NONE), [
            s for s in seen if s.startswith("SELECT people.")
        ]

    # Outside an update (jobs, the workspace, services called directly) the person is read.
    seen_before, read = await levels(rep)
    assert seen_before > Level.NONE and len(read) == 1

    async def in_update(actor: Actor, vouched: Actor | None) -> tuple[Level, int]:
        # A task of its own, as PTB gives each update: its context ends with it.
        async def run() -> tuple[Level, int]:
            identified_this_update(vouched)
            found, read = await levels(actor)
            return found, len(read)

        return await asyncio.create_task(run())

    # The update whose guard has just read this very Actor: no second read of the person.
    assert await in_update(rep, rep) == (seen_before, 0)
    # Deactivated since: any other update, any other Actor object, and code outside an
    # update read the person afresh and see nothing.
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(Person).where(Person.id == rep.person_id).values(deactivated_at=now)
        )
    assert await in_update(rep, None) == (Level.NONE, 1)
    assert await in_update(rep, dataclasses.replace(rep)) == (Level.NONE, 1)
    assert (await levels(rep))[0] == Level.NONE


async def test_an_areas_calendar_and_research_days_come_in_one_statement(
    runtime: Runtime, clock: ManualClock
) -> None:
    area = await runtime.services.areas.ensure_area("Northamptonshire")
    closed = clock.now().date() + timedelta(days=3)
    async with runtime.sessions.begin() as session:
        for day, note in ((closed, "Staff training"), (closed + timedelta(days=1), None)):
            session.add(AreaClosure(area_id=area.id, day=day, note=note, added_at=clock.now()))
    async with runtime.sessions() as session:
        with statements(runtime) as seen:
            calendar = await area_calendar(session, area.id)
            days = await research_open_days(session, area.id)
        assert len(seen) == 1
        assert calendar.timezone == "Europe/London"
        assert dict(calendar.closures) == {closed: "Staff training", closed + timedelta(days=1): ""}
        assert days == DEFAULTS["research_open_days_after"]  # no policy row yet: the default
        with pytest.raises(LookupError):
            await area_calendar(session, area.id + 1000)
    policy = await runtime.services.areas.ensure_area("Leicestershire")
    async with runtime.sessions.begin() as session:
        (await area_policy(session, policy.id)).research_open_days_after = 9
    async with runtime.sessions() as session:
        calendar = await area_calendar(session, policy.id)
        assert calendar.closed == frozenset()
        assert await research_open_days(session, policy.id) == 9

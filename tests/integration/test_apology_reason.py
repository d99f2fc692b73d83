"""The reason an agency gives for its apologies is sealed; those who write the minutes see it."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.clock import ManualClock
from bot.runtime import Runtime
from storage.base import UTCDateTime
from storage.crypto import FieldContext, KeyRing, open_sealed
from storage.db import create_engine
from storage.migrate import current_revision, upgrade
from storage.migration_keys import MigrationNeedsKeys
from tests.support.retention import build_world
from tests.support.schema_before_0014 import AREAS

REASON = "Sam Okafor is giving evidence at Crown Court that morning"


async def raw_rows(runtime: Runtime, table: str) -> list[tuple[object, ...]]:
    """What a database dump would show."""
    async with runtime.engine.connect() as connection:
        return [tuple(row) for row in await connection.execute(text(f"SELECT * FROM {table}"))]


def holds(rows: list[tuple[object, ...]], secret: str) -> bool:
    fragment = "Crown Court"
    assert fragment in secret
    return any(
        (isinstance(v, str) and fragment in v)
        or (isinstance(v, bytes | memoryview) and fragment.encode() in bytes(v))
        for row in rows
        for v in row
    )


async def test_the_reason_is_sealed_and_only_the_minute_takers_see_it(
    runtime: Runtime, clock: ManualClock
) -> None:
    world = await build_world(runtime, clock)
    meetings = runtime.services.meetings
    await meetings.reply_attendance(world.police_rep, world.meeting2, "apologies", REASON)

    assert not holds(await raw_rows(runtime, "attendance_replies"), REASON)
    police = world.police_rep.agency_id
    assert police is not None
    for reader in (world.cora, world.chair):
        detail = await meetings.detail(reader, world.meeting2)
        assert detail.attendance[police] == "apologies"
        assert detail.apology_reasons == {police: REASON}
    # Other agencies see that the police sent apologies, not why.
    assert (await meetings.detail(world.perp_rep, world.meeting2)).apology_reasons == {}

    # A later reply replaces it: the police will attend after all.
    clock.advance(timedelta(hours=1))
    await meetings.reply_attendance(world.police_rep, world.meeting2, "attending")
    assert (await meetings.detail(world.cora, world.meeting2)).apology_reasons == {}


# -- the migration that seals the reasons already stored ------------------------------------

_agencies = sa.table(
    "agencies",
    sa.column("id", sa.BigInteger),
    sa.column("area_id", sa.BigInteger),
    sa.column("name", sa.String),
    sa.column("kind", sa.String),
    sa.column("created_at", UTCDateTime()),
)
_meetings = sa.table(
    "meetings",
    sa.column("id", sa.BigInteger),
    sa.column("area_id", sa.BigInteger),
    sa.column("starts_at", UTCDateTime()),
    sa.column("duration_minutes", sa.Integer),
    sa.column("capacity", sa.Integer),
    sa.column("calendar_uid", sa.String),
    sa.column("calendar_sequence", sa.Integer),
    sa.column("created_at", UTCDateTime()),
    sa.column("created_by_id", sa.BigInteger),
    sa.column("data_key_id", sa.String),
)
_replies = sa.table(
    "attendance_replies",
    sa.column("id", sa.BigInteger),
    sa.column("meeting_id", sa.BigInteger),
    sa.column("agency_id", sa.BigInteger),
    sa.column("status", sa.String),
    sa.column("reason", sa.String),
    sa.column("by_person_id", sa.BigInteger),
    sa.column("at", UTCDateTime()),
)


async def _before_0014(engine: AsyncEngine, clock: ManualClock) -> None:
    """A database as the previous release left it: two plaintext reasons, one empty."""
    await upgrade(engine, "0010")
    now = clock.now()
    async with engine.begin() as connection:
        await connection.execute(
            AREAS.insert().values(
                id=1, name="Northamptonshire", code="NOR", timezone="Europe/London", created_at=now
            )
        )
        await connection.execute(
            _agencies.insert().values(id=1, area_id=1, name="Police", kind="police", created_at=now)
        )
        await connection.execute(
            _meetings.insert().values(
                id=1,
                area_id=1,
                starts_at=now + timedelta(days=14),
                duration_minutes=180,
                capacity=20,
                calendar_uid="m1@marac",
                calendar_sequence=0,
                created_at=now,
                created_by_id=1,
            )
        )
        for reply_id, status, reason in (
            (1, "apologies", REASON),
            (2, "attending", None),
            (3, "apologies", "Annual leave"),
        ):
            await connection.execute(
                _replies.insert().values(
                    id=reply_id,
                    meeting_id=1,
                    agency_id=1,
                    status=status,
                    reason=reason,
                    by_person_id=1,
                    at=now,
                )
            )


async def test_the_upgrade_seals_the_reasons_already_stored(
    database_url: str, key_ring: KeyRing, clock: ManualClock
) -> None:
    from bot.services.meetings.common import apology_context  # what the bot opens them with

    engine = create_engine(database_url)
    try:
        await _before_0014(engine, clock)
        # Without the keys nothing can be sealed, so nothing changes.
        with pytest.raises(MigrationNeedsKeys, match="marac-bot migrate"):
            await upgrade(engine, "0014")
        assert await current_revision(engine) == "0010"

        await upgrade(engine, "0014", keys=lambda: key_ring)
        async with engine.connect() as connection:
            replies = await connection.execute(text("SELECT * FROM attendance_replies"))
            columns = list(replies.keys())
            rows = (
                await connection.execute(
                    sa.select(text("id"), text("reason_sealed"))
                    .select_from(text("attendance_replies"))
                    .order_by(text("id"))
                )
            ).all()
            key_id = await connection.scalar(text("SELECT data_key_id FROM meetings WHERE id = 1"))
            wrapped = (
                await connection.execute(
                    text("SELECT kek_id, wrapped FROM data_keys WHERE id = :id"), {"id": key_id}
                )
            ).one()
    finally:
        await engine.dispose()
    assert "reason" not in columns
    data_key = key_ring.unwrap(wrapped.kek_id, bytes(wrapped.wrapped), key_id)
    opened = {
        reply_id: open_sealed(data_key, bytes(sealed), apology_context(reply_id))
        for reply_id, sealed in rows
        if sealed is not None
    }
    assert opened == {1: REASON, 3: "Annual leave"}
    assert apology_context(1) == FieldContext("attendance_replies", "reason", 1)

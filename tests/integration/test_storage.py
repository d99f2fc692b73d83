"""Storage on both databases: migrations, sealed fields, the audit chain, enrolment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.services.enrolment import Redemption
from bot.services.names import name_context
from bot.vocabulary import Role
from storage.audit import append_event, key_the_chain, verify_chain
from storage.crypto import CryptoError, FieldContext
from storage.db import create_session_factory
from storage.keyfile import key_ring_from_document, new_key_document
from storage.migrate import current_revision, head_revision, upgrade
from storage.models import AuditEvent, Invite, Person
from tests.support.audit_tamper import delete_events, edit_details, relink, sha256


async def test_migrations_reach_head_and_are_idempotent(runtime: Runtime) -> None:
    assert await current_revision(runtime.engine) == head_revision()
    await upgrade(runtime.engine)  # running again changes nothing and does not fail
    assert await current_revision(runtime.engine) == head_revision()


async def test_sealed_value_round_trips_and_refuses_another_row(runtime: Runtime) -> None:
    vault = runtime.vault
    async with runtime.sessions.begin() as session:
        key_id = await vault.create_data_key(session, "test")
        sealed = await vault.seal(session, key_id, FieldContext("people", "display_name", 1), "Zoë")
    fresh_vault = type(vault)(vault.key_ring)  # no cached keys: unwrap from the table
    async with runtime.sessions() as session:
        context = FieldContext("people", "display_name", 1)
        assert await fresh_vault.open(session, key_id, context, sealed) == "Zoë"
        with pytest.raises(CryptoError):
            await fresh_vault.open(
                session, key_id, FieldContext("people", "display_name", 2), sealed
            )


async def test_destroyed_data_key_makes_values_unreadable(runtime: Runtime) -> None:
    vault = runtime.vault
    context = FieldContext("cases", "summary", 7)
    async with runtime.sessions.begin() as session:
        key_id = await vault.create_data_key(session, "case")
        sealed = await vault.seal(session, key_id, context, "summary")
    async with runtime.sessions.begin() as session:
        assert await vault.destroy(session, [key_id]) == 1
    async with runtime.sessions() as session:
        with pytest.raises(CryptoError):
            await vault.open(session, key_id, context, sealed)


async def test_audit_chain_detects_edit_and_deletion(runtime: Runtime, clock: ManualClock) -> None:
    async with runtime.sessions.begin() as session:
        for n in range(5):
            await append_event(session, at=clock.now(), action="test.event", details={"n": n})
            clock.advance(timedelta(seconds=1))
    async with runtime.sessions() as session:
        report = await verify_chain(session)
        assert report.intact and report.events_checked == 5
    async with runtime.sessions.begin() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(outcome="refused")
        )
    async with runtime.sessions() as session:
        report = await verify_chain(session)
        assert report.first_broken_seq == 3
    async with runtime.sessions.begin() as session:
        await session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(outcome="ok"))
        await session.execute(text("DELETE FROM audit_events WHERE seq = 5"))
    async with runtime.sessions() as session:
        report = await verify_chain(session)
        assert report.first_broken_seq == 5


async def write_events(runtime: Runtime, clock: ManualClock, count: int) -> None:
    async with runtime.sessions.begin() as session:
        for n in range(count):
            await append_event(session, at=clock.now(), action="test.event", details={"n": n})
            clock.advance(timedelta(seconds=1))


async def first_broken(runtime: Runtime) -> int | None:
    async with runtime.sessions() as session:
        return (await verify_chain(session)).first_broken_seq


async def test_a_rewrite_with_every_hash_recomputed_is_named_without_the_key(
    runtime: Runtime, clock: ManualClock
) -> None:
    """What someone who can write to the database (but has no key file) can do: change an
    event and recompute the SHA-256 links of it and every event after it, and the head."""
    await write_events(runtime, clock, 6)
    await edit_details(runtime.sessions, 3, {"n": "changed"})
    await relink(runtime.sessions, sha256, start=3)
    assert await first_broken(runtime) == 3
    # Recomputing the whole chain from the first event leaves nothing the key vouches for.
    await relink(runtime.sessions, sha256)
    assert await first_broken(runtime) == 1


async def test_an_event_deleted_from_the_middle_and_relinked_is_named(
    runtime: Runtime, clock: ManualClock
) -> None:
    await write_events(runtime, clock, 6)
    await delete_events(runtime.sessions, 3, renumber=True)
    await relink(runtime.sessions, sha256, start=3)
    async with runtime.sessions() as session:
        report = await verify_chain(session)
    assert report.first_broken_seq == 3 and report.events_checked == 2


async def test_a_keyed_trail_is_never_sealed_again_under_another_key(
    runtime: Runtime, clock: ManualClock
) -> None:
    """A key file from another deployment sees links it cannot check; it must not vouch for
    them with an audit.keyed event of its own."""
    await write_events(runtime, clock, 3)
    stranger = key_ring_from_document(new_key_document(), "another deployment").audit_key()
    async with create_session_factory(runtime.engine, audit_key=stranger).begin() as session:
        assert await key_the_chain(session, clock.now()) is None
    async with runtime.sessions.begin() as session:
        assert await key_the_chain(session, clock.now()) is None  # keyed already
    async with runtime.sessions() as session:
        report = await verify_chain(session)
    assert report.intact and report.events_checked == 3


async def test_concurrent_audit_appends_never_fork_the_chain(
    runtime: Runtime, clock: ManualClock
) -> None:
    import asyncio

    async def writer(n: int) -> None:
        async with runtime.sessions.begin() as session:
            await append_event(session, at=clock.now(), action="test.parallel", details={"n": n})

    await asyncio.gather(*(writer(n) for n in range(20)))
    async with runtime.sessions() as session:
        report = await verify_chain(session)
    assert report.intact and report.events_checked == 20


async def _area_and_code(runtime: Runtime, role: Role = Role.COORDINATOR) -> tuple[int, str]:
    area = await runtime.services.areas.ensure_area("Northamptonshire")
    issued = await runtime.services.invites.issue(None, area_id=area.id, role=role)
    return area.id, issued.code


async def test_enrolment_is_single_use_and_expires(runtime: Runtime, clock: ManualClock) -> None:
    enrolment = runtime.services.enrolment
    _, code = await _area_and_code(runtime)
    first = await enrolment.redeem(1001, "Priya Shah", code)
    assert first.outcome is Redemption.ENROLLED and first.actor is not None
    assert first.actor.role is Role.COORDINATOR and first.actor.display_name == "Priya Shah"
    assert (await enrolment.redeem(1002, "Someone Else", code)).outcome is Redemption.NOT_VALID

    _, late_code = await _area_and_code(runtime, Role.CHAIR)
    clock.advance(timedelta(hours=72, seconds=1))
    assert (await enrolment.redeem(1003, "Late", late_code)).outcome is Redemption.NOT_VALID
    assert await enrolment.identify(1003) is None


async def test_enrolled_person_keeps_code_for_colleague(runtime: Runtime) -> None:
    enrolment = runtime.services.enrolment
    _, code = await _area_and_code(runtime)
    await enrolment.redeem(1001, "Priya Shah", code)
    _, second = await _area_and_code(runtime, Role.CHAIR)
    again = await enrolment.redeem(1001, "Priya Shah", second)
    assert again.outcome is Redemption.ALREADY_ENROLLED
    assert (await enrolment.redeem(2002, "Colleague", second)).outcome is Redemption.ENROLLED


async def test_five_failed_codes_lock_a_user_out_for_an_hour(
    runtime: Runtime, clock: ManualClock
) -> None:
    enrolment = runtime.services.enrolment
    _, code = await _area_and_code(runtime)
    for n in range(5):
        result = await enrolment.redeem(666, "Guesser", f"guessed-code-number-{n:04d}")
        assert result.outcome is Redemption.NOT_VALID
    assert (await enrolment.redeem(666, "Guesser", code)).outcome is Redemption.LOCKED_OUT
    clock.advance(timedelta(hours=1, minutes=1))
    assert (await enrolment.redeem(666, "Guesser", code)).outcome is Redemption.ENROLLED


async def test_codes_and_names_are_not_stored_in_plaintext(runtime: Runtime) -> None:
    _, code = await _area_and_code(runtime)
    await runtime.services.enrolment.redeem(1001, "Priya Shah", code)
    async with runtime.sessions() as session:
        invite = (await session.scalars(select(Invite))).one()
        person = (await session.scalars(select(Person))).one()
        assert code not in invite.code_hash
        assert person.display_name_sealed is not None
        assert b"Priya" not in person.display_name_sealed
        assert person.data_key_id is not None
        opened = await runtime.vault.open(
            session, person.data_key_id, name_context(person.id), person.display_name_sealed
        )
        assert opened == "Priya Shah"


async def test_area_is_created_once(runtime: Runtime) -> None:
    first = await runtime.services.areas.ensure_area("Northamptonshire")
    again = await runtime.services.areas.ensure_area("  northamptonshire ")
    assert first.created and not again.created and first.id == again.id
    assert first.code == "NOR"
    other = await runtime.services.areas.ensure_area("Northumbria")
    assert other.code == "NOR2"


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_raw_sqlite_file_holds_no_name_or_sealed_plaintext(
    runtime: Runtime, database_url: str
) -> None:
    _, code = await _area_and_code(runtime)
    await runtime.services.enrolment.redeem(1001, "Priya Shah", code)
    async with runtime.sessions.begin() as session:
        key_id = await runtime.vault.create_data_key(session, "case")
        sealed = await runtime.vault.seal(
            session, key_id, FieldContext("cases", "summary", 1), "Victim Jane Doe at 12 Elm Road"
        )
        await session.execute(
            text(
                "INSERT INTO bot_state(kind, name, key, value, updated_at) "
                "VALUES ('test', 'sealed', '1', :v, '2026-11-26 09:00:00')"
            ),
            {"v": sealed.hex()},
        )
    await runtime.engine.dispose()  # checkpoint the WAL into the main file
    path = Path(database_url.split("///", 1)[1])
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for secret in (b"Priya", b"Shah", b"Jane Doe", b"Elm Road", code.encode()):
        assert secret not in raw


async def test_migrations_match_the_models(runtime: Runtime) -> None:
    """A model change without a migration would break production; autogenerate must find nothing."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.engine import Connection

    from storage.base import Base

    def diff(connection: Connection) -> list[object]:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with runtime.engine.connect() as connection:
        differences = await connection.run_sync(diff)
    assert differences == []

"""The start-up check that the configured keys open this database's data keys."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot.runtime import Runtime
from bot.vocabulary import Role
from storage.crypto import KeyRing
from storage.key_check import CANARY_PURPOSE, KeysDoNotOpen, check_keys_open_data
from storage.keyfile import key_ring_from_document, new_key_document
from storage.models import DataKey
from tests.support.retention import enrol


async def test_the_right_keys_open_an_existing_data_key_and_others_do_not(
    runtime: Runtime, key_ring: KeyRing
) -> None:
    area = await runtime.services.areas.ensure_area("Northamptonshire")
    await enrol(runtime, 1001, "Cora Ordinator", area_id=area.id, role=Role.COORDINATOR)

    assert await check_keys_open_data(runtime.sessions, key_ring) == key_ring.active_key_id
    someone_elses = key_ring_from_document(new_key_document(), "another deployment")
    with pytest.raises(KeysDoNotOpen) as refused:
        await check_keys_open_data(runtime.sessions, someone_elses)
    assert refused.value.kek_id == key_ring.active_key_id
    async with runtime.sessions() as session:
        canaries = select(func.count()).where(DataKey.purpose == CANARY_PURPOSE)
        assert await session.scalar(canaries) == 0  # a real data key was there to check


async def test_a_database_without_data_keys_gets_a_canary_the_next_start_checks(
    runtime: Runtime, key_ring: KeyRing
) -> None:
    assert await check_keys_open_data(runtime.sessions, key_ring) is None
    assert await check_keys_open_data(runtime.sessions, key_ring) == key_ring.active_key_id
    with pytest.raises(KeysDoNotOpen):
        await check_keys_open_data(
            runtime.sessions, key_ring_from_document(new_key_document(), "old copy")
        )

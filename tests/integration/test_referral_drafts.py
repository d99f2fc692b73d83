"""Referral drafts: sealed at rest, erased after their time, and shredded on submit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from bot.clock import ManualClock
from bot.errors import ServiceError
from bot.runtime import Runtime
from bot.vocabulary import Role
from storage.models import DataKey, ReferralDraft
from tests.support.service_scenarios import refer


async def _coordinator(runtime: Runtime):  # type: ignore[no-untyped-def]
    area = await runtime.services.areas.ensure_area("Northamptonshire")
    issued = await runtime.services.invites.issue(None, area_id=area.id, role=Role.COORDINATOR)
    result = await runtime.services.enrolment.redeem(501, "Priya Shah", issued.code)
    assert result.actor is not None
    return result.actor


async def test_draft_is_sealed_and_erased_after_seven_days(
    runtime: Runtime, clock: ManualClock
) -> None:
    actor = await _coordinator(runtime)
    referrals = runtime.services.referrals
    await referrals.start(actor)
    await referrals.choose(actor, 0, 0)
    await referrals.answer(actor, "Only call after 6pm, her brother must not know")
    async with runtime.sessions() as session:
        draft = (await session.scalars(select(ReferralDraft))).one()
        assert draft.payload_sealed is not None and b"brother" not in draft.payload_sealed
        key_id = draft.data_key_id
    clock.advance(timedelta(days=6, hours=23))
    assert await referrals.erase_expired_drafts() == 0
    clock.advance(timedelta(hours=2))
    assert await referrals.erase_expired_drafts() == 1
    assert await referrals.current_draft(actor) is None
    async with runtime.sessions() as session:
        assert await session.get(DataKey, key_id) is None  # crypto-shredded


async def test_stale_button_for_an_earlier_question_changes_nothing(runtime: Runtime) -> None:
    actor = await _coordinator(runtime)
    referrals = runtime.services.referrals
    await referrals.start(actor)
    state = await referrals.choose(actor, 0, 0)
    with pytest.raises(ServiceError):
        await referrals.choose(actor, 0, 1)  # the first question again, from an old message
    assert (await referrals.current_draft(actor)).payload == state.payload  # type: ignore[union-attr]


async def test_submit_shreds_the_draft_and_numbers_cases_per_area_and_year(
    runtime: Runtime,
) -> None:
    actor = await _coordinator(runtime)
    first = await refer(runtime, actor)
    second = await refer(runtime, actor, typed={"victim_name": "Mary Major"})
    assert first.reference == "NOR-2026-0001" and second.reference == "NOR-2026-0002"
    async with runtime.sessions() as session:
        assert (await session.scalars(select(ReferralDraft))).all() == []
        purposes = [k.purpose for k in await session.scalars(select(DataKey))]
    assert "draft" not in purposes and purposes.count("case") == 2

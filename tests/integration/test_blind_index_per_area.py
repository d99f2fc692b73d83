"""The repeat-victim blind index is keyed per area: the database alone links no case across
areas, and a returning victim is still recognised within an area."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import select

from bot.actor import Actor
from bot.clock import ManualClock
from bot.runtime import Runtime
from bot.vocabulary import AgencyKind, Role
from storage.base import UTCDateTime
from storage.crypto import FieldContext, KeyRing, blind_index, new_data_key, seal
from storage.db import create_engine
from storage.keyfile import key_ring_from_document
from storage.migrate import upgrade
from storage.models import Case
from tests.support.schema_before_0014 import AREAS, DATA_KEYS
from tests.support.service_scenarios import enrol, refer

VICTIM = {"victim_name": "Jane Doe", "victim_dob": "14/03/1990"}
PERPETRATOR = {"perp_name": "John Doe", "perp_dob": "01/01/1985"}


async def rep_in(runtime: Runtime, area: str, first_user: int) -> Actor:
    services = runtime.services
    area_id = (await services.areas.ensure_area(area)).id
    coordinator = await enrol(runtime, area_id, first_user, "Co Ordinator", Role.COORDINATOR, None)
    police = await services.agencies.add(coordinator, f"{area} Police", AgencyKind.POLICE)
    return await enrol(runtime, area_id, first_user + 1, "Sam Rep", Role.AGENCY_REP, police.id)


async def indexes(runtime: Runtime, *case_ids: int) -> list[tuple[str, str | None]]:
    async with runtime.sessions() as session:
        cases = {
            case.id: case
            for case in await session.scalars(select(Case).where(Case.id.in_(case_ids)))
        }
    return [(cases[i].victim_index, cases[i].perpetrator_index) for i in case_ids]


async def test_the_same_victim_in_two_areas_cannot_be_linked_but_repeats_are_found(
    runtime: Runtime, clock: ManualClock
) -> None:
    north = await rep_in(runtime, "Northamptonshire", 501)
    leics = await rep_in(runtime, "Leicestershire", 701)
    first = await refer(runtime, north, typed={**VICTIM, **PERPETRATOR})
    elsewhere = await refer(runtime, leics, typed={**VICTIM, **PERPETRATOR})
    assert elsewhere.possible_repeat_of is None  # another area's case is not a repeat

    (victim_n, perp_n), (victim_l, perp_l) = await indexes(
        runtime, first.case_id, elsewhere.case_id
    )
    assert victim_n != victim_l
    assert perp_n is not None and perp_l is not None and perp_n != perp_l

    clock.advance(timedelta(days=30))
    again = await refer(runtime, north, typed={**VICTIM, **PERPETRATOR})
    assert again.possible_repeat_of == first.reference
    ((victim_again, perp_again),) = await indexes(runtime, again.case_id)
    assert (victim_again, perp_again) == (victim_n, perp_n)
    again_elsewhere = await refer(runtime, leics, typed={**VICTIM, **PERPETRATOR})
    assert again_elsewhere.possible_repeat_of == elsewhere.reference


# -- the migration that re-keys the indexes already stored ------------------------------------

_people = sa.table(
    "people",
    sa.column("id", sa.BigInteger),
    sa.column("area_id", sa.BigInteger),
    sa.column("role", sa.String),
    sa.column("telegram_user_id", sa.BigInteger),
    sa.column("enrolled_at", UTCDateTime()),
)
_cases = sa.table(
    "cases",
    sa.column("id", sa.BigInteger),
    sa.column("area_id", sa.BigInteger),
    sa.column("reference", sa.String),
    sa.column("data_key_id", sa.String),
    sa.column("referred_at", UTCDateTime()),
    sa.column("referred_by_id", sa.BigInteger),
    sa.column("criterion", sa.String),
    sa.column("dash_yes", sa.Integer),
    sa.column("dash_not_known", sa.Integer),
    sa.column("urgent", sa.Boolean),
    sa.column("consent_given", sa.Boolean),
    sa.column("children_count", sa.Integer),
    sa.column("victim_aged_16_17", sa.Boolean),
    sa.column("victim_index", sa.String),
    sa.column("perpetrator_index", sa.String),
    sa.column("victim_sealed", sa.LargeBinary),
    sa.column("perpetrator_sealed", sa.LargeBinary),
)

# As the referral service sealed them: the dates as typed, then stored in ISO form.
JANE = {"name": "Jane Doe", "dob": "1990-03-14", "aliases": None, "address": "12 Elm Road"}
JOHN = {"name": "John Doe", "dob": "1985-01-01", "address": None}


def old_index(document: dict[str, Any], purpose: str, *parts: str) -> str:
    """The deployment-wide index the previous release stored."""
    return blind_index(base64.b64decode(document["blind_index_key"]), purpose, *parts)


async def test_the_upgrade_rekeys_every_stored_index_per_area(
    database_url: str, key_document: dict[str, Any], clock: ManualClock
) -> None:
    ring: KeyRing = key_ring_from_document(key_document, "test")
    now = clock.now()
    engine = create_engine(database_url)
    try:
        await upgrade(engine, "0010")
        async with engine.begin() as connection:
            for area_id, name, code in ((1, "Northamptonshire", "NOR"), (2, "Leics", "LEI")):
                await connection.execute(
                    AREAS.insert().values(
                        id=area_id, name=name, code=code, timezone="Europe/London", created_at=now
                    )
                )
                await connection.execute(
                    _people.insert().values(
                        id=area_id, area_id=area_id, role="agency_rep",
                        telegram_user_id=600 + area_id, enrolled_at=now,
                    )
                )  # fmt: skip
            # Jane twice in area 1, once in area 2; a fourth case whose data key is gone.
            for case_id, area_id in ((1, 1), (2, 1), (3, 2), (4, 1)):
                key_id = None
                victim = perpetrator = None
                if case_id != 4:
                    key_id, data_key = f"dk{case_id}", new_data_key()
                    kek_id, wrapped = ring.wrap(data_key, key_id)
                    await connection.execute(
                        DATA_KEYS.insert().values(
                            id=key_id, purpose="case", kek_id=kek_id, wrapped=wrapped,
                            created_at=now,
                        )
                    )  # fmt: skip
                    victim = seal(
                        data_key, json.dumps(JANE), FieldContext("cases", "victim_sealed", case_id)
                    )
                    perpetrator = seal(
                        data_key,
                        json.dumps(JOHN),
                        FieldContext("cases", "perpetrator_sealed", case_id),
                    )
                await connection.execute(
                    _cases.insert().values(
                        id=case_id, area_id=area_id, reference=f"X-{case_id}",
                        data_key_id=key_id, referred_at=now, referred_by_id=area_id,
                        criterion="visible_high_risk", dash_yes=14, dash_not_known=0,
                        urgent=False, consent_given=True, children_count=0,
                        victim_aged_16_17=False,
                        victim_index=old_index(key_document, "victim", "Jane Doe", "1990-03-14"),
                        perpetrator_index=old_index(
                            key_document, "perpetrator", "John Doe", "1985-01-01"
                        ),
                        victim_sealed=victim, perpetrator_sealed=perpetrator,
                    )
                )  # fmt: skip

        await upgrade(engine, "0014", keys=lambda: ring)
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(
                        _cases.c.id, _cases.c.victim_index, _cases.c.perpetrator_index
                    ).order_by(_cases.c.id)
                )
            ).all()
    finally:
        await engine.dispose()
    stored = {case_id: (victim, perp) for case_id, victim, perp in rows}

    def new(area_id: int) -> tuple[str, str]:
        return (
            ring.blind_index("victim", "Jane Doe", "1990-03-14", area_id=area_id),
            ring.blind_index("perpetrator", "John Doe", "1985-01-01", area_id=area_id),
        )

    assert stored[1] == stored[2] == new(1)  # the repeat within the area is still a match
    assert stored[3] == new(2) and stored[3] != stored[1]
    old = (
        old_index(key_document, "victim", "Jane Doe", "1990-03-14"),
        old_index(key_document, "perpetrator", "John Doe", "1985-01-01"),
    )
    unopenable_victim, unopenable_perp = stored[4]
    assert unopenable_perp is None
    assert unopenable_victim not in {old[0], new(1)[0], new(2)[0]}
    assert not {victim for victim, _ in stored.values()} & {old[0]}

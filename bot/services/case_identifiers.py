"""A case's research identifiers, opened part by part as the access policy allows.

An agency searches its records on names, other names, dates of birth and addresses; a
reference number finds nothing. These are sealed in the case row; this module opens only
the parts ``bot.access.identifiers_shown`` gives the reader, so a perpetrator service's
page shows nothing of the victim's (her address is opened only to withhold his when they
share it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from bot.access import Part
from bot.services.referrals import case_context
from storage.models import Case
from storage.vault import Vault


@dataclass(frozen=True)
class PersonDetails:
    """What an agency searches on for one person; None where the referral did not say."""

    name: str | None
    other_names: str | None
    date_of_birth: str | None
    address: str | None = None


@dataclass(frozen=True)
class Identifiers:
    """The parts opened for this reader; a part they may not see is None."""

    victim: PersonDetails | None = None
    person_causing_harm: PersonDetails | None = None
    # Each child as the referral gave them (``bot.texts.child_line`` writes one); None when
    # the reader may not see the children.
    children: tuple[dict[str, Any], ...] | None = None

    def is_empty(self) -> bool:
        return self.victim is None and self.person_causing_harm is None and self.children is None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


async def _opened(session: AsyncSession, vault: Vault, case: Case, column: str) -> Any:
    sealed = getattr(case, column)
    if sealed is None or case.data_key_id is None:
        return {}
    return json.loads(
        await vault.open(session, case.data_key_id, case_context(case.id, column), sealed)
    )


async def open_identifiers(
    session: AsyncSession, vault: Vault, case: Case, parts: frozenset[Part]
) -> Identifiers:
    """The identifiers in ``parts``; nothing else of the case is decrypted."""
    if not parts or case.data_key_id is None:
        return Identifiers()
    victim = harm = None
    children: tuple[dict[str, Any], ...] | None = None
    if Part.VICTIM in parts:
        found = await _opened(session, vault, case, "victim_sealed")
        victim = PersonDetails(
            _text(found.get("name")),
            _text(found.get("aliases")),
            _text(found.get("dob")),
            _text(found.get("address")) if Part.VICTIM_ADDRESS in parts else None,
        )
    if Part.PERSON_CAUSING_HARM in parts:
        found = await _opened(session, vault, case, "perpetrator_sealed")
        address = _text(found.get("address"))
        if Part.VICTIM_ADDRESS not in parts and address is not None:
            victim_address = (await _opened(session, vault, case, "victim_sealed")).get("address")
            address = harm_address_shown(address, _text(victim_address))
        harm = PersonDetails(
            _text(found.get("name")),
            _text(found.get("aliases")),
            _text(found.get("dob")),
            address,
        )
    if Part.CHILDREN in parts:
        found = await _opened(session, vault, case, "household_sealed")
        children = children_of(found, case.children_count)
    return Identifiers(victim, harm, children)


def _address_key(address: str) -> str:
    return "".join(ch for ch in address.lower() if ch.isalnum())


def harm_address_shown(harm_address: str | None, victim_address: str | None) -> str | None:
    """The person causing harm's address as shown to a reader who may not see the victim's.

    They often share a home: showing his address would then give a perpetrator service the
    victim's. The victim's address is opened only to compare, never shown; the same address,
    however written, is withheld with a note saying why.
    """
    if harm_address is None:
        return None
    if victim_address and _address_key(harm_address) == _address_key(victim_address):
        return texts.HARM_ADDRESS_WITHHELD
    return harm_address


def children_of(household: dict[str, Any], count: int) -> tuple[dict[str, Any], ...]:
    """The children recorded in a case's household part. A case referred before children were
    recorded as people holds their ages (or only their number): each is shown as such."""
    children = household.get("children")
    if isinstance(children, list):
        return tuple(child for child in children if isinstance(child, dict))
    ages: list[int | None] = [
        age for age in household.get("children_ages") or [] if isinstance(age, int)
    ]
    ages += [None] * (count - len(ages))
    return tuple({"age": age, "count_only": True} for age in ages)

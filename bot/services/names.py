"""People's names are sealed; this is the one place that opens them for display."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bot import texts
from storage.crypto import FieldContext
from storage.models import Person
from storage.vault import Vault


def name_context(person_id: int) -> FieldContext:
    return FieldContext("people", "display_name", person_id)


async def person_name(
    session: AsyncSession, vault: Vault, person_id: int | None, *, nobody: str = "the system"
) -> str:
    """The display name, "the system" for automatic steps, or a marker once erased."""
    if person_id is None:
        return nobody
    person = await session.get(Person, person_id)
    if person is None or not person.data_key_id or not person.display_name_sealed:
        return texts.NAME_ERASED
    return await vault.open(
        session, person.data_key_id, name_context(person.id), person.display_name_sealed
    )

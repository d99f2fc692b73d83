"""Showing times in the area's time zone, the way people in the UK write them."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot import texts
from bot.adapter.context import MaracContext
from bot.dates import format_local
from bot.services.case_identifiers import Identifiers, PersonDetails


def timezone_of(context: MaracContext) -> str:
    """The reader's area's zone; the deployment's default before anyone is recognised."""
    if context.actor is not None:
        return context.actor.timezone
    return context.runtime.settings.timezone


def local_time(context: MaracContext, moment: datetime) -> str:
    return format_local(moment, timezone_of(context))


def local_day(context: MaracContext, moment: datetime | None) -> str:
    if moment is None:
        return "never"
    zone = ZoneInfo(timezone_of(context))
    return moment.astimezone(zone).strftime("%d %b %Y").lstrip("0")


def local_today(context: MaracContext) -> date:
    """Today on the area's wall clock, by the injected clock."""
    return context.runtime.clock.now().astimezone(ZoneInfo(timezone_of(context))).date()


def sentence(text: str) -> str:
    """``text`` with its first letter capitalised and the rest as written.

    Not ``str.capitalize``, which lower-cases the rest ("every 2 weeks on thursday").
    """
    return text[:1].upper() + text[1:]


def _person_fields(person: PersonDetails) -> list[tuple[str, str]]:
    fields = [
        (texts.WS_FIELD_NAME, person.name or texts.WS_NOT_GIVEN),
        (texts.WS_FIELD_OTHER_NAMES, person.other_names or texts.WS_NOT_GIVEN),
        (texts.WS_FIELD_DOB, texts.uk_date(person.date_of_birth)),
    ]
    if person.address is not None:
        fields.append((texts.WS_FIELD_ADDRESS, person.address))
    return fields


def identifier_sections(found: Identifiers) -> list[tuple[str, list[tuple[str, str]]]]:
    """The people a case's identifiers name, as (heading, [(label, value)]), for the chat."""
    sections = []
    if found.victim is not None:
        sections.append((texts.WS_VICTIM, _person_fields(found.victim)))
    if found.person_causing_harm is not None:
        sections.append((texts.WS_PERSON_CAUSING_HARM, _person_fields(found.person_causing_harm)))
    return sections

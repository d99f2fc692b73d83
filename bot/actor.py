"""Who is asking: every service call receives one and checks it itself."""

from __future__ import annotations

from dataclasses import dataclass

from bot.vocabulary import AgencyKind, Role


@dataclass(frozen=True)
class Actor:
    person_id: int
    telegram_user_id: int
    role: Role
    area_id: int
    agency_id: int | None
    display_name: str
    area_name: str
    agency_name: str | None = None
    # The area's time zone: dates people type and see are the area's, wherever the server is.
    timezone: str = "Europe/London"
    agency_kind: AgencyKind | None = None
    on_call: bool = False
    # Whether a coordinator has confirmed this enrolment (or it needed none): until then the
    # person may use /start and /help only, and is sent no case information. False unless
    # said, so an actor built without asking the database gets nothing.
    confirmed: bool = False
    # The language this person reads: "en" or "cy" (bot.i18n), chosen with /language.
    language: str = "en"

    @property
    def where(self) -> str:
        """ "Sunflower IDVA Service, Northamptonshire", or just the area for area-wide roles."""
        return f"{self.agency_name}, {self.area_name}" if self.agency_name else self.area_name

"""Where to get help, for anyone the bot does not know: sourced reference figures.

A stranger who writes to the bot may be a victim looking for help. The bot tells them nothing
about what it is for, but does tell them where help is (``bot.texts.NEUTRAL_UNKNOWN``). Phone
numbers are facts the bot states to people in danger, so each carries where it was taken from
and when; check them against the source before a release and update ``checked_on``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Helpline:
    """A public helpline as its operator publishes it."""

    name: str
    number: str
    hours: str
    source: str  # who publishes the number
    url: str  # where it was read
    checked_on: str  # ISO date it was last read there


# The UK emergency number (police, ambulance, fire).
EMERGENCY_NUMBER = "999"

# Refuge runs the National Domestic Abuse Helpline for England: freephone, 24 hours a day
# ("Freephone 24-Hour National Domestic Abuse Helpline: 0808 2000 247", refuge.org.uk).
NATIONAL_DOMESTIC_ABUSE_HELPLINE = Helpline(
    name="National Domestic Abuse Helpline",
    number="0808 2000 247",
    hours="free and open 24 hours",
    source="Refuge, National Domestic Abuse Helpline",
    url="https://www.refuge.org.uk/",
    checked_on="2026-12-07",
)

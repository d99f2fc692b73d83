"""Showing times in the area's time zone, the way people in the UK write them."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from bot.context import MaracContext
from bot.dates import format_local


def local_time(context: MaracContext, moment: datetime) -> str:
    return format_local(moment, context.runtime.settings.timezone)


def local_day(context: MaracContext, moment: datetime | None) -> str:
    if moment is None:
        return "never"
    zone = ZoneInfo(context.runtime.settings.timezone)
    return moment.astimezone(zone).strftime("%d %b %Y").lstrip("0")

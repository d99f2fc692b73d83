"""Inline buttons as every handler builds and reads them, from the one vocabulary.

Every button a handler makes, and every press it answers, is a kind registered in
``bot.buttons``: an unregistered area and action fail here, at start-up for patterns and on
first use for buttons, rather than leaving a button in someone's chat that nothing answers.
"""

from __future__ import annotations

import re
from datetime import date

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update, WebAppInfo

from bot import texts
from bot.buttons import KINDS, ButtonKind, kind, workspace_url
from bot.callbacks import Callback, parse
from bot.errors import NotFound


def area_button(area: str, text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return button(kind(area, action), text, *ids)


def button(of: ButtonKind, text: str, *ids: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=of.data(*ids))


def page_button(
    webapp_url: str | None, of: ButtonKind, text: str, *ids: int
) -> InlineKeyboardButton:
    """A button for a kind with a workspace page: it opens the page where a workspace is set
    up (``MARAC_WEBAPP_URL``), and is answered in the chat otherwise."""
    url = workspace_url(of.data(*ids), webapp_url)
    if url is not None:
        return InlineKeyboardButton(text, web_app=WebAppInfo(url))
    return button(of, text, *ids)


def keyboard(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    """A keyboard from (label, data) rows, as services build them with ``bot.buttons``."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


def pattern(area: str, action: str | None = None) -> re.Pattern[str]:
    """The CallbackQueryHandler pattern for a registered kind, or for all kinds of an area."""
    if action is not None:
        return kind(area, action).pattern
    if not any(registered == area for registered, _ in KINDS):
        raise ValueError(f"no buttons of area {area} are registered in bot.buttons")
    return re.compile(rf"^{re.escape(area)}:[a-z]{{1,12}}(?::\d{{1,18}}){{0,3}}$")


def pressed(update: Update) -> Callback:
    """The pressed button's data; anything this bot did not make is refused (and audited)."""
    callback = parse(update.callback_query.data if update.callback_query else None)
    if callback is None:
        raise NotFound(texts.BUTTON_NOT_RECOGNISED)
    return callback


def pressed_day(update: Update, index: int = 0) -> date:
    """A date carried in a button as its ordinal; a forged number is refused like any button."""
    try:
        return date.fromordinal(pressed(update).id(index))
    except (ValueError, OverflowError):
        raise NotFound(texts.BUTTON_NOT_RECOGNISED) from None

"""Inline buttons as every handler builds and reads them: an area, an action, server ids."""

from __future__ import annotations

from datetime import date

from telegram import InlineKeyboardButton, Update

from bot import texts
from bot.callbacks import Callback, button_data, parse
from bot.services.errors import NotFound


def area_button(area: str, text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return InlineKeyboardButton(text, callback_data=button_data(area, action, *ids))


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

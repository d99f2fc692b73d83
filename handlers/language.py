"""/language: each person chooses English or Cymraeg for themselves (``bot.i18n``)."""

from __future__ import annotations

from dataclasses import replace

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.buttons import LANGUAGE_CHOOSE
from bot.errors import NotFound
from bot.i18n import LANGUAGE_NAMES, LANGUAGES, WELSH, set_reader
from handlers.buttons import button, pressed
from handlers.replies import answer, guarded, set_menu_for, show
from handlers.start import send_home


def language_keyboard() -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[button(LANGUAGE_CHOOSE, LANGUAGE_NAMES[code], i) for i, code in enumerate(LANGUAGES)]]
    )


async def language_command(update: Update, context: MaracContext) -> None:
    if context.actor is None:
        return
    await answer(update, texts.LANGUAGE_QUESTION, language_keyboard())


async def language_chosen(update: Update, context: MaracContext) -> None:
    actor = context.actor
    assert actor is not None
    callback = pressed(update)
    if len(callback.ids) != 1 or not 0 <= callback.id(0) < len(LANGUAGES):
        raise NotFound(texts.BUTTON_NOT_RECOGNISED)
    language = await context.runtime.services.people.set_language(actor, LANGUAGES[callback.id(0)])
    # From this reply on, this person is written to in the language they chose.
    actor = replace(actor, language=language)
    context.actor = actor
    set_reader(language)
    said = f"{texts.language_now(LANGUAGE_NAMES[language])}\n\n{texts.LANGUAGE_SET}"
    if language == WELSH:
        said += f"\n\n{texts.LANGUAGE_SET_HINT}"
    await show(update, said)
    chat = update.effective_chat
    if chat is not None:
        await set_menu_for(context.bot, chat.id, actor.role, confirmed=actor.confirmed)
    await send_home(update, context, actor)


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CommandHandler("language", guarded(language_command)),
        CallbackQueryHandler(guarded(language_chosen), pattern=LANGUAGE_CHOOSE.pattern),
    ]

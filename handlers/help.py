"""/help: the commands this person's role may use, and nothing else."""

from __future__ import annotations

from telegram import Update

from bot import texts
from bot.adapter.context import MaracContext
from bot.permissions import commands_for
from handlers.replies import set_menu_for


async def help_command(update: Update, context: MaracContext) -> None:
    actor, chat = context.actor, update.effective_chat
    if actor is None or chat is None:
        return
    commands = [
        (c.name, c.description) for c in commands_for(actor.role, confirmed=actor.confirmed)
    ]
    await set_menu_for(context.bot, chat.id, actor.role, confirmed=actor.confirmed)
    ttl = context.runtime.settings.sensitive_message_ttl_minutes
    text = texts.help_text(actor.role, commands, ttl)
    if not actor.confirmed:
        text = f"{texts.AWAITING_CONFIRMATION}\n\n{text}"
    await chat.send_message(text)

"""Small helpers for replying the same way from every handler."""

from __future__ import annotations

from telegram import BotCommand, BotCommandScopeChat, Update
from telegram.ext import ExtBot

from bot.permissions import commands_for
from storage.models import Role


async def reply(update: Update, text: str) -> None:
    """Answer in the chat the update came from, whether it was a message or a button press."""
    query = update.callback_query
    if query is not None:
        await query.answer()
    chat = update.effective_chat
    if chat is not None:
        await chat.send_message(text)


async def refuse_button(update: Update, text: str) -> None:
    """Refuse a pressed button, and take its keyboard away so it is not pressed again."""
    query = update.callback_query
    if query is None:
        return
    await query.answer(text, show_alert=True)
    if query.message is not None and query.message.is_accessible:
        await query.edit_message_reply_markup(reply_markup=None)


async def set_menu_for(bot: ExtBot[None], chat_id: int, role: Role | None) -> None:
    """Show each person only the commands their role may use."""
    if role is None:
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
        return
    commands = [BotCommand(c.name, c.description) for c in commands_for(role)]
    await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))

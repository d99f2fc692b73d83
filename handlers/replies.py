"""Helpers every handler uses to answer, refuse and show sensitive content the same way."""

from __future__ import annotations

import contextlib
import functools
import weakref
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from typing import Any

from telegram import BotCommand, BotCommandScopeChat, InlineKeyboardMarkup, Update
from telegram.error import BadRequest
from telegram.ext import ConversationHandler, ExtBot

from bot import texts
from bot.adapter.context import MaracContext
from bot.adapter.marac_bot import MaracBot
from bot.adapter.message_removal import remove_messages
from bot.errors import NotFound, ServiceError
from bot.permissions import PermissionDenied, commands_for
from bot.referrals.validation import InputError, clean_free_text
from bot.vocabulary import Role

Callback = Callable[[Update, MaracContext], Coroutine[Any, Any, Any]]


# The press being handled now that has already been answered; reset by the guard per update.
_acknowledged: ContextVar[str | None] = ContextVar("acknowledged_press", default=None)


def start_update() -> None:
    _acknowledged.set(None)


async def acknowledge(update: Update) -> None:
    """Stop the button's spinner, once per press, however many helpers reply to it."""
    query = update.callback_query
    if query is None or _acknowledged.get() == query.id:
        return
    _acknowledged.set(query.id)
    with contextlib.suppress(BadRequest):
        await query.answer()


def _bot(update: Update) -> MaracBot:
    bot = update.get_bot()
    assert isinstance(bot, MaracBot), "updates come from the Application build_application made"
    return bot


async def answer(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Reply where the person is: as a new message, after acknowledging a pressed button."""
    await acknowledge(update)
    if update.effective_chat is not None:
        await _bot(update).send_reply(update.effective_chat.id, text, markup)


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Replace the pressed message's text and buttons, or send a new message for a command."""
    query = update.callback_query
    if query is None or query.message is None or not query.message.is_accessible:
        await answer(update, text, markup)
        return
    await acknowledge(update)
    try:
        await _bot(update).edit_reply(query.message.chat.id, query.message.message_id, text, markup)
    except BadRequest as exc:
        if "not modified" not in str(exc).lower():
            raise


async def send_sensitive(
    update: Update,
    context: MaracContext,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> None:
    """Protected from forwarding and saving, and deleted by the bot after its time."""
    chat = update.effective_chat
    if chat is None:
        return
    await acknowledge(update)
    message_id = await _bot(update).send_reply(chat.id, text, markup, protect=True)
    await context.runtime.services.sensitive_messages.record(chat.id, message_id)


async def forget_typed(update: Update, context: MaracContext, *, stored: bool = True) -> None:
    """Delete the person's message with case details from the chat, once it is stored.

    The deletion is recorded first, so a restart or a failover before it is done forgets
    nothing: housekeeping retries it. A message the bot refused (``stored=False``) stays
    for the sensitive-message time, so the person can copy and correct it, then goes too.
    """
    message = update.message
    if message is None or update.effective_chat is None:
        return
    removal = context.runtime.services.sensitive_messages
    due = await removal.record_typed(update.effective_chat.id, message.message_id, stored=stored)
    if stored:
        await remove_messages(context.bot, removal, [due])


async def store_typed_note(
    update: Update,
    context: MaracContext,
    *,
    step: str,
    again: int,
    store: Callable[[dict[str, Any], str], Coroutine[Any, Any, str]],
    max_length: int = 3000,
    min_length: int = 5,
) -> int:
    """A note with case details typed in answer to a question: checked, stored, then deleted.

    ``store`` gets what the conversation kept under ``step`` and the cleaned text, stores it
    (sealed) and returns the reply. Text that is refused is never stored: the person is told
    why and asked again (state ``again``), and their message goes after the usual time.
    """
    assert update.message is not None
    pending = context.steps.get(step) or {}
    try:
        note = clean_free_text(
            update.message.text or "", max_length=max_length, min_length=min_length
        )
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return again
    reply = await store(pending, note)
    await forget_typed(update, context)
    context.steps.pop(step, None)
    await answer(update, reply)
    return int(ConversationHandler.END)


async def refuse_button(update: Update, text: str) -> None:
    """Refuse a pressed button, and take its keyboard away so it is not pressed again."""
    query = update.callback_query
    if query is None:
        return
    if _acknowledged.get() == query.id:
        # Already answered (the refusal came mid-way): say it in the chat instead.
        if update.effective_chat is not None:
            await update.effective_chat.send_message(text)
    else:
        _acknowledged.set(query.id)
        await query.answer(text, show_alert=True)
    if query.message is not None and query.message.is_accessible:
        # Already without buttons, or too old to edit: nothing more to take away.
        with contextlib.suppress(BadRequest):
            await query.edit_message_reply_markup(reply_markup=None)


def guarded(callback: Callback) -> Callback:
    """Turn a service's refusal into a polite answer (and an audit event for permissions)."""

    @functools.wraps(callback)
    async def wrapper(update: Update, context: MaracContext) -> Any:
        try:
            return await callback(update, context)
        except PermissionDenied as denied:
            await context.runtime.services.audit.record_refusal(
                action="permission.denied", actor=context.actor, reason=denied.operation.name
            )
            # Someone a coordinator has not confirmed yet is told why, not that their role
            # does not allow it (it will, once confirmed).
            awaiting = context.actor is not None and not context.actor.confirmed
            refusal = texts.AWAITING_CONFIRMATION if awaiting else texts.NOT_ALLOWED
            if update.callback_query is not None:
                await refuse_button(update, refusal)
            else:
                await answer(update, refusal)
        except ServiceError as error:
            if isinstance(error, NotFound):
                # Someone else's ids or a stale button: worth a line in the audit trail.
                await context.runtime.services.audit.record_refusal(
                    action="button.refused" if update.callback_query else "request.refused",
                    actor=context.actor,
                    reason=type(error).__name__,
                )
            if update.callback_query is not None:
                await refuse_button(update, error.user_message)
            else:
                await answer(update, error.user_message)
        return None

    return wrapper


# Per bot, per chat: the commands last given to that chat's menu by this process, so that
# /help and /start call setMyCommands only when the person's menu changed (a role change,
# a confirmation). Kept in memory, not persisted: a restart or a takeover builds a new bot,
# which starts with an empty record and sets each chat's menu again once; a chat that is
# not in the record is always set. Deleting a menu forgets the chat. Keyed by the bot object
# itself (PTB's bots compare equal by their Telegram id, and two Applications with the same
# token must not share a record).
Menus = dict[int, tuple[tuple[str, str], ...]]
_MENUS: dict[int, tuple[weakref.ref[ExtBot[None]], Menus]] = {}


def _menus_of(bot: ExtBot[None]) -> Menus:
    key = id(bot)
    entry = _MENUS.get(key)
    if entry is None or entry[0]() is not bot:
        entry = (weakref.ref(bot, lambda _: _MENUS.pop(key, None)), {})
        _MENUS[key] = entry
    return entry[1]


async def set_menu_for(
    bot: ExtBot[None], chat_id: int, role: Role | None, *, confirmed: bool = True
) -> None:
    """Show each person only the commands their role may use (/start and /help only until
    their enrolment is confirmed); no Bot API call when the chat already has exactly these."""
    menus = _menus_of(bot)
    if role is None:
        menus.pop(chat_id, None)
        await bot.delete_my_commands(scope=BotCommandScopeChat(chat_id))
        return
    wanted = tuple((c.name, c.description) for c in commands_for(role, confirmed=confirmed))
    if menus.get(chat_id) == wanted:
        return
    menus.pop(chat_id, None)  # unknown until Telegram has taken the new one
    commands = [BotCommand(name, description) for name, description in wanted]
    await bot.set_my_commands(commands, scope=BotCommandScopeChat(chat_id))
    menus[chat_id] = wanted

"""/refer: the referral form, one question at a time, saved (encrypted) after every answer."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import texts
from bot.adapter.context import MaracContext
from bot.errors import ServiceError
from bot.referrals import flow
from bot.services.referrals import DraftState
from handlers.buttons import area_button, pattern, pressed
from handlers.formatting import local_time
from handlers.jobs_trigger import dispatch_soon
from handlers.replies import answer, forget_typed, guarded, send_sensitive, show

AREA = "ref"
REFERRING = 0


def _button(text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return area_button(AREA, text, action, *ids)


async def _ask(update: Update, context: MaracContext, state: DraftState) -> None:
    """Show the current question, or the review screen once every question is answered."""
    step = flow.prompt(state.payload, state.thresholds)
    back = [_button(texts.BUTTON_BACK, "back", step.number)] if step.can_go_back else []
    if step.key == "review":
        answers = flow.dash_answers(state.payload)
        not_known = sum(1 for a in answers.values() if a.value == "not_known")
        review = texts.referral_review(state.payload, flow.yes_count(state.payload), not_known)
        keyboard = InlineKeyboardMarkup(
            [
                [_button(texts.BUTTON_SUBMIT_REFERRAL, "submit", step.number)],
                [*back, _button(texts.BUTTON_DISCARD_DRAFT, "discard")],
            ]
        )
        await send_sensitive(update, context, review, keyboard)
        return
    options = [_button(label, "o", step.number, i) for i, (_, label) in enumerate(step.options)]
    per_row = 3 if len(options) in (3, 6) else 2
    rows = [options[i : i + per_row] for i in range(0, len(options), per_row)]
    if back:
        rows.append(back)
    markup = InlineKeyboardMarkup(rows) if rows else None
    # Questions carry answers (the quick-entry read-back, the step's own answer once pressed):
    # protected, and deleted after their time like every message with case details.
    await send_sensitive(update, context, step.text, markup)


async def _settle_pressed(update: Update, label: str) -> None:
    """Keep the answered question in the chat with the answer, and without its buttons."""
    query = update.callback_query
    if query is None or query.message is None or not query.message.is_accessible:
        return
    text = getattr(query.message, "text", None) or ""
    await show(update, f"{text}\n→ {label}")


def _pressed_label(update: Update) -> str:
    """The text of the button that was pressed, read from the message it was on."""
    query = update.callback_query
    message = query.message if query else None
    markup = getattr(message, "reply_markup", None)
    if query is None or markup is None:
        return ""
    for row in markup.inline_keyboard:
        for button in row:
            if button.callback_data == query.data:
                return str(button.text)
    return ""


async def refer(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    referrals = context.runtime.services.referrals
    draft = await referrals.current_draft(context.actor)
    if draft is not None:
        keyboard = InlineKeyboardMarkup(
            [
                [
                    _button(texts.BUTTON_CONTINUE, "go"),
                    _button(texts.BUTTON_DISCARD_AND_START_AGAIN, "new"),
                ]
            ]
        )
        await answer(update, texts.resume_draft(local_time(context, draft.updated_at)), keyboard)
        return REFERRING
    await _ask(update, context, await referrals.start(context.actor))
    return REFERRING


async def resume(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    draft = await context.runtime.services.referrals.current_draft(context.actor)
    if draft is None:
        await show(update, texts.NO_DRAFT)
        return ConversationHandler.END
    await _settle_pressed(update, "Continue")
    await _ask(update, context, draft)
    return REFERRING


async def start_again(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    await _settle_pressed(update, texts.BUTTON_DISCARD_AND_START_AGAIN)
    await _ask(update, context, await context.runtime.services.referrals.start(context.actor))
    return REFERRING


async def typed(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    referrals = context.runtime.services.referrals
    try:
        state = await referrals.answer(context.actor, update.message.text or "")
    except ServiceError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, problem.user_message)
        if problem.user_message == texts.NO_DRAFT:
            return ConversationHandler.END
        current = await referrals.current_draft(context.actor)
        if current is not None and flow.kind_of(current.payload["step"]) == "text":
            return REFERRING  # the question is just above; no need to repeat it
        if current is not None:
            await _ask(update, context, current)
        return REFERRING
    await forget_typed(update, context)
    await _ask(update, context, state)
    return REFERRING


async def chosen(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return REFERRING
    step_number, option = callback.ids
    state = await context.runtime.services.referrals.choose(context.actor, step_number, option)
    await _settle_pressed(update, _pressed_label(update))
    await _ask(update, context, state)
    return REFERRING


async def go_back(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    state = await context.runtime.services.referrals.back(context.actor, pressed(update).id())
    await _settle_pressed(update, "Back")
    await _ask(update, context, state)
    return REFERRING


async def submit(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    try:
        done = await context.runtime.services.referrals.submit(context.actor, pressed(update).id())
    except ServiceError as problem:
        await answer(update, problem.user_message)
        current = await context.runtime.services.referrals.current_draft(context.actor)
        if current is not None and current.payload["step"] != "review":
            await _ask(update, context, current)
        return REFERRING
    await show(
        update, texts.referral_submitted(done.reference, done.urgent, done.possible_repeat_of)
    )
    dispatch_soon(context)
    return ConversationHandler.END


async def discard(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    await context.runtime.services.referrals.discard(context.actor)
    await show(update, texts.DRAFT_DISCARDED)
    return ConversationHandler.END


async def cancel(update: Update, context: MaracContext) -> int:
    await answer(update, texts.DRAFT_SAVED_CANCEL)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    conversation: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[CommandHandler("refer", guarded(refer))],
        states={
            REFERRING: [
                MessageHandler(text, guarded(typed)),
                CallbackQueryHandler(guarded(chosen), pattern=pattern(AREA, "o")),
                CallbackQueryHandler(guarded(go_back), pattern=pattern(AREA, "back")),
                CallbackQueryHandler(guarded(submit), pattern=pattern(AREA, "submit")),
                CallbackQueryHandler(guarded(discard), pattern=pattern(AREA, "discard")),
                CallbackQueryHandler(guarded(resume), pattern=pattern(AREA, "go")),
                CallbackQueryHandler(guarded(start_again), pattern=pattern(AREA, "new")),
            ]
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="referral",
        persistent=True,
        allow_reentry=True,
    )
    return [conversation]

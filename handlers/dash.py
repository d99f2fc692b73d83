"""/dash REF (or "New DASH" on the case card): record a new DASH or DARA on an open case.

Which form, then the same quick entry as the referral (numbered as on that form), read back
as the form names the questions, confirmed by a button that carries the answers (as one
number), so nothing of them is kept between the steps.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
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
from bot.referrals.dash_forms import DaraLevel, DashForm, questions_of
from bot.services.dash_assessments import Target
from handlers.buttons import area_button, pattern, pressed
from handlers.replies import answer, forget_typed, guarded, send_sensitive, show

AREA = "dsh"
TYPING = 0
FORMS = list(DashForm)
LEVELS = list(DaraLevel)


async def _which_form(update: Update, target: Target) -> None:
    rows = [
        [area_button(AREA, texts.DASH_FORM_NAMES[form.value], "f", target.case_id, i)]
        for i, form in enumerate(FORMS)
    ]
    await answer(
        update,
        texts.DASH_REASSESS_WHICH_FORM.format(reference=target.reference),
        InlineKeyboardMarkup(rows),
    )


async def start(update: Update, context: MaracContext) -> int:
    """/dash REF."""
    assert context.actor is not None
    if not context.args:
        await answer(update, texts.DASH_REASSESS_USAGE)
        return ConversationHandler.END
    target = await context.runtime.services.dash.begin(context.actor, context.args[0])
    await _which_form(update, target)
    return ConversationHandler.END


async def from_card(update: Update, context: MaracContext) -> int:
    """The "New DASH" button on the case card."""
    assert context.actor is not None
    target = await context.runtime.services.dash.begin_by_id(context.actor, pressed(update).id())
    await _which_form(update, target)
    return ConversationHandler.END


async def form_chosen(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(1) < len(FORMS):
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    case_id, form = callback.id(0), FORMS[callback.id(1)]
    target = await context.runtime.services.dash.begin_by_id(context.actor, case_id)
    if form is DashForm.DARA:
        rows = [
            [
                area_button(AREA, texts.DARA_LEVEL_NAMES[level.value], "l", case_id, i)
                for i, level in enumerate(LEVELS)
            ]
        ]
        await show(
            update, f"{target.reference}: {texts.DARA_LEVEL_PROMPT}", InlineKeyboardMarkup(rows)
        )
        return ConversationHandler.END
    context.steps["dash"] = {"case": case_id, "form": callback.id(1)}
    await show(
        update,
        f"{target.reference}: {texts.dash_quick_prompt(form.value, len(questions_of(form)))}",
    )
    return TYPING


async def typed(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    pending = context.steps.get("dash") or {}
    if "case" not in pending:
        return ConversationHandler.END
    case_id, index = int(pending["case"]), int(pending["form"])
    try:
        preview = context.runtime.services.dash.preview(FORMS[index], update.message.text or "")
    except ServiceError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, problem.user_message)
        return TYPING
    await forget_typed(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                area_button(AREA, texts.BUTTON_THAT_IS_RIGHT, "ok", case_id, index, preview.code),
                area_button(AREA, texts.BUTTON_TYPE_IT_AGAIN, "f", case_id, index),
            ]
        ]
    )
    await send_sensitive(update, context, texts.DASH_CONFIRM_INTRO + "\n" + preview.text, keyboard)
    context.steps.pop("dash", None)
    return ConversationHandler.END


async def confirmed(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 3 or not 0 <= callback.id(1) < len(FORMS):
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return
    form = FORMS[callback.id(1)]
    done = await context.runtime.services.dash.record(
        context.actor, callback.id(0), form, code=callback.id(2)
    )
    await show(update, texts.dash_recorded(done.reference, done.dash_yes, done.before, done.form))


async def level_chosen(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(1) < len(LEVELS):
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return
    done = await context.runtime.services.dash.record(
        context.actor, callback.id(0), DashForm.DARA, dara_level=LEVELS[callback.id(1)]
    )
    await show(update, texts.dash_recorded(done.reference, done.dash_yes, done.before, done.form))


async def cancel(update: Update, context: MaracContext) -> int:
    context.steps.pop("dash", None)
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    conversation: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[
            CommandHandler("dash", guarded(start)),
            CallbackQueryHandler(guarded(from_card), pattern=pattern(AREA, "new")),
            CallbackQueryHandler(guarded(form_chosen), pattern=pattern(AREA, "f")),
        ],
        states={TYPING: [MessageHandler(text, guarded(typed))]},
        fallbacks=[CommandHandler("cancel", cancel)],
        name="dash",
        persistent=True,
        allow_reentry=True,
    )
    return [
        conversation,
        CallbackQueryHandler(guarded(confirmed), pattern=pattern(AREA, "ok")),
        CallbackQueryHandler(guarded(level_chosen), pattern=pattern(AREA, "l")),
    ]

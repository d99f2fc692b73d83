"""Early erasure of one case: a coordinator asks with a reason; a second coordinator confirms."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.adapter.jobs import clean_up_after_erasure
from bot.buttons import kind
from bot.services.retention import ErasureReason
from handlers.buttons import pattern, pressed
from handlers.jobs_trigger import dispatch_soon
from handlers.replies import answer, guarded, show

AREA = "era"
REASONS = list(ErasureReason)


async def choose_reason(update: Update, context: MaracContext) -> None:
    case_id = pressed(update).id()
    rows = [
        [
            InlineKeyboardButton(
                texts.ERASURE_REASONS[reason.value],
                callback_data=kind(AREA, "req").data(case_id, index),
            )
        ]
        for index, reason in enumerate(REASONS)
    ]
    await answer(update, texts.CHOOSE_ERASURE_REASON, InlineKeyboardMarkup(rows))


async def request(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(1) < len(REASONS):
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return
    reference = await context.runtime.services.retention.request_erasure(
        context.actor, callback.id(0), REASONS[callback.id(1)]
    )
    await show(update, texts.erasure_requested(reference))
    dispatch_soon(context)


async def confirm(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    item = await context.runtime.services.retention.confirm_erasure(
        context.actor, pressed(update).id()
    )
    await show(update, texts.erasure_done(item.reference))
    # The deleted rows stay on disk until vacuumed, and old database copies still hold the
    # case's wrapped key: a VACUUM and a new key-encryption key (off the handler, so nobody
    # waits for them) leave neither anything to open.
    if context.job_queue is not None:
        context.job_queue.run_once(
            clean_up_after_erasure,  # type: ignore[arg-type]  # PTB's context type is generic
            when=0,
            name="clean-up-after-erasure",
        )


async def keep(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    reference = await context.runtime.services.retention.withdraw_erasure(
        context.actor, pressed(update).id()
    )
    await show(update, texts.erasure_withdrawn(reference))


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CallbackQueryHandler(guarded(choose_reason), pattern=pattern(AREA, "ask")),
        CallbackQueryHandler(guarded(request), pattern=pattern(AREA, "req")),
        CallbackQueryHandler(guarded(confirm), pattern=pattern(AREA, "ok")),
        CallbackQueryHandler(guarded(keep), pattern=pattern(AREA, "no")),
    ]

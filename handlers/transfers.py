"""MARAC-to-MARAC transfer in the chat: the sending coordinator chooses the area and types the
reason (stored sealed, the message then deleted); the receiving coordinators accept or
decline the request; the sending IDVA types her handover note (the same way); those who hold
a transferred case in full read what it carries, in a protected message."""

from __future__ import annotations

from typing import Any

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
from bot.access import Level
from bot.adapter.context import MaracContext
from bot.buttons import TRANSFER_NOTE, TRANSFER_PACK, TRANSFER_START, TRANSFER_TO
from bot.dates import format_uk_date
from bot.errors import NotFound
from bot.referrals.status import CLOSED_STEPS, CaseStep
from bot.referrals.validation import InputError, clean_free_text
from bot.services.cases import CaseCard
from bot.vocabulary import Role
from handlers.buttons import button, page_button, pattern, pressed
from handlers.formatting import local_day
from handlers.jobs_trigger import dispatch_soon
from handlers.replies import answer, forget_typed, guarded, send_sensitive, show, store_typed_note

AREA = "trf"
ASK_REASON, ASK_NOTE = 0, 1
STEP = "transfer"


def case_rows(context: MaracContext, card: CaseCard) -> list[list[InlineKeyboardButton]]:
    """Under a case card, for those who hold it in full: the coordinator's "Transfer to
    another MARAC" while the case is open; the allocated IDVA's handover note; and, on a case
    that came from another MARAC, what it carries."""
    actor = context.actor
    if actor is None or card.level < Level.FULL:
        return []
    rows: list[list[InlineKeyboardButton]] = []
    came_in = any(step == CaseStep.TRANSFERRED_IN for _, step, _ in card.history)
    if actor.role is Role.COORDINATOR and card.status not in CLOSED_STEPS:
        rows.append([button(TRANSFER_START, texts.BUTTON_TRANSFER, card.id)])
    if card.may_record_contact and not came_in:
        rows.append([button(TRANSFER_NOTE, texts.BUTTON_HANDOVER_NOTE, card.id)])
    if came_in:
        webapp_url = context.runtime.settings.webapp_url
        rows.append([page_button(webapp_url, TRANSFER_PACK, texts.BUTTON_TRANSFER_PACK, card.id)])
    return rows


async def choose_area(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    found = await context.runtime.services.transfers.destinations(
        context.actor, pressed(update).id()
    )
    if not found.areas:
        await answer(update, texts.NO_OTHER_AREAS)
        return
    rows = [
        [button(TRANSFER_TO, name[:60], found.case_id, area_id)] for area_id, name in found.areas
    ]
    await answer(
        update, f"{found.reference}: {texts.CHOOSE_TRANSFER_AREA}", InlineKeyboardMarkup(rows)
    )


async def ask_reason(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        raise NotFound(texts.BUTTON_NOT_RECOGNISED)
    # Asked first, so someone who may not transfer it is refused before typing anything.
    found = await context.runtime.services.transfers.destinations(context.actor, callback.id(0))
    names = dict(found.areas)
    if callback.id(1) not in names:
        raise NotFound(texts.TRANSFER_AREA_NOT_FOUND)
    context.steps[STEP] = {"case": found.case_id, "area": callback.id(1)}
    await show(update, f"{found.reference} to {names[callback.id(1)]}: {texts.ASK_TRANSFER_REASON}")
    return ASK_REASON


async def reason_received(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    pending = context.steps.get(STEP) or {}
    try:
        reason = clean_free_text(update.message.text or "", max_length=1000, min_length=5)
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return ASK_REASON
    request = await context.runtime.services.transfers.request(
        context.actor, int(pending["case"]), int(pending["area"]), reason
    )
    await forget_typed(update, context)
    context.steps.pop(STEP, None)
    await answer(update, texts.transfer_requested(request.reference, request.to_area))
    dispatch_soon(context)
    return ConversationHandler.END


async def accept(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    accepted = await context.runtime.services.transfers.accept(context.actor, pressed(update).id())
    await show(update, texts.transfer_accepted(accepted.reference, accepted.from_reference))
    dispatch_soon(context)


async def decline(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    request = await context.runtime.services.transfers.decline(context.actor, pressed(update).id())
    await show(update, texts.transfer_declined(request.reference))
    dispatch_soon(context)


async def ask_note(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    case_id = pressed(update).id()
    handover = await context.runtime.services.transfers.handover(context.actor, case_id)
    if not handover.may_write:
        await answer(update, texts.HANDOVER_ONLY_ALLOCATED_IDVA)
        return ConversationHandler.END
    context.steps[STEP] = {"case": case_id}
    await answer(update, f"{handover.reference}: {texts.ASK_HANDOVER_NOTE}")
    return ASK_NOTE


async def note_received(update: Update, context: MaracContext) -> int:
    actor = context.actor
    assert actor is not None

    async def store(pending: dict[str, Any], note: str) -> str:
        service = context.runtime.services.transfers
        return texts.handover_written(
            await service.write_handover(actor, int(pending["case"]), note)
        )

    return await store_typed_note(update, context, step=STEP, again=ASK_NOTE, store=store)


async def open_pack(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    found = await context.runtime.services.transfers.handover(context.actor, pressed(update).id())
    text = texts.handover_view(
        found.reference,
        found.transferred_in,
        found.from_reference,
        found.from_area,
        local_day(context, found.transferred_at) if found.transferred_at else None,
        found.reason,
        [
            texts.carried_action_line(a.agency, a.text, format_uk_date(a.due_on))
            for a in found.actions
        ],
        found.note,
        found.note_by,
        local_day(context, found.note_at) if found.note_at else None,
    )
    await send_sensitive(update, context, text, None)


async def cancel(update: Update, context: MaracContext) -> int:
    context.steps.pop(STEP, None)
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    typed: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(guarded(ask_reason), pattern=pattern(AREA, "to")),
            CallbackQueryHandler(guarded(ask_note), pattern=pattern(AREA, "note")),
        ],
        states={
            ASK_REASON: [MessageHandler(text, guarded(reason_received))],
            ASK_NOTE: [MessageHandler(text, guarded(note_received))],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="transfer",
        persistent=True,
        allow_reentry=True,
    )
    return [
        typed,
        CallbackQueryHandler(guarded(choose_area), pattern=pattern(AREA, "start")),
        CallbackQueryHandler(guarded(accept), pattern=pattern(AREA, "acc")),
        CallbackQueryHandler(guarded(decline), pattern=pattern(AREA, "dec")),
        CallbackQueryHandler(guarded(open_pack), pattern=pattern(AREA, "pack")),
    ]

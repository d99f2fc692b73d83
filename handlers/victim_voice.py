"""The victim's voice in the chat: the allocated IDVA records engagement (buttons) and the
victim's views and wishes (typed, stored sealed, the message then deleted), and answers the
question after the meeting. The views are never written back into the chat."""

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
from bot.errors import NotFound
from bot.services.cases import CaseCard
from bot.services.victim_voice import VictimVoice
from bot.vocabulary import Engagement, OutcomeTold
from handlers.buttons import area_button, pattern, pressed
from handlers.formatting import local_time
from handlers.replies import answer, guarded, show, store_typed_note

AREA = "vv"
ASK_VIEWS, ASK_REASON = 0, 1
STEP = "victim_voice"
ENGAGEMENTS = tuple(Engagement)


def case_rows(context: MaracContext, card: CaseCard) -> list[list[InlineKeyboardButton]]:
    """The "Victim's voice" button under a case card, for those who hold the case in full:
    the allocated IDVA (who records it) and the coordinator and chair (who see what is
    recorded and what is outstanding, such as telling the victim the outcome)."""
    if context.actor is None or card.level < Level.FULL:
        return []
    return [[area_button(AREA, texts.BUTTON_VICTIM_VOICE, "open", card.id)]]


def _status(context: MaracContext, voice: VictimVoice) -> str:
    return texts.victim_voice_status(
        voice.reference,
        voice.engagement.value if voice.engagement else None,
        local_time(context, voice.engagement_at) if voice.engagement_at else None,
        local_time(context, voice.views_at) if voice.views_at else None,
        [local_time(context, starts_at) for _, starts_at in voice.awaiting_outcome],
    )


def _keyboard(voice: VictimVoice) -> InlineKeyboardMarkup | None:
    if not voice.may_record:
        return None
    rows = [
        [
            area_button(AREA, texts.ENGAGEMENT_BUTTONS[e.value], "eng", voice.case_id, i)
            for i, e in enumerate(ENGAGEMENTS)
        ],
        [area_button(AREA, texts.BUTTON_RECORD_VIEWS, "views", voice.case_id)],
    ]
    for meeting_id, _ in voice.awaiting_outcome:
        rows.append(
            [
                area_button(AREA, texts.BUTTON_VICTIM_TOLD, "told", voice.case_id, meeting_id),
                area_button(AREA, texts.BUTTON_COULD_NOT_TELL, "nott", voice.case_id, meeting_id),
            ]
        )
    return InlineKeyboardMarkup(rows)


async def open_voice(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    voice = await context.runtime.services.victim_voice.status(context.actor, pressed(update).id())
    await answer(update, _status(context, voice), _keyboard(voice))


async def engagement(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(1) < len(ENGAGEMENTS):
        raise NotFound(texts.BUTTON_NOT_RECOGNISED)
    chosen = ENGAGEMENTS[callback.id(1)]
    services = context.runtime.services.victim_voice
    reference = await services.record_engagement(context.actor, callback.id(0), chosen)
    # The screen stays open on what is still to do (the views, the outcome).
    voice = await services.status(context.actor, callback.id(0))
    await show(
        update,
        f"{texts.engagement_recorded(reference, chosen.value)}\n\n{_status(context, voice)}",
        _keyboard(voice),
    )


async def ask_views(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    case_id = pressed(update).id()
    # Asked first, so a colleague who may not record is refused before typing anything.
    voice = await context.runtime.services.victim_voice.status(context.actor, case_id)
    if not voice.may_record:
        await answer(update, texts.ONLY_ALLOCATED_IDVA)
        return ConversationHandler.END
    context.steps[STEP] = {"case": case_id}
    await answer(update, f"{voice.reference}: {texts.ASK_VICTIM_VIEWS}")
    return ASK_VIEWS


async def views_received(update: Update, context: MaracContext) -> int:
    actor = context.actor
    assert actor is not None

    async def store(pending: dict[str, Any], views: str) -> str:
        service = context.runtime.services.victim_voice
        return texts.victim_views_recorded(
            await service.record_wishes(actor, int(pending["case"]), views)
        )

    return await store_typed_note(update, context, step=STEP, again=ASK_VIEWS, store=store)


async def told(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        raise NotFound(texts.BUTTON_NOT_RECOGNISED)
    reference = await context.runtime.services.victim_voice.confirm_outcome(
        context.actor, callback.id(0), callback.id(1), OutcomeTold.TOLD
    )
    await show(update, texts.outcome_recorded(reference, OutcomeTold.TOLD.value))


async def ask_reason(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        raise NotFound(texts.BUTTON_NOT_RECOGNISED)
    voice = await context.runtime.services.victim_voice.status(context.actor, callback.id(0))
    if not voice.may_record:
        await answer(update, texts.ONLY_ALLOCATED_IDVA)
        return ConversationHandler.END
    context.steps[STEP] = {"case": callback.id(0), "meeting": callback.id(1)}
    await answer(update, f"{voice.reference}: {texts.ASK_COULD_NOT_TELL_REASON}")
    return ASK_REASON


async def reason_received(update: Update, context: MaracContext) -> int:
    actor = context.actor
    assert actor is not None

    async def store(pending: dict[str, Any], reason: str) -> str:
        told = OutcomeTold.COULD_NOT_TELL
        reference = await context.runtime.services.victim_voice.confirm_outcome(
            actor, int(pending["case"]), int(pending["meeting"]), told, reason
        )
        return texts.outcome_recorded(reference, told.value)

    return await store_typed_note(
        update, context, step=STEP, again=ASK_REASON, store=store, max_length=1000, min_length=3
    )


async def cancel(update: Update, context: MaracContext) -> int:
    context.steps.pop(STEP, None)
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    typed: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(guarded(ask_views), pattern=pattern(AREA, "views")),
            CallbackQueryHandler(guarded(ask_reason), pattern=pattern(AREA, "nott")),
        ],
        states={
            ASK_VIEWS: [MessageHandler(text, guarded(views_received))],
            ASK_REASON: [MessageHandler(text, guarded(reason_received))],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="victim_voice",
        persistent=True,
        allow_reentry=True,
    )
    return [
        typed,
        CallbackQueryHandler(guarded(open_voice), pattern=pattern(AREA, "open")),
        CallbackQueryHandler(guarded(engagement), pattern=pattern(AREA, "eng")),
        CallbackQueryHandler(guarded(told), pattern=pattern(AREA, "told")),
    ]

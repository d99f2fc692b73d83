"""/agencies: list, add and rename agencies; record information-sharing agreements."""

from __future__ import annotations

from datetime import date

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
from bot.dates import DateInputError, format_uk_date, parse_uk_date
from bot.errors import NotFound, ServiceError
from bot.vocabulary import AgencyKind
from handlers.buttons import area_button, pattern, pressed
from handlers.formatting import local_today
from handlers.replies import answer, guarded, show

AREA = "ag"
KINDS = list(AgencyKind)
ASK_NAME, ASK_NEW_NAME, ASK_SIGNED, ASK_REVIEW = range(4)


def _button(text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return area_button(AREA, text, action, *ids)


async def list_agencies(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    agencies = await context.runtime.services.agencies.list_for(context.actor)
    rows = [[_button(a.name, "open", a.id)] for a in agencies]
    rows.append([_button(texts.BUTTON_ADD_AGENCY, "new")])
    await show(update, texts.agency_list([a.name for a in agencies]), InlineKeyboardMarkup(rows))


async def open_agency(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    agency = await context.runtime.services.agencies.get(context.actor, callback.id())
    card = texts.agency_card(
        agency.name,
        agency.kind.value,
        format_uk_date(agency.isa_signed_on) if agency.isa_signed_on else None,
        format_uk_date(agency.isa_review_on) if agency.isa_review_on else None,
        agency.active_people,
    )
    keyboard = InlineKeyboardMarkup(
        [
            [
                _button(texts.BUTTON_RENAME, "ren", agency.id),
                _button(texts.BUTTON_AGREEMENT_DATES, "isa", agency.id),
            ],
            [_button(texts.BUTTON_BACK_TO_AGENCIES, "list")],
        ]
    )
    await show(update, card, keyboard)


async def choose_kind(update: Update, context: MaracContext) -> None:
    buttons = [_button(texts.AGENCY_KIND_NAMES[k.value], "kind", i) for i, k in enumerate(KINDS)]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    await show(update, texts.CHOOSE_AGENCY_KIND, InlineKeyboardMarkup(rows))


async def kind_chosen(update: Update, context: MaracContext) -> int:
    callback = pressed(update)
    if not 0 <= callback.id() < len(KINDS):
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    context.steps["agency_kind"] = KINDS[callback.id()].value
    await show(update, texts.ASK_AGENCY_NAME)
    return ASK_NAME


async def name_received(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    kind = AgencyKind(context.steps.get("agency_kind", AgencyKind.OTHER.value))
    try:
        agency = await context.runtime.services.agencies.add(
            context.actor, update.message.text or "", kind
        )
    except ServiceError as error:
        await answer(update, error.user_message)
        return ASK_NAME
    context.steps.pop("agency_kind", None)
    await answer(update, texts.agency_added(agency.name))
    await list_agencies(update, context)
    return ConversationHandler.END


async def rename_start(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    agency = await context.runtime.services.agencies.get(context.actor, callback.id())
    context.steps["agency_id"] = agency.id
    await show(update, texts.renaming(agency.name))
    return ASK_NEW_NAME


async def new_name_received(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    try:
        agency = await context.runtime.services.agencies.rename(
            context.actor, int(context.steps["agency_id"]), update.message.text or ""
        )
    except ServiceError as error:
        await answer(update, error.user_message)
        return ConversationHandler.END if isinstance(error, NotFound) else ASK_NEW_NAME
    context.steps.pop("agency_id", None)
    await answer(update, texts.agency_renamed(agency.name))
    return ConversationHandler.END


async def agreement_start(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    agency = await context.runtime.services.agencies.get(context.actor, callback.id())
    context.steps["agency_id"] = agency.id
    await show(update, f"{agency.name}. {texts.ask_isa_signed(local_today(context))}")
    return ASK_SIGNED


async def signed_received(update: Update, context: MaracContext) -> int:
    assert update.message is not None
    try:
        signed = parse_uk_date(update.message.text or "", local_today(context))
    except DateInputError as error:
        await answer(update, str(error))
        return ASK_SIGNED
    context.steps["isa_signed"] = signed.isoformat()
    await answer(update, texts.ask_isa_review(local_today(context)))
    return ASK_REVIEW


async def review_received(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    try:
        review = parse_uk_date(update.message.text or "", local_today(context))
        agency = await context.runtime.services.agencies.set_agreement(
            context.actor,
            int(context.steps["agency_id"]),
            date.fromisoformat(str(context.steps["isa_signed"])),
            review,
        )
    except DateInputError as error:
        await answer(update, str(error))
        return ASK_REVIEW
    except ServiceError as error:
        await answer(update, error.user_message)
        return ConversationHandler.END
    for key in ("agency_id", "isa_signed"):
        context.steps.pop(key, None)
    await answer(update, texts.agreement_recorded(agency.name, format_uk_date(review)))
    return ConversationHandler.END


async def cancel(update: Update, context: MaracContext) -> int:
    for key in ("agency_kind", "agency_id", "isa_signed"):
        context.steps.pop(key, None)
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    conversation: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(guarded(kind_chosen), pattern=pattern(AREA, "kind")),
            CallbackQueryHandler(guarded(rename_start), pattern=pattern(AREA, "ren")),
            CallbackQueryHandler(guarded(agreement_start), pattern=pattern(AREA, "isa")),
        ],
        states={
            ASK_NAME: [MessageHandler(text, guarded(name_received))],
            ASK_NEW_NAME: [MessageHandler(text, guarded(new_name_received))],
            ASK_SIGNED: [MessageHandler(text, guarded(signed_received))],
            ASK_REVIEW: [MessageHandler(text, guarded(review_received))],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="agencies",
        persistent=True,
        allow_reentry=True,
    )
    return [
        conversation,
        CommandHandler("agencies", guarded(list_agencies)),
        CallbackQueryHandler(guarded(list_agencies), pattern=pattern(AREA, "list")),
        CallbackQueryHandler(guarded(open_agency), pattern=pattern(AREA, "open")),
        CallbackQueryHandler(guarded(choose_kind), pattern=pattern(AREA, "new")),
    ]

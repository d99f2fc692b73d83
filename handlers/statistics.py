"""/stats: the area's figures for a quarter or the last 12 months, with CSV and chart."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.buttons import kind
from bot.callbacks import Callback
from bot.stats.figures import Period, PeriodError, last_12_months, parse_period, quarter
from handlers.buttons import pattern, pressed
from handlers.replies import answer, guarded

AREA = "st"


def _ids(period: Period) -> tuple[int, int]:
    """(year, quarter) for a quarter, (0, 0) for the last 12 months: buttons carry ids only."""
    label = period.label
    if "Q" in label:
        year, q = label.split(" Q")
        return int(year), int(q)
    return 0, 0


def _period(context: MaracContext, callback: Callback) -> Period:
    year, q = (*callback.ids, 0, 0)[:2]
    if year and 1 <= q <= 4:
        return quarter(year, q)
    assert context.actor is not None
    return last_12_months(context.runtime.services.statistics.today(context.actor))


async def stats(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    service = context.runtime.services.statistics
    try:
        period = parse_period(" ".join(context.args or []), service.today(context.actor))
    except PeriodError as problem:
        await answer(update, str(problem))
        return
    text = await service.summary(context.actor, period)
    year, q = _ids(period)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    texts.BUTTON_CSV_RETURN, callback_data=kind(AREA, "csv").data(year, q)
                ),
                InlineKeyboardButton(
                    texts.BUTTON_CHART, callback_data=kind(AREA, "png").data(year, q)
                ),
            ],
            [
                InlineKeyboardButton(
                    texts.BUTTON_PERP_CSV, callback_data=kind(AREA, "pcsv").data(year, q)
                )
            ],
        ]
    )
    await answer(update, text, keyboard)


async def document(update: Update, context: MaracContext) -> None:
    assert context.actor is not None and update.effective_chat is not None
    callback = pressed(update)
    service = context.runtime.services.statistics
    period = _period(context, callback)
    if callback.action == "csv":
        filename, content = await service.dataset(context.actor, period)
    elif callback.action == "pcsv":
        filename, content = await service.perpetrator_dataset(context.actor, period)
    else:
        filename, content = await service.chart(context.actor, period)
    await answer(update, texts.STATS_DOCUMENT)
    await context.bot.send_document(
        update.effective_chat.id, InputFile(content, filename=filename), protect_content=True
    )


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CommandHandler("stats", guarded(stats)),
        CallbackQueryHandler(guarded(document), pattern=pattern(AREA, "csv")),
        CallbackQueryHandler(guarded(document), pattern=pattern(AREA, "png")),
        CallbackQueryHandler(guarded(document), pattern=pattern(AREA, "pcsv")),
    ]

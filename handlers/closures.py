"""/closures: the area's closure days, added and removed by a coordinator."""

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
from bot.dates import example_date
from bot.meetings.closures import parse_closure
from bot.meetings.recurrence import MeetingInputError, format_day
from bot.services.closures import AffectedMeeting
from handlers.buttons import area_button, pattern, pressed, pressed_day
from handlers.formatting import local_time, local_today
from handlers.jobs_trigger import dispatch_soon
from handlers.replies import answer, guarded, show

AREA = "cls"
ASK_DAYS = 0
MAX_REMOVE_BUTTONS = 20


def _button(text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return area_button(AREA, text, action, *ids)


async def list_closures(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    closures = await context.runtime.services.closures.upcoming(context.actor)
    lines = [texts.closure_line(c.day, c.note) for c in closures]
    rows = [[_button(texts.BUTTON_ADD_CLOSURE_DAYS, "add")]]
    rows += [
        [_button(texts.button_remove_closure(format_day(c.day)), "rm", c.day.toordinal())]
        for c in closures[:MAX_REMOVE_BUTTONS]
    ]
    await show(
        update, texts.closures_list(context.actor.area_name, lines), InlineKeyboardMarkup(rows)
    )


async def add_start(update: Update, context: MaracContext) -> int:
    await show(update, texts.ask_closure(local_today(context)))
    return ASK_DAYS


async def days_received(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    today = local_today(context)
    try:
        closure = parse_closure(update.message.text or "", today, example_date(today, 18))
    except MeetingInputError as problem:
        await answer(update, str(problem))
        return ASK_DAYS
    added = await context.runtime.services.closures.add(context.actor, closure)
    await answer(
        update,
        texts.closures_added(
            [format_day(day) for day in added.added],
            [format_day(day) for day in added.already_closed],
            added.reminders_moved,
        ),
    )
    for meeting in added.meetings:
        await answer(
            update,
            texts.closure_meeting_warning(local_time(context, meeting.starts_at)),
            _move_keyboard(meeting),
        )
    return ConversationHandler.END


def _move_keyboard(meeting: AffectedMeeting) -> InlineKeyboardMarkup:
    choice = meeting.choice
    days = [choice.before, choice.after] if choice.before != choice.off.day else [choice.after]
    row = [
        _button(texts.button_move_to(format_day(day)), "mv", meeting.meeting_id, day.toordinal())
        for day in days
    ]
    return InlineKeyboardMarkup([row, [_button(texts.BUTTON_KEEP_IT, "keep", meeting.meeting_id)]])


async def move_meeting(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    day = pressed_day(update, 1)
    view = await context.runtime.services.meetings.move(context.actor, pressed(update).id(0), day)
    await show(update, texts.meeting_moved_done(local_time(context, view.starts_at)))
    dispatch_soon(context)


async def keep_meeting(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    detail = await context.runtime.services.meetings.detail(context.actor, pressed(update).id())
    await show(update, texts.meeting_kept(local_time(context, detail.meeting.starts_at)))


async def remove(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    day = pressed_day(update)
    await context.runtime.services.closures.remove(context.actor, day)
    await answer(update, texts.closure_removed(day))
    await list_closures(update, context)


async def stop(update: Update, context: MaracContext) -> int:
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    conversation: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[CallbackQueryHandler(guarded(add_start), pattern=pattern(AREA, "add"))],
        states={
            ASK_DAYS: [MessageHandler(filters.TEXT & ~filters.COMMAND, guarded(days_received))]
        },
        fallbacks=[CommandHandler("cancel", stop)],
        name="closures",
        persistent=True,
        allow_reentry=True,
    )
    return [
        conversation,
        CommandHandler("closures", guarded(list_closures)),
        CallbackQueryHandler(guarded(move_meeting), pattern=pattern(AREA, "mv")),
        CallbackQueryHandler(guarded(keep_meeting), pattern=pattern(AREA, "keep")),
        CallbackQueryHandler(guarded(remove), pattern=pattern(AREA, "rm")),
    ]

"""/meetings: schedule meetings, read agendas, publish them; return research; confirm attendance."""

from __future__ import annotations

from datetime import date, time

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
from bot.buttons import MEETING_BOARD, MEETING_RESEARCH
from bot.meetings.off_days import DayChoice, OffDayRule
from bot.meetings.recurrence import (
    MeetingInputError,
    Repeat,
    Series,
    describe,
    format_day,
    parse_meeting_date,
    parse_start_time,
)
from bot.permissions import Operation, may
from bot.referrals.validation import InputError, clean_free_text
from bot.services.meetings import ATTENDANCE, AgendaLine, MeetingDetail
from bot.vocabulary import Role
from handlers.buttons import area_button, page_button, pattern, pressed, pressed_day
from handlers.formatting import (
    identifier_sections,
    local_time,
    local_today,
    sentence,
    timezone_of,
)
from handlers.jobs_trigger import dispatch_soon
from handlers.replies import answer, forget_typed, guarded, send_sensitive, show

AREA = "mtg"
REPEATS = list(Repeat)
(
    NEW_DATE,
    NEW_TIME,
    NEW_LOCATION,
    MOVE_DATE,
    MOVE_TIME,
    RESEARCH_NOTE,
    APOLOGIES,
    NEW_CHAIR,
    NEW_OFF_RULE,
) = range(9)
OFF_DAY_RULES = list(OffDayRule)


def _button(text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return area_button(AREA, text, action, *ids)


async def list_meetings(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    meetings = await context.runtime.services.meetings.upcoming(context.actor)
    when = [local_time(context, m.starts_at) for m in meetings]
    lines = [
        texts.meeting_line(at, m.listed, m.capacity, m.published)
        for at, m in zip(when, meetings, strict=True)
    ]
    rows = [
        [_button(f"{at} ({m.listed}/{m.capacity})", "open", m.id)]
        for at, m in zip(when, meetings, strict=True)
    ]
    if may(context.actor, Operation.MANAGE_MEETINGS):
        rows.append([_button(texts.BUTTON_NEW_MEETING, "new")])
    text = "\n".join([texts.UPCOMING_MEETINGS, *lines]) if lines else texts.NO_MEETINGS
    await show(update, text, InlineKeyboardMarkup(rows) if rows else None)


def _voice_note(line: AgendaLine) -> str:
    voice = line.voice
    if voice is None:
        return ""
    return texts.agenda_voice_note(
        voice.views_recorded, voice.engagement, voice.meeting_closed, voice.told
    )


def _agenda(context: MaracContext, detail: MeetingDetail) -> str:
    meeting = detail.meeting
    lines = [
        f"{i}. {line.reference}{' — EMERGENCY' if line.emergency else ''}: "
        f"{texts.CRITERION_NAMES.get(line.criterion, line.criterion)}, "
        f"{texts.dash_trend(line.dash_yes, line.dash_latest)}"
        f"{', repeat' if line.repeat else ''}; from {line.referring_agency}"
        + (texts.outstanding_note(line.outstanding_actions) if line.outstanding_actions else "")
        + _voice_note(line)
        for i, line in enumerate(detail.agenda, start=1)
    ]
    grid: list[str] = []
    roll: list[str] = []
    if meeting.published:
        for line in detail.agenda:
            missing = [name for aid, name in detail.agencies if aid not in line.returned_by]
            grid.append(
                f"{line.reference}: {len(detail.agencies) - len(missing)} of "
                f"{len(detail.agencies)}" + (f" (waiting: {', '.join(missing)})" if missing else "")
            )
        roll = [
            f"{name}: {texts.ATTENDANCE_NAMES.get(detail.attendance.get(aid, ''), 'no reply')}"
            + (
                texts.apology_reason(detail.apology_reasons[aid])
                if aid in detail.apology_reasons
                else ""
            )
            for aid, name in detail.agencies
        ]
    text = texts.agenda_text(
        local_time(context, meeting.starts_at),
        detail.location,
        meeting.listed,
        meeting.capacity,
        meeting.published,
        lines,
        grid,
        roll,
    )
    if detail.children_without_csc:
        text += "\n\n" + texts.no_csc_for_children(detail.children_without_csc)
    return text


async def open_meeting(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    detail = await context.runtime.services.meetings.detail(context.actor, pressed(update).id())
    meeting = detail.meeting
    rows: list[list[InlineKeyboardButton]] = []
    webapp_url = context.runtime.settings.webapp_url
    if webapp_url and may(context.actor, Operation.RECORD_ACTIONS):
        rows.append(
            [page_button(webapp_url, MEETING_BOARD, texts.BUTTON_MEETING_BOARD, meeting.id)]
        )
    if detail.may_manage:
        if not meeting.published:
            rows.append([_button(texts.BUTTON_PUBLISH_AGENDA, "pub", meeting.id)])
        rows.append(
            [
                _button(texts.BUTTON_MOVE_MEETING, "move", meeting.id),
                _button(texts.BUTTON_CANCEL, "cancel", meeting.id),
            ]
        )
        for line in detail.agenda:
            rows.append([_button(texts.button_change(line.reference), "item", line.item_id)])
    elif meeting.published and detail.my_agency_id is not None:
        for line in detail.agenda:
            if detail.my_agency_id not in line.returned_by:
                rows.append(
                    [
                        page_button(
                            webapp_url,
                            MEETING_RESEARCH,
                            texts.button_research(line.reference),
                            line.item_id,
                        )
                    ]
                )
    await send_sensitive(
        update, context, _agenda(context, detail), InlineKeyboardMarkup(rows) if rows else None
    )


# -- scheduling --------------------------------------------------------------------------------


async def new_meeting(update: Update, context: MaracContext) -> int:
    context.steps["meeting"] = {}
    await show(update, texts.ask_meeting_date(local_today(context)))
    return NEW_DATE


def _day_choice_keyboard(choice: DayChoice, action: str) -> InlineKeyboardMarkup:
    """The working day before and after (each one tap), or the typed day kept."""
    days = [choice.before, choice.after] if choice.before != choice.off.day else [choice.after]
    row = [_button(format_day(day), action, day.toordinal()) for day in days]
    keep = _button(texts.keep_day_button(choice.off.day), action, choice.off.day.toordinal())
    return InlineKeyboardMarkup([row, [keep]])


async def _read_day(update: Update, context: MaracContext, action: str) -> date | None:
    """The typed date, or None after a correction or an off-day question has been sent."""
    assert context.actor is not None and update.message is not None
    try:
        day = parse_meeting_date(update.message.text or "", local_today(context))
    except MeetingInputError as problem:
        await answer(update, str(problem))
        return None
    choice = await context.runtime.services.meetings.check_day(context.actor, day)
    if choice is None:
        return day
    await answer(update, texts.off_day_warning(choice.off), _day_choice_keyboard(choice, action))
    return None


def _chosen_day(update: Update, context: MaracContext) -> date | None:
    """A day pressed under an off-day question: one of the days offered, from today on."""
    day = pressed_day(update)
    return day if day >= local_today(context) else None


async def new_date(update: Update, context: MaracContext) -> int:
    day = await _read_day(update, context, "day")
    if day is None:
        return NEW_DATE
    context.steps["meeting"] = {"date": day.isoformat()}
    await answer(update, texts.ASK_MEETING_TIME)
    return NEW_TIME


async def new_day_chosen(update: Update, context: MaracContext) -> int:
    day = _chosen_day(update, context)
    if day is None:
        await show(update, texts.BUTTON_NOT_RECOGNISED)
        return NEW_DATE
    context.steps["meeting"] = {"date": day.isoformat()}
    await show(update, f"{format_day(day)}. {texts.ASK_MEETING_TIME}")
    return NEW_TIME


async def new_time(update: Update, context: MaracContext) -> int:
    assert update.message is not None
    try:
        start = parse_start_time(update.message.text or "")
    except MeetingInputError as problem:
        await answer(update, str(problem))
        return NEW_TIME
    context.steps["meeting"]["time"] = start.strftime("%H:%M")
    rows = [[_button(texts.REPEAT_BUTTONS[r.value], "rep", i)] for i, r in enumerate(REPEATS)]
    await answer(update, texts.ASK_MEETING_REPEAT, InlineKeyboardMarkup(rows))
    return NEW_TIME


def _nth(day: date) -> int:
    """Which weekday of its month a date is; the 5th is called "last"."""
    nth = (day.day - 1) // 7 + 1
    return -1 if nth == 5 else nth


async def repeat_chosen(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    index = pressed(update).id()
    pending = context.steps.get("meeting") or {}
    if not 0 <= index < len(REPEATS) or "time" not in pending:
        await show(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    repeat = REPEATS[index]
    day = date.fromisoformat(pending["date"])
    start = time.fromisoformat(pending["time"])
    nth = _nth(day) if repeat is Repeat.MONTHLY_NTH_WEEKDAY else None
    try:
        series = Series(day, start, timezone_of(context), repeat, nth)
    except MeetingInputError as problem:
        await show(update, str(problem))
        return NEW_TIME
    pending.update(repeat=repeat.value, nth=nth, off_day_rule=OffDayRule.BEFORE.value)
    context.steps["meeting"] = pending
    off = await context.runtime.services.meetings.series_off_days(
        context.actor, first_date=day, start=start, repeat=repeat, nth=nth
    )
    if off:
        rows = [
            [_button(texts.OFF_DAY_RULE_BUTTONS[rule.value], "offr", i)]
            for i, rule in enumerate(OFF_DAY_RULES)
        ]
        await show(
            update,
            f"{sentence(describe(series))}. {texts.series_off_days_question(off)}",
            InlineKeyboardMarkup(rows),
        )
        return NEW_OFF_RULE
    await show(update, f"{sentence(describe(series))}. {texts.ASK_MEETING_LOCATION}")
    return NEW_LOCATION


async def off_rule_chosen(update: Update, context: MaracContext) -> int:
    index = pressed(update).id()
    pending = context.steps.get("meeting") or {}
    if not 0 <= index < len(OFF_DAY_RULES) or "repeat" not in pending:
        await show(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    rule = OFF_DAY_RULES[index]
    pending["off_day_rule"] = rule.value
    context.steps["meeting"] = pending
    await show(update, f"{texts.OFF_DAY_RULE_BUTTONS[rule.value]}. {texts.ASK_MEETING_LOCATION}")
    return NEW_LOCATION


async def new_location(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    pending = context.steps.get("meeting") or {}
    if "repeat" not in pending:
        await answer(update, texts.ASK_MEETING_REPEAT)
        return NEW_TIME
    raw = (update.message.text or "").strip()
    try:
        location = (
            None if raw.lower() in ("none", "no", "-") else clean_free_text(raw, max_length=300)
        )
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return NEW_LOCATION
    pending["location"] = location
    context.steps["meeting"] = pending
    await forget_typed(update, context)
    people = await context.runtime.services.people.list_for(context.actor)
    chairs = [p for p in people if p.role is Role.CHAIR]
    if not chairs:
        return await _create(update, context, None)
    rows = [[_button(p.name[:60], "chair", p.id)] for p in chairs]
    rows.append([_button(texts.BUTTON_DECIDE_LATER, "chair", 0)])
    await answer(update, texts.ASK_MEETING_CHAIR, InlineKeyboardMarkup(rows))
    return NEW_CHAIR


async def chair_chosen(update: Update, context: MaracContext) -> int:
    chair = pressed(update).id()
    await show(update, texts.CHAIR_CHOSEN if chair else texts.CHAIR_LATER)
    return await _create(update, context, chair or None)


async def _create(update: Update, context: MaracContext, chair_id: int | None) -> int:
    assert context.actor is not None
    pending = context.steps.pop("meeting", None) or {}
    if "repeat" not in pending:
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    day = date.fromisoformat(pending["date"])
    start = time.fromisoformat(pending["time"])
    repeat = Repeat(pending["repeat"])
    schedule = await context.runtime.services.meetings.create(
        context.actor,
        first_date=day,
        start=start,
        repeat=repeat,
        nth=pending.get("nth"),
        location=pending.get("location"),
        chair_person_id=chair_id,
        off_day_rule=OffDayRule(pending.get("off_day_rule", OffDayRule.BEFORE.value)),
    )
    series = Series(day, start, timezone_of(context), repeat, pending.get("nth"))
    first = local_time(context, schedule.meetings[0].starts_at)
    off_days = [texts.planned_day_line(plan) for plan in schedule.notable]
    await answer(
        update,
        texts.meetings_scheduled(describe(series), first, len(schedule.meetings), off_days),
    )
    await list_meetings(update, context)
    return ConversationHandler.END


async def move_start(update: Update, context: MaracContext) -> int:
    context.steps["move"] = {"meeting": pressed(update).id()}
    await show(update, texts.ask_move_date(local_today(context)))
    return MOVE_DATE


async def move_date(update: Update, context: MaracContext) -> int:
    day = await _read_day(update, context, "mday")
    if day is None:
        return MOVE_DATE
    context.steps["move"]["date"] = day.isoformat()
    await answer(update, texts.ASK_MOVE_TIME)
    return MOVE_TIME


async def move_day_chosen(update: Update, context: MaracContext) -> int:
    day = _chosen_day(update, context)
    if day is None or "meeting" not in context.steps.get("move", {}):
        await show(update, texts.BUTTON_NOT_RECOGNISED)
        return MOVE_DATE
    context.steps["move"]["date"] = day.isoformat()
    await show(update, f"{format_day(day)}. {texts.ASK_MOVE_TIME}")
    return MOVE_TIME


async def move_time(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    try:
        start = parse_start_time(update.message.text or "")
    except MeetingInputError as problem:
        await answer(update, str(problem))
        return MOVE_TIME
    pending = context.steps.pop("move", {})
    view = await context.runtime.services.meetings.move(
        context.actor, int(pending["meeting"]), date.fromisoformat(pending["date"]), start
    )
    await answer(update, texts.meeting_moved_done(local_time(context, view.starts_at)))
    dispatch_soon(context)
    return ConversationHandler.END


async def confirm_cancel(update: Update, context: MaracContext) -> None:
    meeting_id = pressed(update).id()
    keyboard = InlineKeyboardMarkup(
        [
            [
                _button(texts.BUTTON_YES_CANCEL_IT, "cancely", meeting_id),
                _button(texts.BUTTON_KEEP_IT, "open", meeting_id),
            ]
        ]
    )
    await show(update, texts.CONFIRM_CANCEL_MEETING, keyboard)


async def cancel_meeting(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    view = await context.runtime.services.meetings.cancel(context.actor, pressed(update).id())
    await show(update, texts.meeting_cancelled_done(local_time(context, view.starts_at)))
    dispatch_soon(context)


async def publish(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    meetings = context.runtime.services.meetings
    view = await meetings.publish(context.actor, pressed(update).id(), context.actor.area_id)
    text = texts.agenda_published(local_time(context, view.starts_at), view.listed)
    # Cases with children and nobody from children's social care to research them: said now,
    # while the coordinator can still invite someone.
    detail = await meetings.detail(context.actor, view.id)
    if detail.children_without_csc:
        text += "\n\n" + texts.no_csc_for_children(detail.children_without_csc)
    await show(update, text)
    dispatch_soon(context)


async def change_item(update: Update, context: MaracContext) -> None:
    item_id = pressed(update).id()
    keyboard = InlineKeyboardMarkup(
        [
            [_button(texts.BUTTON_MOVE_UP_THE_AGENDA, "up", item_id)],
            [_button(texts.BUTTON_MOVE_TO_THE_NEXT_MEETING, "mvnext", item_id)],
            [_button(texts.BUTTON_URGENT_EMERGENCY_LISTING, "emerg", item_id)],
        ]
    )
    await show(update, texts.CHANGE_AGENDA_ITEM, keyboard)


async def move_to_next(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    meetings = context.runtime.services.meetings
    item_id = pressed(update).id()
    upcoming = await meetings.upcoming(context.actor)
    current = await meetings.item_meeting(context.actor, item_id)
    later = [m for m in upcoming if m.starts_at > current.starts_at]
    if not later:
        await show(update, texts.NO_LATER_MEETING)
        return
    reference = await meetings.move_case(context.actor, item_id, later[0].id)
    await show(update, texts.case_moved(reference, local_time(context, later[0].starts_at)))


async def move_up(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    reference, position = await context.runtime.services.meetings.move_up(
        context.actor, pressed(update).id()
    )
    await show(update, texts.case_moved_up(reference, position))


async def emergency(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    reference = await context.runtime.services.meetings.mark_emergency(
        context.actor, pressed(update).id()
    )
    await show(update, texts.case_marked_emergency(reference))


# -- research and attendance -------------------------------------------------------------------


async def research_options(update: Update, context: MaracContext) -> None:
    """Where no case workspace is set up: the case's identifiers in a protected message that
    deletes itself, with the two answers under it."""
    assert context.actor is not None
    item_id = pressed(update).id()
    case, when = await context.runtime.services.meetings.research_case(context.actor, item_id)
    keyboard = InlineKeyboardMarkup(
        [
            [
                _button(texts.BUTTON_NOTHING_KNOWN, "none", item_id),
                _button(texts.BUTTON_ADD_INFORMATION, "info", item_id),
            ]
        ]
    )
    found = case.identifiers
    text = texts.research_case_message(
        case.reference,
        when,
        texts.research_summary_line(
            case.criterion,
            case.dash_yes,
            case.children_count,
            case.referring_agency,
            case.dash_latest,
        ),
        identifier_sections(found),
        texts.children_lines(found.children) if found.children is not None else None,
        [
            texts.ws_returned_line(local_time(context, r.at), r.by, r.nothing_known)
            for r in case.returned
        ],
        closed=found.is_empty() and case.level < Level.RESEARCH,
        perpetrator_service=found.victim is None and found.person_causing_harm is not None,
    )
    await send_sensitive(update, context, text, keyboard)


async def nothing_known(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    reference = await context.runtime.services.meetings.record_research(
        context.actor, pressed(update).id(), "nothing_known", None
    )
    await show(update, texts.research_recorded(reference, True))


async def information_start(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    item_id = pressed(update).id()
    reference, _ = await context.runtime.services.meetings.research_item(context.actor, item_id)
    context.steps["research"] = {"item": item_id}
    await show(update, f"{reference}: {texts.ASK_RESEARCH_NOTE}")
    return RESEARCH_NOTE


async def information_note(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    try:
        note = clean_free_text(update.message.text or "", max_length=2000, min_length=3)
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return RESEARCH_NOTE
    pending = context.steps.pop("research", {})
    reference = await context.runtime.services.meetings.record_research(
        context.actor, int(pending.get("item", 0)), "information", note
    )
    await forget_typed(update, context)
    await answer(update, texts.research_recorded(reference, False))
    return ConversationHandler.END


async def attendance(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(1) < len(ATTENDANCE):
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    status = ATTENDANCE[callback.id(1)]
    if status == "apologies":
        context.steps["apologies"] = {"meeting": callback.id(0)}
        await answer(update, texts.ASK_APOLOGIES_REASON)
        return APOLOGIES
    when = await context.runtime.services.meetings.reply_attendance(
        context.actor, callback.id(0), status
    )
    await show(update, texts.attendance_recorded(when, status))
    return ConversationHandler.END


async def apologies_reason(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    pending = context.steps.pop("apologies", {})
    reason = (update.message.text or "").strip()[:200]
    when = await context.runtime.services.meetings.reply_attendance(
        context.actor, int(pending.get("meeting", 0)), "apologies", reason
    )
    await forget_typed(update, context)
    await answer(update, texts.attendance_recorded(when, "apologies"))
    return ConversationHandler.END


async def stop(update: Update, context: MaracContext) -> int:
    for key in ("meeting", "move", "research", "apologies"):
        context.steps.pop(key, None)
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    conversation: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(guarded(new_meeting), pattern=pattern(AREA, "new")),
            CallbackQueryHandler(guarded(move_start), pattern=pattern(AREA, "move")),
            CallbackQueryHandler(guarded(information_start), pattern=pattern(AREA, "info")),
            CallbackQueryHandler(guarded(attendance), pattern=pattern(AREA, "att")),
        ],
        states={
            NEW_DATE: [
                MessageHandler(text, guarded(new_date)),
                CallbackQueryHandler(guarded(new_day_chosen), pattern=pattern(AREA, "day")),
            ],
            NEW_TIME: [
                MessageHandler(text, guarded(new_time)),
                CallbackQueryHandler(guarded(repeat_chosen), pattern=pattern(AREA, "rep")),
            ],
            NEW_OFF_RULE: [
                CallbackQueryHandler(guarded(off_rule_chosen), pattern=pattern(AREA, "offr"))
            ],
            NEW_LOCATION: [MessageHandler(text, guarded(new_location))],
            NEW_CHAIR: [
                CallbackQueryHandler(guarded(chair_chosen), pattern=pattern(AREA, "chair"))
            ],
            MOVE_DATE: [
                MessageHandler(text, guarded(move_date)),
                CallbackQueryHandler(guarded(move_day_chosen), pattern=pattern(AREA, "mday")),
            ],
            MOVE_TIME: [MessageHandler(text, guarded(move_time))],
            RESEARCH_NOTE: [MessageHandler(text, guarded(information_note))],
            APOLOGIES: [MessageHandler(text, guarded(apologies_reason))],
        },
        fallbacks=[CommandHandler("cancel", stop)],
        name="meetings",
        persistent=True,
        allow_reentry=True,
    )
    return [
        conversation,
        CommandHandler("meetings", guarded(list_meetings)),
        CallbackQueryHandler(guarded(list_meetings), pattern=pattern(AREA, "list")),
        CallbackQueryHandler(guarded(open_meeting), pattern=pattern(AREA, "open")),
        # The meeting board's button, where no workspace is set up: the agenda in the chat.
        CallbackQueryHandler(guarded(open_meeting), pattern=pattern(AREA, "board")),
        CallbackQueryHandler(guarded(confirm_cancel), pattern=pattern(AREA, "cancel")),
        CallbackQueryHandler(guarded(cancel_meeting), pattern=pattern(AREA, "cancely")),
        CallbackQueryHandler(guarded(publish), pattern=pattern(AREA, "pub")),
        CallbackQueryHandler(guarded(change_item), pattern=pattern(AREA, "item")),
        CallbackQueryHandler(guarded(move_to_next), pattern=pattern(AREA, "mvnext")),
        CallbackQueryHandler(guarded(emergency), pattern=pattern(AREA, "emerg")),
        CallbackQueryHandler(guarded(move_up), pattern=pattern(AREA, "up")),
        CallbackQueryHandler(guarded(research_options), pattern=pattern(AREA, "res")),
        CallbackQueryHandler(guarded(nothing_known), pattern=pattern(AREA, "none")),
    ]

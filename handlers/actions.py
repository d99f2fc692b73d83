"""/plan (record actions, close a meeting, minutes) and /actions (agencies work their actions)."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputFile, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)

from bot import texts
from bot.actions.entry import read_back
from bot.actions.states import (
    ACTION_LABELS,
    END_REASON_LABELS,
    PERP_LABELS,
    PERP_NEEDS_REASON,
    ActionState,
    PerpState,
    Told,
    check_contact_date,
)
from bot.adapter.context import MaracContext
from bot.buttons import ACTIONS_OPEN, MINUTES_COPY
from bot.dates import DateInputError, example_date, format_uk_date, parse_uk_date
from bot.referrals.validation import InputError, clean_free_text
from bot.services.actions import ActionView, PerpView
from bot.vocabulary import PerpEndReason
from handlers.buttons import area_button, page_button, pattern, pressed
from handlers.formatting import local_time
from handlers.jobs_trigger import dispatch_soon
from handlers.replies import answer, forget_typed, guarded, send_sensitive, show

AREA = "act"
PERP_STATES = list(PerpState)
END_REASONS = list(PerpEndReason)
LINES, DONE_NOTE, NP_REASON, PERP_REASON, WAITING, PERP_DATE, RISKS = range(7)


def _button(text: str, action: str, *ids: int) -> InlineKeyboardButton:
    return area_button(AREA, text, action, *ids)


def _card(view: ActionView) -> str:
    return texts.action_card(
        view.reference,
        view.agency,
        view.text,
        format_uk_date(view.due_on),
        ACTION_LABELS[view.state] + (" — OVERDUE" if view.overdue else ""),
        view.priority,
    )


def _action_buttons(action_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(texts.BUTTON_ACCEPT, "acc", action_id),
                _button(texts.BUTTON_DONE, "done", action_id),
            ],
            [
                _button(texts.BUTTON_NOT_POSSIBLE, "np", action_id),
                _button(texts.BUTTON_REASSIGN, "re", action_id),
            ],
        ]
    )


# -- /plan: the coordinator and chair ----------------------------------------------------------


async def plan(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    service = context.runtime.services.actions
    agencies, services = await service.summary(context.actor)
    lines = [texts.PLAN_HEADING]
    if agencies:
        lines.append(texts.PLAN_BY_AGENCY)
        lines += [
            texts.summary_agency_line(a.agency, a.open, a.done, a.not_possible, a.overdue)
            for a in agencies
        ]
    if services:
        lines.append(texts.PLAN_PERPETRATOR_SERVICES)
        lines += [
            texts.summary_service_line(
                s.service,
                s.waiting_referrals,
                s.waiting_weeks,
                s.median_days_to_start,
                s.median_days_to_first_contact,
                s.ended,
                s.completed,
                s.disengaged,
            )
            for s in services
        ]
        lines.append(texts.PLAN_DAYS_NOTE)
    rows: list[list[InlineKeyboardButton]] = []
    for meeting_id, starts_at, closed, cases in await service.plan_meetings(context.actor):
        when = local_time(context, starts_at)
        if not closed:
            # The chair runs the meeting from here: the running order, the confidentiality
            # statement, then per case its risks and its actions.
            if cases:
                lines.append(texts.running_order(when, [ref for _, ref in cases]))
                rows.append([_button(texts.button_confidentiality(when), "conf", meeting_id)])
            rows += [
                [
                    _button(texts.button_risks_for(ref), "risk", meeting_id, case_id),
                    _button(texts.button_actions_for(ref, when), "rec", meeting_id, case_id),
                ]
                for case_id, ref in cases
            ]
            rows.append([_button(texts.button_close_meeting(when), "close", meeting_id)])
        rows.append([_button(texts.button_minutes(when), "min", meeting_id)])
        webapp_url = context.runtime.settings.webapp_url
        if closed and webapp_url is not None:
            # Read in the workspace; the document above stays for the MARAC's own record.
            rows.append(
                [page_button(webapp_url, MINUTES_COPY, texts.button_read_minutes(when), meeting_id)]
            )
        if closed:
            rows.append([_button(texts.BUTTON_SEND_MINUTES, "send", meeting_id)])
    await send_sensitive(
        update, context, "\n".join(lines), InlineKeyboardMarkup(rows[:40]) if rows else None
    )


async def record_start(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    count = await context.runtime.services.actions.recorded_count(
        context.actor, callback.id(0), callback.id(1)
    )  # refused here, as if the case were not there, for someone who may not plan it
    context.steps["plan"] = {"meeting": callback.id(0), "case": callback.id(1), "saved": count}
    await answer(update, texts.ASK_ACTION_LINES)
    return LINES


async def action_line(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    pending = context.steps.get("plan") or {}
    service = context.runtime.services.actions
    try:
        draft = await service.read_line(context.actor, update.message.text or "")
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return LINES
    view = await service.record(context.actor, int(pending["meeting"]), int(pending["case"]), draft)
    await forget_typed(update, context)
    pending["saved"] = int(pending.get("saved", 0)) + 1
    context.steps["plan"] = pending
    line = read_back([draft]).split("\n")[-1].split(". ", 1)[-1]
    line = line.replace("(usual deadline)", f"(due {format_uk_date(view.due_on)})")
    # The action may name people: protected and removed later, like every case message.
    await send_sensitive(
        update,
        context,
        texts.action_saved(pending["saved"], line, view.agency if view.unreachable else None),
        InlineKeyboardMarkup([[_button(texts.BUTTON_UNDO, "undo", view.id)]]),
    )
    return LINES


async def undo(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    reference = await context.runtime.services.actions.undo(context.actor, pressed(update).id())
    await show(update, texts.action_undone(reference))


async def lines_done(update: Update, context: MaracContext) -> int:
    """How many actions the case has now, counted afresh: some may have been undone."""
    assert context.actor is not None
    pending = context.steps.pop("plan", None) or {}
    if "case" not in pending:
        await answer(update, texts.actions_recorded(0))
        return ConversationHandler.END
    count = await context.runtime.services.actions.recorded_count(
        context.actor, int(pending["meeting"]), int(pending["case"])
    )
    await answer(update, texts.actions_recorded(count))
    return ConversationHandler.END


async def close_meeting(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    closed = await context.runtime.services.actions.close_meeting(
        context.actor, pressed(update).id()
    )
    await show(update, texts.actions_closed(closed.sent, closed.unreached))
    dispatch_soon(context)


async def risks_start(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    # Refused here, as if the case were not there, for someone who may not plan it.
    await context.runtime.services.actions.recorded_count(
        context.actor, callback.id(0), callback.id(1)
    )
    context.steps["risks"] = {"meeting": callback.id(0), "case": callback.id(1)}
    await answer(update, texts.ASK_RISK_SUMMARY)
    return RISKS


async def risks_text(update: Update, context: MaracContext) -> int:
    """The typed risk summary: sealed, and the message deleted from the chat."""
    assert context.actor is not None and update.message is not None
    pending = context.steps.get("risks") or {}
    try:
        reference = await context.runtime.services.actions.record_risks(
            context.actor,
            int(pending.get("meeting", 0)),
            int(pending.get("case", 0)),
            update.message.text or "",
        )
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return RISKS
    context.steps.pop("risks", None)
    await forget_typed(update, context)
    await answer(update, texts.risk_summary_saved(reference))
    return ConversationHandler.END


async def confidentiality(update: Update, context: MaracContext) -> None:
    """The statement to read out, with the button that records everyone agreed."""
    meeting_id = pressed(update).id()
    await answer(
        update,
        texts.CONFIDENTIALITY_ASK + texts.CONFIDENTIALITY_STATEMENT,
        InlineKeyboardMarkup([[_button(texts.BUTTON_CONFIDENTIALITY_AGREED, "confy", meeting_id)]]),
    )


async def confidentiality_agreed(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    at = await context.runtime.services.actions.agree_confidentiality(
        context.actor, pressed(update).id()
    )
    await show(update, texts.confidentiality_recorded(local_time(context, at)))


async def send_minutes(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    told = await context.runtime.services.actions.send_minutes(context.actor, pressed(update).id())
    await show(update, texts.minutes_sent_to(told))
    dispatch_soon(context)


async def minutes_copy(update: Update, context: MaracContext) -> None:
    """An agency representative's own copy, cut to what the access policy gives them."""
    assert context.actor is not None and update.effective_chat is not None
    filename, content = await context.runtime.services.actions.minutes_copy(
        context.actor, pressed(update).id()
    )
    await answer(update, texts.MINUTES_COPY_SENT)
    await _send_document(update, context, filename, content)


async def minutes(update: Update, context: MaracContext) -> None:
    assert context.actor is not None and update.effective_chat is not None
    filename, content = await context.runtime.services.actions.minutes(
        context.actor, pressed(update).id()
    )
    await answer(update, texts.MINUTES_SENT)
    await _send_document(update, context, filename, content)


async def _send_document(
    update: Update, context: MaracContext, filename: str, content: bytes
) -> None:
    assert update.effective_chat is not None
    message = await context.bot.send_document(
        update.effective_chat.id, InputFile(content, filename=filename), protect_content=True
    )
    await context.runtime.services.sensitive_messages.record(
        update.effective_chat.id, message.message_id
    )


# -- /actions: agency reps ---------------------------------------------------------------------


# Ten actions a page keeps a list message near 2,000 characters (Telegram's limit is 4,096)
# and its keyboard short enough to use on a phone; five referrals have up to three buttons each.
ACTIONS_PER_PAGE = 10
REFERRALS_PER_PAGE = 5


def _referral_order(referrals: list[PerpView]) -> list[PerpView]:
    """Open referrals first, longest waiting first; then closed ones, most recent first."""
    active = [r for r in referrals if r.options]
    closed = sorted((r for r in referrals if not r.options), key=lambda r: r.referred_at)
    return active + closed[::-1]


def _page_start(requested: int, total: int, size: int) -> int:
    """The first item of the page holding ``requested``, kept within the list."""
    if total <= 0:
        return 0
    return min(max(requested, 0), total - 1) // size * size


async def _action_list(
    context: MaracContext, actions_from: int, referrals_from: int
) -> tuple[str, InlineKeyboardMarkup | None]:
    """One page of the agency's open actions and of its perpetrator referrals.

    Both lists are paged on their own, and each page button carries both positions, so
    turning one list's page keeps the other where it was. Buttons carry offsets only; the
    service re-reads (and re-authorises) on every press.
    """
    assert context.actor is not None
    service = context.runtime.services.actions
    page = await service.open_page(context.actor, actions_from, ACTIONS_PER_PAGE)
    lines: list[str] = []
    rows: list[list[InlineKeyboardButton]] = []
    if page.total:
        lines.append(texts.open_actions_heading(page.total))
        if page.total > len(page.views):
            last = page.offset + len(page.views)
            lines.append(texts.open_actions_showing(page.offset + 1, last, page.total))
        for number, view in enumerate(page.views, start=page.offset + 1):
            lines.append(
                texts.open_action_line(
                    number,
                    view.reference,
                    format_uk_date(view.due_on),
                    view.overdue,
                    ACTION_LABELS[view.state],
                    view.last_by or "",
                    view.text,
                )
            )
            label = texts.action_button(view.reference, format_uk_date(view.due_on), view.overdue)
            rows.append([_button(label, "open", view.id)])
    else:
        lines.append(texts.NO_OPEN_ACTIONS)
    referrals = _referral_order(await service.perpetrator_referrals(context.actor))
    referrals_from = _page_start(referrals_from, len(referrals), REFERRALS_PER_PAGE)
    nav: list[InlineKeyboardButton] = []
    if page.offset > 0:
        back = max(page.offset - ACTIONS_PER_PAGE, 0)
        nav.append(_button(texts.PREVIOUS_ACTIONS, "pg", back, referrals_from))
    if page.offset + len(page.views) < page.total:
        ahead = page.offset + ACTIONS_PER_PAGE
        nav.append(_button(texts.MORE_ACTIONS, "pg", ahead, referrals_from))
    if nav:
        rows.append(nav)
    shown = referrals[referrals_from : referrals_from + REFERRALS_PER_PAGE]
    if len(referrals) > len(shown):
        last = referrals_from + len(shown)
        lines.append(texts.referrals_showing(referrals_from + 1, last, len(referrals)))
    for referral in shown:
        lines.append(
            texts.perpetrator_line(
                referral.reference,
                PERP_LABELS[referral.state],
                referral.probation,
                END_REASON_LABELS[referral.end_reason] if referral.end_reason else None,
            )
        )
        rows += [
            [
                _button(
                    f"{referral.reference}: {PERP_LABELS[option]}",
                    "pm",
                    referral.id,
                    PERP_STATES.index(option),
                )
            ]
            for option in referral.options
        ]
    nav = []
    if referrals_from > 0:
        back = max(referrals_from - REFERRALS_PER_PAGE, 0)
        nav.append(_button(texts.PREVIOUS_REFERRALS, "pg", page.offset, back))
    if referrals_from + len(shown) < len(referrals):
        ahead = referrals_from + REFERRALS_PER_PAGE
        nav.append(_button(texts.MORE_REFERRALS, "pg", page.offset, ahead))
    if nav:
        rows.append(nav)
    if referrals:
        rows.append([_button(texts.BUTTON_SET_OUR_WAITING_TIME, "wait")])
    return "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None


async def my_actions(update: Update, context: MaracContext) -> None:
    """/actions, and the workspace button's answer in the chat where there is no workspace."""
    text, markup = await _action_list(context, 0, 0)
    webapp_url = context.runtime.settings.webapp_url
    if webapp_url is not None:
        rows = [[page_button(webapp_url, ACTIONS_OPEN, texts.BUTTON_OPEN_ACTIONS)]]
        markup = InlineKeyboardMarkup(rows + list(markup.inline_keyboard if markup else []))
    await send_sensitive(update, context, text, markup)


async def list_page(update: Update, context: MaracContext) -> None:
    """Another page of /actions, in place of the list that was pressed (already protected)."""
    ids = pressed(update).ids
    text, markup = await _action_list(context, ids[0] if ids else 0, ids[1] if len(ids) > 1 else 0)
    await show(update, text, markup)


async def open_action(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    view = await context.runtime.services.actions.get(context.actor, pressed(update).id())
    await send_sensitive(update, context, _card(view), _action_buttons(view.id))


async def accept(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    view = await context.runtime.services.actions.move(
        context.actor, pressed(update).id(), ActionState.ACCEPTED
    )
    await show(update, texts.action_moved(view.reference, ACTION_LABELS[view.state]))


async def done_start(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    view = await context.runtime.services.actions.get(context.actor, pressed(update).id())
    context.steps["action"] = {"id": view.id}
    await answer(update, f"{view.reference}: {texts.ASK_DONE_NOTE}")
    return DONE_NOTE


async def done_note(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    raw = (update.message.text or "").strip()
    note = None if raw.lower() in ("none", "no", "-") else raw[:500]
    pending = context.steps.pop("action", {})
    view = await context.runtime.services.actions.move(
        context.actor, int(pending.get("id", 0)), ActionState.DONE, note
    )
    await forget_typed(update, context)
    await answer(update, texts.action_moved(view.reference, ACTION_LABELS[view.state]))
    return ConversationHandler.END


async def not_possible_start(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    view = await context.runtime.services.actions.get(context.actor, pressed(update).id())
    context.steps["action"] = {"id": view.id}
    await answer(update, f"{view.reference}: {texts.ASK_NOT_POSSIBLE_REASON}")
    return NP_REASON


async def not_possible_reason(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    try:
        reason = clean_free_text(update.message.text or "", max_length=500, min_length=3)
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return NP_REASON
    pending = context.steps.pop("action", {})
    view = await context.runtime.services.actions.move(
        context.actor, int(pending.get("id", 0)), ActionState.NOT_POSSIBLE, reason
    )
    await forget_typed(update, context)
    await answer(update, texts.action_moved(view.reference, ACTION_LABELS[view.state]))
    return ConversationHandler.END


async def reassign_start(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    action_id = pressed(update).id()
    colleagues = await context.runtime.services.actions.colleagues(context.actor, action_id)
    if not colleagues:
        await answer(update, texts.NO_COLLEAGUES)
        return
    rows = [[_button(name[:60], "rto", action_id, person_id)] for person_id, name in colleagues]
    await answer(update, texts.CHOOSE_COLLEAGUE, InlineKeyboardMarkup(rows))


async def reassign_to(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return
    view = await context.runtime.services.actions.reassign(
        context.actor, callback.id(0), callback.id(1)
    )
    await show(update, texts.action_moved(view.reference, ACTION_LABELS[view.state]))
    dispatch_soon(context)


def _told(view: PerpView) -> str:
    """Exactly who was told of the step, as the service's rep reads it."""
    if view.told is Told.IDVA and view.told_name:
        return texts.told_idva(view.told_name)
    if view.told is Told.COORDINATORS_NO_IDVA:
        return texts.TOLD_COORDINATORS_NO_IDVA
    if view.told is Told.COORDINATORS_IDVA_UNREACHABLE:
        return texts.TOLD_COORDINATORS_IDVA_UNREACHABLE
    return texts.TOLD_NOBODY


def _moved(view: PerpView) -> str:
    if view.planned_on is not None:
        return texts.perpetrator_contact_planned_moved(
            view.reference, format_uk_date(view.planned_on), _told(view)
        )
    state = PERP_LABELS[view.state]
    if view.end_reason is not None:
        state = f"{state} ({END_REASON_LABELS[view.end_reason].lower()})"
    return texts.perpetrator_moved(view.reference, state, _told(view))


def _local_today(context: MaracContext) -> date:
    assert context.actor is not None
    return context.runtime.clock.now().astimezone(ZoneInfo(context.actor.timezone)).date()


async def perpetrator_step(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(1) < len(PERP_STATES):
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return ConversationHandler.END
    target = PERP_STATES[callback.id(1)]
    if target in PERP_NEEDS_REASON:
        context.steps["perp"] = {"id": callback.id(0), "state": target.value}
        await answer(update, texts.ASK_PERP_REASON)
        return PERP_REASON
    if target is PerpState.CONTACT_PLANNED:
        context.steps["perp"] = {"id": callback.id(0), "state": target.value}
        example = example_date(_local_today(context), 7)
        await answer(update, texts.ask_contact_date(example))
        return PERP_DATE
    if target is PerpState.ENDED:
        rows = [
            [_button(END_REASON_LABELS[reason], "pe", callback.id(0), END_REASONS.index(reason))]
            for reason in END_REASONS
        ]
        await answer(update, texts.ASK_END_REASON, InlineKeyboardMarkup(rows))
        return ConversationHandler.END
    view = await context.runtime.services.actions.move_perpetrator(
        context.actor, callback.id(0), target
    )
    await answer(update, _moved(view))
    dispatch_soon(context)
    return ConversationHandler.END


async def perpetrator_date(update: Update, context: MaracContext) -> int:
    """The typed first-contact date: checked before anything is stored, so a mistyped or
    past date asks again and nothing is lost; deleted from the chat once stored."""
    assert context.actor is not None and update.message is not None
    pending = context.steps.get("perp") or {}
    today = _local_today(context)
    try:
        planned_on = parse_uk_date(update.message.text or "", today)
        check_contact_date(planned_on, today)
    except (DateInputError, InputError) as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return PERP_DATE
    context.steps.pop("perp", None)
    view = await context.runtime.services.actions.move_perpetrator(
        context.actor, int(pending.get("id", 0)), PerpState.CONTACT_PLANNED, planned_on=planned_on
    )
    await forget_typed(update, context)
    await answer(update, _moved(view))
    dispatch_soon(context)
    return ConversationHandler.END


async def perpetrator_end(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(1) < len(END_REASONS):
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return
    view = await context.runtime.services.actions.move_perpetrator(
        context.actor, callback.id(0), PerpState.ENDED, end_reason=END_REASONS[callback.id(1)]
    )
    await show(update, _moved(view))
    dispatch_soon(context)


async def perpetrator_reason(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    pending = context.steps.pop("perp", {})
    view = await context.runtime.services.actions.move_perpetrator(
        context.actor,
        int(pending.get("id", 0)),
        PerpState(pending.get("state", PerpState.NOT_SUITABLE.value)),
        (update.message.text or "").strip()[:500],
    )
    await forget_typed(update, context)
    await answer(update, _moved(view))
    dispatch_soon(context)
    return ConversationHandler.END


async def waiting_start(update: Update, context: MaracContext) -> int:
    await answer(update, texts.ASK_WAITING_WEEKS)
    return WAITING


async def waiting_weeks(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    raw = (update.message.text or "").strip()
    if not raw.isdigit():
        await answer(update, texts.WAITING_WEEKS_RANGE)
        return WAITING
    name = await context.runtime.services.actions.set_waiting_weeks(context.actor, int(raw))
    await answer(update, texts.waiting_recorded(name, int(raw)))
    return ConversationHandler.END


async def stop(update: Update, context: MaracContext) -> int:
    for key in ("plan", "action", "perp", "risks"):
        context.steps.pop(key, None)
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    conversation: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(guarded(record_start), pattern=pattern(AREA, "rec")),
            CallbackQueryHandler(guarded(done_start), pattern=pattern(AREA, "done")),
            CallbackQueryHandler(guarded(not_possible_start), pattern=pattern(AREA, "np")),
            CallbackQueryHandler(guarded(perpetrator_step), pattern=pattern(AREA, "pm")),
            CallbackQueryHandler(guarded(waiting_start), pattern=pattern(AREA, "wait")),
            CallbackQueryHandler(guarded(risks_start), pattern=pattern(AREA, "risk")),
        ],
        states={
            LINES: [
                MessageHandler(text, guarded(action_line)),
                CallbackQueryHandler(guarded(undo), pattern=pattern(AREA, "undo")),
                CommandHandler("done", lines_done),
            ],
            DONE_NOTE: [MessageHandler(text, guarded(done_note))],
            NP_REASON: [MessageHandler(text, guarded(not_possible_reason))],
            PERP_REASON: [MessageHandler(text, guarded(perpetrator_reason))],
            PERP_DATE: [MessageHandler(text, guarded(perpetrator_date))],
            WAITING: [MessageHandler(text, guarded(waiting_weeks))],
            RISKS: [MessageHandler(text, guarded(risks_text))],
        },
        fallbacks=[CommandHandler("cancel", stop), CommandHandler("done", lines_done)],
        name="actions",
        persistent=True,
        allow_reentry=True,
    )
    return [
        conversation,
        CommandHandler("plan", guarded(plan)),
        CommandHandler("minutes", guarded(plan)),
        CommandHandler("actions", guarded(my_actions)),
        CallbackQueryHandler(guarded(my_actions), pattern=pattern(AREA, "ws")),
        CallbackQueryHandler(guarded(close_meeting), pattern=pattern(AREA, "close")),
        CallbackQueryHandler(guarded(minutes), pattern=pattern(AREA, "min")),
        CallbackQueryHandler(guarded(minutes_copy), pattern=pattern(AREA, "mc")),
        CallbackQueryHandler(guarded(confidentiality), pattern=pattern(AREA, "conf")),
        CallbackQueryHandler(guarded(confidentiality_agreed), pattern=pattern(AREA, "confy")),
        CallbackQueryHandler(guarded(send_minutes), pattern=pattern(AREA, "send")),
        CallbackQueryHandler(guarded(undo), pattern=pattern(AREA, "undo")),
        CallbackQueryHandler(guarded(open_action), pattern=pattern(AREA, "open")),
        CallbackQueryHandler(guarded(list_page), pattern=pattern(AREA, "pg")),
        CallbackQueryHandler(guarded(accept), pattern=pattern(AREA, "acc")),
        CallbackQueryHandler(guarded(perpetrator_end), pattern=pattern(AREA, "pe")),
        CallbackQueryHandler(guarded(reassign_start), pattern=pattern(AREA, "re")),
        CallbackQueryHandler(guarded(reassign_to), pattern=pattern(AREA, "rto")),
    ]

"""/dvds: Clare's Law applications in the chat.

The police record an application (the case it is linked to, then who applied and whom it is
about, typed in one message that is deleted once stored), ask agencies to check, set the
panel date, record the decision and the safety plan. An agency asked to check opens the
application (whom it is about, protected and self-deleting) and presses "Check done". The
coordinator sees each application's one-line status here and on the case card.
"""

from __future__ import annotations

from datetime import date
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
from bot.adapter.context import MaracContext
from bot.errors import NotFound, ServiceError
from bot.meetings.workdays import add_working_days
from bot.referrals.validation import InputError, clean_free_text
from bot.services.dvds import DvdsView
from bot.vocabulary import AgencyKind, DvdsDecision, DvdsRoute, Role
from handlers.buttons import area_button, pattern, pressed, pressed_day
from handlers.replies import answer, forget_typed, guarded, send_sensitive, show, store_typed_note

AREA = "cl"
ASK_CASE, ASK_IDS, ASK_PLAN = 0, 1, 2
STEP = "dvds"
PANEL_CHOICES = 10  # working days offered for the panel date


def _police(context: MaracContext) -> bool:
    actor = context.actor
    return (
        actor is not None
        and actor.role is Role.AGENCY_REP
        and actor.agency_kind is AgencyKind.POLICE
    )


def status_line(view: DvdsView, today: date) -> str:
    done = view.progress
    return texts.dvds_status_line(
        view.label,
        view.route.value,
        done.stage(),
        done.due_on,
        done.decision_overdue(today),
        view.reference,
        done.days_to_decision(),
    )


async def case_lines(context: MaracContext, case_id: int) -> str:
    """The one-line status of each Clare's Law application linked to a case, for its card:
    empty for anyone the policy does not let see them."""
    assert context.actor is not None
    views = await context.runtime.services.dvds.for_case(context.actor, case_id)
    if not views:
        return ""
    today = _today(context)
    return "\n\n" + "\n".join(status_line(view, today) for view in views)


def _today(context: MaracContext) -> date:
    assert context.actor is not None
    return context.runtime.services.statistics.today(context.actor)


def _render(context: MaracContext, view: DvdsView) -> str:
    lines = [status_line(view, _today(context))]
    lines += [texts.dvds_check_line(c.agency, c.due_on, c.completed_on) for c in view.checks]
    if view.progress.panel_on is not None:
        lines.append(texts.dvds_panel_line(view.progress.panel_on))
    lines += texts.dvds_sealed_lines(view.applicant, view.subject, view.safety_plan)
    return "\n".join(lines)


def _keyboard(view: DvdsView) -> InlineKeyboardMarkup | None:
    rows: list[list[InlineKeyboardButton]] = []
    done = view.progress
    if view.may_record and done.decision is None:
        rows.append(
            [
                area_button(AREA, texts.BUTTON_DVDS_CHECK, "chk", view.id),
                area_button(AREA, texts.BUTTON_DVDS_PANEL, "panel", view.id),
            ]
        )
        rows.append(
            [
                area_button(AREA, texts.BUTTON_DVDS_DISCLOSE, "disc", view.id),
                area_button(AREA, texts.BUTTON_DVDS_NOT_DISCLOSE, "nodisc", view.id),
            ]
        )
    if view.may_record and done.decision is DvdsDecision.DISCLOSE and not done.safety_plan:
        rows.append([area_button(AREA, texts.BUTTON_DVDS_SAFETY_PLAN, "plan", view.id)])
    if view.check_open:
        rows.append([area_button(AREA, texts.BUTTON_DVDS_CHECK_DONE, "done", view.id)])
    return InlineKeyboardMarkup(rows) if rows else None


async def _show(update: Update, context: MaracContext, view: DvdsView, note: str = "") -> None:
    text = f"{note}\n\n{_render(context, view)}" if note else _render(context, view)
    if view.applicant or view.subject or view.safety_plan:
        await send_sensitive(update, context, text, _keyboard(view))
    else:
        await show(update, text, _keyboard(view))


async def dvds(update: Update, context: MaracContext) -> None:
    """The menu: the police start an application; everyone sees what the policy lets them."""
    assert context.actor is not None
    views = await context.runtime.services.dvds.listing(context.actor)
    today = _today(context)
    lines = [texts.DVDS_MENU]
    if views:
        lines += [texts.DVDS_LIST_HEADING, *(status_line(view, today) for view in views)]
    else:
        lines.append(texts.DVDS_NONE)
    rows = [
        [area_button(AREA, f"{texts.BUTTON_DVDS_OPEN} {view.label}", "open", view.id)]
        for view in views[:10]
    ]
    if _police(context):
        rows.insert(
            0,
            [
                area_button(AREA, texts.BUTTON_DVDS_NEW_ASK, "ask"),
                area_button(AREA, texts.BUTTON_DVDS_NEW_KNOW, "know"),
            ],
        )
    await answer(update, "\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)


async def start_new(update: Update, context: MaracContext) -> int:
    if not _police(context):
        raise ServiceError(texts.DVDS_POLICE_ONLY)
    route = DvdsRoute.RIGHT_TO_ASK if pressed(update).action == "ask" else DvdsRoute.RIGHT_TO_KNOW
    context.steps[STEP] = {"route": route.value}
    await answer(
        update,
        texts.DVDS_ASK_CASE,
        InlineKeyboardMarkup([[area_button(AREA, texts.BUTTON_DVDS_NO_CASE, "nocase")]]),
    )
    return ASK_CASE


async def case_typed(update: Update, context: MaracContext) -> int:
    assert update.message is not None
    pending = context.steps.get(STEP) or {}
    pending["case"] = (update.message.text or "").strip().upper()[:40]
    context.steps[STEP] = pending
    await answer(update, f"{texts.DVDS_ASK_APPLICANT}\n{texts.DVDS_ASK_SUBJECT}")
    return ASK_IDS


async def no_case(update: Update, context: MaracContext) -> int:
    pending = context.steps.get(STEP) or {}
    pending["case"] = ""
    context.steps[STEP] = pending
    await answer(update, f"{texts.DVDS_ASK_APPLICANT}\n{texts.DVDS_ASK_SUBJECT}")
    return ASK_IDS


async def ids_typed(update: Update, context: MaracContext) -> int:
    """Two lines: who applied, then whom it is about; stored sealed, then deleted."""
    assert context.actor is not None and update.message is not None
    pending = context.steps.get(STEP) or {}
    lines = [line.strip() for line in (update.message.text or "").splitlines() if line.strip()]
    if len(lines) != 2:
        await forget_typed(update, context, stored=False)
        await answer(update, f"{texts.DVDS_ASK_APPLICANT}\n{texts.DVDS_ASK_SUBJECT}")
        return ASK_IDS
    try:
        applicant = clean_free_text(lines[0], max_length=500, min_length=3)
        subject = clean_free_text(lines[1], max_length=500, min_length=3)
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return ASK_IDS
    try:
        view = await context.runtime.services.dvds.create(
            context.actor,
            DvdsRoute(pending.get("route", DvdsRoute.RIGHT_TO_ASK.value)),
            applicant,
            subject,
            str(pending.get("case") or "") or None,
        )
    except NotFound:
        await forget_typed(update, context, stored=False)
        context.steps.pop(STEP, None)
        raise
    await forget_typed(update, context)
    context.steps.pop(STEP, None)
    await _show(update, context, view, texts.dvds_created(view.label))
    return ConversationHandler.END


async def open_application(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    view = await context.runtime.services.dvds.get(context.actor, pressed(update).id())
    await _show(update, context, view)


async def check_menu(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    application_id = pressed(update).id()
    agencies = await context.runtime.services.dvds.checking_agencies(context.actor, application_id)
    if not agencies:
        await answer(update, texts.DVDS_NO_AGENCIES)
        return
    rows = [
        [area_button(AREA, name, "agency", application_id, agency_id)]
        for agency_id, name in agencies
    ]
    await answer(update, texts.DVDS_ASK_AGENCY, InlineKeyboardMarkup(rows))


async def ask_agency(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    view = await context.runtime.services.dvds.request_check(
        context.actor, callback.id(0), callback.id(1)
    )
    await _show(update, context, view)


async def check_done(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    view = await context.runtime.services.dvds.complete_check(context.actor, pressed(update).id())
    await show(update, texts.dvds_check_recorded(view.label))


async def panel_menu(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    application_id = pressed(update).id()
    today = _today(context)
    days = [add_working_days(today, n) for n in range(1, PANEL_CHOICES + 1)]
    rows = [
        [
            area_button(AREA, texts.dvds_day(day), "pday", application_id, day.toordinal())
            for day in days[i : i + 2]
        ]
        for i in range(0, len(days), 2)
    ]
    await answer(update, texts.DVDS_ASK_PANEL, InlineKeyboardMarkup(rows))


async def panel_day(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    view = await context.runtime.services.dvds.set_panel(
        context.actor, callback.id(0), pressed_day(update, 1)
    )
    await _show(update, context, view)


async def decide(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    decision = DvdsDecision.DISCLOSE if callback.action == "disc" else DvdsDecision.NOT_DISCLOSE
    view = await context.runtime.services.dvds.decide(context.actor, callback.id(), decision)
    await _show(update, context, view)


async def ask_plan(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    application_id = pressed(update).id()
    # Asked first, so someone who may not record is refused before typing anything.
    view = await context.runtime.services.dvds.get(context.actor, application_id)
    if not view.may_record:
        await answer(update, texts.DVDS_POLICE_ONLY)
        return ConversationHandler.END
    context.steps[STEP] = {"application": application_id}
    await answer(update, f"{view.label}: {texts.DVDS_ASK_SAFETY_PLAN}")
    return ASK_PLAN


async def plan_typed(update: Update, context: MaracContext) -> int:
    actor = context.actor
    assert actor is not None

    async def store(pending: dict[str, Any], plan: str) -> str:
        service = context.runtime.services.dvds
        view = await service.record_safety_plan(actor, int(pending["application"]), plan)
        return texts.dvds_safety_plan_recorded(view.label)

    return await store_typed_note(update, context, step=STEP, again=ASK_PLAN, store=store)


async def cancel(update: Update, context: MaracContext) -> int:
    context.steps.pop(STEP, None)
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    typed: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(guarded(start_new), pattern=pattern(AREA, "ask")),
            CallbackQueryHandler(guarded(start_new), pattern=pattern(AREA, "know")),
            CallbackQueryHandler(guarded(ask_plan), pattern=pattern(AREA, "plan")),
        ],
        states={
            ASK_CASE: [
                MessageHandler(text, guarded(case_typed)),
                CallbackQueryHandler(guarded(no_case), pattern=pattern(AREA, "nocase")),
            ],
            ASK_IDS: [MessageHandler(text, guarded(ids_typed))],
            ASK_PLAN: [MessageHandler(text, guarded(plan_typed))],
        },
        fallbacks=[CommandHandler("cancel", cancel)],
        name="dvds",
        persistent=True,
        allow_reentry=True,
    )
    return [
        typed,
        CommandHandler("dvds", guarded(dvds)),
        CallbackQueryHandler(guarded(dvds), pattern=pattern(AREA, "list")),
        CallbackQueryHandler(guarded(open_application), pattern=pattern(AREA, "open")),
        CallbackQueryHandler(guarded(check_menu), pattern=pattern(AREA, "chk")),
        CallbackQueryHandler(guarded(ask_agency), pattern=pattern(AREA, "agency")),
        CallbackQueryHandler(guarded(check_done), pattern=pattern(AREA, "done")),
        CallbackQueryHandler(guarded(panel_menu), pattern=pattern(AREA, "panel")),
        CallbackQueryHandler(guarded(panel_day), pattern=pattern(AREA, "pday")),
        CallbackQueryHandler(guarded(decide), pattern=pattern(AREA, "disc")),
        CallbackQueryHandler(guarded(decide), pattern=pattern(AREA, "nodisc")),
        CallbackQueryHandler(guarded(no_case), pattern=pattern(AREA, "nocase")),
    ]

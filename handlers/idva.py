"""The IDVA service: Take this case, reallocate, record contact with the victim; /idva for the
coordinators (cases waiting for an IDVA or for first contact)."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.buttons import CASE_OPEN, IDVA_CONTACT_MENU
from bot.errors import NotFound
from bot.services.idva import OUTCOMES
from handlers.buttons import area_button, page_button, pattern, pressed
from handlers.formatting import local_time
from handlers.jobs_trigger import dispatch_soon
from handlers.replies import answer, guarded, show

AREA = "idv"


def _holder_keyboard(context: MaracContext, case_id: int) -> InlineKeyboardMarkup:
    webapp_url = context.runtime.settings.webapp_url
    return InlineKeyboardMarkup(
        [
            [page_button(webapp_url, CASE_OPEN, texts.BUTTON_OPEN_CASE, case_id)],
            [
                InlineKeyboardButton(
                    texts.BUTTON_RECORD_CONTACT, callback_data=IDVA_CONTACT_MENU.data(case_id)
                )
            ],
        ]
    )


async def take(update: Update, context: MaracContext) -> None:
    """Take this case: the presser holds it, unless someone took it first."""
    assert context.actor is not None
    case_id = pressed(update).id()
    taken = await context.runtime.services.idva.take(context.actor, case_id)
    await show(update, texts.idva_taken(taken.reference), _holder_keyboard(context, case_id))


async def choose(update: Update, context: MaracContext) -> None:
    """Reallocate: the area's IDVAs who may hold the case, one button each."""
    assert context.actor is not None
    choices = await context.runtime.services.idva.reassign_choices(
        context.actor, pressed(update).id()
    )
    if not choices.people:
        await answer(update, texts.no_other_idva(choices.reference))
        return
    rows = [
        [area_button(AREA, name[:60], "rto", choices.case_id, person_id)]
        for person_id, name in choices.people[:40]
    ]
    await answer(
        update, texts.choose_idva(choices.reference, choices.holder), InlineKeyboardMarkup(rows)
    )


async def reallocate(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        raise NotFound(texts.BUTTON_NOT_RECOGNISED)
    done = await context.runtime.services.idva.reassign(
        context.actor, callback.id(0), callback.id(1)
    )
    await show(update, texts.idva_reallocated(done.reference, done.name))
    dispatch_soon(context)


async def contact_menu(update: Update, context: MaracContext) -> None:
    """Record contact: the attempts so far, and one button per outcome."""
    assert context.actor is not None
    history = await context.runtime.services.idva.contact_history(
        context.actor, pressed(update).id()
    )
    attempts = [
        texts.contact_attempt_line(local_time(context, a.at), a.outcome.value, a.by)
        for a in history.attempts
    ]
    rows = [
        [area_button(AREA, texts.CONTACT_OUTCOME_NAMES[outcome.value], "con", history.case_id, i)]
        for i, outcome in enumerate(OUTCOMES)
    ]
    await answer(
        update, texts.contact_prompt(history.reference, attempts), InlineKeyboardMarkup(rows)
    )


async def record_contact(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2 or not 0 <= callback.id(1) < len(OUTCOMES):
        raise NotFound(texts.BUTTON_NOT_RECOGNISED)
    outcome = OUTCOMES[callback.id(1)]
    recorded = await context.runtime.services.idva.record_contact(
        context.actor, callback.id(0), outcome
    )
    await show(update, texts.contact_recorded(recorded.reference, outcome.value))


async def waiting(update: Update, context: MaracContext) -> None:
    """/idva: the cases waiting for an IDVA or for first contact past two working days."""
    assert context.actor is not None
    found = await context.runtime.services.idva.waiting(context.actor)
    if not found:
        await show(update, texts.IDVA_NOTHING_WAITING)
        return
    lines = [
        texts.idva_waiting_line(w.reference, w.working_days, w.holder, w.attempts) for w in found
    ]
    await show(update, "\n".join([texts.idva_waiting_heading(len(found)), *lines]))


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CommandHandler("idva", guarded(waiting)),
        CallbackQueryHandler(guarded(take), pattern=pattern(AREA, "take")),
        CallbackQueryHandler(guarded(choose), pattern=pattern(AREA, "re")),
        CallbackQueryHandler(guarded(reallocate), pattern=pattern(AREA, "rto")),
        CallbackQueryHandler(guarded(contact_menu), pattern=pattern(AREA, "rec")),
        CallbackQueryHandler(guarded(record_contact), pattern=pattern(AREA, "con")),
    ]

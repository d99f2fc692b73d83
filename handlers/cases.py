"""/case: the case card; triage buttons, repeat and serial-perpetrator links, must-not-receive."""

from __future__ import annotations

import re

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
from bot.buttons import (
    CASE_OPEN,
    DASH_NEW,
    IDVA_CONTACT_MENU,
    IDVA_TAKE,
    REPEAT_CONFIRM,
    REPEAT_REJECT,
    TRIAGE_ACCEPT,
    TRIAGE_ASK,
    TRIAGE_DECLINE,
    kind,
)
from bot.referrals.status import REFERENCE_PATTERN, can_triage
from bot.referrals.validation import InputError, clean_free_text
from bot.services.cases import CaseCard
from handlers.buttons import page_button, pattern, pressed
from handlers.dvds import case_lines as dvds_lines
from handlers.formatting import local_day, local_time
from handlers.jobs_trigger import dispatch_soon
from handlers.replies import answer, forget_typed, guarded, send_sensitive, show
from handlers.transfers import case_rows as transfer_rows
from handlers.victim_voice import case_rows as voice_rows

REFERENCE = re.compile(rf"^{REFERENCE_PATTERN}$", re.IGNORECASE)
ASK_NOTE = 0


def _render(context: MaracContext, card: CaseCard) -> str:
    details = None
    if card.identifying is not None:
        info = card.identifying
        notes = [
            f"{texts.STEP_NAMES.get(step, step).capitalize()} ({local_time(context, at)}): {note}"
            for at, step, note in info.notes
        ]
        notes += [
            texts.research_line(agency, local_time(context, at), note)
            for at, agency, note in info.research
        ]
        details = texts.case_details(
            info.victim,
            info.perpetrator,
            info.safety,
            info.household,
            info.summary,
            info.judgement_reason,
            notes,
            texts.children_lines(info.children) if info.children is not None else None,
        )
    history = [
        f"• {local_time(context, at)} {texts.STEP_NAMES.get(step, step)} ({who})"
        for at, step, who in card.history
    ]
    text = texts.case_card(
        reference=card.reference,
        status=card.status.value,
        criterion=card.criterion,
        dash_yes=card.dash_yes,
        dash_not_known=card.dash_not_known,
        referred_on=local_day(context, card.referred_at),
        referring_agency=card.referring_agency,
        urgent=card.urgent,
        children=card.children_count,
        repeat_of=card.repeat_of,
        possible_repeats=[ref for _, ref in card.possible_repeats],
        history=history,
        details=details,
        excluded=card.excluded_people,
        dash_lines=_dash_lines(context, card),
    )
    if card.shows_idva:
        contact = None
        if card.idva_contact is not None:
            at, outcome = card.idva_contact
            name = texts.CONTACT_OUTCOME_NAMES.get(outcome, outcome).lower()
            contact = f"{name}, {local_time(context, at)}"
        # Under the case's first lines (status, criterion, referral), before any links.
        head, blank, rest = text.partition("\n\n")
        text = f"{head}\n{texts.case_card_idva(card.idva, contact)}{blank}{rest}"
    if card.serial_links:
        # Right under the case's own links (repeats), before the details and history.
        head, blank, rest = text.partition("\n\n")
        text = f"{head}\n{texts.serial_links(card.serial_links)}{blank}{rest}"
    return text


def _keyboard(card: CaseCard, context: MaracContext) -> InlineKeyboardMarkup | None:
    rows = _action_rows(card) + voice_rows(context, card) + transfer_rows(context, card)
    return InlineKeyboardMarkup(rows) if rows else None


def _dash_lines(context: MaracContext, card: CaseCard) -> list[str]:
    """The form the referral's risk assessment came from and, once there is more than one,
    each assessment with its date and score."""
    lines = [texts.dash_form_line(card.dash_form, card.dara_level)]
    if len(card.assessments) > 1:
        lines.append(texts.DASH_ASSESSMENTS_HEADING)
        lines += [
            "• "
            + texts.dash_assessment_line(
                local_day(context, a.assessed_at),
                a.by,
                a.form,
                a.dash_yes,
                a.dash_not_known,
                a.dara_level,
            )
            for a in card.assessments
        ]
    return lines


def _action_rows(card: CaseCard) -> list[list[InlineKeyboardButton]]:
    """Triage, repeat decisions, the must-not-receive list and early erasure, as allowed."""
    actor_may_decide_repeat = card.may_decide_repeat
    rows: list[list[InlineKeyboardButton]] = []
    if card.may_triage and can_triage(card.status):
        rows.append(
            [
                InlineKeyboardButton(
                    texts.BUTTON_ACCEPT, callback_data=TRIAGE_ACCEPT.data(card.id)
                ),
                InlineKeyboardButton(
                    texts.BUTTON_ASK_FOR_INFORMATION, callback_data=TRIAGE_ASK.data(card.id)
                ),
            ]
        )
        rows.append(
            [InlineKeyboardButton(texts.BUTTON_DECLINE, callback_data=TRIAGE_DECLINE.data(card.id))]
        )
    if actor_may_decide_repeat:
        for other_id, reference in card.possible_repeats:
            rows.append(
                [
                    InlineKeyboardButton(
                        texts.button_confirm_repeat(reference),
                        callback_data=REPEAT_CONFIRM.data(card.id, other_id),
                    ),
                    InlineKeyboardButton(
                        texts.BUTTON_NOT_THE_SAME_PERSON,
                        callback_data=REPEAT_REJECT.data(card.id, other_id),
                    ),
                ]
            )
    idva_row = []
    if card.may_take:
        idva_row.append(
            InlineKeyboardButton(texts.BUTTON_TAKE_CASE, callback_data=IDVA_TAKE.data(card.id))
        )
    if card.may_record_contact:
        idva_row.append(
            InlineKeyboardButton(
                texts.BUTTON_RECORD_CONTACT, callback_data=IDVA_CONTACT_MENU.data(card.id)
            )
        )
    if card.may_reallocate:
        idva_row.append(
            InlineKeyboardButton(
                texts.BUTTON_REALLOCATE_IDVA, callback_data=kind("idv", "re").data(card.id)
            )
        )
    if idva_row:
        rows.append(idva_row)
    if card.may_reassess:
        rows.append(
            [InlineKeyboardButton(texts.BUTTON_NEW_DASH, callback_data=DASH_NEW.data(card.id))]
        )
    if card.may_triage:
        rows.append(
            [
                InlineKeyboardButton(
                    texts.BUTTON_MUST_NOT_RECEIVE, callback_data=kind("cas", "exc").data(card.id)
                ),
                InlineKeyboardButton(
                    texts.BUTTON_ERASE_EARLY, callback_data=kind("era", "ask").data(card.id)
                ),
            ]
        )
    return rows


async def show_case(update: Update, context: MaracContext) -> None:
    """/case REF. With a case workspace the chat gets the reference and buttons only, and the
    case is read on its page; without one, the card comes as a protected message."""
    assert context.actor is not None
    reference = context.args[0] if context.args else ""
    if not REFERENCE.match(reference):
        await answer(update, texts.CASE_NOT_FOUND)
        return
    cases = context.runtime.services.cases
    webapp_url = context.runtime.settings.webapp_url
    if webapp_url is None:
        card = await cases.card(context.actor, reference)
        text = _render(context, card) + await dvds_lines(context, card.id)
        await send_sensitive(update, context, text, _keyboard(card, context))
        return
    found = await cases.status(context.actor, reference)
    rows = [[page_button(webapp_url, CASE_OPEN, texts.BUTTON_OPEN_CASE, found.id)]]
    rows += _action_rows(found) + voice_rows(context, found) + transfer_rows(context, found)
    await answer(
        update,
        texts.case_in_workspace(found.reference, found.status.value)
        + await dvds_lines(context, found.id),
        InlineKeyboardMarkup(rows),
    )


async def open_case(update: Update, context: MaracContext) -> None:
    """The "Open the case" button where no workspace is set up: the card, protected."""
    assert context.actor is not None
    card = await context.runtime.services.cases.card_by_id(context.actor, pressed(update).id())
    text = _render(context, card) + await dvds_lines(context, card.id)
    await send_sensitive(update, context, text, _keyboard(card, context))


async def accept(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    reference, listing = await context.runtime.services.cases.accept(
        context.actor, pressed(update).id()
    )
    when = local_time(context, listing.starts_at) if listing and listing.starts_at else None
    suggestion = (
        local_time(context, listing.suggestion_starts_at)
        if listing and listing.suggestion_starts_at
        else None
    )
    over = bool(listing and listing.over_capacity)
    text = texts.case_listed(reference, when, over, suggestion)
    if listing is not None and listing.children_without_csc:
        text += "\n\n" + texts.no_csc_for_children([reference])
    await show(update, text)
    dispatch_soon(context)


async def ask_note(update: Update, context: MaracContext) -> int:
    assert context.actor is not None
    callback = pressed(update)
    card = await context.runtime.services.cases.card_by_id(context.actor, callback.id())
    if not (card.may_triage and can_triage(card.status)):
        await show(update, texts.already_triaged(card.reference, card.status.value, "a colleague"))
        return ConversationHandler.END
    context.steps["triage"] = {"case": card.id, "action": callback.action}
    prompt = texts.ASK_INFO_NOTE if callback.action == "info" else texts.ASK_DECLINE_REASON
    await show(update, f"{card.reference}: {prompt}")
    return ASK_NOTE


async def note_received(update: Update, context: MaracContext) -> int:
    assert context.actor is not None and update.message is not None
    pending = context.steps.get("triage") or {}
    try:
        note = clean_free_text(update.message.text or "", max_length=1000, min_length=5)
    except InputError as problem:
        await forget_typed(update, context, stored=False)
        await answer(update, str(problem))
        return ASK_NOTE
    cases = context.runtime.services.cases
    if pending.get("action") == "info":
        reference = await cases.request_information(context.actor, int(pending["case"]), note)
        reply = texts.case_info_requested(reference)
    else:
        reference = await cases.decline(context.actor, int(pending["case"]), note)
        reply = texts.case_declined(reference)
    await forget_typed(update, context)
    await answer(update, reply)
    context.steps.pop("triage", None)
    dispatch_soon(context)
    return ConversationHandler.END


async def cancel_note(update: Update, context: MaracContext) -> int:
    context.steps.pop("triage", None)
    await answer(update, texts.CANCELLED)
    return ConversationHandler.END


async def decide_repeat(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return
    confirmed = callback.action == "yes"
    cases = context.runtime.services.cases
    other = await cases.decide_repeat(context.actor, callback.id(0), callback.id(1), confirmed)
    card = await cases.card_by_id(context.actor, callback.id(0))
    await answer(update, texts.repeat_decided(card.reference, other, confirmed))


async def choose_exclusion(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    case_id = pressed(update).id()
    card = await context.runtime.services.cases.card_by_id(context.actor, case_id)
    people = await context.runtime.services.people.list_for(context.actor)
    rows = [
        [
            InlineKeyboardButton(
                f"{p.name} ({p.agency_name or texts.ROLE_NAMES[p.role]})"[:60],
                callback_data=kind("cas", "exy").data(card.id, p.id),
            )
        ]
        for p in people
        if p.id != context.actor.person_id and p.name not in card.excluded_people
    ]
    await send_sensitive(
        update,
        context,
        f"{card.reference}: {texts.CHOOSE_PERSON_TO_EXCLUDE}",
        InlineKeyboardMarkup(rows[:40]) if rows else None,
    )


async def exclude(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    callback = pressed(update)
    if len(callback.ids) != 2:
        await answer(update, texts.BUTTON_NOT_RECOGNISED)
        return
    services = context.runtime.services
    reference = await services.cases.exclude(context.actor, callback.id(0), callback.id(1))
    person = await services.people.get(context.actor, callback.id(1))
    await show(update, texts.person_excluded(person.name, reference))


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    text = filters.TEXT & ~filters.COMMAND
    notes: ConversationHandler[MaracContext] = ConversationHandler(
        entry_points=[
            CallbackQueryHandler(guarded(ask_note), pattern=pattern("tri", "info")),
            CallbackQueryHandler(guarded(ask_note), pattern=pattern("tri", "dec")),
        ],
        states={ASK_NOTE: [MessageHandler(text, guarded(note_received))]},
        fallbacks=[CommandHandler("cancel", cancel_note)],
        name="triage",
        persistent=True,
        allow_reentry=True,
    )
    return [
        notes,
        CommandHandler("case", guarded(show_case)),
        CallbackQueryHandler(guarded(open_case), pattern=pattern("cas", "open")),
        CallbackQueryHandler(guarded(accept), pattern=pattern("tri", "acc")),
        CallbackQueryHandler(guarded(decide_repeat), pattern=pattern("rep")),
        CallbackQueryHandler(guarded(choose_exclusion), pattern=pattern("cas", "exc")),
        CallbackQueryHandler(guarded(exclude), pattern=pattern("cas", "exy")),
    ]

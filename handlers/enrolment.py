"""Confirm or Remove: the coordinators' answer to "Sam Okafor enrolled as ... Is that right?".

The question comes from the outbox (``bot.services.confirmations``); every press is checked
again by the service (a coordinator of the area, an enrolment that is still the person's
latest), and a press after someone has decided says who decided and when.
"""

from __future__ import annotations

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import BaseHandler, CallbackQueryHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.buttons import ENROLMENT_CONFIRM, ENROLMENT_REMOVE, enrolment_buttons, kind
from bot.i18n import speaking
from bot.services.confirmations import CheckState, EnrolmentCheck
from handlers.buttons import button, keyboard, pressed
from handlers.formatting import local_time
from handlers.replies import guarded, set_menu_for, show

AREA = "enr"
REMOVE_YES = kind(AREA, "rmy")
BACK = kind(AREA, "back")


def _ids(update: Update) -> tuple[int, int]:
    callback = pressed(update)
    return callback.id(0), callback.id(1)


async def _decided(update: Update, context: MaracContext, check: EnrolmentCheck) -> None:
    """What became of the enrolment, once someone has decided; the buttons go."""
    assert check.decided_at is not None
    await show(
        update,
        texts.enrolment_already_decided(
            check.name,
            check.state is CheckState.CONFIRMED,
            check.decided_by,
            local_time(context, check.decided_at),
        ),
    )


async def confirm(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    check = await context.runtime.services.confirmations.confirm(context.actor, *_ids(update))
    if not check.decided_now:
        await _decided(update, context, check)
        return
    # Their commands, as their role has them, from now on; the outbox tells them why.
    with speaking(check.language):  # their menu, in their language (bot.i18n)
        await set_menu_for(context.bot, check.telegram_user_id, check.role)
    await show(
        update, texts.enrolment_confirmed(check.name, texts.ROLE_NAMES[check.role], check.where)
    )


async def ask_remove(update: Update, context: MaracContext) -> None:
    """A second tap, so a slip of the finger does not remove a colleague."""
    assert context.actor is not None
    person_id, invite_id = _ids(update)
    check = await context.runtime.services.confirmations.check(context.actor, person_id, invite_id)
    if check.state is not CheckState.PENDING:
        await _decided(update, context, check)
        return
    markup = InlineKeyboardMarkup(
        [
            [
                button(REMOVE_YES, texts.BUTTON_YES_REMOVE, person_id, invite_id),
                button(BACK, texts.BUTTON_BACK, person_id, invite_id),
            ]
        ]
    )
    await show(update, texts.confirm_enrolment_removal(check.name), markup)


async def remove(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    check = await context.runtime.services.confirmations.remove(context.actor, *_ids(update))
    if not check.decided_now:
        await _decided(update, context, check)
        return
    await set_menu_for(context.bot, check.telegram_user_id, None)
    await show(update, texts.enrolment_removed(check.name))


async def back(update: Update, context: MaracContext) -> None:
    """The question again, with Confirm and Remove."""
    assert context.actor is not None
    person_id, invite_id = _ids(update)
    check = await context.runtime.services.confirmations.check(context.actor, person_id, invite_id)
    if check.state is not CheckState.PENDING:
        await _decided(update, context, check)
        return
    text = texts.enrolment_check(check.name, texts.ROLE_NAMES[check.role], check.where)
    await show(update, text, keyboard(enrolment_buttons(person_id, invite_id)))


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CallbackQueryHandler(guarded(confirm), pattern=ENROLMENT_CONFIRM.pattern),
        CallbackQueryHandler(guarded(ask_remove), pattern=ENROLMENT_REMOVE.pattern),
        CallbackQueryHandler(guarded(remove), pattern=REMOVE_YES.pattern),
        CallbackQueryHandler(guarded(back), pattern=BACK.pattern),
    ]

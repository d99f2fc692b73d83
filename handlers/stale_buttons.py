"""The last handler for button presses: anything no other handler claimed is refused.

That covers forged data, buttons from an older version of the bot, and
buttons of a conversation that has ended; each refusal is audited.
"""

from __future__ import annotations

from telegram import Update

from bot import texts
from bot.adapter.context import MaracContext
from handlers.replies import refuse_button


async def refuse_unrecognised(update: Update, context: MaracContext) -> None:
    await context.runtime.services.audit.record_refusal(
        action="button.unrecognised", actor=context.actor, reason="no handler for this data"
    )
    await refuse_button(update, texts.BUTTON_NOT_RECOGNISED)

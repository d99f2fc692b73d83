"""/audit: the latest events of the coordinator's area, or of one thing (/audit person:4)."""

from __future__ import annotations

import re

from telegram import Update
from telegram.ext import BaseHandler, CallbackQueryHandler, CommandHandler

from bot import texts
from bot.adapter.context import MaracContext
from bot.referrals.status import REFERENCE_PATTERN
from handlers.buttons import pattern
from handlers.formatting import local_time
from handlers.replies import answer, guarded, send_sensitive

SUBJECT = re.compile(rf"^[a-z]{{2,16}}:[A-Za-z0-9-]{{1,32}}$|^{REFERENCE_PATTERN}$")


async def show_audit(update: Update, context: MaracContext) -> None:
    assert context.actor is not None
    subject = context.args[0] if context.args else None
    if subject is not None and not SUBJECT.match(subject):
        await answer(update, texts.AUDIT_SUBJECT_FORMAT)
        return
    lines = await context.runtime.services.audit.latest(context.actor, subject=subject)
    if not lines:
        await answer(update, texts.NO_AUDIT_EVENTS)
        return
    body = [texts.audit_heading(len(lines), subject)]
    for line in lines:
        about = f" {line.subject}" if line.subject else ""
        outcome = "" if line.outcome == "ok" else f" — {line.outcome.upper()}"
        how = texts.case_view_note(line.details) if line.action == "case.viewed" else ""
        body.append(
            f"{local_time(context, line.at)} · {line.who} · {line.action}{about}{how}{outcome}"
        )
    await send_sensitive(update, context, "\n".join(body))


def build_handlers() -> list[BaseHandler[Update, MaracContext, object]]:
    return [
        CommandHandler("audit", guarded(show_audit)),
        CallbackQueryHandler(guarded(show_audit), pattern=pattern("aud", "latest")),
    ]

"""The daily audit checkpoint, published where the database's writers cannot reach it.

Once a day, from 07:00 on the deployment's clock (the end of quiet hours, so the messages
leave at once rather than wait through the night in the outbox, which is in the database), the
chain's head is signed (storage.audit_checkpoint) and the checkpoint goes out three ways at
once, so that changing it afterwards means changing all of them:

* a structured line in the log (``marac.audit``; in the JSON log the checkpoint, seq, count,
  link and signature are fields of their own), which log shipping usually copies off the host;
* a message to every active coordinator of every area, through the outbox, written in the same
  transaction as the checkpoint's own audit event, so a checkpoint is never recorded unsent or
  sent unrecorded. It names counts and hashes only: no case, no person. The chain is one for
  the whole deployment, so every area's coordinators get the same checkpoint;
* a line in ``MARAC_AUDIT_CHECKPOINT_FILE`` when it is set (for WORM storage or a log shipper).

Housekeeping asks every 30 seconds; after today's checkpoint (or the finding that nothing
happened since the last one) the answer is remembered in the process, so the usual tick costs
no query at all. Another process, or a restart, finds today's checkpoint by its audit event.
"""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot import texts
from bot.logging_setup import log_fields
from bot.quiet_hours import QUIET_END
from bot.services.deps import ServiceDeps
from bot.services.outbox import enqueue
from bot.vocabulary import Role
from storage.audit_checkpoint import Checkpoint, append_to_file, take_checkpoint
from storage.models import Area, Person

KIND: Final = "audit_checkpoint"
log = logging.getLogger("marac.audit")


def checkpoint_label(day: date) -> str:
    """The subject of a day's ``audit.checkpoint`` event: how a second process finds it."""
    return f"checkpoint:{day.isoformat()}"


class AuditCheckpointService:
    def __init__(self, deps: ServiceDeps, *, enabled: bool, file: Path | None) -> None:
        self._deps = deps
        self._enabled = enabled
        self._file = file
        self._settled: date | None = None  # the last day known to need nothing more

    async def publish_due(self) -> Checkpoint | None:
        """Today's checkpoint, if it is due: signed, recorded, queued, logged and filed."""
        if not self._enabled:
            return None
        now = self._deps.clock.now()
        local = now.astimezone(ZoneInfo(self._deps.default_timezone))
        today = local.date()
        if self._settled == today or local.time() < QUIET_END:
            return None
        async with self._deps.sessions.begin() as session:
            checkpoint = await take_checkpoint(session, now, checkpoint_label(today))
            if checkpoint is not None:
                rows = await session.execute(
                    select(Area.id, Area.name, Person.id, Person.telegram_user_id)
                    .join(Person, Person.area_id == Area.id)
                    .where(Person.role == Role.COORDINATOR, Person.deactivated_at.is_(None))
                    .order_by(Area.id, Person.id)
                )
                for area_id, area_name, person_id, chat_id in rows.all():
                    await enqueue(
                        session,
                        dedupe_key=f"audit-checkpoint:{checkpoint.seq}:{person_id}",
                        chat_id=chat_id,
                        kind=KIND,
                        text=texts.audit_checkpoint(
                            area_name,
                            checkpoint.count,
                            checkpoint.link,
                            checkpoint.signature,
                            checkpoint.text,
                        ),
                        now=now,
                        area_id=area_id,
                        person_id=person_id,
                    )
        self._settled = today
        if checkpoint is None:
            return None
        log.info(
            "audit checkpoint %s",
            checkpoint.text,
            extra=log_fields(
                audit_checkpoint=checkpoint.text,
                audit_seq=checkpoint.seq,
                audit_count=checkpoint.count,
                audit_link=checkpoint.link,
                audit_signature=checkpoint.signature,
            ),
        )
        if self._file is not None:
            try:
                await append_to_file(self._file, checkpoint)
            except OSError as error:  # the log and the coordinators have it; say what failed
                log.error(
                    "audit checkpoint not written to %s: %s", self._file, type(error).__name__
                )
        return checkpoint

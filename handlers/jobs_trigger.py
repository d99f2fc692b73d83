"""Ask the outbox dispatcher to run now, so urgent alerts do not wait for the next tick."""

from __future__ import annotations

from bot.adapter.context import MaracContext
from bot.adapter.dispatcher import dispatch_job


def dispatch_soon(context: MaracContext) -> None:
    if context.job_queue is not None:
        context.job_queue.run_once(dispatch_job, 0, name="dispatch-now")  # type: ignore[arg-type]

"""Logging that never shows the bot token or personal data.

httpx logs every request URL at INFO, and Telegram URLs contain the token, so
those loggers are held at WARNING; a filter also masks anything token-shaped
that reaches a handler by another route.
"""

from __future__ import annotations

import asyncio
import logging
import re
import traceback

TOKEN_IN_TEXT = re.compile(r"\d{3,}:[A-Za-z0-9_-]{30,}")

FIELDS = "marac_fields"
"""The LogRecord attribute whose values the JSON log writes as fields of their own."""


def log_fields(**fields: str | int | None) -> dict[str, dict[str, str | int | None]]:
    """``extra=`` for a line a machine should read (an audit checkpoint): each value becomes a
    field of its own in the JSON log, beside the message. Never personal data."""
    return {FIELDS: fields}


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN_IN_TEXT.search(message):
            record.msg = TOKEN_IN_TEXT.sub("<token>", message)
            record.args = None
        return True


# Libraries that log request URLs (with the token), SQL parameters or whole updates (with
# message text) at DEBUG or INFO. They never go below these levels, whatever MARAC_LOG_LEVEL says.
LIBRARY_FLOORS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "aiohttp.access": logging.WARNING,
    # Our Bot API calls go through aiohttp's client (bot.adapter.aiohttp_request): its URLs
    # carry the token too.
    "aiohttp.client": logging.WARNING,
    "aiosqlite": logging.WARNING,
    "asyncpg": logging.WARNING,
    "sqlalchemy": logging.WARNING,
    # "Job skipped: maximum number of running instances" is expected when a run is long.
    "apscheduler": logging.ERROR,
    "alembic": logging.WARNING,
    "telegram": logging.INFO,
}


JOB_EXECUTOR_LOGGER = "apscheduler.executors.default"


class JobStoppedAtShutdown(logging.Filter):
    """Drop APScheduler's "Job raised an exception" for a job cancelled by shutdown.

    Stopping the bot cancels a job that is running at that moment (APScheduler's asyncio
    executor cannot wait for it), and APScheduler logs that as an error with a traceback: a
    housekeeping tick that happened to be running when the demo or the bot stopped is not
    an error. Every other exception a job raises is still logged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return not isinstance(error, asyncio.CancelledError)


def quiet_libraries() -> None:
    """Raise libraries to their floor; never lower them below the level chosen for the root."""
    root_level = logging.getLogger().getEffectiveLevel()
    for name, floor in LIBRARY_FLOORS.items():
        logging.getLogger(name).setLevel(max(floor, root_level))
    executor = logging.getLogger(JOB_EXECUTOR_LOGGER)
    if not any(isinstance(f, JobStoppedAtShutdown) for f in executor.filters):
        executor.addFilter(JobStoppedAtShutdown())


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactTokens())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level.upper() in logging._nameToLevel else "INFO")
    quiet_libraries()


def describe(error: BaseException) -> str:
    """The error's type and where it happened: never its message, which may hold case data."""
    frames = traceback.extract_tb(error.__traceback__)[-4:]
    where = " <- ".join(f"{f.name}@{f.filename.rsplit('/', 1)[-1]}:{f.lineno}" for f in frames)
    return f"{type(error).__module__}.{type(error).__qualname__} at {where or 'unknown'}"

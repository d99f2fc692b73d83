"""Logging that never shows the bot token or personal data.

httpx logs every request URL at INFO, and Telegram URLs contain the token, so
those loggers are held at WARNING; a filter also masks anything token-shaped
that reaches a handler by another route.
"""

from __future__ import annotations

import logging
import re

TOKEN_IN_TEXT = re.compile(r"\d{3,}:[A-Za-z0-9_-]{30,}")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if TOKEN_IN_TEXT.search(message):
            record.msg = TOKEN_IN_TEXT.sub("<token>", message)
            record.args = None
        return True


def configure_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler()
    handler.addFilter(RedactTokens())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper() if level.upper() in logging._nameToLevel else "INFO")
    for noisy in ("httpx", "httpcore", "aiohttp.access", "apscheduler", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

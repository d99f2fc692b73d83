"""One JSON object per log line, for journald, Loki, Elastic and the like.

Each line has ``time`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``, and the fields a
caller passed with ``extra=log_fields(...)`` (an audit checkpoint's seq, link and signature), so
a log collector can keep them apart. The same rules as the text logs apply, and more strictly:

* an exception is reduced to its type and where it happened (``describe``): never its
  message and never a traceback, since either may quote case data;
* arguments that are Telegram objects (a whole update, a message) become a placeholder
  such as ``<Update 42>``, and exceptions passed as arguments become their type name, so a
  library logging "error while handling update %s" cannot put message text in the log;
* anything shaped like a bot token is masked, in the message and in the exception line.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from telegram import TelegramObject, Update

from bot.logging_setup import FIELDS, TOKEN_IN_TEXT, describe, quiet_libraries


class _Placeholder(str):
    """Shows the same with %s and %r."""

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


def _safe_arg(value: object) -> object:
    if isinstance(value, Update):
        return _Placeholder(f"<Update {value.update_id}>")
    if isinstance(value, TelegramObject):
        return _Placeholder(f"<{type(value).__name__}>")
    if isinstance(value, BaseException):
        return _Placeholder(f"<{type(value).__module__}.{type(value).__qualname__}>")
    if isinstance(value, Mapping) and "update_id" in value:
        return _Placeholder("<update>")
    return value


def _safe_args(args: Any) -> Any:
    if isinstance(args, tuple):
        return tuple(_safe_arg(arg) for arg in args)
    if isinstance(args, Mapping):
        if "update_id" in args:  # a raw update given as the only argument
            return _Placeholder("<update>")
        return {key: _safe_arg(value) for key, value in args.items()}
    return _safe_arg(args)


class ScrubArguments(logging.Filter):
    """Replace Telegram objects and exceptions in a record's message and arguments.

    On a handler that also has :class:`~bot.logging_setup.RedactTokens`, put this one
    first: that filter formats the message (and so the arguments) when it finds a token.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _safe_arg(record.msg)
        if record.args:
            record.args = _safe_args(record.args)
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON; see the module docstring for what is left out."""

    def format(self, record: logging.LogRecord) -> str:
        template = str(_safe_arg(record.msg))
        args = _safe_args(record.args) if record.args else None
        try:
            message = template % args if args else template
        except (TypeError, ValueError, KeyError):
            message = template
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": TOKEN_IN_TEXT.sub("<token>", message),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, Mapping):
            for name, value in fields.items():
                entry.setdefault(str(name), value)
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            entry["exception_type"] = f"{type(error).__module__}.{type(error).__qualname__}"
            entry["exception"] = TOKEN_IN_TEXT.sub("<token>", describe(error))
        return json.dumps(entry, ensure_ascii=False)


def json_handler(stream: Any = None) -> logging.Handler:
    """A stream handler writing JSON lines.

    The formatter masks tokens itself, in everything it writes, so this handler does not
    need :class:`~bot.logging_setup.RedactTokens` (which formats the message inside a
    filter, where a bad format string raises into the code that logged instead of being
    reported by the handler).
    """
    handler = logging.StreamHandler(stream)
    handler.addFilter(ScrubArguments())
    handler.setFormatter(JsonFormatter())
    return handler


def configure_json_logging(level: str = "INFO", stream: Any = None) -> None:
    """Like ``configure_logging``, with JSON lines instead of text (``MARAC_LOG_FORMAT=json``)."""
    root = logging.getLogger()
    root.handlers[:] = [json_handler(stream)]
    root.setLevel(level.upper() if level.upper() in logging.getLevelNamesMapping() else "INFO")
    quiet_libraries()

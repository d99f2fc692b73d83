"""JSON log lines: one object per line, no exception messages, no update contents, no token."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from telegram import Update

from bot.json_logging import JsonFormatter, configure_json_logging, json_handler
from bot.logging_setup import log_fields

TOKEN = "123456789:AAE-secret_token_abcdefghijklmnopqrstuvwxyz"
CASE_TEXT = "Jane Doe, 12 Acacia Avenue"


@pytest.fixture
def capture() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    logger = logging.getLogger("marac.test.json")
    logger.handlers[:] = [json_handler(stream)]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.handlers.clear()
        logger.propagate = True


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    text = stream.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def an_update() -> Update:
    return Update.de_json(
        {
            "update_id": 42,
            "message": {
                "message_id": 7,
                "date": 0,
                "chat": {"id": 501, "type": "private", "first_name": "Jane"},
                "from": {"id": 501, "is_bot": False, "first_name": "Jane"},
                "text": CASE_TEXT,
            },
        },
        None,
    )


def test_one_json_object_per_line_with_the_basic_fields(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info("outbox dispatch: %d sent", 3)
    logger.warning("second\nline")
    first, second = lines(stream)
    assert set(first) == {"time", "level", "logger", "message"}
    assert first["level"] == "INFO" and first["logger"] == "marac.test.json"
    assert first["message"] == "outbox dispatch: 3 sent"
    assert first["time"].endswith("Z")
    assert datetime.fromisoformat(first["time"]).utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert second["message"] == "second\nline"  # escaped inside its one line


def test_exceptions_give_type_and_place_never_the_message(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture

    def failing_step() -> None:
        raise ValueError(f"could not save {CASE_TEXT}")

    try:
        failing_step()
    except ValueError:
        logger.exception("housekeeping step failed")
    (entry,) = lines(stream)
    raw = stream.getvalue()
    assert CASE_TEXT not in raw and "Traceback" not in raw
    assert entry["message"] == "housekeeping step failed"
    assert entry["exception_type"] == "builtins.ValueError"
    assert entry["exception"].startswith("builtins.ValueError at ")
    assert "failing_step@test_json_logging.py:" in entry["exception"]


def test_update_objects_and_exceptions_as_arguments_are_placeholders(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    update = an_update()
    logger.critical("Error while building CallbackContext for update %s.", update)
    logger.error("Fetching updates was aborted due to %r.", RuntimeError(CASE_TEXT))
    logger.error(RuntimeError(CASE_TEXT))
    logger.warning("raw update %s", {"update_id": 5, "message": {"text": CASE_TEXT}})
    logger.info("text %s", update.message.text if update.message else "")  # our own choice
    entries = lines(stream)
    assert entries[0]["message"] == "Error while building CallbackContext for update <Update 42>."
    assert entries[1]["message"] == "Fetching updates was aborted due to <builtins.RuntimeError>."
    assert entries[2]["message"] == "<builtins.RuntimeError>"
    assert entries[3]["message"] == "raw update <update>"
    assert CASE_TEXT not in "".join(stream.getvalue().splitlines()[:4])


def test_tokens_are_masked(capture: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = capture
    logger.warning("request to https://api.telegram.org/bot%s/getMe failed", TOKEN)
    logger.warning(f"inline https://api.telegram.org/bot{TOKEN}/sendMessage")
    try:
        raise OSError(TOKEN)
    except OSError:
        logger.exception("with %s", TOKEN)
    raw = stream.getvalue()
    assert TOKEN not in raw and "AAE-secret" not in raw
    assert [e["message"] for e in lines(stream)] == [
        "request to https://api.telegram.org/bot<token>/getMe failed",
        "inline https://api.telegram.org/bot<token>/sendMessage",
        "with <token>",
    ]


def test_formatter_alone_also_scrubs_and_masks() -> None:
    """Safe even on a handler without the filters (say, one a library added)."""
    record = logging.LogRecord(
        "telegram.ext.Application", logging.ERROR, __file__, 1, "update %s token %s", None, None
    )
    record.args = (an_update(), TOKEN)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "update <Update 42> token <token>"


def test_bad_format_arguments_still_give_a_line() -> None:
    record = logging.LogRecord("marac", logging.INFO, __file__, 1, "two %s %s", ("one",), None)
    assert json.loads(JsonFormatter().format(record))["message"] == "two %s %s"


def test_configure_json_logging_switches_the_root_handler() -> None:
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    stream = io.StringIO()
    try:
        configure_json_logging("warning", stream)
        assert root.level == logging.WARNING
        assert logging.getLogger("httpx").level >= logging.WARNING
        logging.getLogger("marac.anything").warning("hello %s", "world")
        logging.getLogger("marac.anything").info("not shown")
        (line,) = stream.getvalue().splitlines()
        assert json.loads(line)["message"] == "hello world"
        configure_json_logging("nonsense", stream)
        assert root.level == logging.INFO
    finally:
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)


def test_fields_passed_with_log_fields_are_fields_of_their_own(
    capture: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = capture
    logger.info(
        "audit checkpoint %s",
        "marac_audit_1_12",
        extra=log_fields(audit_seq=12, audit_link="3f9a", level="not this"),
    )
    (line,) = lines(stream)
    assert line["audit_seq"] == 12 and line["audit_link"] == "3f9a"
    assert line["message"] == "audit checkpoint marac_audit_1_12"
    assert line["level"] == "INFO"  # a field never replaces the line's own

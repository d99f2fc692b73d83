"""One button vocabulary: every kind has a handler, every handler a kind, no data by hand."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from telegram.ext import (
    ApplicationBuilder,
    BaseHandler,
    CallbackQueryHandler,
    ConversationHandler,
    DictPersistence,
)

from bot.adapter.application import register_handlers
from bot.buttons import KINDS, SERVICE_KINDS, action_buttons, attendance_buttons, kind
from bot.callbacks import parse
from handlers.stale_buttons import refuse_unrecognised

ROOT = Path(__file__).resolve().parents[2]


def _callback_handlers(
    handlers: list[BaseHandler[Any, Any, Any]],
) -> list[CallbackQueryHandler[Any, Any]]:
    found: list[CallbackQueryHandler[Any, Any]] = []
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            nested = [*handler.entry_points, *handler.fallbacks]
            for state in handler.states.values():
                nested += state
            found += _callback_handlers(nested)
        elif (
            isinstance(handler, CallbackQueryHandler)
            and handler.callback is not refuse_unrecognised
        ):
            found.append(handler)
    return found


def _patterns() -> list[re.Pattern[str]]:
    application = (
        ApplicationBuilder()
        .token("123456:TEST-buttons-abcdefghijklmnopqrstuvwxyz")
        .persistence(DictPersistence())  # the handlers' conversations are persistent
        .build()
    )
    register_handlers(application)  # type: ignore[arg-type]
    handlers = [h for group in application.handlers.values() for h in group]
    patterns = []
    for handler in _callback_handlers(handlers):
        assert isinstance(handler.pattern, re.Pattern), handler.callback
        patterns.append(handler.pattern)
    return patterns


def _sample(area: str, action: str) -> str:
    registered = KINDS[(area, action)]
    return registered.data(*[1] * registered.ids)


def test_every_registered_button_is_answered() -> None:
    patterns = _patterns()
    unanswered = [key for key in KINDS if not any(p.match(_sample(*key)) for p in patterns)]
    assert not unanswered, f"buttons nothing answers: {unanswered}"


def test_every_handler_answers_registered_buttons() -> None:
    for found in _patterns():
        assert any(found.match(_sample(*key)) for key in KINDS), found.pattern


def test_services_queue_buttons_only_from_the_vocabulary() -> None:
    hand_made = re.compile(r"""f?["'][a-z]{2,12}:[a-z]{1,12}:\{""")
    offenders = [
        f"{path.name}:{number}"
        for path in sorted((ROOT / "bot" / "services").rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if hand_made.search(line)
    ]
    assert not offenders, offenders


def test_a_kind_checks_its_ids_and_round_trips() -> None:
    data = kind("act", "pg").data(10, 20)
    parsed = parse(data)
    assert parsed is not None and (parsed.area, parsed.action, parsed.ids) == (
        "act",
        "pg",
        (10, 20),
    )
    with pytest.raises(ValueError, match="carries 2 id"):
        kind("act", "pg").data(10)
    with pytest.raises(ValueError, match="no button xyz:abc"):
        kind("xyz", "abc")


def test_the_shared_keyboards_use_service_kinds() -> None:
    shared = {(k.area, k.action) for k in SERVICE_KINDS}
    for rows in (action_buttons(7), attendance_buttons(8)):
        for row in rows:
            for _, data in row:
                parsed = parse(data)
                assert parsed is not None and (parsed.area, parsed.action) in shared

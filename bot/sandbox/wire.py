"""Reading the Bot API's parameters as Telegram does: numbers, flags and JSON, text and its
entities, keyboards."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Mapping
from typing import Final

from bot.sandbox.records import (
    Button,
    JSONDict,
    UploadedFile,
    _bad_request,
    _keyboard_button_text,
)

MAX_CALLBACK_DATA_BYTES: Final = 64


# PTB form-encodes every non-string value as JSON text, so each parameter must be decoded by
# what it means, never by what it looks like: a text of "123" must stay a string.
_INT_PARAMS: Final = frozenset(
    {
        "message_id",
        "offset",
        "limit",
        "user_id",
        "cache_time",
        "max_connections",
        "message_thread_id",
        "reply_to_message_id",
    }
)


_FLOAT_PARAMS: Final = frozenset({"timeout"})


_BOOL_PARAMS: Final = frozenset(
    {
        "protect_content",
        "disable_notification",
        "show_alert",
        "drop_pending_updates",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "disable_content_type_detection",
        "allow_paid_broadcast",
    }
)


_JSON_PARAMS: Final = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "entities",
        "caption_entities",
        "menu_button",
    }
)


_FILE_PARAMS: Final = frozenset({"document", "thumbnail"})


def _coerce_int(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise _bad_request(f'parameter "{name}" must be an integer')
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    raise _bad_request(f'parameter "{name}" must be an integer')


def _coerce_float(name: str, value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return float(value.strip())
    raise _bad_request(f'parameter "{name}" must be a number')


def _coerce_bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "false", "0", ""}:
        return value.strip().lower() in {"true", "1"}
    raise _bad_request(f'parameter "{name}" must be a boolean')


def _coerce_json(name: str, value: object) -> object:
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        if name == "reply_markup":
            raise _bad_request("can't parse reply keyboard markup JSON object") from None
        raise _bad_request(f"can't parse {name} JSON object") from None


def _coerce_param(name: str, value: object, files: Mapping[str, UploadedFile]) -> object:
    if isinstance(value, UploadedFile):
        return value
    if name in _FILE_PARAMS and isinstance(value, str) and value.startswith("attach://"):
        part = files.get(value.removeprefix("attach://"))
        if part is None:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        return part
    if name == "chat_id":
        if isinstance(value, str):
            with contextlib.suppress(ValueError):
                return int(value.strip())
            return value
        return value
    if name in _INT_PARAMS:
        return _coerce_int(name, value)
    if name in _FLOAT_PARAMS:
        return _coerce_float(name, value)
    if name in _BOOL_PARAMS:
        return _coerce_bool(name, value)
    if name in _JSON_PARAMS:
        return _coerce_json(name, value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _u16(text: str) -> int:
    """Telegram measures entity offsets in UTF-16 code units, not code points."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _strip_text(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Trim surrounding whitespace and clip entities to match, as Telegram does on send."""
    lead16 = _u16(text[: len(text) - len(text.lstrip())])
    stripped = text.strip()
    total16 = _u16(stripped)
    clipped: list[JSONDict] = []
    for entity in entities:
        start = max(int(entity["offset"]) - lead16, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - lead16, total16)
        if end > start:
            clipped.append({**entity, "offset": start, "length": end - start})
    return stripped, clipped


_COMMAND_RE: Final = re.compile(r"(?<![\w/@])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?")


_MENTION_RE: Final = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{5,32}")


_URL_RE: Final = re.compile(r"https?://[^\s<>\"]+[^\s<>\".,;:!?)\]'}]")


def detect_entities(text: str) -> list[JSONDict]:
    """Entities Telegram attaches to plain user text; PTB's command filters rely on these."""
    found: list[JSONDict] = []
    for kind, pattern in (("bot_command", _COMMAND_RE), ("mention", _MENTION_RE), ("url", _URL_RE)):
        for match in pattern.finditer(text):
            found.append(
                {
                    "type": kind,
                    "offset": _u16(text[: match.start()]),
                    "length": _u16(match.group(0)),
                }
            )
    return sorted(found, key=lambda e: (e["offset"], -e["length"]))


def parse_reply_markup(
    value: object, *, inline_only: bool = False
) -> tuple[JSONDict | None, list[list[Button]]]:
    """Validate reply_markup like Telegram and return it normalised plus its inline buttons."""
    if value is None:
        return None, []
    if not isinstance(value, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        rows = value["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad_request(
                'field "inline_keyboard" of the InlineKeyboardMarkup should be an Array of Arrays'
            )
        buttons: list[list[Button]] = []
        normalised: list[list[JSONDict]] = []
        for row in rows:
            button_row: list[Button] = []
            raw_row: list[JSONDict] = []
            for raw in row:
                button_row.append(_parse_inline_button(raw))
                raw_row.append(dict(raw))
            if button_row:
                buttons.append(button_row)
                normalised.append(raw_row)
        if not buttons:
            return None, []
        return {"inline_keyboard": normalised}, buttons
    if inline_only:
        raise _bad_request("inline keyboard expected")
    if "keyboard" in value:
        rows = value["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
            raise _bad_request(
                'field "keyboard" of the ReplyKeyboardMarkup should be an Array of Arrays'
            )
        for row in rows:
            for raw in row:
                if not _keyboard_button_text(raw):
                    raise _bad_request("keyboard button text must be non-empty")
        return dict(value), []
    if value.get("remove_keyboard") is True or value.get("force_reply") is True:
        return dict(value), []
    raise _bad_request("can't parse reply keyboard markup JSON object")


def _parse_inline_button(raw: object) -> Button:
    if not isinstance(raw, dict):
        raise _bad_request(
            "can't parse inline keyboard button: InlineKeyboardButton must be an Object"
        )
    text = raw.get("text")
    if not isinstance(text, str):
        raise _bad_request(
            'can\'t parse inline keyboard button: Field "text" must be of type String'
        )
    data = raw.get("callback_data")
    if data is not None and (
        not isinstance(data, str) or not data or len(data.encode("utf-8")) > MAX_CALLBACK_DATA_BYTES
    ):
        raise _bad_request("BUTTON_DATA_INVALID")
    url = raw.get("url")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://", "tg://"))
    ):
        raise _bad_request("BUTTON_URL_INVALID")
    web_app = raw.get("web_app")
    web_app_url = None
    if web_app is not None:
        # Telegram opens Mini Apps over HTTPS only, and only from a button with a URL.
        web_app_url = web_app.get("url") if isinstance(web_app, dict) else None
        if not isinstance(web_app_url, str) or not web_app_url.startswith("https://"):
            raise _bad_request("BUTTON_URL_INVALID")
    actions = {
        "callback_data",
        "url",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    }
    if not actions & raw.keys():
        raise _bad_request(
            "can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard"
        )
    return Button(text=text, callback_data=data, url=url, web_app=web_app_url)

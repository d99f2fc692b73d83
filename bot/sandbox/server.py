"""A local, in-process stand-in for the Telegram Bot API.

The real python-telegram-bot ``Application`` talks to this server over genuine HTTP on
127.0.0.1, so end-to-end tests exercise PTB's request encoding, error mapping and polling loop
exactly as production does, while every message stays local and is recorded for assertions.

Validation mirrors Telegram's own error texts where we know them, because the point of the
stand-in is to make the bot fail here the way it would fail in front of real users.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import mimetypes
import re
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from aiohttp import web

if TYPE_CHECKING:
    from bot.sandbox.driver import Driver

JSONDict = dict[str, Any]
_T = TypeVar("_T")

DEFAULT_TOKEN: Final = "123456:TEST-standin-token-abcdefghijklmnopqrstuv"
MAX_TEXT_LENGTH: Final = 4096
MAX_CAPTION_LENGTH: Final = 1024
MAX_CALLBACK_DATA_BYTES: Final = 64
MAX_COMMANDS: Final = 100
MAX_CALLBACK_ANSWER_LENGTH: Final = 200
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
NOT_MODIFIED: Final = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD: Final = "query is too old and response timeout expired or query ID is invalid"
BLOCKED: Final = "Forbidden: bot was blocked by the user"
# Telegram leaves these out unless the bot asks for them explicitly via allowed_updates.
_OPT_IN_UPDATES: Final = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
_CHAT_ACTIONS: Final = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)

EventKind = Literal[
    "user_message",
    "user_press",
    "user_blocked",
    "user_unblocked",
    "bot_message",
    "bot_document",
    "bot_edit",
    "bot_markup_edit",
    "bot_delete",
    "callback_answer",
    "api_error",
]


# --------------------------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------------------------


class ApiError(Exception):
    """A Telegram-shaped failure; raised deep inside validation so handlers read linearly."""

    def __init__(self, status: int, description: str, *, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.retry_after = retry_after

    def payload(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


@dataclass(frozen=True)
class UploadedFile:
    """One multipart file part, kept whole so the bot's uploads can be inspected byte for byte."""

    field_name: str
    filename: str
    content: bytes
    mime_type: str


@dataclass(frozen=True)
class Button:
    """An inline keyboard button, reduced to what a user can see and what pressing it sends."""

    text: str
    callback_data: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Document:
    """A file the bot sent; ``content`` is the exact bytes so exports can be checked."""

    file_id: str
    file_unique_id: str
    filename: str
    content: bytes
    mime_type: str
    file_path: str

    @property
    def size(self) -> int:
        return len(self.content)


@dataclass(frozen=True)
class MessageVersion:
    """A superseded state of an edited message, kept so tests can see what users saw before."""

    text: str | None
    entities: tuple[JSONDict, ...]
    reply_markup: JSONDict | None
    replaced_at: float


@dataclass
class RecordedMessage:
    """One message in a chat as Telegram would hold it.

    Instances are live: later edits and deletions by the bot update the same object, and
    ``history`` keeps the earlier versions.
    """

    chat_id: int
    message_id: int
    from_bot: bool
    sender_id: int
    text: str | None
    buttons: list[list[Button]] = field(default_factory=list)
    protect_content: bool = False
    document: Document | None = None
    deleted: bool = False
    edited: bool = False
    sent_at: float = 0.0
    entities: list[JSONDict] = field(default_factory=list)
    source_text: str | None = None
    parse_mode: str | None = None
    reply_markup: JSONDict | None = None
    disable_notification: bool = False
    reply_to_message_id: int | None = None
    link_preview_options: JSONDict | None = None
    history: list[MessageVersion] = field(default_factory=list)
    edited_at: float | None = None
    deleted_at: float | None = None

    @property
    def inline_markup(self) -> JSONDict | None:
        if self.reply_markup is not None and "inline_keyboard" in self.reply_markup:
            return self.reply_markup
        return None

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        if self.reply_markup is None or "keyboard" not in self.reply_markup:
            return None
        return [[_keyboard_button_text(b) for b in row] for row in self.reply_markup["keyboard"]]

    @property
    def button_texts(self) -> list[str]:
        return [button.text for row in self.buttons for button in row]

    def find_button(self, text_or_data: str) -> Button | None:
        """Match on visible text first, because that is how a person picks a button."""
        flat = [button for row in self.buttons for button in row]
        for button in flat:
            if button.text == text_or_data:
                return button
        for button in flat:
            if button.callback_data == text_or_data:
                return button
        return None

    def summary(self) -> str:
        who = "bot" if self.from_bot else f"user {self.sender_id}"
        body = repr(_shorten(self.text or "", 80)) if self.text is not None else "(no text)"
        if self.document is not None:
            body = f"[document {self.document.filename}] {body}"
        flags = "".join([" (deleted)" if self.deleted else "", " (edited)" if self.edited else ""])
        buttons = " ".join(f"[{t}]" for t in self.button_texts)
        return f"#{self.message_id} {who}: {body}{flags}{' ' + buttons if buttons else ''}"


@dataclass
class UserRecord:
    """A simulated Telegram user; ``label`` is a role shown in transcripts only."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    label: str | None = None
    blocked: bool = False

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}" if self.last_name else self.first_name

    @property
    def labelled_name(self) -> str:
        return f"{self.display_name} ({self.label})" if self.label else self.display_name


@dataclass
class ChatRecord:
    """A chat and its full message history.

    Message ids are dense from 1 (shared by user and bot messages, as on Telegram), so a
    message is found by index rather than by search.
    """

    id: int
    type: Literal["private", "group"]
    title: str | None = None
    messages: list[RecordedMessage] = field(default_factory=list)

    @property
    def last_message_id(self) -> int:
        return len(self.messages)

    def get(self, message_id: int) -> RecordedMessage | None:
        if 1 <= message_id <= len(self.messages):
            return self.messages[message_id - 1]
        return None


@dataclass
class CallbackAnswer:
    """What the bot said in answerCallbackQuery, tied back to the press that caused it."""

    query_id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    text: str | None
    show_alert: bool
    url: str | None
    answered_at: float


@dataclass
class CallbackQueryRecord:
    """A button press sent to the bot; ``answer`` is filled when the bot acknowledges it."""

    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    created_at: float
    answer: CallbackAnswer | None = None


@dataclass(frozen=True)
class ApiErrorRecord:
    """A failed Bot API call, kept because a silent 400 is the usual reason a test times out."""

    method: str
    params: JSONDict
    status: int
    description: str
    injected: bool
    at: float


@dataclass(frozen=True)
class TranscriptEvent:
    """One visible thing that happened, snapshotted so later edits do not rewrite the past."""

    index: int
    at: float
    kind: EventKind
    chat_id: int
    chat_label: str
    actor: str
    is_group: bool = False
    text: str | None = None
    message_id: int | None = None
    buttons: tuple[tuple[Button, ...], ...] = ()
    reply_keyboard: tuple[tuple[str, ...], ...] = ()
    keyboard_removed: bool = False
    document: Document | None = None
    show_alert: bool = False
    data: str | None = None
    method: str | None = None
    status: int | None = None
    injected: bool = False


CommandScopeKey = tuple[str, int | None, int | None]


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    remaining: int


# --------------------------------------------------------------------------------------------
# Parameter decoding
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Text, entities and markup
# --------------------------------------------------------------------------------------------


def _u16(text: str) -> int:
    """Telegram measures entity offsets in UTF-16 code units, not code points."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


class _MarkupError(Exception):
    pass


class _TextBuilder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.len16 = 0
        self.entities: list[JSONDict] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.len16 += _u16(text)

    def entity(self, kind: str, start16: int, **extra: Any) -> None:
        length = self.len16 - start16
        if length > 0:
            self.entities.append({"type": kind, "offset": start16, "length": length, **extra})

    def result(self) -> tuple[str, list[JSONDict]]:
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


_HTML_TAGS: Final = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_HTML_ENTITY_RE: Final = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]{2,8});")
_HTML_NAMED: Final = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}


def _decode_html_entities(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith(("#x", "#X")):
            code = int(name[2:], 16)
        elif name.startswith("#"):
            code = int(name[1:])
        else:
            return _HTML_NAMED.get(name, match.group(0))
        return chr(code) if 0 < code < 0x110000 else match.group(0)

    return _HTML_ENTITY_RE.sub(repl, text)


@dataclass
class _OpenTag:
    tag: str
    kind: str
    start16: int
    byte_offset: int
    attrs: dict[str, str]


def _parse_html(src: str) -> tuple[str, list[JSONDict]]:
    """Parse Telegram's HTML subset; deliberately strict, like Telegram's own parser."""
    out = _TextBuilder()
    stack: list[_OpenTag] = []
    i, n = 0, len(src)
    while i < n:
        ch = src[i]
        if ch == "&":
            match = _HTML_ENTITY_RE.match(src, i)
            if match:
                out.add(_decode_html_entities(match.group(0)))
                i = match.end()
            else:
                out.add("&")
                i += 1
            continue
        if ch != "<":
            out.add(ch)
            i += 1
            continue
        begin = i
        offset = _byte_offset(src, begin)
        if i + 1 < n and src[i + 1] == "/":
            if not stack:
                raise _MarkupError(f"Unexpected end tag at byte offset {offset}")
            j = i + 2
            while j < n and not src[j].isspace() and src[j] != ">":
                j += 1
            name = src[i + 2 : j].lower()
            while j < n and src[j].isspace():
                j += 1
            if j >= n or src[j] != ">":
                raise _MarkupError(f"Unclosed end tag at byte offset {offset}")
            top = stack[-1]
            if name and name != top.tag:
                raise _MarkupError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{top.tag}>", '
                    f'found "</{name}>"'
                )
            stack.pop()
            _close_html_tag(out, top, stack)
            i = j + 1
            continue
        j = i + 1
        while j < n and not src[j].isspace() and src[j] != ">":
            j += 1
        if j >= n:
            raise _MarkupError(f"Unclosed start tag at byte offset {offset}")
        name = src[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise _MarkupError(f'Unsupported start tag "{name}" at byte offset {offset}')
        attrs: dict[str, str] = {}
        while True:
            while j < n and src[j].isspace():
                j += 1
            if j >= n:
                raise _MarkupError(f"Unclosed start tag at byte offset {offset}")
            if src[j] == ">":
                break
            attr_begin = j
            while j < n and not src[j].isspace() and src[j] not in "=>":
                j += 1
            attr_name = src[attr_begin:j].lower()
            if not attr_name:
                raise _MarkupError(
                    f'Empty attribute name in the tag "{name}" at byte offset {offset}'
                )
            while j < n and src[j].isspace():
                j += 1
            if j >= n or src[j] != "=":
                if j < n and src[j] == ">":
                    attrs[attr_name] = ""
                    continue
                raise _MarkupError(
                    f'Expected equal sign in declaration of an attribute of the tag "{name}" '
                    f"at byte offset {offset}"
                )
            j += 1
            while j < n and src[j].isspace():
                j += 1
            if j >= n:
                raise _MarkupError(f"Unclosed start tag at byte offset {offset}")
            if src[j] in "\"'":
                end = src.find(src[j], j + 1)
                if end == -1:
                    raise _MarkupError(f"Unclosed start tag at byte offset {offset}")
                attrs[attr_name] = _decode_html_entities(src[j + 1 : end])
                j = end + 1
            else:
                value_begin = j
                while j < n and not src[j].isspace() and src[j] != ">":
                    j += 1
                attrs[attr_name] = _decode_html_entities(src[value_begin:j])
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise _MarkupError(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
        stack.append(_OpenTag(name, _HTML_TAGS[name], out.len16, offset, attrs))
        i = j + 1
    if stack:
        raise _MarkupError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    return out.result()


def _close_html_tag(out: _TextBuilder, tag: _OpenTag, stack: list[_OpenTag]) -> None:
    if tag.kind == "text_link":
        href = tag.attrs.get("href", "")
        if href:
            out.entity("text_link", tag.start16, url=href)
        return
    if tag.kind == "code" and stack and stack[-1].kind == "pre":
        language = tag.attrs.get("class", "")
        if language.startswith("language-"):
            stack[-1].attrs["language"] = language.removeprefix("language-")
            return
    if tag.kind == "pre" and tag.attrs.get("language"):
        out.entity("pre", tag.start16, language=tag.attrs["language"])
        return
    if tag.kind == "custom_emoji":
        out.entity("custom_emoji", tag.start16, custom_emoji_id=tag.attrs.get("emoji-id", ""))
        return
    if tag.kind == "blockquote" and "expandable" in tag.attrs:
        out.entity("expandable_blockquote", tag.start16)
        return
    out.entity(tag.kind, tag.start16)


_MDV2_RESERVED: Final = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES: Final = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "blockquote": "BlockQuote",
}


@dataclass
class _OpenMd:
    kind: str
    start16: int
    byte_offset: int
    language: str = ""


def _parse_markdown_v2(src: str) -> tuple[str, list[JSONDict]]:
    """Parse MarkdownV2, rejecting unescaped reserved characters exactly where Telegram does."""
    out = _TextBuilder()
    stack: list[_OpenMd] = []
    i, n = 0, len(src)

    def toggle(kind: str, width: int) -> None:
        if stack and stack[-1].kind == kind:
            top = stack.pop()
            out.entity(kind, top.start16)
        else:
            stack.append(_OpenMd(kind, out.len16, _byte_offset(src, i)))

    while i < n:
        ch = src[i]
        top = stack[-1].kind if stack else None
        if ch == "\\" and i + 1 < n and 0 < ord(src[i + 1]) <= 126:
            out.add(src[i + 1])
            i += 2
            continue
        if top in {"code", "pre"}:
            if top == "pre" and src.startswith("```", i):
                opened = stack.pop()
                extra = {"language": opened.language} if opened.language else {}
                out.entity("pre", opened.start16, **extra)
                i += 3
            elif top == "code" and ch == "`":
                out.entity("code", stack.pop().start16)
                i += 1
            else:
                out.add(ch)
                i += 1
            continue
        if ch == "\n" and top == "blockquote" and not src.startswith(">", i + 1):
            out.entity("blockquote", stack.pop().start16)
            out.add(ch)
            i += 1
            continue
        if ch not in _MDV2_RESERVED:
            out.add(ch)
            i += 1
            continue
        if ch == "*":
            toggle("bold", 1)
            i += 1
        elif ch == "_":
            if src.startswith("__", i):
                toggle("underline", 2)
                i += 2
            else:
                toggle("italic", 1)
                i += 1
        elif ch == "~":
            toggle("strikethrough", 1)
            i += 1
        elif ch == "|" and src.startswith("||", i):
            toggle("spoiler", 2)
            i += 2
        elif ch == "`":
            if src.startswith("```", i):
                j = i + 3
                newline = src.find("\n", j)
                language = ""
                if newline != -1 and not any(c.isspace() for c in src[j:newline]):
                    closing = src.find("```", j)
                    if closing == -1 or closing > newline:
                        language = src[j:newline]
                        j = newline + 1
                stack.append(_OpenMd("pre", out.len16, _byte_offset(src, i), language))
                i = j
            else:
                stack.append(_OpenMd("code", out.len16, _byte_offset(src, i)))
                i += 1
        elif ch == "[":
            stack.append(_OpenMd("text_link", out.len16, _byte_offset(src, i)))
            i += 1
        elif ch == "]" and top == "text_link":
            opened = stack.pop()
            i += 1
            if i < n and src[i] == "(":
                j = i + 1
                url_chars: list[str] = []
                while j < n and src[j] != ")":
                    if src[j] == "\\" and j + 1 < n:
                        j += 1
                    url_chars.append(src[j])
                    j += 1
                if j >= n:
                    raise _MarkupError(
                        f"Can't find end of a URL at byte offset {_byte_offset(src, i)}"
                    )
                url = "".join(url_chars)
                if url:
                    out.entity("text_link", opened.start16, url=url)
                i = j + 1
        elif ch == ">" and (i == 0 or src[i - 1] == "\n"):
            if top != "blockquote":
                stack.append(_OpenMd("blockquote", out.len16, _byte_offset(src, i)))
            i += 1
        else:
            raise _MarkupError(
                f"Character '{ch}' is reserved and must be escaped with the preceding '\\'"
            )
    if stack and stack[-1].kind == "blockquote":
        out.entity("blockquote", stack.pop().start16)
    if stack:
        opened = stack[-1]
        raise _MarkupError(
            f"Can't find end of {_MDV2_NAMES[opened.kind]} entity at byte offset "
            f"{opened.byte_offset}"
        )
    return out.result()


def _parse_markdown(src: str) -> tuple[str, list[JSONDict]]:
    """Parse legacy Markdown, where entities cannot nest and only ``_*`[`` are special."""
    out = _TextBuilder()
    i, n = 0, len(src)
    kinds = {"*": "bold", "_": "italic", "`": "code"}
    while i < n:
        ch = src[i]
        if ch == "\\" and i + 1 < n and src[i + 1] in "_*`[":
            out.add(src[i + 1])
            i += 2
            continue
        if ch not in "_*`[":
            out.add(ch)
            i += 1
            continue
        unclosed = _MarkupError(
            f"Can't find end of the entity starting at byte offset {_byte_offset(src, i)}"
        )
        start = out.len16
        if src.startswith("```", i):
            end = src.find("```", i + 3)
            if end == -1:
                raise unclosed
            body = src[i + 3 : end]
            language = ""
            first, sep, rest = body.partition("\n")
            if sep and first and not any(c.isspace() for c in first):
                language, body = first, rest
            out.add(body)
            if language:
                out.entity("pre", start, language=language)
            else:
                out.entity("pre", start)
            i = end + 3
        elif ch == "[":
            close = src.find("]", i + 1)
            if close == -1:
                raise unclosed
            out.add(src[i + 1 : close])
            i = close + 1
            if src.startswith("(", i):
                end = src.find(")", i + 1)
                if end == -1:
                    raise unclosed
                url = src[i + 1 : end]
                if url:
                    out.entity("text_link", start, url=url)
                i = end + 1
        else:
            end = src.find(ch, i + 1)
            if end == -1:
                raise unclosed
            out.add(src[i + 1 : end])
            out.entity(kinds[ch], start)
            i = end + 1
    return out.result()


def parse_formatted_text(text: str, parse_mode: str | None) -> tuple[str, list[JSONDict]]:
    """Turn what the bot sent into what the user sees: plain text plus entities.

    Raises ApiError with Telegram's "can't parse entities" wording on malformed markup, so an
    unescaped user-supplied name in an HTML message fails here just as it would in production.
    """
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    try:
        if mode == "html":
            return _parse_html(text)
        if mode == "markdownv2":
            return _parse_markdown_v2(text)
        if mode == "markdown":
            return _parse_markdown(text)
    except _MarkupError as exc:
        raise _bad_request(f"can't parse entities: {exc}") from None
    raise _bad_request("unsupported parse_mode")


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


def _keyboard_button_text(button: object) -> str:
    if isinstance(button, dict):
        return str(button.get("text", ""))
    return str(button)


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
    return Button(text=text, callback_data=data, url=url)


# --------------------------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------------------------

_Handler = Callable[[JSONDict], Awaitable[object]]


class BotApiStandIn:
    """Answers the Bot API methods the bot uses and records everything it is asked to do.

    All state lives in plain attributes and is mutated without awaiting in between, so test
    code in the same event loop always sees a consistent picture.
    """

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = "marac_demo_bot",
        bot_id: int = 123456,
        host: str = "127.0.0.1",
        port: int = 0,
        bot_first_name: str = "MARAC Demo Bot",
        group_privacy: bool = True,
        callback_query_ttl: float = 15.0,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        self.bot_id = bot_id
        self.bot_first_name = bot_first_name
        self.host = host
        self.port = port
        # With privacy mode on (Telegram's default) groups only deliver commands and replies.
        self.group_privacy = group_privacy
        self.callback_query_ttl = callback_query_ttl

        self.calls: list[tuple[str, JSONDict]] = []
        self.counters: Counter[str] = Counter()
        self.errors: list[ApiErrorRecord] = []
        self.events: list[TranscriptEvent] = []
        self.users: dict[int, UserRecord] = {}
        self.chats: dict[int, ChatRecord] = {}
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.callback_answers: list[CallbackAnswer] = []
        self.commands: dict[tuple[CommandScopeKey, str], list[tuple[str, str]]] = {}
        self.chat_actions: list[tuple[int, str]] = []
        self.files: dict[str, Document] = {}
        self.bot_settings: dict[str, JSONDict] = {}
        self.webhook_url: str = ""
        self.allowed_updates: frozenset[str] | None = None

        self._updates: list[tuple[int, JSONDict]] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(4_000_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._failures: dict[str, deque[_Failure]] = {}
        self._delays: dict[str, float] = {}
        self._latency = 0.0
        self._change_event = asyncio.Event()
        self._closed_event: asyncio.Event | None = None
        self._closing = False
        self._poller: object | None = None
        self._runner: web.AppRunner | None = None
        self._url: str | None = None
        self._driver: Driver | None = None

        self._methods: dict[str, tuple[str, _Handler]] = {}
        for name, handler in (
            ("getMe", self._get_me),
            ("getUpdates", self._get_updates),
            ("deleteWebhook", self._delete_webhook),
            ("setWebhook", self._set_webhook),
            ("getWebhookInfo", self._get_webhook_info),
            ("logOut", self._return_true),
            ("close", self._return_true),
            ("sendMessage", self._send_message),
            ("editMessageText", self._edit_message_text),
            ("editMessageCaption", self._edit_message_caption),
            ("editMessageReplyMarkup", self._edit_message_reply_markup),
            ("answerCallbackQuery", self._answer_callback_query),
            ("deleteMessage", self._delete_message),
            ("setMyCommands", self._set_my_commands),
            ("getMyCommands", self._get_my_commands),
            ("deleteMyCommands", self._delete_my_commands),
            ("sendDocument", self._send_document),
            ("sendChatAction", self._send_chat_action),
            ("getChat", self._get_chat),
            ("getFile", self._get_file),
            ("setMyDescription", self._setting_recorder("setMyDescription")),
            ("setMyShortDescription", self._setting_recorder("setMyShortDescription")),
            ("setMyName", self._setting_recorder("setMyName")),
            ("setChatMenuButton", self._setting_recorder("setChatMenuButton")),
        ):
            self._methods[name.lower()] = (name, handler)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("stand-in already started")
        app = web.Application(client_max_size=MAX_UPLOAD_BYTES + 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._closing = False
        self._closed_event = asyncio.Event()
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        await site.start()
        self._runner = runner
        address = runner.addresses[0]
        self.port = int(address[1])
        self._url = f"http://{self.host}:{self.port}"

    async def stop(self) -> None:
        if self._runner is None:
            return
        # Wake long polls and slowed-down calls first so shutdown does not wait them out.
        self._closing = True
        if self._closed_event is not None:
            self._closed_event.set()
        self._changed()
        runner, self._runner = self._runner, None
        await runner.cleanup()

    async def __aenter__(self) -> BotApiStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        if self._url is None:
            raise RuntimeError("stand-in not started; await start() first")
        return self._url

    @property
    def base_url(self) -> str:
        """What to pass to ``ApplicationBuilder.base_url``; PTB appends the token itself."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    def driver(self) -> Driver:
        from bot.sandbox.driver import Driver

        if self._driver is None:
            self._driver = Driver(self)
        return self._driver

    # -- fault injection and inspection ----------------------------------------------------

    def _canonical(self, method: str) -> str:
        entry = self._methods.get(method.lower())
        if entry is None:
            raise ValueError(f"unknown Bot API method {method!r}")
        return entry[0]

    def inject_failure(
        self,
        method: str,
        *,
        status: int,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls of ``method`` fail; queued injections run in order."""
        name = self._canonical(method)
        if status == 429 and not retry_after:
            retry_after = 1  # PTB only raises RetryAfter for a truthy retry_after
        if description is None:
            description = {
                400: "Bad Request: injected failure",
                403: BLOCKED,
                429: f"Too Many Requests: retry after {retry_after}",
                500: "Internal Server Error",
                502: "Bad Gateway",
            }.get(status, f"Injected failure {status}")
        self._failures.setdefault(name, deque()).append(
            _Failure(status, description, retry_after, times)
        )

    def clear_failures(self) -> None:
        self._failures.clear()

    def set_delay(self, method: str, seconds: float | None) -> None:
        """Slow a method down; the call still takes effect even if the client gives up."""
        name = self._canonical(method)
        if seconds:
            self._delays[name] = seconds
        else:
            self._delays.pop(name, None)

    def set_latency(self, seconds: float) -> None:
        """Make every method but getUpdates take this long, as Telegram's round trip does.

        A method slowed with ``set_delay`` takes that delay instead.
        """
        self._latency = max(seconds, 0.0)

    def call_count(self, method: str) -> int:
        return self.counters[self._canonical(method)]

    def calls_of(self, method: str) -> list[JSONDict]:
        name = self._canonical(method)
        return [params for called, params in self.calls if called == name]

    @property
    def pending_updates(self) -> int:
        return len(self._updates)

    def messages(self, chat_id: int) -> list[RecordedMessage]:
        chat = self.chats.get(chat_id)
        return list(chat.messages) if chat else []

    def commands_for(
        self, chat_id: int, *, user_id: int | None = None, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        """Resolve the command menu a user would see, following Telegram's scope fallback."""
        chat = self.chats.get(chat_id)
        if chat is None or chat.type == "private":
            scopes: list[CommandScopeKey] = [
                ("chat", chat_id, None),
                ("all_private_chats", None, None),
                ("default", None, None),
            ]
            user = self.users.get(chat_id)
            if language_code is None and user is not None:
                language_code = user.language_code
        else:
            scopes = [("chat_member", chat_id, user_id)] if user_id is not None else []
            scopes += [("chat", chat_id, None), ("all_group_chats", None, None)]
            scopes.append(("default", None, None))
        languages = [language_code, ""] if language_code else [""]
        for scope in scopes:
            for language in languages:
                found = self.commands.get((scope, language))
                if found is not None:
                    return list(found)
        return []

    async def wait_until(
        self,
        predicate: Callable[[], _T | None],
        timeout: float,  # noqa: ASYNC109 - a deadline argument reads better in test code
    ) -> _T | None:
        """Re-check ``predicate`` on every state change; None if it stays falsy until timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = self._change_event
            result = predicate()
            if result:
                return result
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    # -- the user side (driven by the Driver) ----------------------------------------------

    def register_user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        label: str | None = None,
    ) -> UserRecord:
        if user_id <= 0:
            raise ValueError("user ids are positive")
        user = self.users.get(user_id)
        if user is None:
            user = UserRecord(user_id, first_name, last_name, username, language_code, label)
            self.users[user_id] = user
            self.chats[user_id] = ChatRecord(id=user_id, type="private")
        else:
            user.first_name, user.last_name, user.username = first_name, last_name, username
            user.language_code = language_code
            if label is not None:
                user.label = label
        return user

    def register_group(self, chat_id: int, title: str) -> ChatRecord:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = ChatRecord(id=chat_id, type="group", title=title)
            self.chats[chat_id] = chat
        else:
            chat.title = title
        return chat

    def post_user_message(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        reply_to_message_id: int | None = None,
    ) -> RecordedMessage:
        user = self._user(user_id)
        chat = self.chats.get(chat_id if chat_id is not None else user_id)
        if chat is None:
            raise ValueError(f"chat {chat_id} is not registered; use register_group() first")
        if chat.type == "private" and chat.id != user_id:
            raise ValueError("a user can only write in their own private chat")
        if not text.strip():
            raise ValueError("Telegram clients cannot send empty messages")
        if user.blocked and chat.type == "private":
            # Writing again means pressing "Restart", which unblocks the bot.
            self.set_blocked(user_id, False)
        if reply_to_message_id is not None and chat.get(reply_to_message_id) is None:
            raise ValueError(f"no message {reply_to_message_id} in chat {chat.id}")
        msg = self._add_message(
            chat,
            from_bot=False,
            sender_id=user_id,
            text=text,
            entities=detect_entities(text),
            reply_to_message_id=reply_to_message_id,
        )
        self._event(
            "user_message", chat, actor=user.labelled_name, text=text, message_id=msg.message_id
        )
        if self._delivers(chat, msg):
            self._enqueue({"message": self._message_json(msg)})
        return msg

    def press_callback(
        self, user_id: int, chat_id: int, message_id: int, data: str
    ) -> CallbackQueryRecord:
        user = self._user(user_id)
        chat = self.chats.get(chat_id)
        msg = chat.get(message_id) if chat else None
        if chat is None or msg is None or msg.deleted:
            raise ValueError(f"no visible message {message_id} in chat {chat_id}")
        if not msg.from_bot:
            raise ValueError("only the bot's messages carry inline buttons")
        now = time.time()
        query = CallbackQueryRecord(
            str(next(self._query_ids)), user_id, chat_id, message_id, data, now
        )
        self.callback_queries[query.id] = query
        label = next((b.text for row in msg.buttons for b in row if b.callback_data == data), None)
        self._event(
            "user_press",
            chat,
            actor=user.labelled_name,
            text=label,
            data=data,
            message_id=message_id,
        )
        self._enqueue(
            {
                "callback_query": {
                    "id": query.id,
                    "from": self._user_json(user),
                    "message": self._message_json(msg),
                    "chat_instance": str(abs(chat.id) * 7919 + 17),
                    "data": data,
                }
            }
        )
        return query

    def set_blocked(self, user_id: int, blocked: bool) -> None:
        """Block or unblock the bot and send the my_chat_member update Telegram would send."""
        user = self._user(user_id)
        if user.blocked == blocked:
            return
        user.blocked = blocked
        chat = self.chats[user_id]
        self._event("user_blocked" if blocked else "user_unblocked", chat, actor=user.labelled_name)
        bot_json = self._bot_json()
        member = {"status": "member", "user": bot_json}
        kicked = {"status": "kicked", "user": bot_json, "until_date": 0}
        self._enqueue(
            {
                "my_chat_member": {
                    "chat": self._chat_json(chat),
                    "from": self._user_json(user),
                    "date": int(time.time()),
                    "old_chat_member": member if blocked else kicked,
                    "new_chat_member": kicked if blocked else member,
                }
            }
        )

    # -- internals -------------------------------------------------------------------------

    def _user(self, user_id: int) -> UserRecord:
        user = self.users.get(user_id)
        if user is None:
            raise ValueError(f"user {user_id} is not registered with the stand-in")
        return user

    def _changed(self) -> None:
        event, self._change_event = self._change_event, asyncio.Event()
        event.set()

    def _chat_label(self, chat: ChatRecord) -> str:
        if chat.type == "private":
            user = self.users.get(chat.id)
            return user.display_name if user else str(chat.id)
        return f"group “{chat.title}”"

    def _event(self, kind: EventKind, chat: ChatRecord, *, actor: str, **fields: Any) -> None:
        self.events.append(
            TranscriptEvent(
                index=len(self.events),
                at=time.time(),
                kind=kind,
                chat_id=chat.id,
                chat_label=self._chat_label(chat),
                actor=actor,
                is_group=chat.type != "private",
                **fields,
            )
        )

    def _message_event(self, kind: EventKind, msg: RecordedMessage) -> None:
        chat = self.chats[msg.chat_id]
        self._event(
            kind,
            chat,
            actor="bot",
            text=msg.text,
            message_id=msg.message_id,
            buttons=tuple(tuple(row) for row in msg.buttons),
            reply_keyboard=tuple(tuple(row) for row in msg.reply_keyboard or []),
            keyboard_removed=bool(msg.reply_markup and msg.reply_markup.get("remove_keyboard")),
            document=msg.document,
        )

    def _enqueue(self, payload: JSONDict) -> None:
        update_id = next(self._update_ids)
        self._updates.append((update_id, {"update_id": update_id, **payload}))
        self._changed()

    def _delivers(self, chat: ChatRecord, msg: RecordedMessage) -> bool:
        if chat.type == "private" or not self.group_privacy:
            return True
        if msg.reply_to_message_id is not None:
            target = chat.get(msg.reply_to_message_id)
            if target is not None and target.from_bot:
                return True
        first = msg.entities[0] if msg.entities else None
        if first and first["type"] == "bot_command" and first["offset"] == 0:
            command = (msg.text or "").split()[0]
            _, _, addressee = command.partition("@")
            return not addressee or addressee.lower() == self.bot_username.lower()
        return False

    def _add_message(
        self,
        chat: ChatRecord,
        *,
        from_bot: bool,
        sender_id: int,
        text: str | None,
        **fields: Any,
    ) -> RecordedMessage:
        msg = RecordedMessage(
            chat_id=chat.id,
            message_id=chat.last_message_id + 1,
            from_bot=from_bot,
            sender_id=sender_id,
            text=text,
            sent_at=time.time(),
            **fields,
        )
        chat.messages.append(msg)
        self._changed()
        return msg

    def _bot_json(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _user_json(self, user: UserRecord) -> JSONDict:
        data: JSONDict = {"id": user.id, "is_bot": False, "first_name": user.first_name}
        if user.last_name:
            data["last_name"] = user.last_name
        if user.username:
            data["username"] = user.username
        if user.language_code:
            data["language_code"] = user.language_code
        return data

    def _chat_json(self, chat: ChatRecord) -> JSONDict:
        if chat.type == "group":
            return {"id": chat.id, "type": "group", "title": chat.title}
        user = self.users[chat.id]
        data: JSONDict = {"id": chat.id, "type": "private", "first_name": user.first_name}
        if user.last_name:
            data["last_name"] = user.last_name
        if user.username:
            data["username"] = user.username
        return data

    def _document_json(self, doc: Document) -> JSONDict:
        return {
            "file_id": doc.file_id,
            "file_unique_id": doc.file_unique_id,
            "file_name": doc.filename,
            "mime_type": doc.mime_type,
            "file_size": doc.size,
        }

    def _message_json(self, msg: RecordedMessage, *, nested: bool = False) -> JSONDict:
        chat = self.chats[msg.chat_id]
        sender = self._bot_json() if msg.from_bot else self._user_json(self.users[msg.sender_id])
        data: JSONDict = {
            "message_id": msg.message_id,
            "from": sender,
            "chat": self._chat_json(chat),
            "date": int(msg.sent_at),
        }
        if msg.document is not None:
            data["document"] = self._document_json(msg.document)
            if msg.text is not None:
                data["caption"] = msg.text
                if msg.entities:
                    data["caption_entities"] = msg.entities
        elif msg.text is not None:
            data["text"] = msg.text
            if msg.entities:
                data["entities"] = msg.entities
        if msg.inline_markup is not None:
            data["reply_markup"] = msg.inline_markup
        if msg.protect_content:
            data["has_protected_content"] = True
        if msg.edited_at is not None:
            data["edit_date"] = int(msg.edited_at)
        if msg.reply_to_message_id is not None and not nested:
            target = chat.get(msg.reply_to_message_id)
            if target is not None and not target.deleted:
                data["reply_to_message"] = self._message_json(target, nested=True)
        return data

    def _resolve_chat(self, value: object) -> ChatRecord:
        if value is None or value == "":
            raise _bad_request("chat_id is empty")
        chat = self.chats.get(value) if isinstance(value, int) else None
        if chat is None:
            raise _bad_request("chat not found")
        return chat

    def _writable_chat(self, params: JSONDict) -> ChatRecord:
        chat = self._resolve_chat(params.get("chat_id"))
        if chat.type == "private" and self.users[chat.id].blocked:
            raise ApiError(403, BLOCKED)
        return chat

    def _formatted(
        self,
        params: JSONDict,
        key: str,
        entities_key: str,
        *,
        limit: int,
        too_long: str,
        required: bool,
    ) -> tuple[str | None, list[JSONDict]]:
        raw = params.get(key)
        if raw is None or raw == "":
            if required:
                raise _bad_request("message text is empty")
            return None, []
        text = raw if isinstance(raw, str) else json.dumps(raw)
        parse_mode = params.get("parse_mode")
        if parse_mode:
            plain, entities = parse_formatted_text(text, str(parse_mode))
        else:
            given = params.get(entities_key)
            if given is not None and not (
                isinstance(given, list) and all(isinstance(e, dict) for e in given)
            ):
                raise _bad_request(f"can't parse {entities_key} JSON object")
            plain, entities = text, list(given or [])
        plain, entities = _strip_text(plain, entities)
        if not plain:
            if required:
                raise _bad_request("message text is empty")
            return None, []
        if len(plain) > limit:
            raise _bad_request(too_long)
        return plain, entities

    def _reply_target(self, chat: ChatRecord, params: JSONDict) -> int | None:
        target = params.get("reply_to_message_id")
        allow_missing = bool(params.get("allow_sending_without_reply"))
        reply = params.get("reply_parameters")
        if isinstance(reply, dict) and reply.get("message_id") is not None:
            target = _coerce_int("message_id", reply["message_id"])
            allow_missing = bool(reply.get("allow_sending_without_reply", allow_missing))
        if target is None:
            return None
        found = chat.get(int(target))
        if found is None or found.deleted:
            if allow_missing:
                return None
            raise _bad_request("message to be replied not found")
        return int(target)

    def _message_for_edit(self, params: JSONDict) -> RecordedMessage:
        if params.get("inline_message_id"):
            raise _bad_request("inline messages are not supported by the stand-in")
        chat = self._writable_chat(params)
        message_id = params.get("message_id")
        if message_id is None:
            raise _bad_request("message identifier is not specified")
        msg = chat.get(int(message_id))
        if msg is None or msg.deleted:
            raise _bad_request("message to edit not found")
        if not msg.from_bot:
            raise _bad_request("message can't be edited")
        return msg

    def _apply_edit(
        self,
        msg: RecordedMessage,
        *,
        text: str | None,
        entities: list[JSONDict],
        markup: JSONDict | None,
        buttons: list[list[Button]],
        params: JSONDict,
        source_key: str | None,
    ) -> None:
        now = time.time()
        msg.history.append(MessageVersion(msg.text, tuple(msg.entities), msg.reply_markup, now))
        msg.text, msg.entities = text, entities
        msg.reply_markup, msg.buttons = markup, buttons
        if source_key is not None:
            msg.source_text = params.get(source_key)
            msg.parse_mode = params.get("parse_mode")
        msg.edited, msg.edited_at = True, now
        self._changed()

    def _take_failure(self, method: str) -> ApiError | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue[0]
        failure.remaining -= 1
        if failure.remaining <= 0:
            queue.popleft()
        return ApiError(failure.status, failure.description, retry_after=failure.retry_after)

    def _record_error(self, method: str, params: JSONDict, exc: ApiError, injected: bool) -> None:
        self.errors.append(
            ApiErrorRecord(method, params, exc.status, exc.description, injected, time.time())
        )
        if method != "getUpdates" or injected:
            chat = params.get("chat_id")
            record = self.chats.get(chat) if isinstance(chat, int) else None
            self.events.append(
                TranscriptEvent(
                    index=len(self.events),
                    at=time.time(),
                    kind="api_error",
                    chat_id=record.id if record else 0,
                    chat_label=self._chat_label(record) if record else "",
                    actor="bot",
                    is_group=bool(record and record.type != "private"),
                    text=exc.description,
                    method=method,
                    status=exc.status,
                    injected=injected,
                )
            )
        self._changed()

    async def _pause(self, seconds: float) -> None:
        if self._closed_event is None:
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closed_event.wait(), seconds)

    # -- HTTP ------------------------------------------------------------------------------

    async def _read_params(self, request: web.Request) -> JSONDict:
        raw: JSONDict = dict(request.query)
        files: dict[str, UploadedFile] = {}
        if request.method == "POST" and request.can_read_body:
            if request.content_type == "application/json":
                try:
                    body = json.loads(await request.read() or b"{}")
                except ValueError:
                    raise _bad_request("can't parse JSON object") from None
                if not isinstance(body, dict):
                    raise _bad_request("request body must be a JSON object")
                raw.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    if isinstance(value, web.FileField):
                        upload = UploadedFile(
                            key, value.filename or key, value.file.read(), value.content_type
                        )
                        files[key] = upload
                        raw[key] = upload
                    elif isinstance(value, bytes):
                        raw[key] = value.decode("utf-8", "replace")
                    else:
                        raw[key] = value
        return {key: _coerce_param(key, value, files) for key, value in raw.items()}

    async def _handle_api(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        entry = self._methods.get(request.match_info["method"].lower())
        if entry is None:
            exc = ApiError(404, "Not Found")
            self._record_error(request.match_info["method"], {}, exc, injected=False)
            return web.json_response(exc.payload(), status=404)
        method, handler = entry
        params: JSONDict = {}
        failure: ApiError | None = None
        try:
            params = await self._read_params(request)
            self.calls.append((method, params))
            self.counters[method] += 1
            delay = self._delays.get(method)
            if delay is None and method != "getUpdates":
                delay = self._latency
            if delay:
                await self._pause(delay)
            failure = self._take_failure(method)
            if failure is not None:
                raise failure
            result = await handler(params)
        except ApiError as exc:
            abandoned = request.transport is None or request.transport.is_closing()
            if not (exc.status == 409 and abandoned):
                # A 409 to a long poll whose client already left is bookkeeping, not an error.
                self._record_error(method, params, exc, injected=exc is failure)
            return web.json_response(exc.payload(), status=exc.status)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").payload(), status=401)
        path = request.match_info["path"]
        for doc in self.files.values():
            if doc.file_path == path:
                return web.Response(body=doc.content, content_type=doc.mime_type)
        return web.json_response(ApiError(404, "Not Found").payload(), status=404)

    # -- Bot API methods -------------------------------------------------------------------

    async def _return_true(self, params: JSONDict) -> object:
        return True

    def _setting_recorder(self, method: str) -> _Handler:
        """Cosmetic profile settings are only remembered, so bots that set them still start."""

        async def record(params: JSONDict) -> object:
            self.bot_settings[method] = params
            return True

        return record

    async def _get_me(self, params: JSONDict) -> object:
        return {
            **self._bot_json(),
            "can_join_groups": True,
            "can_read_all_group_messages": not self.group_privacy,
            "supports_inline_queries": False,
        }

    def _allowed(self, update: JSONDict) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self.allowed_updates:
            return kind in self.allowed_updates
        return kind not in _OPT_IN_UPDATES

    async def _get_updates(self, params: JSONDict) -> object:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        if "allowed_updates" in params:
            allowed = params["allowed_updates"]
            if not isinstance(allowed, list) or not all(isinstance(a, str) for a in allowed):
                raise _bad_request("can't parse allowed_updates JSON object")
            self.allowed_updates = frozenset(allowed) or None
        offset = int(params.get("offset") or 0)
        if offset > 0:
            self._updates = [(uid, u) for uid, u in self._updates if uid >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        # Telegram ends the older of two concurrent long polls with 409; doing the same also
        # releases polls abandoned by a client that has already gone away.
        ticket = object()
        self._poller = ticket
        self._changed()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            if self._poller is not ticket:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one "
                    "bot instance is running",
                )
            event = self._change_event
            ready = [update for _, update in self._updates if self._allowed(update)]
            remaining = deadline - loop.time()
            if ready or remaining <= 0 or self._closing:
                self._poller = None
                return ready[:limit]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    async def _delete_webhook(self, params: JSONDict) -> object:
        self.webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _set_webhook(self, params: JSONDict) -> object:
        url = str(params.get("url") or "")
        if url and not url.startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        self.webhook_url = url
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _get_webhook_info(self, params: JSONDict) -> object:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _send_message(self, params: JSONDict) -> object:
        chat = self._writable_chat(params)
        text, entities = self._formatted(
            params,
            "text",
            "entities",
            limit=MAX_TEXT_LENGTH,
            too_long="message is too long",
            required=True,
        )
        markup, buttons = parse_reply_markup(params.get("reply_markup"))
        reply_to = self._reply_target(chat, params)
        preview = params.get("link_preview_options")
        msg = self._add_message(
            chat,
            from_bot=True,
            sender_id=self.bot_id,
            text=text,
            entities=entities,
            source_text=params.get("text"),
            parse_mode=params.get("parse_mode"),
            reply_markup=markup,
            buttons=buttons,
            protect_content=bool(params.get("protect_content")),
            disable_notification=bool(params.get("disable_notification")),
            reply_to_message_id=reply_to,
            link_preview_options=preview if isinstance(preview, dict) else None,
        )
        self._message_event("bot_message", msg)
        return self._message_json(msg)

    async def _edit_message_text(self, params: JSONDict) -> object:
        return self._edit_formatted(params, caption=False)

    async def _edit_message_caption(self, params: JSONDict) -> object:
        return self._edit_formatted(params, caption=True)

    def _edit_formatted(self, params: JSONDict, *, caption: bool) -> object:
        """editMessageText and editMessageCaption differ only in names, limits and wording."""
        msg = self._message_for_edit(params)
        if caption and msg.document is None:
            raise _bad_request("there is no caption in the message to edit")
        if not caption and msg.document is not None:
            raise _bad_request("there is no text in the message to edit")
        text, entities = self._formatted(
            params,
            "caption" if caption else "text",
            "caption_entities" if caption else "entities",
            limit=MAX_CAPTION_LENGTH if caption else MAX_TEXT_LENGTH,
            too_long="message caption is too long" if caption else "MESSAGE_TOO_LONG",
            required=not caption,
        )
        # Leaving reply_markup out removes the inline keyboard, exactly like Telegram.
        markup, buttons = parse_reply_markup(params.get("reply_markup"), inline_only=True)
        if text == msg.text and entities == msg.entities and markup == msg.inline_markup:
            raise _bad_request(NOT_MODIFIED)
        self._apply_edit(
            msg,
            text=text,
            entities=entities,
            markup=markup,
            buttons=buttons,
            params=params,
            source_key="caption" if caption else "text",
        )
        self._message_event("bot_edit", msg)
        return self._message_json(msg)

    async def _edit_message_reply_markup(self, params: JSONDict) -> object:
        msg = self._message_for_edit(params)
        markup, buttons = parse_reply_markup(params.get("reply_markup"), inline_only=True)
        if markup == msg.inline_markup:
            raise _bad_request(NOT_MODIFIED)
        self._apply_edit(
            msg,
            text=msg.text,
            entities=msg.entities,
            markup=markup,
            buttons=buttons,
            params=params,
            source_key=None,
        )
        self._message_event("bot_markup_edit", msg)
        return self._message_json(msg)

    async def _answer_callback_query(self, params: JSONDict) -> object:
        query = self.callback_queries.get(str(params.get("callback_query_id", "")))
        if (
            query is None
            or query.answer is not None
            or time.time() - query.created_at > self.callback_query_ttl
        ):
            raise _bad_request(QUERY_TOO_OLD)
        text = params.get("text")
        if text is not None and len(str(text)) > MAX_CALLBACK_ANSWER_LENGTH:
            raise _bad_request("MESSAGE_TOO_LONG")
        answer = CallbackAnswer(
            query_id=query.id,
            user_id=query.user_id,
            chat_id=query.chat_id,
            message_id=query.message_id,
            data=query.data,
            text=str(text) if text else None,
            show_alert=bool(params.get("show_alert")),
            url=params.get("url"),
            answered_at=time.time(),
        )
        query.answer = answer
        self.callback_answers.append(answer)
        self._event(
            "callback_answer",
            self.chats[query.chat_id],
            actor=self.users[query.user_id].display_name,
            text=answer.text,
            show_alert=answer.show_alert,
            message_id=query.message_id,
            data=query.data,
        )
        self._changed()
        return True

    async def _delete_message(self, params: JSONDict) -> object:
        chat = self._resolve_chat(params.get("chat_id"))
        message_id = params.get("message_id")
        msg = chat.get(int(message_id)) if message_id is not None else None
        if msg is None or msg.deleted:
            raise _bad_request("message to delete not found")
        if chat.type != "private" and not msg.from_bot:
            raise _bad_request("message can't be deleted")
        msg.deleted, msg.deleted_at = True, time.time()
        self._event("bot_delete", chat, actor="bot", text=msg.text, message_id=msg.message_id)
        self._changed()
        return True

    def _scope_key(self, value: object) -> CommandScopeKey:
        if value is None:
            return ("default", None, None)
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise _bad_request("can't parse BotCommandScope JSON object")
        kind = value["type"]
        if kind in {"default", "all_private_chats", "all_group_chats", "all_chat_administrators"}:
            return (kind, None, None)
        if kind in {"chat", "chat_administrators", "chat_member"}:
            chat = self._resolve_chat(_coerce_param("chat_id", value.get("chat_id"), {}))
            if kind != "chat_member":
                return (kind, chat.id, None)
            user_id = _coerce_int("user_id", value.get("user_id"))
            if user_id not in self.users:
                raise _bad_request("user not found")
            return (kind, chat.id, user_id)
        raise _bad_request("wrong bot command scope type specified")

    def _language(self, params: JSONDict) -> str:
        language = str(params.get("language_code") or "")
        if language and not re.fullmatch(r"[a-z]{2}", language):
            raise _bad_request("invalid language code specified")
        return language

    async def _set_my_commands(self, params: JSONDict) -> object:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _bad_request("can't parse commands JSON object")
        if len(commands) > MAX_COMMANDS:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        parsed: list[tuple[str, str]] = []
        for item in commands:
            if not isinstance(item, dict):
                raise _bad_request("can't parse BotCommand JSON object")
            command = str(item.get("command", "")).removeprefix("/")
            description = str(item.get("description", ""))
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not description.strip() or len(description) > 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
            parsed.append((command, description))
        key = (self._scope_key(params.get("scope")), self._language(params))
        if parsed:
            self.commands[key] = parsed
        else:
            self.commands.pop(key, None)
        self._changed()
        return True

    async def _get_my_commands(self, params: JSONDict) -> object:
        key = (self._scope_key(params.get("scope")), self._language(params))
        return [{"command": c, "description": d} for c, d in self.commands.get(key, [])]

    async def _delete_my_commands(self, params: JSONDict) -> object:
        key = (self._scope_key(params.get("scope")), self._language(params))
        self.commands.pop(key, None)
        self._changed()
        return True

    def _store_document(self, upload: UploadedFile) -> Document:
        number = next(self._file_ids)
        mime = upload.mime_type
        if not mime or mime == "application/octet-stream":
            mime = mimetypes.guess_type(upload.filename)[0] or "application/octet-stream"
        suffix = "." + upload.filename.rsplit(".", 1)[1] if "." in upload.filename else ""
        doc = Document(
            file_id=f"BQACAgQAAxkDAAI{number:06d}standin",
            file_unique_id=f"AgAD{number:06d}",
            filename=upload.filename,
            content=upload.content,
            mime_type=mime,
            file_path=f"documents/file_{number}{suffix}",
        )
        self.files[doc.file_id] = doc
        return doc

    async def _send_document(self, params: JSONDict) -> object:
        chat = self._writable_chat(params)
        given = params.get("document")
        if given is None or given == "":
            raise _bad_request("there is no document in the request")
        if isinstance(given, UploadedFile):
            if not given.content:
                raise _bad_request("file must be non-empty")
            if len(given.content) > MAX_UPLOAD_BYTES:
                raise ApiError(413, "Request Entity Too Large")
            doc = self._store_document(given)
        elif isinstance(given, str) and given in self.files:
            doc = self.files[given]
        elif isinstance(given, str) and given.startswith(("http://", "https://")):
            raise _bad_request("failed to get HTTP URL content")
        else:
            raise _bad_request("wrong file identifier/HTTP URL specified")
        caption, entities = self._formatted(
            params,
            "caption",
            "caption_entities",
            limit=MAX_CAPTION_LENGTH,
            too_long="message caption is too long",
            required=False,
        )
        markup, buttons = parse_reply_markup(params.get("reply_markup"))
        msg = self._add_message(
            chat,
            from_bot=True,
            sender_id=self.bot_id,
            text=caption,
            entities=entities,
            source_text=params.get("caption"),
            parse_mode=params.get("parse_mode"),
            document=doc,
            reply_markup=markup,
            buttons=buttons,
            protect_content=bool(params.get("protect_content")),
            disable_notification=bool(params.get("disable_notification")),
            reply_to_message_id=self._reply_target(chat, params),
        )
        self._message_event("bot_document", msg)
        return self._message_json(msg)

    async def _send_chat_action(self, params: JSONDict) -> object:
        chat = self._writable_chat(params)
        action = params.get("action")
        if action not in _CHAT_ACTIONS:
            raise _bad_request("wrong parameter action in request")
        self.chat_actions.append((chat.id, str(action)))
        return True

    async def _get_chat(self, params: JSONDict) -> object:
        chat = self._resolve_chat(params.get("chat_id"))
        return {
            **self._chat_json(chat),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    async def _get_file(self, params: JSONDict) -> object:
        doc = self.files.get(str(params.get("file_id", "")))
        if doc is None:
            raise _bad_request("invalid file_id")
        return {
            "file_id": doc.file_id,
            "file_unique_id": doc.file_unique_id,
            "file_size": doc.size,
            "file_path": doc.file_path,
        }

"""What the stand-in records: users, chats, messages, buttons, presses and errors, as plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JSONDict = dict[str, Any]


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
    web_app: str | None = None  # the Mini App a web_app button opens


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


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    remaining: int


def _shorten(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _keyboard_button_text(button: object) -> str:
    if isinstance(button, dict):
        return str(button.get("text", ""))
    return str(button)

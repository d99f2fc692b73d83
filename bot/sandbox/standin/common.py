"""The stand-in's core: its state, the test controls, the JSON Telegram would send, and the
HTTP front that hands each Bot API call to its method.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from aiohttp import web

from bot.sandbox.records import (
    ApiError,
    ApiErrorRecord,
    Button,
    CallbackAnswer,
    CallbackQueryRecord,
    ChatRecord,
    Document,
    EventKind,
    JSONDict,
    MessageVersion,
    RecordedMessage,
    TranscriptEvent,
    UploadedFile,
    UserRecord,
    _bad_request,
    _Failure,
)
from bot.sandbox.wire import (
    _coerce_int,
    _coerce_param,
    _strip_text,
)

if TYPE_CHECKING:
    from bot.sandbox.driver import Driver

_T = TypeVar("_T")

DEFAULT_TOKEN: Final = "123456:TEST-standin-token-abcdefghijklmnopqrstuv"

MAX_TEXT_LENGTH: Final = 4096

MAX_CAPTION_LENGTH: Final = 1024

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

CommandScopeKey = tuple[str, int | None, int | None]

_Handler = Callable[[JSONDict], Awaitable[object]]


class StandInCore:
    """The stand-in's state and plumbing, shared by the methods it answers and the people it
    plays."""

    def _register_methods(self) -> None:
        """Fill ``_methods`` (Bot API name -> handler); the methods' part does."""

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
        self._register_methods()

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

    async def __aenter__(self) -> Self:
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
        if params.get("parse_mode"):
            # The bot sends plain text (never parse_mode, which would let a typed "<" or "*"
            # change a message); a change that starts using it should fail loudly here.
            raise _bad_request("the stand-in does not parse parse_mode: send plain text")
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

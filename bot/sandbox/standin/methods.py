"""The Bot API methods the bot calls, answered as Telegram would, with its limits and errors."""

from __future__ import annotations

import asyncio
import contextlib
import mimetypes
import re
import time

from bot.sandbox.records import (
    ApiError,
    CallbackAnswer,
    Document,
    JSONDict,
    UploadedFile,
    _bad_request,
)
from bot.sandbox.standin.common import (
    _CHAT_ACTIONS,
    _OPT_IN_UPDATES,
    MAX_CALLBACK_ANSWER_LENGTH,
    MAX_CAPTION_LENGTH,
    MAX_COMMANDS,
    MAX_TEXT_LENGTH,
    MAX_UPLOAD_BYTES,
    NOT_MODIFIED,
    QUERY_TOO_OLD,
    CommandScopeKey,
    StandInCore,
    _Handler,
)
from bot.sandbox.wire import (
    _coerce_int,
    _coerce_param,
    parse_reply_markup,
)

# How long after sending Telegram lets a bot delete a message (its own, or a person's in a
# private chat): 48 hours.
TELEGRAM_DELETE_WINDOW_SECONDS = 48 * 3600


class BotApiMethods(StandInCore):
    """getMe, getUpdates, sendMessage, editMessageText ... as Telegram answers them."""

    def _register_methods(self) -> None:
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
        if time.time() - msg.sent_at > TELEGRAM_DELETE_WINDOW_SECONDS:
            # Telegram's rule: a bot deletes messages (its own, or in a private chat anyone's)
            # only within 48 hours of their sending.
            raise _bad_request("message can't be deleted for everyone")
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

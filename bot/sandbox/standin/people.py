"""The people the tests and the demo play: users and groups, their messages and presses."""

from __future__ import annotations

import time

from bot.sandbox.records import (
    CallbackQueryRecord,
    ChatRecord,
    RecordedMessage,
    UserRecord,
)
from bot.sandbox.standin.common import (
    StandInCore,
)
from bot.sandbox.wire import (
    detect_entities,
)


class SimulatedPeople(StandInCore):
    """What a person does in Telegram, turned into the updates the bot receives."""

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

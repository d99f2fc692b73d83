"""Plays the human side of Telegram against a :class:`BotApiStandIn`.

Test code (and the ``demo`` command) runs in the same event loop as the stand-in and the bot,
so every action here is a direct state change followed by an awaitable wait on the server's
change signal, with no polling sleeps and no network.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

from bot.launch_data import launch_data_for
from bot.sandbox.records import (
    ApiErrorRecord,
    Button,
    CallbackAnswer,
    CallbackQueryRecord,
    Document,
    RecordedMessage,
    TranscriptEvent,
    UserRecord,
)
from bot.sandbox.server import BotApiStandIn
from bot.sandbox.standin.common import CommandScopeKey

if TYPE_CHECKING:
    from telegram.ext import Application, ApplicationBuilder

__all__ = [
    "Button",
    "CallbackAnswer",
    "Document",
    "Driver",
    "PressResult",
    "RecordedMessage",
    "SimulatedUser",
    "TranscriptEvent",
    "WaitTimeout",
    "application_builder",
    "format_transcript",
    "running_application",
]

_T = TypeVar("_T")
# Waits take a ``timeout`` argument (hence the ASYNC109 exemptions) because test code reads
# better as ``await user.send_and_wait("/start", timeout=2)`` than wrapped in asyncio.timeout.
# Every wait ends as soon as what it waits for arrives, so the default only decides how long
# a failure takes to report: generous, because a loaded 2-core machine can take seconds to
# answer a press that takes milliseconds when idle.
DEFAULT_TIMEOUT = 30.0


class WaitTimeout(AssertionError, TimeoutError):
    """A failed wait that says what did arrive, because a bare timeout hides the cause."""


@dataclass
class PressResult:
    """Everything a button press led to, so a test can assert on it in one place."""

    query: CallbackQueryRecord
    message: RecordedMessage
    new_messages: list[RecordedMessage] = field(default_factory=list)

    @property
    def answer(self) -> CallbackAnswer | None:
        return self.query.answer


def _button_rows(buttons: Iterable[Iterable[Button]]) -> list[str]:
    rows = []
    for row in buttons:
        labels = [f"[{b.text} ↗ {b.url}]" if b.url else f"[{b.text}]" for b in row]
        if labels:
            rows.append(" ".join(labels))
    return rows


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line.strip() else "" for line in text.splitlines())


def _human_size(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} kB"
    return f"{size / (1024 * 1024):.1f} MB"


def format_event(event: TranscriptEvent, *, indent: str = "    ") -> str:
    """Render one event; bot lines name the chat, user lines name the person and role."""
    peer = event.chat_label
    body = event.text or ""
    first, _, rest = body.partition("\n")
    extra: list[str] = [_indent(rest, indent)] if rest else []
    kind = event.kind
    if kind == "user_message":
        target = "bot" if not event.is_group else peer
        head = f"{event.actor} → {target}: {first}"
    elif kind == "user_press":
        label = f"[{event.text}]" if event.text else f"a button with data {event.data!r}"
        where = f" in {peer}" if event.is_group else ""
        head = f"{event.actor} presses {label}{where}"
        extra = []
    elif kind in {"user_blocked", "user_unblocked"}:
        verb = "blocks" if kind == "user_blocked" else "unblocks"
        head = f"{event.actor} {verb} the bot"
    elif kind == "bot_message":
        head = f"bot → {peer}: {first}"
    elif kind == "bot_document":
        doc = event.document
        name = f"[document {doc.filename}, {_human_size(doc.size)}]" if doc else "[document]"
        head = f"bot → {peer}: {name}" + (f" {first}" if first else "")
    elif kind == "bot_edit":
        head = f"bot edits #{event.message_id} for {peer}: {first}"
    elif kind == "bot_markup_edit":
        head = f"bot changes the buttons on #{event.message_id} for {peer}"
        extra = []
        if not event.buttons:
            extra.append(f"{indent}(buttons removed)")
    elif kind == "bot_delete":
        snippet = f" ({' '.join(body.split())[:40]!r})" if body else ""
        head = f"bot deletes #{event.message_id}{snippet} in {peer}'s chat"
        extra = []
    elif kind == "callback_answer":
        if event.text:
            style = "alert" if event.show_alert else "toast"
            head = f"bot answers {event.actor}'s press with a {style}: {event.text!r}"
        else:
            head = f"bot acknowledges {event.actor}'s press"
        extra = []
    else:  # api_error
        source = " (injected)" if event.injected else ""
        where = f" for {peer}" if peer else ""
        head = f"! bot's {event.method}{where} failed{source}: {event.status} {event.text}"
        extra = []
    lines = [head, *extra]
    if kind in {"bot_message", "bot_document", "bot_edit", "bot_markup_edit"}:
        lines += [indent + row for row in _button_rows(event.buttons)]
        if event.reply_keyboard:
            keys = " | ".join(" ".join(f"({k})" for k in row) for row in event.reply_keyboard)
            lines.append(f"{indent}keyboard: {keys}")
        if event.keyboard_removed:
            lines.append(f"{indent}(keyboard removed)")
    return "\n".join(lines)


def format_transcript(events: Iterable[TranscriptEvent]) -> str:
    """Render events as a readable chat log for demos and failing-test output."""
    return "\n".join(format_event(event) for event in events)


class Driver:
    """Acts as any number of Telegram users and reads back what the bot did."""

    def __init__(self, server: BotApiStandIn) -> None:
        self.server = server
        self._users: dict[int, SimulatedUser] = {}

    # -- people ----------------------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str,
        *,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
        role: str | None = None,
    ) -> SimulatedUser:
        """Register (or refresh) a user; their private chat becomes known to the bot."""
        record = self.server.register_user(
            user_id,
            first_name,
            last_name=last_name,
            username=username,
            language_code=language_code,
            label=role,
        )
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        simulated = SimulatedUser(self, record)
        self._users[user_id] = simulated
        return simulated

    def block(self, user_id: int) -> None:
        self.server.set_blocked(user_id, True)

    def unblock(self, user_id: int) -> None:
        self.server.set_blocked(user_id, False)

    # -- reading -------------------------------------------------------------------------

    def messages(self, chat_id: int) -> list[RecordedMessage]:
        return self.server.messages(chat_id)

    def bot_messages(self, chat_id: int, *, include_deleted: bool = False) -> list[RecordedMessage]:
        return [
            m
            for m in self.server.messages(chat_id)
            if m.from_bot and (include_deleted or not m.deleted)
        ]

    def last_bot_message(self, chat_id: int, *, include_deleted: bool = False) -> RecordedMessage:
        found = self.bot_messages(chat_id, include_deleted=include_deleted)
        if not found:
            raise AssertionError(f"the bot has sent nothing (visible) in chat {chat_id}")
        return found[-1]

    @property
    def callback_answers(self) -> list[CallbackAnswer]:
        return list(self.server.callback_answers)

    @property
    def errors(self) -> list[ApiErrorRecord]:
        return list(self.server.errors)

    @property
    def commands(self) -> dict[tuple[CommandScopeKey, str], list[tuple[str, str]]]:
        """The raw setMyCommands store keyed by ((scope type, chat_id, user_id), language)."""
        return self.server.commands

    def commands_for(
        self, chat_id: int, *, user_id: int | None = None, language_code: str | None = None
    ) -> list[tuple[str, str]]:
        return self.server.commands_for(chat_id, user_id=user_id, language_code=language_code)

    # -- waiting ---------------------------------------------------------------------------

    async def wait_for(
        self,
        predicate: Callable[[], _T | None],
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
        description: str = "condition",
    ) -> _T:
        """Wait until ``predicate`` returns something truthy, re-checking on every change."""
        errors_before = len(self.server.errors)
        result = await self.server.wait_until(predicate, timeout)
        if result is None or result is False:
            raise WaitTimeout(
                f"timed out after {timeout}s waiting for {description}"
                + self._errors_note(errors_before)
            )
        return result

    def _errors_note(self, since: int) -> str:
        errors = [e for e in self.server.errors[since:] if e.method != "getUpdates"]
        if not errors:
            return ""
        lines = [f"  {e.method} → {e.status} {e.description}" for e in errors]
        return "\nBot API errors meanwhile:\n" + "\n".join(lines)

    async def wait_for_bot_messages(
        self,
        chat_id: int,
        count: int = 1,
        *,
        after: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> list[RecordedMessage]:
        """Wait for ``count`` new bot messages in a chat, newer than message id ``after``.

        ``after`` defaults to the chat's latest message id at call time; pass the id of the
        user's own message to avoid racing a fast reply. Returns every new bot message (at
        least ``count``), deleted ones included and flagged.
        """
        marker = after if after is not None else len(self.server.messages(chat_id))
        errors_before = len(self.server.errors)

        def arrived() -> list[RecordedMessage]:
            return [
                m for m in self.server.messages(chat_id) if m.from_bot and m.message_id > marker
            ]

        result = await self.server.wait_until(
            lambda: found if len(found := arrived()) >= count else None, timeout
        )
        if result is None:
            got = arrived()
            listing = "".join(f"\n  {m.summary()}" for m in got) or " nothing"
            raise WaitTimeout(
                f"timed out after {timeout}s waiting for {count} new bot message(s) in chat "
                f"{chat_id} after message #{marker}; got {len(got)}:{listing}"
                + self._errors_note(errors_before)
            )
        return result

    async def wait_for_edit(
        self,
        message: RecordedMessage,
        *,
        versions: int | None = None,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> RecordedMessage:
        """Wait until the bot edits (or deletes) ``message`` beyond ``versions`` past edits."""
        seen = len(message.history) if versions is None else versions
        await self.wait_for(
            lambda: len(message.history) > seen or message.deleted,
            timeout=timeout,
            description=f"the bot to edit message #{message.message_id} in chat "
            f"{message.chat_id} (currently {message.summary()})",
        )
        return message

    async def wait_for_answer(
        self,
        query: CallbackQueryRecord,
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> CallbackAnswer:
        return await self.wait_for(
            lambda: query.answer,
            timeout=timeout,
            description=f"the bot to answer callback query {query.id} (data {query.data!r})",
        )

    # -- transcript ------------------------------------------------------------------------

    def mark(self) -> int:
        """A position in the event log, for printing a demo scene by scene."""
        return len(self.server.events)

    def events_since(self, marker: int = 0) -> list[TranscriptEvent]:
        return self.server.events[marker:]

    def transcript_since(self, marker: int = 0) -> str:
        return format_transcript(self.events_since(marker))

    def transcript(self) -> str:
        return self.transcript_since(0)


class SimulatedUser:
    """One Telegram user; their private chat id equals their user id, as on Telegram."""

    def __init__(self, driver: Driver, record: UserRecord) -> None:
        self.driver = driver
        self.record = record

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def chat_id(self) -> int:
        return self.record.id

    @property
    def first_name(self) -> str:
        return self.record.first_name

    @property
    def role(self) -> str | None:
        return self.record.label

    @role.setter
    def role(self, label: str | None) -> None:
        self.record.label = label

    @property
    def display_name(self) -> str:
        return self.record.labelled_name

    def __repr__(self) -> str:
        return f"SimulatedUser({self.id}, {self.display_name!r})"

    # -- acting ----------------------------------------------------------------------------

    async def send(
        self, text: str, *, reply_to: RecordedMessage | int | None = None
    ) -> RecordedMessage:
        """Write in the private chat; commands get their bot_command entity automatically."""
        reply_id = reply_to.message_id if isinstance(reply_to, RecordedMessage) else reply_to
        msg = self.driver.server.post_user_message(self.id, text, reply_to_message_id=reply_id)
        await asyncio.sleep(0)
        return msg

    async def send_and_wait(
        self,
        text: str,
        count: int = 1,
        *,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> list[RecordedMessage]:
        msg = await self.send(text)
        return await self.driver.wait_for_bot_messages(
            self.chat_id, count, after=msg.message_id, timeout=timeout
        )

    async def send_in_group(
        self,
        group_chat_id: int,
        text: str,
        title: str = "Group",
        *,
        reply_to: RecordedMessage | int | None = None,
    ) -> RecordedMessage:
        """Write in a group (negative id); with privacy mode only commands reach the bot."""
        self.driver.server.register_group(group_chat_id, title)
        reply_id = reply_to.message_id if isinstance(reply_to, RecordedMessage) else reply_to
        msg = self.driver.server.post_user_message(
            self.id, text, chat_id=group_chat_id, reply_to_message_id=reply_id
        )
        await asyncio.sleep(0)
        return msg

    def _find_target(
        self, target: str, message: RecordedMessage | int | None
    ) -> tuple[RecordedMessage, Button]:
        found = self._look_for_target(target, message)
        if found is not None:
            return found
        shown = [m.summary() for m in self._candidates(message)[:5] if m.buttons]
        listing = "".join(f"\n  {line}" for line in shown) or " no message has buttons"
        raise AssertionError(f"{self.display_name} sees no button {target!r}:{listing}")

    async def _await_target(
        self,
        target: str,
        message: RecordedMessage | int | None,
        timeout: float,  # noqa: ASYNC109
    ) -> tuple[RecordedMessage, Button]:
        """As a person does: press a button on the newest message once it shows it.

        Without a given message, the answer the button is on may still be on its way (a
        notice from the outbox can arrive first and be taken for the answer): wait for it.
        """
        if message is None:
            with contextlib.suppress(WaitTimeout):
                await self.driver.wait_for(
                    lambda: self._look_for_target(target, None),
                    timeout=timeout,
                    description=f"a button {target!r} for {self.display_name}",
                )
        return self._find_target(target, message)

    def _candidates(self, message: RecordedMessage | int | None) -> list[RecordedMessage]:
        if isinstance(message, RecordedMessage):
            return [message]
        if isinstance(message, int):
            found = self.driver.server.chats[self.chat_id].get(message)
            if found is None:
                raise AssertionError(f"no message #{message} in {self.display_name}'s chat")
            return [found]
        return list(reversed(self.driver.bot_messages(self.chat_id)))

    def _look_for_target(
        self, target: str, message: RecordedMessage | int | None
    ) -> tuple[RecordedMessage, Button] | None:
        for candidate in self._candidates(message):
            if candidate.deleted:
                continue
            button = candidate.find_button(target)
            if button is not None:
                return candidate, button
        return None

    def open_web_app(
        self, target: str, now: datetime, *, message: RecordedMessage | int | None = None
    ) -> str:
        """Press a ``web_app`` button: the address Telegram opens, with the launch data it
        signs with the bot's token in the fragment (``now`` is the bot's clock)."""
        _, button = self._find_target(target, message)
        if button.web_app is None:
            raise AssertionError(f"button {button.text!r} opens no Mini App")
        data = launch_data_for(self.id, self.first_name, self.driver.server.token, now)
        return f"{button.web_app}#tgWebAppData={quote(data, safe='')}&tgWebAppVersion=8.0"

    async def press(
        self, target: str, *, message: RecordedMessage | int | None = None
    ) -> CallbackQueryRecord:
        """Press a button by its text (or callback data) on the newest message showing it."""
        msg, button = await self._await_target(target, message, DEFAULT_TIMEOUT)
        if button.callback_data is None:
            raise AssertionError(f"button {button.text!r} opens a page; it sends no callback")
        query = self.driver.server.press_callback(
            self.id, msg.chat_id, msg.message_id, button.callback_data
        )
        await asyncio.sleep(0)
        return query

    async def press_data(
        self, message_id: int, data: str, *, chat_id: int | None = None
    ) -> CallbackQueryRecord:
        """Send arbitrary callback data, as a modified client could, to test forgery handling."""
        query = self.driver.server.press_callback(
            self.id, chat_id if chat_id is not None else self.chat_id, message_id, data
        )
        await asyncio.sleep(0)
        return query

    async def press_and_wait(
        self,
        target: str,
        *,
        message: RecordedMessage | int | None = None,
        count: int = 0,
        expect_edit: bool = False,
        expect_answer: bool = True,
        timeout: float = DEFAULT_TIMEOUT,  # noqa: ASYNC109
    ) -> PressResult:
        """Press, then wait for the answer, ``count`` new messages and optionally an edit.

        Handlers usually answer first and edit afterwards, so pass ``expect_edit=True``
        whenever the test goes on to read the pressed message.
        """
        msg, _ = await self._await_target(target, message, timeout)
        versions = len(msg.history)
        marker = len(self.driver.server.messages(msg.chat_id))
        query = await self.press(target, message=msg)

        def new_messages() -> list[RecordedMessage]:
            return [
                m
                for m in self.driver.server.messages(msg.chat_id)
                if m.from_bot and m.message_id > marker
            ]

        def done() -> bool:
            return (
                (not expect_answer or query.answer is not None)
                and len(new_messages()) >= count
                and (not expect_edit or len(msg.history) > versions or msg.deleted)
            )

        try:
            await self.driver.wait_for(done, timeout=timeout, description="the press to settle")
        except WaitTimeout as exc:
            state = (
                f"answered={query.answer is not None} (wanted {expect_answer}), "
                f"new messages={len(new_messages())} (wanted {count}), "
                f"edited={len(msg.history) > versions} (wanted {expect_edit})"
            )
            raise WaitTimeout(f"{self.display_name} pressed {target!r}: {state}\n{exc}") from None
        return PressResult(query=query, message=msg, new_messages=new_messages())

    # -- reading ---------------------------------------------------------------------------

    def messages(self) -> list[RecordedMessage]:
        return self.driver.messages(self.chat_id)

    def bot_messages(self, *, include_deleted: bool = False) -> list[RecordedMessage]:
        return self.driver.bot_messages(self.chat_id, include_deleted=include_deleted)

    def last_bot_message(self) -> RecordedMessage:
        return self.driver.last_bot_message(self.chat_id)

    def block(self) -> None:
        self.driver.block(self.id)

    def unblock(self) -> None:
        self.driver.unblock(self.id)


# --------------------------------------------------------------------------------------------
# Wiring a real PTB Application to the stand-in
# --------------------------------------------------------------------------------------------


def application_builder(server: BotApiStandIn) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """An ApplicationBuilder already pointed at the stand-in; add handlers and build."""
    from telegram.ext import ApplicationBuilder

    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = ApplicationBuilder()
    return builder.token(server.token).base_url(server.base_url).base_file_url(server.base_file_url)


@asynccontextmanager
async def running_application(
    app: Application[Any, Any, Any, Any, Any, Any], *, poll_timeout: int = 1
) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    """Run ``app`` with polling for the duration of the block, stopping in reverse order."""
    # Stop the updater before the application, as PTB's own run_polling does: the updater's
    # final getUpdates confirms everything it fetched, so it must not keep fetching while the
    # application is no longer processing.
    async with app:
        updater = app.updater
        if updater is None:
            raise RuntimeError("build the Application with an Updater to poll the stand-in")
        await updater.start_polling(poll_interval=0.0, timeout=poll_timeout)
        try:
            await app.start()
            try:
                yield app
            finally:
                if updater.running:
                    await updater.stop()
                await app.stop()
        finally:
            if updater.running:
                await updater.stop()

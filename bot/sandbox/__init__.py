"""A local Telegram Bot API stand-in and a driver that plays the users.

Lets the real python-telegram-bot ``Application`` run end to end over HTTP on 127.0.0.1, for
end-to-end tests and the ``marac-bot demo`` transcript, with no Telegram account or network.
"""

from bot.sandbox.driver import (
    Driver,
    PressResult,
    SimulatedUser,
    WaitTimeout,
    application_builder,
    format_event,
    format_transcript,
    running_application,
)
from bot.sandbox.records import (
    ApiErrorRecord,
    Button,
    CallbackAnswer,
    CallbackQueryRecord,
    ChatRecord,
    Document,
    MessageVersion,
    RecordedMessage,
    TranscriptEvent,
    UserRecord,
)
from bot.sandbox.server import DEFAULT_TOKEN, BotApiStandIn

__all__ = [
    "DEFAULT_TOKEN",
    "ApiErrorRecord",
    "BotApiStandIn",
    "Button",
    "CallbackAnswer",
    "CallbackQueryRecord",
    "ChatRecord",
    "Document",
    "Driver",
    "MessageVersion",
    "PressResult",
    "RecordedMessage",
    "SimulatedUser",
    "TranscriptEvent",
    "UserRecord",
    "WaitTimeout",
    "application_builder",
    "format_event",
    "format_transcript",
    "running_application",
]

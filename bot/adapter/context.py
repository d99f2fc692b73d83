"""The callback context our handlers receive: PTB's, plus the services and the actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.actor import Actor

if TYPE_CHECKING:
    from bot.runtime import Runtime


class BotData(dict[str, Any]):
    """Application-wide data; holds the runtime, never persisted."""

    runtime: Runtime


class MaracContext(CallbackContext[ExtBot[None], dict[str, Any], dict[str, Any], BotData]):
    """Created once per update and shared by every handler group, so the guard's actor carries."""

    def __init__(
        self,
        application: Application[Any, Any, Any, Any, Any, Any],
        chat_id: int | None = None,
        user_id: int | None = None,
    ) -> None:
        super().__init__(application=application, chat_id=chat_id, user_id=user_id)
        self.actor: Actor | None = None

    @property
    def runtime(self) -> Runtime:
        return self.bot_data.runtime

    @property
    def steps(self) -> dict[str, Any]:
        """Choices carried between the steps of a conversation (ids only, never case content)."""
        data = self.user_data
        if data is None:
            raise RuntimeError("conversation steps need a user")
        return data

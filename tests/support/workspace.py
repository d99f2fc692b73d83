"""The case workspace served for tests over real HTTP, and links that open it as Telegram would.

Telegram opens a ``web_app`` button's address with the launch data in the fragment
(``#tgWebAppData=...``); :func:`launch_link` signs it with the bot's token, playing
Telegram's part, so a test (or a browser) arrives exactly as a person would.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from urllib.parse import quote

from pydantic import SecretStr

from bot.launch_data import launch_data_for
from bot.runtime import Runtime
from bot.sandbox.server import DEFAULT_TOKEN
from bot.workspace.app import workspace_prefix
from bot.workspace.serving import open_workspace
from config import Settings

TEST_WEBAPP_URL = "https://workspace.test/workspace"
# The local Bot API stand-in's token: the bot signs in to it with this, and its driver signs
# the launch data of the Mini App buttons it shows with it, as Telegram would.
TEST_TOKEN = DEFAULT_TOKEN


def with_workspace(settings: Settings) -> Settings:
    """The test's settings with a workspace address and a bot token to sign launch data."""
    return settings.model_copy(
        update={"webapp_url": TEST_WEBAPP_URL, "telegram_token": SecretStr(TEST_TOKEN)}
    )


@asynccontextmanager
async def serving(runtime: Runtime) -> AsyncIterator[str]:
    """The workspace on 127.0.0.1 (a free port); yields its local address with the prefix."""
    assert runtime.settings.webapp_url is not None, "set webapp_url in the test's settings"
    base, close = await open_workspace(runtime, "127.0.0.1", 0)
    try:
        yield base + workspace_prefix(runtime.settings.webapp_url)
    finally:
        await close()


def launch_data(runtime: Runtime, telegram_user_id: int, first_name: str, now: datetime) -> str:
    return launch_data_for(telegram_user_id, first_name, runtime.settings.token(), now)


def launch_link(
    base: str, page: str, runtime: Runtime, telegram_user_id: int, first_name: str, now: datetime
) -> str:
    """What the person's Telegram app opens when they press the button for ``page``."""
    data = launch_data(runtime, telegram_user_id, first_name, now)
    return f"{base}/{page}#tgWebAppData={quote(data, safe='')}&tgWebAppVersion=8.0"

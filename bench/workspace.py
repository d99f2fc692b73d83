"""The case workspace as ``bench.scale`` times it: real HTTP on loopback, as a page is loaded.

The workspace is served in the benchmark's own process (the bot's, with its seeded data);
each page is fetched by an aiohttp client after signing in with launch data signed as
Telegram would. The time is the client's, from request to the last byte, so it includes
the loopback round trip: a little more than the server's own time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import aiohttp

from bot.launch_data import launch_data_for
from bot.runtime import Runtime
from bot.workspace.serving import StopUpdates, open_workspace_with

PREFIX = "/workspace"


@dataclass
class WorkspaceClient:
    runtime: Runtime
    token: str
    base: str = ""
    http: aiohttp.ClientSession | None = None
    sessions: dict[int, str] = field(default_factory=dict)
    _close: StopUpdates | None = None

    async def start(self) -> None:
        base, self._close = await open_workspace_with(
            self.runtime, bot_token=self.token, prefix=PREFIX, listen="127.0.0.1", port=0
        )
        self.base = base + PREFIX
        self.http = aiohttp.ClientSession()

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
        if self._close is not None:
            await self._close()

    async def sign_in(self, telegram_user_id: int) -> str:
        assert self.http is not None
        data = launch_data_for(telegram_user_id, "Bench", self.token, self.runtime.clock.now())
        async with self.http.post(f"{self.base}/api/session", json={"initData": data}) as answer:
            body = await answer.json()
        if "token" not in body:
            raise AssertionError(f"sign-in refused: {body}")
        self.sessions[telegram_user_id] = body["token"]
        return str(body["token"])

    async def page(self, telegram_user_id: int, path: str) -> bytes:
        """The page's content; an answer other than 200 fails the item."""
        assert self.http is not None
        token = self.sessions.get(telegram_user_id) or await self.sign_in(telegram_user_id)
        headers = {"Authorization": f"Bearer {token}"}
        async with self.http.get(f"{self.base}/api/page/{path}", headers=headers) as answer:
            body = await answer.read()
            if answer.status != 200:
                raise AssertionError(f"{path}: HTTP {answer.status}")
        return body

    async def weight(self, telegram_user_id: int, path: str) -> int:
        """Bytes a person's phone fetches to show the page: shell, content, style, script."""
        assert self.http is not None
        total = len(await self.page(telegram_user_id, path))
        for address in (f"{self.base}/{path}", f"{self.base}/static/app.css"):
            async with self.http.get(address) as answer:
                total += len(await answer.read())
        async with self.http.get(f"{self.base}/static/app.js") as answer:
            total += len(await answer.read())
        return total

"""Serving the case workspace beside the bot: on the webhook's port, or a listener of its own.

Like the webhook's port, the workspace is open only in the process that holds the leader
lease, so the reverse proxy's ``backup`` server reaches whichever process is active.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web

from bot.adapter.application import MaracApplication
from bot.runtime import Runtime
from bot.workspace.app import build_workspace, mount_workspace

log = logging.getLogger("marac.workspace")

StopUpdates = Callable[[], Awaitable[object]]
StartUpdates = Callable[[MaracApplication], Awaitable[StopUpdates | None]]


async def open_workspace(runtime: Runtime, listen: str, port: int) -> tuple[str, StopUpdates]:
    """A listener serving only the workspace; returns where it listens and how to close it."""
    app = web.Application()
    mount_workspace(app, runtime)
    return await _listen(app, listen, port)


async def open_workspace_with(
    runtime: Runtime, *, bot_token: str, prefix: str, listen: str, port: int
) -> tuple[str, StopUpdates]:
    """The same, for a bot whose token and address are not in its settings (the demo's)."""
    app = web.Application()
    app.add_subapp(prefix, build_workspace(runtime, bot_token=bot_token, prefix=prefix))
    return await _listen(app, listen, port)


async def _listen(app: web.Application, listen: str, port: int) -> tuple[str, StopUpdates]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5.0)
    await runner.setup()
    try:
        site = web.TCPSite(runner, listen, port)
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    host, bound = runner.addresses[0][:2]
    log.info("case workspace listening on %s:%s", host, bound)
    return f"http://{host}:{bound}", runner.cleanup


def with_workspace(runtime: Runtime, start_updates: StartUpdates) -> StartUpdates:
    """``start_updates`` that also opens the workspace's own listener (long polling mode)."""
    if runtime.settings.webapp_url is None:
        return start_updates

    async def start(application: MaracApplication) -> StopUpdates | None:
        settings = runtime.settings
        _, close = await open_workspace(runtime, settings.workspace_listen, settings.workspace_port)
        try:
            stop_updates = await start_updates(application)
        except BaseException:
            await close()
            raise

        async def stop() -> None:
            try:
                if stop_updates is not None:
                    await stop_updates()
            finally:
                await close()

        return stop

    return start

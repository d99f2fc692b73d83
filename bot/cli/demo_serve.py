"""``marac-bot demo --serve``: after the scenes, the demo's workspace stays open to look at.

The demo's bot runs without a workspace address (its chat shows the protected-message
stand-in, as a trial without HTTPS would); here the same runtime's workspace is served on
127.0.0.1 and each demo person gets a link that opens their pages in an ordinary browser,
with launch data signed with the demo token exactly as Telegram would sign it. The demo's
clock stands still, so the links keep working until the demo is stopped.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import quote

from sqlalchemy import select

from bot.launch_data import launch_data_for
from bot.runtime import Runtime
from bot.sandbox import SimulatedUser
from bot.workspace.serving import open_workspace_with
from storage.models import AgendaItem, Case

PREFIX = "/workspace"


@dataclass(frozen=True)
class DemoPage:
    person: SimulatedUser
    page: str


async def demo_pages(
    runtime: Runtime,
    reference: str,
    coordinator: SimulatedUser,
    police: SimulatedUser,
    idva: SimulatedUser,
    drive: SimulatedUser,
) -> list[DemoPage]:
    """Each demo person's pages: the board and the case for the coordinator, the research
    sheet for the police, the case for the IDVA, the referrals for the perpetrator service."""
    async with runtime.sessions() as session:
        found = (
            await session.execute(
                select(Case.id, AgendaItem.meeting_id, AgendaItem.id)
                .join(AgendaItem, AgendaItem.case_id == Case.id)
                .where(Case.reference == reference)
                .order_by(AgendaItem.id)
            )
        ).first()
    assert found is not None, reference
    case_id, meeting_id, item_id = found
    return [
        DemoPage(coordinator, f"board/{meeting_id}"),
        DemoPage(coordinator, f"case/{case_id}"),
        DemoPage(police, f"research-item/{item_id}"),
        DemoPage(idva, f"case/{case_id}"),
        DemoPage(drive, "actions"),
    ]


async def serve_demo_workspace(
    runtime: Runtime,
    bot_token: str,
    pages: list[DemoPage],
    out: TextIO,
    *,
    port: int,
    stop: asyncio.Event,
) -> None:
    """Serve until ``stop`` is set, after printing each person's links."""
    base, close = await open_workspace_with(
        runtime, bot_token=bot_token, prefix=PREFIX, listen="127.0.0.1", port=port
    )
    try:
        now = runtime.clock.now()
        out.write(
            f"\nThe case workspace is served at {base}{PREFIX} (in production, at "
            "MARAC_WEBAPP_URL over HTTPS, opened from buttons in the chat). Open a link in "
            "a browser to see that person's page; Ctrl-C stops the demo.\n"
        )
        for entry in pages:
            data = launch_data_for(entry.person.id, entry.person.first_name, bot_token, now)
            link = f"{base}{PREFIX}/{entry.page}#tgWebAppData={quote(data, safe='')}"
            out.write(f"  {entry.person.display_name}, {entry.page}:\n    {link}\n")
        out.flush()
        await stop.wait()
    finally:
        await close()

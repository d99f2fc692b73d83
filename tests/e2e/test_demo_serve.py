"""``marac-bot demo --serve``: after the scenes, each demo person's workspace link opens
their page in an ordinary browser's way (launch data in the fragment, a session, the page)."""

from __future__ import annotations

import asyncio
import io
import re
from urllib.parse import unquote

import aiohttp
import pytest

from bot.cli.demo import run_demo, today_in_london

# Real outages, processes, rotations or whole demos: `pytest -m "not slow"` skips them.
pytestmark = pytest.mark.slow

LINK = re.compile(r"^  (.+?), (\S+):\n    (http://127\.0\.0\.1:\d+/workspace/\S+)$", re.MULTILINE)


async def test_the_demo_prints_a_working_link_per_person_and_stops_when_asked() -> None:
    out = io.StringIO()
    stop = asyncio.Event()
    demo = asyncio.create_task(
        run_demo(start=today_in_london(), out=out, serve=True, port=0, stop=stop)
    )
    try:
        async with asyncio.timeout(120):
            while len(LINK.findall(out.getvalue())) < 5:
                assert not demo.done(), out.getvalue()[-2000:]
                await asyncio.sleep(0.1)
        links = {(who, page): url for who, page, url in LINK.findall(out.getvalue())}
        async with aiohttp.ClientSession() as http:
            contents = {}
            for (who, page), url in links.items():
                address, _, fragment = url.partition("#tgWebAppData=")
                base = address.split("/workspace/")[0] + "/workspace"
                signed = await http.post(
                    f"{base}/api/session", json={"initData": unquote(fragment)}
                )
                token = (await signed.json())["token"]
                response = await http.get(
                    address.replace("/workspace/", "/workspace/api/page/"),
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert response.status == 200, (who, page)
                contents[who.split(" (")[0], page.split("/")[0]] = await response.text()
        assert "Jane Doe" in contents["Sam Okafor", "research-item"]
        assert "Jane Doe" in contents["Jo Evans", "case"]  # the IDVA sees the whole case
        assert "Meeting board" in contents["Priya Shah", "board"]
        harm = contents["Pat Quinn", "actions"]
        assert "John Doe" in harm and "4 Mill Lane" in harm
        assert "Jane Doe" not in harm and "12 Elm Road" not in harm
    finally:
        stop.set()
    assert await demo == 0

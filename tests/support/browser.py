"""A real headless Chromium for the workspace's pages: Debian's browser, driven by Playwright.

Playwright cannot download its own browsers here, so it drives the system's ``chromium``
(``apt-get install chromium``; ``MARAC_CHROMIUM`` names another). A missing browser fails
the test with the command that installs it: it is never skipped. Telegram's own script is
refused at the network (as on a machine without internet), so the pages are shown working
without it, as they must in an ordinary browser.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, Route, async_playwright

ROOT = Path(__file__).resolve().parents[2]
# Screenshots are kept as the test run's artefacts (CI keeps the folder).
ARTIFACTS = Path(os.environ.get("MARAC_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "workspace"
PHONE = {"width": 360, "height": 740}
DESKTOP = {"width": 1280, "height": 800}


def chromium_path() -> str:
    found = os.environ.get("MARAC_CHROMIUM") or shutil.which("chromium")
    if not found:
        raise AssertionError(
            "These tests need Debian's Chromium: apt-get install chromium "
            "(or set MARAC_CHROMIUM to a Chromium executable)."
        )
    return found


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


async def _offline(route: Route) -> None:
    await route.abort("internetdisconnected")


@asynccontextmanager
async def opened(browser: Browser, viewport: dict[str, int] = DESKTOP) -> AsyncIterator[Page]:
    """A fresh page (its own storage, as a new Telegram window has)."""
    context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
    await context.route("https://telegram.org/**", _offline)
    page = await context.new_page()
    try:
        yield page
    finally:
        await context.close()


async def settled(page: Page) -> None:
    """Wait for the page's content to arrive: the shell's placeholder is replaced."""
    await page.wait_for_selector("#page h1", timeout=30_000)


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical findings for the page as it is now (WCAG 2.2 AA)."""
    results = await Axe().run(
        page,
        options={
            "runOnly": {
                "type": "tag",
                "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"],
            },
            "resultTypes": ["violations"],
        },
    )
    violations: list[dict[str, Any]] = results.response["violations"]
    return [v for v in violations if v.get("impact") in ("serious", "critical")]

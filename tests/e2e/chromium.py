"""Debian's Chromium driven by Playwright (no browser download), started the same way by every test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
# As the machine's notes advise: no sandbox as root, and no background traffic to Google's hosts.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make deps` (apt-get install chromium)")


@asynccontextmanager
async def chromium(*extra_flags: str) -> AsyncIterator[Browser]:
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=[*FLAGS, *extra_flags], headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@asynccontextmanager
async def fresh_page(browser: Browser) -> AsyncIterator[Page]:
    """A page in a context of its own (no storage from another test: a new sign-in each time). The
    local authority serves its sign-in over HTTPS with a self-signed certificate, which it accepts."""
    context = await browser.new_context(ignore_https_errors=True, viewport={"width": 1280, "height": 900})
    try:
        yield await context.new_page()
    finally:
        await context.close()

"""Shared by the browser tests: Debian's Chromium driven headless by Playwright, or a skip saying what is missing."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sync_playwright_or_skip():
    """Playwright's ``sync_playwright``; skips the test when Playwright or Chromium is not installed."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    return sync_playwright


@contextlib.contextmanager
def watched_page(allowed: tuple[str, ...]):
    """A page in headless Chromium (skips when Playwright or Chromium is missing), closed on exit. Yields
    ``(page, errors, foreign)``: console errors and page errors, and requests to URLs not starting with one of
    ``allowed``, collected as they happen."""
    sync_playwright = sync_playwright_or_skip()
    errors: list[str] = []
    foreign: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda msg: errors.append(f"console: {msg.text}") if msg.type == "error" else None,
            )
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.on(
                "request",
                lambda req: None if req.url.startswith(allowed) else foreign.append(req.url),
            )
            yield page, errors, foreign
        finally:
            browser.close()

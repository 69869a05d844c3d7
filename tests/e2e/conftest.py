"""Browser tests: Playwright driving Debian's Chromium (downloads are impossible here)."""

from __future__ import annotations

import os
import shutil

import pytest

from tests.conftest import needs
from tests.e2e.inprocess import inprocess_portal  # noqa: F401  (an in-process portal on the test database)
from tests.e2e.portal import portal, portal_template  # noqa: F401  (the live portal fixtures, shared by the files)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


# Package scope, not session: Playwright's sync API keeps an event loop running in the main thread, and
# tests outside tests/e2e that call asyncio.run() must not inherit it.
@pytest.fixture(scope="package")
def chromium():
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        needs(f"needs Chromium at {CHROMIUM} (apt-get install chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()

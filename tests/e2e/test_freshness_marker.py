"""The page tells the truth about its freshness: a frozen or unreachable stream shows "stale since", ages tick.

The frozen server is this test's own single-process uvicorn (Portal.start_own), never a shared service.
"""

from __future__ import annotations

import os
import re
import signal
import time
from datetime import UTC, datetime

import pytest

from pdportal.templatetags.ages import compact_age
from tests.e2e.portal import LIVE_MS, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

STALE = re.compile(r"stale since \d\d:\d\d:\d\d")


def _open_on(chromium, portal, url: str):
    context, page = signed_in_page(chromium, portal)
    context.add_cookies([{"name": "sessionid", "value": portal.session_key, "url": url}])
    return context, page


def test_a_frozen_web_process_turns_the_marker_stale_within_40_s_and_live_again_after(chromium, portal):
    # The production interval (15 s): two missed heartbeats must show within the 40 s. The page's clock
    # (Date and its timers: the watchdog) is Playwright's, so those 40 s pass at once and exactly; the server's
    # silence is real (it is frozen).
    url, process = portal.start_own()
    context, page = _open_on(chromium, portal, url)
    marker = page.locator("#live-status")
    try:
        page.clock.install()
        page.goto(f"{url}/")
        wait_live(page)
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        os.killpg(process.pid, signal.SIGSTOP)
        try:
            page.clock.run_for(40_000)
            page.wait_for_selector("#live-status[data-state=stale]", timeout=5_000)
            assert STALE.fullmatch(marker.inner_text()), marker.inner_text()
        finally:
            os.killpg(process.pid, signal.SIGCONT)
        page.wait_for_selector("#live-status[data-state=live]", timeout=LIVE_MS)
        assert marker.inner_text() == "live"
        # Back live, the page re-fetches what it shows: it may have missed changes while the server was frozen.
        deadline = time.monotonic() + LIVE_MS / 1000
        while not any("partial=incident-table" in u for u in fetched) and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert any("partial=incident-table" in u for u in fetched), fetched
        assert page.locator("body").get_attribute("data-live-heartbeat") == "15"
    finally:
        context.close()


def test_a_stream_that_never_connects_says_stale_since_the_page_loaded(chromium, portal):
    url, _ = portal.start_own(LIVE_HEARTBEAT_SECONDS="1")
    context, page = _open_on(chromium, portal, url)
    hanging = []
    # Never answered: the stream stays "connecting" for ever, and no error ever fires.
    context.route("**/live/**", lambda route: hanging.append(route))
    try:
        page.goto(f"{url}/")
        page.wait_for_selector("#live-status[data-state=stale]", timeout=LIVE_MS)
        assert STALE.fullmatch(page.locator("#live-status").inner_text())
        assert hanging  # the stream was asked for, and never answered
        assert page.locator("body").get_attribute("data-live-heartbeat") == "1"
    finally:
        context.close()


def test_ages_tick_without_a_reload(chromium, portal):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        page.clock.install()
        page.goto(f"{portal.url}/")
        page.evaluate("window.__notReloaded = true")
        age = page.locator("#incident-table time[data-age]").first
        created = datetime.fromisoformat(age.get_attribute("datetime"))

        def expected() -> str:
            now = datetime.fromtimestamp(page.evaluate("Date.now()") / 1000, tz=UTC)
            return compact_age(created, now)

        expect(age).to_have_text(expected())
        before = age.inner_text()
        page.clock.fast_forward("01:00:00")
        expect(age).to_have_text(expected())
        assert age.inner_text() != before
        page.clock.fast_forward("00:05:00")
        expect(age).to_have_text(expected())
        assert page.evaluate("window.__notReloaded") is True
    finally:
        context.close()

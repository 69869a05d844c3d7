"""The triage home in a real browser: `/` shows no resolved incident, and its counts per status move live.

The portal runs as uvicorn subprocesses (tests/e2e/portal.py); the page is served by the process that does not
receive webhooks, so the change reaches it only through the live bus.
"""

from __future__ import annotations

import pytest

from tests.e2e.portal import LIVE_MS, open_incident, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]


def count(page, status: str) -> int:
    return int(page.locator(f"#incident-counts [data-count={status}]").inner_text())


def test_the_home_shows_no_resolved_incident_and_its_counts_move_live(chromium, portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.other_url}/")
        # The status badge of each row, not the timer under it ("level 1").
        statuses = page.locator("#incident-table tbody td.col-status span[class^=status-]").all_inner_texts()
        assert statuses and set(statuses) <= {"triggered", "acknowledged"}
        assert not page.locator("input[name=status][value=resolved]").is_checked()
        assert page.locator("#incident-tabs [aria-current=page]").inner_text() == "All"
        triggered, acknowledged = count(page, "triggered"), count(page, "acknowledged")
        assert triggered >= 1
        wait_live(page)
        page.evaluate("window.__notReloaded = true")

        incident = open_incident(sandbox)
        response = sandbox.put(
            f"/incidents/{incident['id']}",
            headers={"From": "admin@example.com"},
            json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
        )
        assert response.status_code == 200, response.text

        expect(page.locator("#incident-counts [data-count=triggered]")).to_have_text(
            str(triggered - 1), timeout=LIVE_MS
        )
        expect(page.locator("#incident-counts [data-count=acknowledged]")).to_have_text(str(acknowledged + 1))

        # Resolved: it leaves the open counts (and the home) altogether, still without a reload.
        response = sandbox.put(
            f"/incidents/{incident['id']}",
            headers={"From": "admin@example.com"},
            json={"incident": {"type": "incident_reference", "status": "resolved"}},
        )
        assert response.status_code == 200, response.text
        expect(page.locator("#incident-counts [data-count=acknowledged]")).to_have_text(
            str(acknowledged), timeout=LIVE_MS
        )
        expect(page.locator(f"#incident-row-{incident['id']}")).to_have_count(0, timeout=LIVE_MS)
        assert page.evaluate("window.__notReloaded") is True
    finally:
        context.close()

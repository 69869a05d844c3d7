"""Send event by service in a browser: a responder picks a service, sends, and follows the link to the new incident.

The live portal (tests/e2e/portal.py) has its webhook subscription registered at the sandbox, so the incident the
event opens reaches the mirror by webhook; the page waits for it (a bounded poll of the mirror) and links to it.
"""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.portal import LIVE_MS, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]


def test_a_responder_picks_a_service_sends_an_event_and_follows_the_link_to_the_new_incident(chromium, portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        dedup_key = f"e2e-{uuid.uuid4().hex[:10]}"
        page.goto(f"{portal.url}/events/send/")
        # No routing key to paste: the service is picked by name, the raw key is folded under Advanced.
        expect(page.locator("#id_routing_key")).to_be_hidden()
        page.select_option("#id_service", label="API Gateway")
        page.fill("#id_dedup_key", dedup_key)
        page.fill("#id_summary", f"Browser event {dedup_key}")
        page.select_option("#id_severity", "critical")
        page.fill("#id_source", "e2e")
        page.click("#btn-send")

        expect(page.locator("#event-result")).to_contain_text("API Gateway")
        link = page.locator("#event-incident-link a")
        expect(link).to_be_visible(timeout=LIVE_MS)
        link.click()

        page.wait_for_url("**/incidents/*/")
        expect(page.locator("h1")).to_contain_text(f"Browser event {dedup_key}")
        incidents = sandbox.get("/incidents", params={"incident_key": dedup_key}).json()["incidents"]
        assert [i["id"] for i in incidents] == [page.url.rstrip("/").rsplit("/", 1)[1]]
        assert incidents[0]["service"]["summary"] == "API Gateway"
    finally:
        context.close()

"""A page that may be stale never reopens or undoes a change (DESIGN rule 9).

The page below hears nothing from the live stream (it is blocked), so it still shows "triggered" after someone
else resolved the incident in PagerDuty. Acknowledging from it must not reopen the incident.
"""

from __future__ import annotations

import re

import pytest

from tests.e2e.portal import LIVE_MS, signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

ADMIN = {"From": "admin@example.com"}


def _triggered(sandbox, skip: int) -> dict:
    response = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 20, "sort_by": "created_at:desc"})
    response.raise_for_status()
    return response.json()["incidents"][skip]


def _status(sandbox, pd_id: str) -> str:
    return sandbox.get(f"/incidents/{pd_id}").json()["incident"]["status"]


def test_acknowledging_from_a_stale_page_leaves_a_resolved_incident_resolved_and_says_why(chromium, portal, sandbox):
    from playwright.sync_api import expect

    incident = _triggered(sandbox, 2)
    pd_id, number = incident["id"], incident["incident_number"]
    context, page = signed_in_page(chromium, portal)
    # This page never hears of changes: it stays as it was rendered.
    context.route("**/live/**", lambda route: route.abort())
    try:
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        expect(page.locator("#incident-status")).to_have_text("triggered")

        response = sandbox.put(
            f"/incidents/{pd_id}",
            headers=ADMIN,
            json={"incident": {"type": "incident_reference", "status": "resolved"}},
        )
        assert response.status_code == 200, response.text
        expect(page.locator("#incident-status")).to_have_text("triggered")  # still stale

        page.locator("#btn-acknowledge").click()
        result = page.locator("#incident-result")
        expect(result).to_contain_text(
            re.compile(rf"#{number} was resolved by Adam Admin at \d\d:\d\d; nothing was changed\."), timeout=LIVE_MS
        )
        assert _status(sandbox, pd_id) == "resolved"
        # The refusal also brought the page up to date: it shows PagerDuty's status and only what still applies.
        expect(page.locator("#incident-status")).to_have_text("resolved")
        for absent in ("#btn-acknowledge", "#btn-snooze", "#btn-merge", "#btn-resolve"):
            expect(page.locator(absent)).to_have_count(0)
        for panel in ("Reassign", "Escalate", "Merge incidents into this one", "Add responders"):
            expect(page.locator("#incident-actions summary", has_text=panel)).to_have_count(0)

        # Re-triggering a resolved incident asks first; declining sends nothing.
        asked: list[str] = []

        def decline(dialog) -> None:
            asked.append(dialog.message)
            dialog.dismiss()

        page.once("dialog", decline)
        sent: list[str] = []
        page.on("request", lambda request: sent.append(request.url) if request.method == "POST" else None)
        page.locator("#btn-retrigger").click()
        expect(page.locator("#btn-retrigger")).to_be_visible()
        assert asked and f"#{number}" in asked[0], asked
        assert sent == []
        assert _status(sandbox, pd_id) == "resolved"
    finally:
        context.close()

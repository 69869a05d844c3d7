"""The person's action wins: live refreshes racing an action never hide or falsify its result.

PagerDuty is slowed down (the sandbox's latency knob) so that the person's request is still in flight while other
changes to the same incident are published on the live bus and re-fetched by the page.
"""

from __future__ import annotations

import threading

import pytest

from tests.e2e.portal import LIVE_MS, SWAPS, poll, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]


def _triggered(sandbox, skip: int) -> dict:
    response = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 20, "sort_by": "created_at:asc"})
    response.raise_for_status()
    return response.json()["incidents"][skip]


class Publisher:
    """Publishes invalidations of one incident, one after another, until stopped (a busy incident)."""

    def __init__(self, portal, pd_id: str) -> None:
        self.portal, self.pd_id = portal, pd_id
        self.count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.portal.publish(self.pd_id)
            self.count += 1

    def __enter__(self) -> Publisher:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def test_a_slowed_action_shows_its_own_result_while_live_refreshes_land(chromium, portal, sandbox):
    from playwright.sync_api import expect

    pd_id = _triggered(sandbox, 0)["id"]
    context, page = signed_in_page(chromium, portal)
    result = page.locator("#incident-result")
    try:
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        wait_live(page)
        page.evaluate(SWAPS)
        note = page.locator("#incident-notes textarea[name=content]")
        note.fill("Looking into it")
        page.locator("#btn-note").click()
        expect(result).to_contain_text("Note added.")
        # A blank note is refused, and says so (not the previous "Note added.").
        note.fill("   ")
        page.locator("#btn-note").click()
        expect(result).to_contain_text("This field is required.")
        expect(result).not_to_contain_text("Note added.")

        sandbox.set_knobs(latency_ms=1500)
        page.locator("#incident-header input[name=resolution]").fill("Fixed by the rollback")
        with Publisher(portal, pd_id) as publisher:
            with page.expect_response(lambda r: r.url.endswith(f"/incidents/{pd_id}/resolve/"), timeout=LIVE_MS):
                page.locator("#btn-resolve").click()
            published_during_the_action = publisher.count
        sandbox.set_knobs(latency_ms=0)
        assert published_during_the_action >= 1
        expect(result).to_contain_text("Resolved.", timeout=LIVE_MS)
        expect(result).not_to_contain_text("required")
        expect(page.locator("#incident-status")).to_have_text("resolved", timeout=LIVE_MS)
        # The refreshes held back during the action happen afterwards, and still do not touch the result.
        before = page.evaluate("window.__swapped.length")
        portal.publish(pd_id)
        poll(page, "window.__swapped.length", lambda n: n > before)
        expect(result).to_contain_text("Resolved.")
        expect(result).not_to_contain_text("required")
        assert sandbox.get(f"/incidents/{pd_id}").json()["incident"]["status"] == "resolved"

        # The result stays until the person dismisses it.
        result.get_by_role("button", name="Dismiss").click()
        expect(result).to_have_text("")
    finally:
        sandbox.set_knobs(latency_ms=0)
        context.close()

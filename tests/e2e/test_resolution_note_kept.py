"""Nothing the person typed is lost by their own action's answer (issue 12 review): resolving with a note re-renders
the incident; a draft elsewhere survives, and the note is sent exactly once, or stays with a clear message."""

from __future__ import annotations

import pytest

from tests.e2e.portal import LIVE_MS, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

ADMIN = {"From": "admin@example.com"}
DRAFT = "Draft: the replicas caught up at 03:10, checking the queue next"


def _triggered(sandbox, skip: int) -> dict:
    response = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 30, "sort_by": "created_at:asc"})
    response.raise_for_status()
    return response.json()["incidents"][skip]


def _resolution_notes(sandbox, pd_id: str) -> list[str]:
    """The notes PagerDuty keeps from `resolution` (on the Resolve log entry), and any note added since."""
    entries = sandbox.get(f"/incidents/{pd_id}/log_entries", params={"limit": 100}).json()["log_entries"]
    notes = sandbox.get(f"/incidents/{pd_id}/notes").json()["notes"]
    return [str(e.get("note")) for e in entries if e.get("note")] + [n["content"] for n in notes]


def _resolves_sent(sandbox, pd_id: str, text: str) -> int:
    puts = sandbox.requests_log(path=f"/incidents/{pd_id}", method="PUT")
    return sum(1 for entry in puts if text in str(entry.get("body")))


def test_a_refused_resolution_note_stays_in_its_box_with_the_reason(chromium, portal, sandbox):
    from playwright.sync_api import expect

    pd_id = _triggered(sandbox, 10)["id"]
    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        wait_live(page)
        draft = page.locator("#incident-notes textarea[name=content]")
        draft.fill(DRAFT)
        too_long = "Rolled back deploy 42. " * 250  # over the 5,000 characters PD Portal accepts
        box = page.locator("#incident-header input[name=resolution], #incident-header textarea[name=resolution]")
        box.fill(too_long)
        page.locator("#btn-resolve").click()
        expect(page.locator("#incident-result")).to_contain_text("at most 5000 characters", timeout=LIVE_MS)
        expect(page.locator("#incident-status")).to_have_text("triggered")
        assert box.input_value() == too_long, "the refused resolution note was erased"
        assert draft.input_value() == DRAFT
    finally:
        context.close()


def test_a_resolve_refused_by_a_stale_page_keeps_every_draft_and_says_the_note_was_not_sent(chromium, portal, sandbox):
    from playwright.sync_api import expect

    pd_id = _triggered(sandbox, 11)["id"]
    context, page = signed_in_page(chromium, portal)
    context.route("**/live/**", lambda route: route.abort())  # this page never hears of the change below
    try:
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        expect(page.locator("#incident-status")).to_have_text("triggered")
        draft = page.locator("#incident-notes textarea[name=content]")
        draft.fill(DRAFT)
        page.locator("#incident-header [name=resolution]").fill("Rolled back deploy 42")
        resolved = sandbox.put(
            f"/incidents/{pd_id}",
            headers=ADMIN,
            json={"incident": {"type": "incident_reference", "status": "resolved"}},
        )
        assert resolved.status_code == 200, resolved.text

        page.locator("#btn-resolve").click()

        result = page.locator("#incident-result")
        expect(result).to_contain_text("nothing was changed", timeout=LIVE_MS)
        expect(result).to_contain_text("Your resolution note was not sent")
        expect(result).to_contain_text("Rolled back deploy 42")
        expect(page.locator("#incident-status")).to_have_text("resolved")
        assert draft.input_value() == DRAFT, "the note draft typed on the page was erased by the refusal"
        assert _resolves_sent(sandbox, pd_id, "Rolled back deploy 42") == 0
        assert "Rolled back deploy 42" not in _resolution_notes(sandbox, pd_id)
    finally:
        context.close()


def test_a_resolution_note_is_sent_once_and_a_draft_typed_meanwhile_survives(chromium, portal, sandbox):
    from playwright.sync_api import expect

    pd_id = _triggered(sandbox, 12)["id"]
    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        wait_live(page)
        page.locator("#incident-header [name=resolution]").fill("Rolled back deploy 43")
        sandbox.set_knobs(latency_ms=1500)
        try:
            with page.expect_request(lambda r: r.url.endswith(f"/incidents/{pd_id}/resolve/")):
                page.locator("#btn-resolve").click()
            draft = page.locator("#incident-notes textarea[name=content]")
            draft.fill(DRAFT)  # typed while the resolve is on its way
            expect(page.locator("#incident-result")).to_contain_text("Resolved.", timeout=LIVE_MS)
        finally:
            sandbox.set_knobs(latency_ms=0)
        expect(page.locator("#incident-status")).to_have_text("resolved", timeout=LIVE_MS)
        assert draft.input_value() == DRAFT
        assert _resolves_sent(sandbox, pd_id, "Rolled back deploy 43") == 1
        assert _resolution_notes(sandbox, pd_id).count("Rolled back deploy 43") == 1
    finally:
        context.close()

"""A live refresh never takes away what the person typed, opened, ticked or scrolled to (DESIGN rule 9).

Someone else changes the incident in PagerDuty while the person is half-way through something on its page; the
refresh lands (the page shows the other person's change), and everything the person did is still there.
"""

from __future__ import annotations

import pytest

from tests.e2e.portal import LIVE_MS, SWAPS, poll, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]

ADMIN = {"From": "admin@example.com"}
EVERY_SECTION = {"incident-header", "incident-actions", "incident-alerts", "incident-notes", "incident-timeline"}


def _triggered_incident_with_alerts(sandbox, skip: int) -> dict:
    response = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 20, "sort_by": "created_at:desc"})
    response.raise_for_status()
    return response.json()["incidents"][skip]


def _add_note_as_someone_else(sandbox, pd_id: str, text: str) -> None:
    response = sandbox.post(f"/incidents/{pd_id}/notes", headers=ADMIN, json={"note": {"content": text}})
    assert response.status_code in (200, 201), response.text


def test_a_note_being_typed_keeps_its_text_caret_and_focus_while_the_notes_refresh(chromium, portal, sandbox):
    from playwright.sync_api import expect

    pd_id = _triggered_incident_with_alerts(sandbox, 0)["id"]
    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        wait_live(page)
        note = page.locator("#incident-notes textarea[name=content]")
        note.click()
        page.keyboard.type("Rolled back the deploy; watching err")
        # The caret sits in the middle of a word, with a few characters selected.
        page.evaluate("() => { const t = document.activeElement; t.setSelectionRange(12, 16); }")

        _add_note_as_someone_else(sandbox, pd_id, "Adam: paging the database team")
        # The refresh lands in the very section being typed in: the other person's note appears there.
        expect(page.locator("#incident-notes .notes")).to_contain_text("paging the database team", timeout=LIVE_MS)

        state = page.evaluate(
            """() => { const t = document.activeElement;
                 return {name: t.name, value: t.value, start: t.selectionStart, end: t.selectionEnd}; }"""
        )
        assert state == {"name": "content", "value": "Rolled back the deploy; watching err", "start": 12, "end": 16}
        page.keyboard.press("Control+End")
        page.keyboard.type("ors")
        expect(note).to_have_value("Rolled back the deploy; watching errors")
    finally:
        context.close()


def test_a_filled_resolution_note_open_details_ticks_and_scroll_survive_a_refresh(chromium, portal, sandbox):
    from playwright.sync_api import expect

    pd_id = _triggered_incident_with_alerts(sandbox, 1)["id"]
    context, page = signed_in_page(chromium, portal)
    page.set_viewport_size({"width": 1000, "height": 500})
    try:
        page.goto(f"{portal.url}/incidents/{pd_id}/")
        wait_live(page)
        page.evaluate("window.__notReloaded = true")
        page.evaluate(SWAPS)
        resolution = page.locator("#incident-header input[name=resolution]")
        resolution.fill("Disk cleaned up, alert cleared")
        # Focus moves elsewhere: the person opens an alert's details and ticks it, then opens a panel below.
        alert_details = page.locator("#incident-alerts tbody details").first
        alert_details.locator("summary").click()
        page.locator("#incident-alerts tbody input[name=alerts]").first.check()
        panel = page.locator("#incident-actions details", has_text="Edit title").first
        panel.locator("summary").click()
        title = panel.locator("input[name=title]")
        title.fill("Disk full on db-3 (renamed by the person)")
        page.locator("#incident-timeline").scroll_into_view_if_needed()
        scrolled = page.evaluate("window.scrollY")
        assert scrolled > 0

        response = sandbox.put(
            f"/incidents/{pd_id}",
            headers=ADMIN,
            json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
        )
        assert response.status_code == 200, response.text
        expect(page.locator("#incident-status")).to_have_text("acknowledged", timeout=LIVE_MS)
        # Every section showing the incident was re-fetched and swapped, not only the header.
        swapped = poll(page, "window.__swapped", lambda ids: set(ids) >= EVERY_SECTION)

        expect(resolution).to_have_value("Disk cleaned up, alert cleared")
        expect(alert_details).to_have_attribute("open", "")
        expect(page.locator("#incident-alerts tbody input[name=alerts]").first).to_be_checked()
        expect(panel).to_have_attribute("open", "")
        expect(title).to_have_value("Disk full on db-3 (renamed by the person)")
        assert abs(page.evaluate("window.scrollY") - scrolled) < 2
        assert page.evaluate("window.__notReloaded") is True
        assert set(swapped) >= EVERY_SECTION, swapped
    finally:
        context.close()

"""A bulk action's report stays on the list while live refreshes re-fetch the rows, and its selection is cleared."""

from __future__ import annotations

import pytest

from tests.e2e.portal import LIVE_MS, SWAPS, poll, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]


def _ids(sandbox, status: str, count: int) -> list[str]:
    response = sandbox.get("/incidents", params={"statuses[]": status, "limit": 50, "sort_by": "created_at:desc"})
    response.raise_for_status()
    return [i["id"] for i in response.json()["incidents"]][:count]


def test_the_bulk_report_survives_live_refreshes_and_the_selection_is_cleared(chromium, portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/?status=triggered&status=resolved&per_page=100")
        wait_live(page)
        page.evaluate(SWAPS)
        shown = set(page.eval_on_selector_all("#incident-table input.row-select", "els => els.map(e => e.value)"))
        open_one = next(i for i in _ids(sandbox, "triggered", 50) if i in shown)
        resolved = [i for i in _ids(sandbox, "resolved", 50) if i in shown][:4]
        assert len(resolved) == 4
        for pd_id in (open_one, *resolved):
            page.locator(f"#incident-table input.row-select[value={pd_id}]").check()
        page.locator("#bulk-form select[name=action]").select_option("acknowledge")
        page.locator("#bulk-apply").click()

        report = page.locator("#bulk-result")
        expect(report).to_contain_text("1 done, 4 already resolved", timeout=LIVE_MS)
        expect(page.locator("#incident-table input.row-select:checked")).to_have_count(0)

        # Other changes keep arriving: each one re-fetches the table.
        before = page.evaluate("window.__swapped.filter(id => id === 'incident-table').length")
        response = sandbox.put(
            f"/incidents/{resolved[0]}",
            headers={"From": "admin@example.com"},
            json={"incident": {"type": "incident_reference", "status": "triggered"}},
        )
        assert response.status_code == 200, response.text
        poll(page, "window.__swapped.filter(id => id === 'incident-table').length", lambda n: n > before)
        expect(page.locator(f"#incident-row-{resolved[0]}")).to_contain_text("triggered", timeout=LIVE_MS)
        portal.publish(open_one)
        poll(page, "window.__swapped.filter(id => id === 'incident-table').length", lambda n: n > before + 1)

        expect(report).to_contain_text("1 done, 4 already resolved")
        expect(page.locator("#incident-table input.row-select:checked")).to_have_count(0)
    finally:
        context.close()

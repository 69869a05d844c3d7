"""A saved view round-trips through its URL: saved from the list's filters, opened in a fresh page, same rows."""

from __future__ import annotations

import pytest

from incidents.models import SavedView
from tests.e2e.inprocess import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def shown(page) -> list[str]:
    return page.locator("#incident-table tbody tr[data-incident]").evaluate_all(
        "rows => rows.map(r => r.dataset.incident)"
    )


def test_a_saved_view_round_trips_through_its_url(chromium, page, inprocess_portal):
    user = sign_in(page, inprocess_portal, "responder@example.com")
    page.goto(f"{inprocess_portal}/")
    page.check("input[name=urgency][value=high]")
    page.uncheck("input[name=status][value=acknowledged]")
    page.click("#incident-filters button[type=submit]:has-text('Filter')")
    page.wait_for_url("**urgency=high**")
    rows = shown(page)
    assert rows

    page.click("#saved-views summary")
    page.fill("#saved-view-name", "High and triggered")
    page.click("#btn-save-view")
    page.wait_for_selector(".messages .success")
    view = SavedView.objects.get(owner=user)
    assert view.name == "High and triggered"
    link = page.locator("#saved-views a", has_text="High and triggered")
    url = link.get_attribute("href")
    assert url == view.url and "urgency=high" in url and "status=triggered" in url

    # A fresh browser, the same person: the link alone reproduces the filter and the rows.
    fresh_context = chromium.new_context()
    fresh = fresh_context.new_page()
    try:
        sign_in(fresh, inprocess_portal, "responder@example.com")
        fresh.goto(f"{inprocess_portal}{url}")
        assert fresh.locator("input[name=urgency][value=high]").is_checked()
        assert not fresh.locator("input[name=urgency][value=low]").is_checked()
        assert fresh.locator("input[name=status][value=triggered]").is_checked()
        assert not fresh.locator("input[name=status][value=acknowledged]").is_checked()
        assert shown(fresh) == rows
        # The status badge of each row, not the timer under it ("level 1").
        statuses = fresh.locator("#incident-table tbody td.col-status span[class^=status-]").all_inner_texts()
        assert set(statuses) == {"triggered"}
    finally:
        fresh_context.close()

    # Its owner deletes it from the same menu.
    page.click("#saved-views summary")
    page.click("#saved-views button[aria-label='Delete the view High and triggered']")
    page.wait_for_selector(".messages .success:has-text('View deleted.')")
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert page.locator("#saved-views a", has_text="High and triggered").count() == 0

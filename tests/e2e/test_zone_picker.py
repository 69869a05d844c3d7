"""Preferences: the time zone is found by typing part of its name, picked with one click, and saved."""

from __future__ import annotations

import pytest

from tests.e2e.portal import signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]


def test_a_zone_is_found_by_search_and_saved(chromium, portal):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/settings/me/")
        box = page.get_by_role("combobox", name="Time zone")
        expect(page.locator("#id_time_zone")).to_be_hidden()
        box.click()
        listbox = page.locator(f"#{box.get_attribute('aria-controls')}")
        # Common zones first, before the full list.
        expect(listbox.locator(".picker-group").first).to_have_text("Common zones")
        assert "Factory" not in listbox.inner_text() and "localtime" not in listbox.inner_text()
        box.fill("tokyo")
        expect(listbox.get_by_role("option")).to_have_count(1)
        listbox.get_by_role("option", name="Asia/Tokyo (UTC+09:00)").click()
        expect(box).to_have_value("Asia/Tokyo (UTC+09:00)")
        with page.expect_navigation():
            page.locator("#preferences-save").click()
        expect(page.get_by_role("combobox", name="Time zone")).to_have_value("Asia/Tokyo (UTC+09:00)")
        assert page.eval_on_selector("#id_time_zone", "s => s.value") == "Asia/Tokyo"
    finally:
        context.close()

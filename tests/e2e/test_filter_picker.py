"""The list's filters take one click per choice: status checkboxes and a searchable service picker with chips."""

from __future__ import annotations

import re

import pytest

from tests.e2e.portal import signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]


def _expected(sandbox, service_id: str, statuses: list[str]) -> set[str]:
    params = {"statuses[]": statuses, "service_ids[]": service_id, "limit": 100}
    response = sandbox.get("/incidents", params={**params, "date_range": "all"})
    response.raise_for_status()
    body = response.json()
    assert not body.get("more"), "one page of the sandbox holds them all"
    return {i["id"] for i in body["incidents"]}


def test_two_statuses_and_a_service_with_clicks_only_give_the_right_rows(chromium, portal, sandbox):
    services = sandbox.get("/services", params={"limit": 100}).json()["services"]
    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/?per_page=250")
        wanted = ["resolved", "triggered"]
        service = next(s for s in services if _expected(sandbox, s["id"], wanted))
        # The native multi-select is replaced by a combobox; no Ctrl-click anywhere.
        expect_hidden = page.locator("#filter-service")
        assert expect_hidden.is_hidden()
        # The home ticks the open statuses (triggered, acknowledged): one click unticks acknowledged, one ticks
        # resolved, so triggered and resolved are asked for.
        assert page.locator("#incident-filters input[name=status][value=acknowledged]").is_checked()
        page.locator("#incident-filters label", has_text="acknowledged").click()
        page.locator("#incident-filters label", has_text="resolved").click()
        box = page.get_by_role("combobox", name="Service", exact=True)
        box.click()
        listbox = page.locator(f"#{box.get_attribute('aria-controls')}")
        assert listbox.get_attribute("role") == "listbox" and listbox.get_attribute("aria-multiselectable") == "true"
        listbox.get_by_role("option", name=service["name"], exact=True).click()
        chip = page.locator(".picker-chips .chip", has_text=service["name"])
        assert chip.count() == 1
        assert listbox.get_by_role("option", name=service["name"], exact=True).get_attribute("aria-selected") == "true"
        with page.expect_navigation():
            page.locator("#incident-filters button[type=submit]", has_text="Filter").click()

        query = page.url.split("?", 1)[1]
        assert sorted(re.findall(r"(status|service)=([^&]+)", query)) == [
            ("service", service["id"]),
            ("status", "resolved"),
            ("status", "triggered"),
        ]
        shown = set(
            page.eval_on_selector_all(
                "#incident-table tbody tr[data-incident]", "rs => rs.map(r => r.dataset.incident)"
            )
        )
        assert shown == _expected(sandbox, service["id"], wanted)
        # The chosen service is a chip again on the filtered page; its remove button clears it with one click.
        page.locator(".picker-chips .chip-remove").click()
        assert page.locator(".picker-chips .chip").count() == 0
        assert page.eval_on_selector("#filter-service", "s => Array.from(s.selectedOptions).length") == 0
    finally:
        context.close()


def test_the_picker_works_from_the_keyboard(chromium, portal, sandbox):
    services = sandbox.get("/services", params={"limit": 100}).json()["services"]
    name = sorted(s["name"] for s in services)[0]
    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/")
        box = page.get_by_role("combobox", name="Service", exact=True)
        box.focus()
        box.type(name[:4])
        assert box.get_attribute("aria-expanded") == "true"
        active = box.get_attribute("aria-activedescendant")
        assert active and page.locator(f"#{active}").inner_text().lower().startswith(name[:4].lower())
        box.press("Enter")  # picks the highlighted option; does not submit
        assert page.url.endswith("/")
        assert page.locator(".picker-chips .chip").count() == 1
        box.press("Escape")
        assert box.get_attribute("aria-expanded") == "false"
        box.press("Backspace")  # in the empty box: removes the last chip
        assert page.locator(".picker-chips .chip").count() == 0
    finally:
        context.close()

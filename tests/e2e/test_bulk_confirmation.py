"""The bulk bar: only the chosen action's inputs; resolve and "all N matching" ask first, naming the count."""

from __future__ import annotations

import pytest

from tests.e2e.portal import LIVE_MS, SWAPS, poll, signed_in_page, wait_live

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.timeout(300)]


def _status(sandbox, pd_id: str) -> str:
    return sandbox.get(f"/incidents/{pd_id}").json()["incident"]["status"]


def _open_count(sandbox, status: str) -> int:
    body = sandbox.get("/incidents", params={"statuses[]": status, "limit": 100, "date_range": "all"}).json()
    return len(body["incidents"])


def test_the_bar_shows_only_what_the_chosen_action_needs(chromium, portal):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/?status=triggered")
        bar = page.locator("#bulk-form .bulk-bar")
        action = page.locator("#bulk-action")
        wanted = {
            "acknowledge": [],
            "reassign": ["Reassign to people", "Or to an escalation policy"],
            "escalate": ["Escalation level"],
            "snooze": ["Snooze for"],
            "priority": ["Priority"],
            "urgency": ["Urgency"],
            "resolve": ["Resolution note (optional)"],
        }
        every = {label for labels in wanted.values() for label in labels}
        for value, labels in wanted.items():
            action.select_option(value)
            for label in every:
                control = bar.get_by_label(label, exact=True).first  # a picker: its combobox comes first
                if label in labels:
                    expect(control).to_be_visible()
                else:
                    expect(control).to_be_hidden()
        # Reassign's people box is a picker with a prompt, never a one-row list reading "0 selected".
        action.select_option("reassign")
        people = bar.get_by_role("combobox", name="Reassign to people")
        expect(people).to_have_attribute("placeholder", "Assign to…")
        assert "0 selected" not in bar.inner_text()
    finally:
        context.close()


def test_resolve_asks_first_and_cancel_sends_nothing(chromium, portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/?status=triggered&sort=number")
        wait_live(page)
        boxes = page.locator("#incident-table input.row-select")
        ids = [boxes.nth(i).get_attribute("value") for i in range(2)]
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.locator("#bulk-action").select_option("resolve")
        page.locator("#bulk-form input[name=resolution]").fill("Rolled back the deploy")
        page.locator("#bulk-apply").click()
        dialog = page.locator("#bulk-confirm")
        expect(dialog).to_be_visible()
        expect(dialog).to_contain_text("Resolve 2 incidents?")
        expect(page.locator("#bulk-confirm-no")).to_be_focused()  # Enter alone never resolves
        page.locator("#bulk-confirm-no").click()
        expect(dialog).to_be_hidden()
        assert [_status(sandbox, i) for i in ids] == ["triggered", "triggered"]
        assert [boxes.nth(i).is_checked() for i in range(2)] == [True, True]  # the selection is kept

        page.locator("#bulk-apply").click()
        expect(dialog).to_contain_text("Resolve 2 incidents?")
        page.locator("#bulk-confirm-yes").click()
        expect(page.locator("#bulk-result")).to_contain_text("2 done", timeout=LIVE_MS)
        assert [_status(sandbox, i) for i in ids] == ["resolved", "resolved"]
    finally:
        context.close()


def test_all_n_matching_names_the_count_before_it_runs(chromium, portal, sandbox):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/?status=triggered&status=acknowledged&per_page=25")
        wait_live(page)
        total = int(page.locator("#select-all-matching").get_attribute("data-count"))
        assert total > 25, "more incidents match than one page shows"
        page.locator("#select-page").check()
        page.locator("#select-all-matching").check()
        page.locator("#bulk-action").select_option("acknowledge")
        page.locator("#bulk-apply").click()
        dialog = page.locator("#bulk-confirm")
        expect(dialog).to_contain_text(f"Acknowledge all {total} matching incidents?")
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        assert _open_count(sandbox, "triggered") > 0, "Escape sent nothing"

        page.locator("#bulk-apply").click()
        page.locator("#bulk-confirm-yes").click()
        expect(page.locator("#bulk-result")).to_contain_text("done", timeout=LIVE_MS)
        assert _open_count(sandbox, "triggered") == 0  # every matching incident, not only this page's 25
    finally:
        context.close()


def test_a_live_refresh_keeps_the_people_picked_and_the_search_typed(chromium, portal):
    from playwright.sync_api import expect

    context, page = signed_in_page(chromium, portal)
    try:
        page.goto(f"{portal.url}/?status=triggered&status=acknowledged")
        wait_live(page)
        page.evaluate(SWAPS)
        row = page.locator("#incident-table tbody tr[data-incident]").first
        pd_id = row.get_attribute("data-incident")
        row.locator("input.row-select").check()
        page.locator("#bulk-action").select_option("reassign")
        people = page.get_by_role("combobox", name="Reassign to people")
        people.click()
        listbox = page.locator(f"#{people.get_attribute('aria-controls')}")
        first = listbox.get_by_role("option").first
        name = first.inner_text()
        first.click()
        people.fill(name[:2])

        portal.publish(pd_id)
        poll(page, "window.__swapped.filter(id => id === 'incident-table').length", lambda n: n > 0)
        expect(page.locator("#bulk-form .picker-chips .chip")).to_have_count(1)
        expect(page.locator("#bulk-form .picker-chips .chip")).to_contain_text(name)
        expect(people).to_have_value(name[:2])
        assert page.eval_on_selector("#bulk-users", "s => s.selectedOptions.length") == 1
        expect(page.locator("#bulk-form .picker-ui")).to_have_count(1)
        assert row.locator("input.row-select").is_checked()
    finally:
        context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_nothing_serious_with_the_picker_and_the_dialog_open(chromium, portal, scheme):
    from axe_playwright_python.sync_playwright import Axe

    context, page = signed_in_page(chromium, portal)
    try:
        page.emulate_media(color_scheme=scheme)
        page.goto(f"{portal.url}/?status=triggered&status=acknowledged")
        box = page.get_by_role("combobox", name="Service", exact=True)
        box.click()
        page.locator(f"#{box.get_attribute('aria-controls')}").get_by_role("option").first.click()
        box.press("ArrowDown")
        axe = Axe()
        found = [v for v in axe.run(page).response["violations"] if v["impact"] in {"serious", "critical"}]
        page.locator("#incident-table input.row-select").first.check()
        page.locator("#bulk-action").select_option("resolve")
        page.locator("#bulk-apply").click()
        page.locator("#bulk-confirm[open]").wait_for()
        found += [v for v in axe.run(page).response["violations"] if v["impact"] in {"serious", "critical"}]
        assert [(v["id"], [n["target"] for n in v["nodes"]]) for v in found] == []
    finally:
        context.close()

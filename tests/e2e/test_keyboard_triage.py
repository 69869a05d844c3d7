"""Keyboard triage in a real browser: open the third incident, acknowledge it and add a note without the mouse."""

from __future__ import annotations

import re

import pytest

from incidents.models import Incident, Note
from tests.e2e.inprocess import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def test_a_responder_opens_the_third_incident_acknowledges_it_and_adds_a_note_by_keyboard(
    page, inprocess_portal, sandbox
):
    sign_in(page, inprocess_portal, "responder@example.com")
    page.goto(f"{inprocess_portal}/?status=triggered&sort=-number")
    rows = page.locator("#incident-table tbody tr[data-incident]")
    third = rows.nth(2).get_attribute("data-incident")

    for _ in range(3):
        page.keyboard.press("j")
    # The cursor is visible (a ring on the row) and focus is on its link, where a screen reader reads it.
    assert rows.nth(2).get_attribute("class") == "is-cursor"
    assert page.evaluate("document.activeElement.closest('tr').dataset.incident") == third
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/incidents/{third}/$"))

    page.keyboard.press("a")
    page.wait_for_selector("#incident-status:text('acknowledged')")
    remote = sandbox.get(f"/incidents/{third}").json()["incident"]
    assert remote["status"] == "acknowledged"
    assert [a["assignee"]["summary"] for a in remote["assignments"]] == ["Rita Responder"]

    # The acknowledge's own answer and the live refresh its webhook causes may still be landing: wait until no
    # request of the page is in flight, so the note box "n" focuses is the one that stays.
    page.wait_for_function("!document.querySelector('.htmx-request')")
    page.keyboard.press("n")
    # The note box is open and focused.
    page.wait_for_function("document.activeElement && document.activeElement.name === 'content'")
    page.keyboard.type("Looking at it from the keyboard")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#incident-notes li:has-text('Looking at it from the keyboard')")
    notes = sandbox.get(f"/incidents/{third}/notes").json()["notes"]
    mine = [n for n in notes if n["content"] == "Looking at it from the keyboard"]
    assert [n["user"]["summary"] for n in mine] == ["Rita Responder"]
    assert Note.objects.filter(incident__pd_id=third, content="Looking at it from the keyboard").exists()
    assert Incident.objects.get(pd_id=third).status == "acknowledged"


def test_no_shortcut_fires_while_typing_or_with_a_modifier(page, inprocess_portal):
    sign_in(page, inprocess_portal, "responder@example.com")
    page.goto(f"{inprocess_portal}/?status=triggered")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "incident-search"
    page.keyboard.type("jjx?")
    assert page.input_value("#incident-search") == "jjx?"
    assert page.locator("tr.is-cursor").count() == 0 and page.locator("dialog[open]").count() == 0
    page.locator("#incident-search").blur()
    page.keyboard.press("Control+j")
    page.keyboard.press("Alt+j")
    assert page.locator("tr.is-cursor").count() == 0


def test_resolve_asks_first_and_escape_sends_nothing(page, inprocess_portal, sandbox):
    sign_in(page, inprocess_portal, "responder@example.com")
    page.goto(f"{inprocess_portal}/?status=triggered&sort=-number")
    page.keyboard.press("j")
    first = page.locator("tr.is-cursor").get_attribute("data-incident")
    page.keyboard.press("r")
    dialog = page.locator("dialog[open]")
    assert dialog.get_attribute("aria-labelledby")
    assert "Resolve #" in dialog.locator("h2").inner_text()
    sandbox.clear_log()
    page.keyboard.press("Escape")
    assert page.locator("dialog[open]").count() == 0
    # Focus comes back to the row it left.
    assert page.evaluate("document.activeElement.closest('tr').dataset.incident") == first
    assert not [r for r in sandbox.requests_log() if r.get("method") == "PUT"]
    assert sandbox.get(f"/incidents/{first}").json()["incident"]["status"] == "triggered"


def test_x_selects_and_the_keys_dialog_lists_every_key(page, inprocess_portal):
    sign_in(page, inprocess_portal, "responder@example.com")
    page.goto(f"{inprocess_portal}/?status=triggered")
    page.keyboard.press("j")
    page.keyboard.press("x")
    assert page.locator("tr.is-cursor input.row-select").is_checked()
    page.keyboard.press("?")
    dialog = page.locator("dialog[open]")
    text = dialog.inner_text()
    for key in ("j / k", "x", "Enter", "a", "r", "e", "s", "n", "/", "?"):
        assert key in text
    assert page.evaluate("document.activeElement.id") == "triage-dialog-cancel"
    page.keyboard.press("Escape")
    assert page.locator("dialog[open]").count() == 0


def test_snooze_from_the_list_asks_how_long(page, inprocess_portal, sandbox):
    sign_in(page, inprocess_portal, "responder@example.com")
    page.goto(f"{inprocess_portal}/?status=acknowledged&sort=-number")
    page.keyboard.press("j")
    pd_id = page.locator("tr.is-cursor").get_attribute("data-incident")
    page.keyboard.press("s")
    page.locator("dialog[open] input[value='14400']").check()
    page.keyboard.press("Enter")
    page.wait_for_selector("#incident-result:has-text('Snoozed.')")
    log = sandbox.get(f"/incidents/{pd_id}/log_entries").json()["log_entries"]
    assert any(e["type"] == "snooze_log_entry" for e in log)


def test_ticked_rows_are_acknowledged_together(page, inprocess_portal, sandbox):
    sign_in(page, inprocess_portal, "responder@example.com")
    page.goto(f"{inprocess_portal}/?status=triggered&sort=-number")
    page.keyboard.press("j")
    page.keyboard.press("x")
    page.keyboard.press("j")
    page.keyboard.press("j")
    page.keyboard.press("x")
    ids = page.locator("#incident-table input.row-select:checked").evaluate_all("boxes => boxes.map(b => b.value)")
    assert len(ids) == 2
    page.keyboard.press("a")
    page.wait_for_selector("#bulk-result:has-text('2 done')")
    for pd_id in ids:
        assert sandbox.get(f"/incidents/{pd_id}").json()["incident"]["status"] == "acknowledged"
    # Acknowledged, they left this triggered-only list: the cursor is on the row that took its row's place.
    cursor = page.locator("tr.is-cursor")
    assert cursor.count() == 1 and cursor.get_attribute("data-incident") not in ids
    assert page.evaluate("document.activeElement.closest('tr') && document.activeElement.closest('tr').className") == (
        "is-cursor"
    )


def test_on_the_incident_page_r_resolves_after_the_confirmation(page, inprocess_portal, sandbox):
    sign_in(page, inprocess_portal, "responder@example.com")
    incident = Incident.objects.filter(status="acknowledged").order_by("-number").first()
    page.goto(f"{inprocess_portal}/incidents/{incident.pd_id}/")
    page.keyboard.press("r")
    page.keyboard.type("Fixed by restart")
    page.click("#triage-dialog-ok")
    page.wait_for_selector("#incident-status:text('resolved')")
    assert sandbox.get(f"/incidents/{incident.pd_id}").json()["incident"]["status"] == "resolved"


def test_an_observers_keys_change_nothing_and_say_why(page, inprocess_portal, sandbox):
    sign_in(page, inprocess_portal, "observer@example.com")
    page.goto(f"{inprocess_portal}/?status=triggered&sort=-number")
    page.keyboard.press("j")
    pd_id = page.locator("tr.is-cursor").get_attribute("data-incident")
    sandbox.clear_log()
    page.keyboard.press("a")
    page.wait_for_selector("#incident-result:has-text('Your role can read incidents but not change them.')")
    assert not [r for r in sandbox.requests_log() if r.get("method") != "GET"]
    assert sandbox.get(f"/incidents/{pd_id}").json()["incident"]["status"] == "triggered"

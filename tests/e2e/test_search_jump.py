"""`#N` in the list's search opens incident N (not every incident whose text contains N)."""

from __future__ import annotations

import re

import pytest

from incidents.models import Incident
from tests.e2e.inprocess import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def test_hash_n_in_the_search_opens_incident_n(page, inprocess_portal):
    sign_in(page, inprocess_portal, "responder@example.com")
    # An older incident: a text search for its number would also match newer ones (#1x, #x1 …).
    incident = Incident.objects.order_by("number")[1]
    page.goto(f"{inprocess_portal}/")
    page.keyboard.press("/")
    page.keyboard.type(f"#{incident.number}")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(rf".*/incidents/{incident.pd_id}/$"))
    assert page.locator("h1").inner_text().startswith(f"#{incident.number} ")


def test_hash_n_that_nobody_has_says_so(page, inprocess_portal):
    sign_in(page, inprocess_portal, "responder@example.com")
    missing = Incident.objects.order_by("-number").first().number + 1000
    page.goto(f"{inprocess_portal}/")
    page.fill("#incident-search", f"#{missing}")
    page.press("#incident-search", "Enter")
    page.wait_for_selector("#jump-missing")
    assert page.locator("#jump-missing").inner_text() == f"No incident #{missing} you can see."
    assert page.locator("#incident-table tbody tr[data-incident]").count() == 0

"""A responder in a real browser: filter the list, open an incident, acknowledge, note, snooze, status update from
a template, merge, move an alert, and bulk-resolve three incidents (htmx swaps, against the sandbox)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings as django_settings
from django.test import Client

from incidents import sync
from incidents.models import Alert, Incident, Note, StatusUpdate
from pdportal.pagerduty import PagerDutyClient, RequestBudget
from tests.personas import make_portal_user

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


@pytest.fixture
def portal(inprocess_portal):
    """A live portal in API-key mode against a freshly reset sandbox, its mirror filled by a quick sync."""
    return inprocess_portal


@pytest.fixture
def responder_page(page, portal):
    """The browser, signed in as the seed's responder through a forced-login session cookie."""
    responder = make_portal_user(email="responder@example.com")
    client = Client()
    client.force_login(responder, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": portal}])
    return page


def details_of(sandbox, incident):
    client = PagerDutyClient(token=sandbox.api_token, api_url=sandbox.url, budget=RequestBudget(per_minute=1_000_000))
    sync.sync_incident_details(client=client, incident_ids=[incident.pd_id])


def test_a_responder_works_an_incident(responder_page, portal, sandbox):
    page = responder_page

    # Filter the list: only triggered incidents remain, and the URL carries the filter.
    page.goto(f"{portal}/")
    page.check("input[name=status][value=triggered]")
    page.uncheck("input[name=status][value=acknowledged]")  # the home ticks both open statuses
    page.click("#incident-filters button[type=submit]")
    page.wait_for_url(re.compile(r".*status=triggered.*"))
    statuses = page.locator("#incident-table tbody td span[class^=status-]").all_inner_texts()
    assert statuses and set(statuses) == {"triggered"}

    # Open an incident (one with two alerts or more, for the alert move below) and acknowledge it.
    incident = Incident.objects.filter(status="triggered", alert_count__gte=2).order_by("-created_at").first()
    details_of(sandbox, incident)
    page.goto(f"{portal}/incidents/{incident.pd_id}/")
    page.click("#btn-acknowledge")
    page.wait_for_selector("#incident-status:text('acknowledged')")
    assert Incident.objects.get(pk=incident.pk).status == "acknowledged"

    # Add a note: it appears in the notes partial without a page load.
    page.fill("#incident-notes textarea[name=content]", "Browser says hello")
    page.click("#btn-note")
    page.wait_for_selector("#incident-notes li:has-text('Browser says hello')")
    assert Note.objects.filter(incident=incident, content="Browser says hello").exists()

    # Snooze for one hour (offered only now that it is acknowledged).
    page.select_option(".snooze-form select[name=duration]", "3600")
    page.click("#btn-snooze")
    page.wait_for_selector("#incident-result:has-text('Snoozed.')")

    # A status update from a template, previewed as PagerDuty renders it, then published.
    page.click("#status-update-panel summary")
    page.select_option("#status-update-panel select[name=template]", label="Investigating")
    page.click("#btn-preview")
    page.wait_for_selector("#status-preview")
    assert incident.title in page.input_value("#status-update-panel textarea[name=message]")
    page.click("#btn-publish")
    page.wait_for_selector("#incident-result:has-text('Status update published.')")
    assert StatusUpdate.objects.filter(incident=incident).exists()

    # Move one alert to another incident.
    other = Incident.objects.filter(status="triggered").exclude(pk=incident.pk).order_by("-created_at").first()
    alert = Alert.objects.filter(incident=incident).order_by("created_at").first()
    page.check(f"#alert-{alert.pd_id} input[name=alerts]")
    page.fill("#incident-alerts input[name=target]", f"#{other.number}")
    page.click("#btn-move-alerts")
    page.wait_for_selector("#incident-result:has-text('Moved 1 alert')")
    assert Alert.objects.get(pk=alert.pk).incident_id == other.pk

    # Merge another incident into this one.
    source = Incident.objects.filter(status="triggered").exclude(pk__in=[incident.pk, other.pk]).first()
    page.click("#incident-actions summary:has-text('Merge')")
    page.fill("#incident-actions input[name=sources]", f"#{source.number}")
    page.click("#btn-merge")
    page.wait_for_selector("#incident-result:has-text('Merged.')")
    assert Incident.objects.get(pk=source.pk).status == "resolved"


def test_a_responder_bulk_resolves_three_incidents_with_shift_click(responder_page, portal):
    page = responder_page
    page.goto(f"{portal}/?status=triggered&sort=number")
    boxes = page.locator("#incident-table input.row-select")
    ids = [boxes.nth(i).get_attribute("value") for i in range(3)]
    boxes.nth(0).click()
    boxes.nth(2).click(modifiers=["Shift"])  # a range: the middle row is selected too
    assert [boxes.nth(i).is_checked() for i in range(3)] == [True, True, True]
    page.select_option("#bulk-form select[name=action]", "resolve")
    page.click("#bulk-apply")
    page.wait_for_selector("#bulk-confirm:has-text('Resolve 3 incidents?')")
    page.click("#bulk-confirm-yes")
    page.wait_for_selector("#bulk-result:has-text('3 done')")
    assert set(Incident.objects.filter(pd_id__in=ids).values_list("status", flat=True)) == {"resolved"}


def test_a_responder_creates_an_incident_and_edits_a_change_event_through_htmx(responder_page, portal):
    from incidents.models import ChangeEvent
    from services.models import Service

    page = responder_page
    service = Service.objects.get(name="Checkout")

    # PagerDuty's refusal (an open incident already has this key) lands in the form's partial, not a new page.
    page.goto(f"{portal}/incidents/new/")
    page.evaluate("window.__sameDocument = true")
    page.fill("#incident-new-form input[name=title]", "Checkout 500s")
    page.select_option("#incident-new-form select[name=service]", service.pd_id)
    page.fill("#incident-new-form input[name=incident_key]", "e2e-checkout-500s")
    page.click("#btn-create")
    page.wait_for_url(re.compile(r".*/incidents/P[A-Z0-9]+/$"))
    incident = Incident.objects.get(title="Checkout 500s")
    assert page.url.endswith(f"/incidents/{incident.pd_id}/")

    page.goto(f"{portal}/incidents/new/")
    page.evaluate("window.__sameDocument = true")
    page.fill("#incident-new-form input[name=title]", "Checkout 500s again")
    page.select_option("#incident-new-form select[name=service]", service.pd_id)
    page.fill("#incident-new-form input[name=incident_key]", "e2e-checkout-500s")
    page.click("#btn-create")
    page.wait_for_selector("#incident-new-form #form-error")
    assert page.evaluate("window.__sameDocument") is True  # swapped in place by htmx
    assert page.input_value("#incident-new-form input[name=title]") == "Checkout 500s again"

    # Editing a change event: source and links are shown, not editable; saving redirects to its page.
    page.goto(f"{portal}/change-events/")  # read from PagerDuty into the mirror
    event = ChangeEvent.objects.order_by("-timestamp").first()
    assert event is not None
    page.goto(f"{portal}/change-events/{event.pd_id}/edit/")
    assert page.locator("#change-event-form [name=source]").count() == 0
    page.fill("#change-event-form textarea[name=custom_details]", "")
    page.fill("#change-event-form input[name=summary]", "Edited in the browser")
    page.click("#btn-change-event")
    page.wait_for_url(re.compile(rf".*/change-events/{event.pd_id}/$"))
    event.refresh_from_db()
    assert (event.summary, event.custom_details) == ("Edited in the browser", {})

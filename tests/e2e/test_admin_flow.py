"""An admin in a real browser: create a service, subscribe to it, ping it, preview a template, add and remove a user."""

from __future__ import annotations

import re

import pytest

from accounts.models import PagerDutyUser
from services.models import Service, WebhookSubscription
from tests.e2e.inprocess import on_sandbox, sign_in


@pytest.fixture
def portal(sandbox, settings, transactional_db):
    """A live portal in API-key mode against a freshly reset sandbox; PORTAL_URL is the live server."""
    on_sandbox(settings, sandbox)
    from django.core.cache import cache

    cache.clear()
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost")
    settings.PORTAL_URL = server.url
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def admin_page(page, portal):
    """The browser, signed in as the seed's admin through a forced-login session cookie."""
    sign_in(page, portal, "admin@example.com")
    return page


def test_an_admin_walks_through_services_webhooks_templates_and_users(admin_page, portal, sandbox):
    page = admin_page

    # Create a service.
    page.goto(f"{portal}/services/new/")
    page.fill("#id_name", "Browser Service")
    page.fill("#id_description", "Made in a browser test")
    page.select_option("#id_escalation_policy", label="Platform On-Call")
    page.click("#service-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/services/P[A-Z0-9]+/$"))
    assert page.locator("h1").inner_text() == "Browser Service"
    service = Service.objects.get(name="Browser Service")
    assert sandbox.get(f"/services/{service.pd_id}").status_code == 200

    # Subscribe to it: the form comes with the service filter, but the URL and events are the admin's choice.
    page.click("text=New webhook subscription for this service")
    assert page.input_value("#id_url") == ""
    assert page.input_value("#id_filter_service") == service.pd_id
    page.fill("#id_url", f"{portal}/hooks/pagerduty/")
    page.check("#webhook-events input[value='incident.triggered']")
    page.select_option("#id_filter_type", "service")
    page.click("#webhook-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/webhooks/P[A-Z0-9]+/$"))
    subscription = WebhookSubscription.objects.get()
    assert (subscription.filter_type, subscription.filter_id) == ("service_reference", service.pd_id)
    assert subscription.secret and subscription.created_by_portal
    assert "stored encrypted" in page.content()

    # Ping it: PagerDuty delivers a signed pagey.ping to our receiver, and the page shows it arriving.
    page.click("#ping-button")
    page.wait_for_selector("text=Test ping sent")
    page.wait_for_selector("#ping-arrived", timeout=20_000)

    # Preview a template against an incident.
    incident = sandbox.get("/incidents", params={"limit": 1}).json()["incidents"][0]
    page.goto(f"{portal}/templates/")
    page.locator("#template-list a", has_text="Preview").first.click()
    page.fill("#id_incident", incident["id"])
    page.fill("#id_message", "Looking into it")
    page.click("#preview-form button[type=submit]")
    page.wait_for_selector("#rendered-fields")
    assert incident["title"] in page.locator("#template-preview").inner_text()

    # Create a user, then delete them.
    page.goto(f"{portal}/users/new/")
    page.fill("#id_name", "Bea Browser")
    page.fill("#id_email", "bea@example.com")
    page.select_option("#id_role", "user")
    page.fill("#id_time_zone", "Europe/Rome")
    page.fill("#id_job_title", "Tester")
    page.click("#user-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/users/P[A-Z0-9]+/$"))
    pd_id = PagerDutyUser.objects.get(email="bea@example.com").pd_id
    page.click("text=Delete")
    page.click("button.danger")
    page.wait_for_url(f"{portal}/users/")
    assert "Bea Browser" not in page.locator("#user-list").inner_text()
    assert sandbox.get(f"/users/{pd_id}").status_code == 404


def test_an_admin_gives_a_colleague_a_portal_login_then_switches_it_off(admin_page, portal, chromium):
    page = admin_page
    page.goto(f"{portal}/settings/")
    page.click("text=Manage portal logins")
    page.fill("#id_email", "responder2@example.com")
    page.fill("#id_password1", "browser-made-passphrase-7")
    page.fill("#id_password2", "browser-made-passphrase-7")
    page.click("#login-create-submit")
    page.wait_for_selector("text=responder2 can now sign in, acting as Ravi Responder (user).")
    assert "Ravi Responder (responder2@example.com)" in page.locator("#login-list").inner_text()

    # The colleague, in their own browser, signs in with it and acts as their PagerDuty user.
    colleague = chromium.new_context().new_page()
    try:
        colleague.goto(f"{portal}/accounts/login/")
        colleague.fill("#signin-local input[name=login]", "responder2")
        colleague.fill("#signin-local input[name=password]", "browser-made-passphrase-7")
        colleague.click("#signin-local button[type=submit]")
        colleague.wait_for_url(f"{portal}/")
        assert colleague.locator(".who .user").inner_text() == "Ravi Responder"

        # Switched off, their next click lands on the sign-in page.
        page.locator("#login-list a", has_text="responder2").click()
        page.click("#login-switch-off")
        page.wait_for_selector("#login-state >> text=switched off")
        colleague.goto(f"{portal}/settings/me/")
        assert "/accounts/login/" in colleague.url
    finally:
        colleague.context.close()

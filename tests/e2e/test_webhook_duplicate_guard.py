"""The duplicate-webhook guard in a browser: no one-click duplicate, and a second identical subscription is refused."""

from __future__ import annotations

import re

import pytest

from services.models import WebhookSubscription
from tests.e2e.test_admin_flow import admin_page, portal  # noqa: F401  (the live portal and a signed-in admin)

pytestmark = [pytest.mark.browser, pytest.mark.sandbox]


def _subscriptions(sandbox, url: str) -> list[dict]:
    body = sandbox.get("/webhook_subscriptions").json()
    return [s for s in body["webhook_subscriptions"] if s["delivery_method"]["url"] == url]


def test_the_form_refuses_a_second_subscription_identical_to_the_portals_own(admin_page, portal, sandbox):  # noqa: F811
    page = admin_page
    receiver = f"{portal}/hooks/pagerduty/"

    # Nothing pre-filled: one click on Create makes nothing.
    page.goto(f"{portal}/webhooks/new/")
    assert page.input_value("#id_url") == ""
    assert page.locator("#webhook-events input:checked").count() == 0
    page.click("#webhook-form button[type=submit]")
    assert page.locator("#id_url:invalid").count() == 1  # the browser asks for a URL first
    assert page.url == f"{portal}/webhooks/new/"
    assert _subscriptions(sandbox, receiver) == []

    # The portal's own account-wide subscription, made on purpose.
    page.fill("#id_url", receiver)
    page.check("#webhook-events input[value='incident.triggered']")
    page.check("#webhook-events input[value='incident.resolved']")
    page.click("#webhook-form button[type=submit]")
    page.wait_for_url(re.compile(r".*/webhooks/P[A-Z0-9]+/$"))
    own = WebhookSubscription.objects.get()

    # The same URL, an overlapping event and scope again: refused, with the way to the existing one.
    page.goto(f"{portal}/webhooks/new/")
    page.fill("#id_url", receiver)
    page.check("#webhook-events input[value='incident.triggered']")
    page.click("#webhook-form button[type=submit]")
    refusal = page.locator("#webhook-duplicate")
    refusal.wait_for()
    assert own.pd_id in refusal.inner_text() and "every delivery would arrive twice" in refusal.inner_text()
    assert [s["id"] for s in _subscriptions(sandbox, receiver)] == [own.pd_id]
    refusal.get_by_role("link").click()
    page.wait_for_url(f"{portal}/webhooks/{own.pd_id}/")

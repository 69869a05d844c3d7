"""The Settings page shows the portal's webhook subscription health, with Enable when PagerDuty disabled it."""

import pytest
import responses

from services.models import WebhookSubscription

from .conftest import API

pytestmark = pytest.mark.django_db


def _subscription(settings, *, temporarily_disabled):
    return WebhookSubscription.objects.create(
        pd_id="PWHSUB1",
        url=f"{settings.PORTAL_URL}/webhooks/pagerduty/",
        active=True,
        created_by_portal=True,
        raw={"delivery_method": {"type": "http_delivery_method", "temporarily_disabled": temporarily_disabled}},
    )


def _section(page):
    return page.split('id="webhook-health"', 1)[1].split("</section>", 1)[0]


def test_it_offers_to_enable_a_subscription_pagerduty_disabled(client_as, admin, settings):
    _subscription(settings, temporarily_disabled=True)

    section = _section(client_as(admin).get("/settings/").content.decode())

    assert "PagerDuty disabled delivery after repeated failures" in section
    assert 'action="/webhooks/PWHSUB1/enable/"' in section
    assert 'method="post"' in section and "csrfmiddlewaretoken" in section
    assert 'href="/webhooks/PWHSUB1/"' in section


def test_a_healthy_subscription_shows_no_enable_button(client_as, admin, settings):
    _subscription(settings, temporarily_disabled=False)

    section = _section(client_as(admin).get("/settings/").content.decode())

    assert "Active" in section and 'href="/webhooks/PWHSUB1/"' in section
    assert "/enable/" not in section


def test_it_says_when_no_subscription_points_at_the_portal(client_as, admin):
    section = _section(client_as(admin).get("/settings/").content.decode())

    assert "No webhook subscription points at this portal." in section
    assert "/enable/" not in section


@responses.activate
def test_its_enable_form_asks_pagerduty_and_the_page_then_shows_active(client_as, admin, settings):
    settings.PAGERDUTY_API_TOKEN = "u+settingstoken"
    sub = _subscription(settings, temporarily_disabled=True)
    enabled = {
        "id": sub.pd_id,
        "type": "webhook_subscription",
        "active": True,
        "description": "",
        "events": ["incident.triggered"],
        "filter": {"type": "account_reference"},
        "delivery_method": {"type": "http_delivery_method", "url": sub.url, "temporarily_disabled": False},
    }
    responses.post(f"{API}/webhook_subscriptions/{sub.pd_id}/enable", json={"webhook_subscription": enabled})
    client = client_as(admin)
    section = _section(client.get("/settings/").content.decode())
    action = section.split('<form method="post" action="', 1)[1].split('"', 1)[0]

    client.post(action)

    assert [c.request.method for c in responses.calls] == ["POST"]
    section = _section(client.get("/settings/").content.decode())
    assert "Active" in section and "/enable/" not in section

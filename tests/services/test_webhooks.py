"""Webhook subscription pages against the sandbox: create (secret handling), list, get, update, enable, ping,
delete, and removing only what this portal made."""

from __future__ import annotations

import sqlite3
from urllib.parse import parse_qs

import pytest
from django.utils import timezone

from pdportal import crypto
from pdportal.models import WebhookEvent
from services import selectors
from services.events import ALL_EVENT_TYPES, INCIDENT_EVENT_TYPES, SERVICE_EVENT_TYPES
from services.models import Service, WebhookSubscription
from tests.services.conftest import requests_to

TABLE = "sandbox_hooks_webhooksubscription"


def _remote(sandbox, pd_id: str) -> dict:
    """The sandbox's own row (it keeps the secret in clear, as PagerDuty must, to sign deliveries)."""
    with sqlite3.connect(sandbox.db_path, timeout=10) as db:
        db.row_factory = sqlite3.Row
        row = db.execute(f"SELECT * FROM {TABLE} WHERE id = ?", (pd_id,)).fetchone()
    return dict(row) if row else {}


def _set_remote(sandbox, pd_id: str, **values) -> None:
    sets = ", ".join(f"{k} = ?" for k in values)
    with sqlite3.connect(sandbox.db_path, timeout=10) as db:
        db.execute(f"UPDATE {TABLE} SET {sets} WHERE id = ?", (*values.values(), pd_id))


@pytest.fixture
def portal_url(settings):
    settings.PORTAL_URL = "http://portal.example.test"
    return "http://portal.example.test/hooks/pagerduty/"


def _create(client, **overrides):
    data = {
        "url": "http://portal.example.test/hooks/pagerduty/",
        "description": "live updates",
        "events": ["incident.triggered", "incident.resolved", "service.updated"],
        "filter_type": "account",
        "active": "on",
    }
    data.update(overrides)
    return client.post("/webhooks/new/", data)


def test_it_stores_the_secret_of_its_own_subscription_encrypted_and_never_shows_it(pd, admin_client, portal_url):
    response = _create(admin_client)

    assert response.status_code == 302
    assert len(requests_to(pd, "POST", "/webhook_subscriptions")) == 1
    sub = WebhookSubscription.objects.get()
    secret = _remote(pd, sub.pd_id)["secret"]
    assert secret
    assert sub.created_by_portal is True
    assert sub.url == portal_url
    # The raw columns hold no secret; the secret column holds only ciphertext that decrypts to it.
    assert secret not in sub.secret
    assert secret not in str(sub.raw)
    assert crypto.decrypt(sub.secret) == secret
    assert secret in selectors.webhook_signing_secrets()
    for page in (admin_client.get(response["Location"]), admin_client.get("/webhooks/")):
        assert secret not in page.content.decode()


def test_it_shows_the_secret_of_a_foreign_subscription_exactly_once(pd, admin_client, portal_url):
    response = _create(admin_client, url="https://hooks.example.org/pagerduty")

    assert response.status_code == 200
    sub = WebhookSubscription.objects.get()
    secret = _remote(pd, sub.pd_id)["secret"]
    assert secret in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert sub.secret == ""
    assert secret not in str(sub.raw)
    assert secret not in selectors.webhook_signing_secrets()
    assert secret not in admin_client.get(f"/webhooks/{sub.pd_id}/").content.decode()


def test_it_groups_the_v3_event_types_in_the_form(pd, admin_client):
    html = admin_client.get("/webhooks/new/").content.decode()

    assert "Incident events" in html and "Service events" in html
    for event in ALL_EVENT_TYPES:
        assert f'value="{event}"' in html
    assert html.index("Incident events") < html.index(INCIDENT_EVENT_TYPES[0]) < html.index("Service events")
    assert html.index("Service events") < html.index(f'value="{SERVICE_EVENT_TYPES[0]}"')


def test_it_creates_a_service_filtered_subscription(pd, admin_client, portal_url):
    service_id = pd.services["Checkout"]
    admin_client.get("/services/")

    response = _create(admin_client, filter_type="service", filter_service=service_id)

    assert response.status_code == 302
    remote = _remote(pd, WebhookSubscription.objects.get().pd_id)
    assert (remote["filter_type"], remote["filter_id"]) == ("service_reference", service_id)


def test_it_shows_pagerdutys_refusal_and_keeps_nothing(pd, admin_client, portal_url):
    # The portal's copy still lists a service that PagerDuty no longer has.
    Service.objects.create(pd_id="PGONE01", name="Decommissioned")

    response = _create(admin_client, filter_type="service", filter_service="PGONE01")

    assert response.status_code == 200
    assert "PGONE01 not found" in response.content.decode()
    assert len(requests_to(pd, "POST", "/webhook_subscriptions")) == 1
    assert not WebhookSubscription.objects.exists()


def test_it_refuses_an_unknown_team_before_asking_pagerduty(pd, admin_client, portal_url):
    response = _create(admin_client, filter_type="team", filter_team="PNOPE99")

    # The team is not a choice, so the form refuses before PagerDuty is asked.
    assert response.status_code == 200
    assert not requests_to(pd, "POST", "/webhook_subscriptions")
    assert not WebhookSubscription.objects.exists()


def test_it_lists_with_the_filter_type_and_id(pd, admin_client, portal_url):
    service_id = pd.services["Checkout"]
    admin_client.get("/services/")
    _create(admin_client, filter_type="service", filter_service=service_id, description="checkout hooks")
    _create(admin_client, description="account hooks")
    pd.clear_log()

    response = admin_client.get("/webhooks/", {"filter_type": "service", "filter_id": service_id})

    query = parse_qs(requests_to(pd, "GET", "/webhook_subscriptions")[0]["query"])
    assert query["filter_type"] == ["service"]
    assert query["filter_id"] == [service_id]
    html = response.content.decode()
    assert "checkout hooks" in html
    assert "account hooks" not in html


def test_it_gets_updates_enables_and_deletes_a_subscription(pd, admin_client, portal_url):
    _create(admin_client)
    sub = WebhookSubscription.objects.get()

    detail = admin_client.get(f"/webhooks/{sub.pd_id}/")
    assert detail.status_code == 200
    assert len(requests_to(pd, "GET", f"/webhook_subscriptions/{sub.pd_id}")) == 1

    response = admin_client.post(
        f"/webhooks/{sub.pd_id}/edit/",
        {"description": "only resolutions", "events": ["incident.resolved"], "filter_type": "account"},
    )
    assert response.status_code == 302
    remote = _remote(pd, sub.pd_id)
    assert remote["description"] == "only resolutions"
    assert remote["events"] == '["incident.resolved"]'
    assert remote["active"] == 0
    sub.refresh_from_db()
    assert sub.events == ["incident.resolved"] and sub.active is False
    assert "only resolutions" in admin_client.get(f"/webhooks/{sub.pd_id}/").content.decode()

    _set_remote(pd, sub.pd_id, temporarily_disabled=1)
    assert "temporarily disabled" in admin_client.get(f"/webhooks/{sub.pd_id}/").content.decode()
    assert admin_client.post(f"/webhooks/{sub.pd_id}/enable/").status_code == 302
    assert len(requests_to(pd, "POST", f"/webhook_subscriptions/{sub.pd_id}/enable")) == 1
    assert _remote(pd, sub.pd_id)["temporarily_disabled"] == 0
    assert "temporarily disabled" not in admin_client.get(f"/webhooks/{sub.pd_id}/").content.decode()

    assert "Delete subscription" in admin_client.get(f"/webhooks/{sub.pd_id}/delete/").content.decode()
    assert admin_client.post(f"/webhooks/{sub.pd_id}/delete/").status_code == 302
    assert len(requests_to(pd, "DELETE", f"/webhook_subscriptions/{sub.pd_id}")) == 1
    assert _remote(pd, sub.pd_id) == {}
    assert not WebhookSubscription.objects.exists()
    assert f'id="webhook-{sub.pd_id}"' not in admin_client.get("/webhooks/").content.decode()


def test_it_sends_a_test_ping_and_shows_its_arrival(pd, admin_client, portal_url):
    _create(admin_client)
    sub = WebhookSubscription.objects.get()

    response = admin_client.post(f"/webhooks/{sub.pd_id}/ping/", follow=True)

    assert len(requests_to(pd, "POST", f"/webhook_subscriptions/{sub.pd_id}/ping")) == 1
    html = response.content.decode()
    assert "Test ping sent" in html
    assert 'id="ping-waiting"' in html and "every 2s" in html
    WebhookEvent.objects.create(
        event_id="01PINGEVENT", subscription_id=sub.pd_id, event_type="pagey.ping", received_at=timezone.now()
    )
    fragment = admin_client.get(f"/webhooks/{sub.pd_id}/", {"partial": "webhook-ping"}).content.decode()
    assert fragment.lstrip().startswith('<section id="webhook-ping"')
    assert "01PINGEVENT" in fragment


def test_it_removes_only_the_subscriptions_it_created(pd, admin_client, portal_url):
    _create(admin_client, description="ours")
    ours = WebhookSubscription.objects.get()
    theirs = pd.post(
        "/webhook_subscriptions",
        json={
            "webhook_subscription": {
                "type": "webhook_subscription",
                "delivery_method": {"type": "http_delivery_method", "url": "https://elsewhere.example/hook"},
                "events": ["incident.triggered"],
                "filter": {"type": "account_reference"},
            }
        },
    ).json()["webhook_subscription"]
    admin_client.get("/webhooks/")  # mirrors theirs too
    assert WebhookSubscription.objects.get(pd_id=theirs["id"]).created_by_portal is False

    confirm = admin_client.get("/webhooks/remove-portal/").content.decode()
    assert ours.pd_id in confirm and theirs["id"] not in confirm
    response = admin_client.post("/webhooks/remove-portal/")

    assert response.status_code == 302
    assert _remote(pd, ours.pd_id) == {}
    assert _remote(pd, theirs["id"])["url"] == "https://elsewhere.example/hook"
    assert not requests_to(pd, "DELETE", f"/webhook_subscriptions/{theirs['id']}")
    assert list(WebhookSubscription.objects.values_list("pd_id", flat=True)) == [theirs["id"]]
    listing = admin_client.get("/webhooks/").content.decode()
    assert f'id="webhook-{ours.pd_id}"' not in listing and f'id="webhook-{theirs["id"]}"' in listing


def test_it_accepts_the_configured_extra_secrets(db, settings):
    settings.PAGERDUTY_WEBHOOK_SECRETS = ["outside-secret"]
    WebhookSubscription.objects.create(
        pd_id="PMINE01", url="http://x/hooks/pagerduty/", secret=crypto.encrypt("mine"), created_by_portal=True
    )
    WebhookSubscription.objects.create(pd_id="PTHEIRS", url="http://y/", secret="", created_by_portal=False)

    assert selectors.webhook_signing_secrets() == ["mine", "outside-secret"]


def test_an_htmx_ping_navigates_to_the_waiting_page(pd, admin_client, portal_url):
    _create(admin_client)
    sub = WebhookSubscription.objects.get()

    response = admin_client.post(f"/webhooks/{sub.pd_id}/ping/", headers={"HX-Request": "true"})

    assert response.status_code == 204
    assert response["HX-Redirect"] == f"/webhooks/{sub.pd_id}/?pinged=1"
    assert len(requests_to(pd, "POST", f"/webhook_subscriptions/{sub.pd_id}/ping")) == 1

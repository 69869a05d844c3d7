"""The duplicate-webhook guard: the form never makes a second subscription that would deliver every event twice."""

from __future__ import annotations

import pytest

from services.models import Service, Team, WebhookSubscription
from tests.services.conftest import requests_to

PORTAL_HOOK = "http://portal.example.test/hooks/pagerduty/"


@pytest.fixture
def portal_url(settings):
    settings.PORTAL_URL = "http://portal.example.test"
    return PORTAL_HOOK


@pytest.fixture
def portals_own(db, portal_url):
    """The portal's own account-wide subscription, as `pd_webhooks register` leaves it in the mirror."""
    return WebhookSubscription.objects.create(
        pd_id="PWHOWN1",
        url=portal_url,
        filter_type="account_reference",
        events=["incident.triggered", "incident.acknowledged", "incident.resolved"],
        created_by_portal=True,
    )


def _create(client, **overrides):
    data = {
        "url": PORTAL_HOOK,
        "description": "",
        "events": ["incident.triggered"],
        "filter_type": "account",
        "active": "on",
    }
    data.update(overrides)
    return client.post("/webhooks/new/", data)


def test_the_new_webhook_form_is_not_prefilled_with_the_portals_url_or_every_event(pd, admin_client, portal_url):
    html = admin_client.get("/webhooks/new/").content.decode()

    assert f'value="{portal_url}"' not in html
    assert " checked" not in html.split('id="webhook-events"', 1)[1].split("</fieldset>", 1)[0]


def test_it_refuses_a_second_subscription_identical_to_the_portals_own(pd, admin_client, portals_own):
    response = _create(admin_client, url=PORTAL_HOOK.rstrip("/"), events=["incident.resolved", "service.updated"])

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="webhook-duplicate"' in html
    assert "PWHOWN1" in html and "every delivery would arrive twice" in html
    assert "/webhooks/PWHOWN1/" in html
    assert not requests_to(pd, "POST", "/webhook_subscriptions")
    assert list(WebhookSubscription.objects.values_list("pd_id", flat=True)) == ["PWHOWN1"]


def test_it_refuses_a_narrower_scope_that_the_account_wide_one_already_covers(pd, admin_client, portals_own):
    admin_client.get("/services/")
    response = _create(admin_client, filter_type="service", filter_service=pd.services["Checkout"])

    assert 'id="webhook-duplicate"' in response.content.decode()
    assert not requests_to(pd, "POST", "/webhook_subscriptions")


def test_it_refuses_a_team_scope_that_overlaps_a_service_of_that_team(pd, admin_client, portal_url):
    team = Team.objects.create(pd_id="PTEAM01", name="Payments")
    service = Service.objects.create(pd_id="PSVC001", name="Checkout")
    service.teams.add(team)
    WebhookSubscription.objects.create(
        pd_id="PWHSVC1", url=portal_url, filter_type="service_reference", filter_id="PSVC001",
        events=["incident.triggered"],
    )  # fmt: skip

    assert 'id="webhook-duplicate"' in _create(admin_client, filter_type="team", filter_team="PTEAM01").content.decode()


@pytest.mark.parametrize(
    "overrides",
    [
        {"events": ["service.updated"]},  # no event in common
        {"url": "https://hooks.example.org/pagerduty"},  # another URL
    ],
)
def test_it_allows_a_subscription_that_does_not_overlap(pd, admin_client, portals_own, overrides):
    response = _create(admin_client, **overrides)

    assert 'id="webhook-duplicate"' not in response.content.decode()
    assert len(requests_to(pd, "POST", "/webhook_subscriptions")) == 1


def test_an_edit_cannot_turn_a_subscription_into_a_duplicate_either(pd, admin_client, portals_own, portal_url):
    other = WebhookSubscription.objects.create(
        pd_id="PWHOTH1", url=portal_url, filter_type="account_reference", events=["service.updated"]
    )

    response = admin_client.post(
        f"/webhooks/{other.pd_id}/edit/", {"events": ["incident.triggered"], "filter_type": "account", "active": "on"}
    )

    assert 'id="webhook-duplicate"' in response.content.decode()
    assert not [r for r in pd.requests_log(method="PUT") if r["path"].startswith("/webhook_subscriptions/")]

"""/webhook_subscriptions REST on the sandbox: create, list with filters, get, update, delete, validation."""

import pytest

from tests.contract.openapi import validate

pytestmark = pytest.mark.sandbox

URL = "http://127.0.0.1:9/hooks/pagerduty/"


@pytest.fixture
def subs(fresh_sandbox):
    yield fresh_sandbox
    fresh_sandbox.reset()


def create(sandbox, *, filter=None, events=("incident.triggered",), url=URL, **extra):
    body = {
        "webhook_subscription": {
            "type": "webhook_subscription",
            "delivery_method": {"type": "http_delivery_method", "url": url, **extra.pop("delivery", {})},
            "events": list(events),
            "filter": filter or {"type": "account_reference"},
            **extra,
        }
    }
    return sandbox.post("/webhook_subscriptions", json=body)


def test_create_returns_the_subscription_with_its_secret_once(subs):
    response = create(subs, description="portal", delivery={"custom_headers": [{"name": "X-Env", "value": "dev"}]})
    assert response.status_code == 200, response.text
    validate(response)
    sub = response.json()["webhook_subscription"]
    assert sub["type"] == "webhook_subscription"
    assert sub["active"] is True
    assert sub["delivery_method"]["secret"]
    assert sub["delivery_method"]["temporarily_disabled"] is False
    fetched = subs.get(f"/webhook_subscriptions/{sub['id']}")
    validate(fetched)
    method = fetched.json()["webhook_subscription"]["delivery_method"]
    assert method["secret"] is None
    assert method["custom_headers"] == [{"name": "X-Env", "value": "-- redacted --"}]


def test_list_filters_by_service_and_team(subs):
    service_id = subs.services["API Gateway"]
    team_id = subs.get("/teams").json()["teams"][0]["id"]
    on_service = create(subs, filter={"type": "service_reference", "id": service_id}).json()["webhook_subscription"]
    on_team = create(subs, filter={"type": "team_reference", "id": team_id}).json()["webhook_subscription"]
    on_account = create(subs).json()["webhook_subscription"]
    everything = subs.get("/webhook_subscriptions")
    validate(everything)
    assert {s["id"] for s in everything.json()["webhook_subscriptions"]} == {
        on_service["id"],
        on_team["id"],
        on_account["id"],
    }
    by_service = subs.get("/webhook_subscriptions", params={"filter_type": "service", "filter_id": service_id})
    assert [s["id"] for s in by_service.json()["webhook_subscriptions"]] == [on_service["id"]]
    by_team = subs.get("/webhook_subscriptions", params={"filter_type": "team", "filter_id": team_id})
    assert [s["id"] for s in by_team.json()["webhook_subscriptions"]] == [on_team["id"]]
    by_account = subs.get("/webhook_subscriptions", params={"filter_type": "account"})
    assert [s["id"] for s in by_account.json()["webhook_subscriptions"]] == [on_account["id"]]


def test_a_service_filter_without_id_is_refused(subs):
    response = subs.get("/webhook_subscriptions", params={"filter_type": "service"})
    assert response.status_code == 400


def test_update_changes_events_and_active_but_not_the_delivery_method(subs):
    sub = create(subs).json()["webhook_subscription"]
    response = subs.put(
        f"/webhook_subscriptions/{sub['id']}",
        json={"webhook_subscription": {"events": ["incident.resolved", "incident.acknowledged"], "active": False}},
    )
    assert response.status_code == 200, response.text
    validate(response)
    updated = response.json()["webhook_subscription"]
    assert updated["events"] == ["incident.resolved", "incident.acknowledged"]
    assert updated["active"] is False
    refused = subs.put(
        f"/webhook_subscriptions/{sub['id']}",
        json={"webhook_subscription": {"delivery_method": {"type": "http_delivery_method", "url": URL}}},
    )
    assert refused.status_code == 400


def test_delete_removes_the_subscription(subs):
    sub = create(subs).json()["webhook_subscription"]
    assert subs.delete(f"/webhook_subscriptions/{sub['id']}").status_code == 204
    missing = subs.get(f"/webhook_subscriptions/{sub['id']}")
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"events": []}, "Events"),
        ({"events": ["incident.exploded"]}, "incident.exploded"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"filter": {"type": "service_reference"}}, "Filter id"),
        ({"filter": {"type": "service_reference", "id": "PNOPE00"}}, "PNOPE00"),
        ({"filter": {"type": "galaxy_reference"}}, "Filter type"),
    ],
)
def test_invalid_subscriptions_are_refused_with_pagerdutys_error_body(subs, overrides, message):
    response = create(subs, **overrides)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == 2001
    assert message in " ".join(error["errors"])


def test_an_observer_cannot_create_a_subscription(subs):
    keys = subs.client.get("/_sandbox/keys").json()
    observer = next(u["api_key"] for u in keys["users"] if u["role"] == "observer")
    body = {
        "webhook_subscription": {
            "type": "webhook_subscription",
            "delivery_method": {"type": "http_delivery_method", "url": URL},
            "events": ["incident.triggered"],
            "filter": {"type": "account_reference"},
        }
    }
    response = subs.post("/webhook_subscriptions", token=observer, json=body)
    assert response.status_code == 403
    assert subs.get("/webhook_subscriptions", token=observer).status_code == 200

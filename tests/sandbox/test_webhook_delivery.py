"""Signed webhook v3 delivery from the sandbox: one event per state change, signatures, retries, disabling."""

import hashlib
import hmac
import json
from pathlib import Path

import pytest

from tests.sandbox.webhook_receiver import Receiver

pytestmark = pytest.mark.sandbox

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
EVENTS = ["incident.triggered", "incident.acknowledged", "incident.resolved", "incident.annotated"]


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def hooks(fresh_sandbox):
    """A reset sandbox with fast webhook retries; reset again afterwards so no subscription lingers."""
    fresh_sandbox.set_knobs(webhook_retry_base_seconds=0.05)
    yield fresh_sandbox
    fresh_sandbox.reset()


def subscribe(sandbox, url, *, events=EVENTS, filter=None):
    body = {
        "webhook_subscription": {
            "type": "webhook_subscription",
            "delivery_method": {"type": "http_delivery_method", "url": url},
            "events": events,
            "filter": filter or {"type": "account_reference"},
            "description": "test",
        }
    }
    response = sandbox.post("/webhook_subscriptions", json=body)
    assert response.status_code == 200, response.text
    return response.json()["webhook_subscription"]


def flush(sandbox):
    response = sandbox.client.post("/_sandbox/deliveries/flush", json={"timeout": 20})
    assert response.status_code == 200, response.text


def trigger(sandbox, dedup, service="API Gateway"):
    body = {
        "routing_key": sandbox.routing_keys[service],
        "event_action": "trigger",
        "dedup_key": dedup,
        "client": "Sample Monitoring Service",
        "client_url": "https://monitoring.example.com",
        "payload": {"summary": f"{dedup} is down", "source": "host-1", "severity": "critical"},
    }
    assert sandbox.client.post("/v2/enqueue", json=body).status_code == 202


def verify(secret, received):
    expected = "v1=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    signatures = received.headers["X-PagerDuty-Signature"].split(",")
    return any(hmac.compare_digest(expected, s.strip()) for s in signatures)


def test_each_state_change_arrives_signed_with_the_subscription_secret(hooks, receiver):
    sandbox = hooks
    sub = subscribe(sandbox, receiver.url)
    secret = sub["delivery_method"]["secret"]
    assert secret
    trigger(sandbox, "wh-1")
    flush(sandbox)
    [triggered] = receiver.events("incident.triggered")
    incident_id = triggered.event["data"]["id"]
    ack = sandbox.put(
        f"/incidents/{incident_id}",
        headers={"From": "responder@example.com"},
        json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
    )
    assert ack.status_code == 200
    note = sandbox.post(
        f"/incidents/{incident_id}/notes",
        headers={"From": "responder@example.com"},
        json={"note": {"content": "Looking"}},
    )
    assert note.status_code in (200, 201)
    sandbox.put(
        f"/incidents/{incident_id}",
        headers={"From": "responder@example.com"},
        json={"incident": {"type": "incident_reference", "status": "resolved"}},
    )
    flush(sandbox)
    assert [r.event["event_type"] for r in receiver.received] == [*EVENTS[:2], "incident.annotated", EVENTS[2]]
    for received in receiver.received:
        assert verify(secret, received)
        assert received.headers["Content-Type"] == "application/json"
        assert received.headers["User-Agent"] == "PagerDuty-Webhook/V3.0"
        assert received.headers["X-Webhook-Subscription"] == sub["id"]
        assert received.headers["X-Webhook-Id"]
    statuses = [r.event["data"].get("status") for r in receiver.events() if r.event["resource_type"] == "incident"]
    assert statuses == ["triggered", "acknowledged", None, "resolved"]
    assert len({r.event["id"] for r in receiver.received}) == 4


def test_events_api_acknowledge_and_resolve_are_attributed_to_the_integration(hooks, receiver):
    subscribe(hooks, receiver.url)
    trigger(hooks, "wh-origin")
    for action in ("acknowledge", "resolve"):
        body = {"routing_key": hooks.routing_keys["API Gateway"], "event_action": action, "dedup_key": "wh-origin"}
        assert hooks.client.post("/v2/enqueue", json=body).status_code == 202
    flush(hooks)
    events = [r.event for r in receiver.received]
    assert [e["event_type"] for e in events] == ["incident.triggered", "incident.acknowledged", "incident.resolved"]
    assert {e["agent"]["type"] for e in events} == {"inbound_integration_reference"}
    assert [e["client"] for e in events][1:] == [None, None]


def test_a_tampered_body_does_not_verify(hooks, receiver):
    sub = subscribe(hooks, receiver.url)
    trigger(hooks, "wh-tamper")
    flush(hooks)
    [received] = receiver.received
    received.body = received.body.replace(b"wh-tamper", b"wh-tampeR")
    assert not verify(sub["delivery_method"]["secret"], received)


def test_incident_payloads_have_the_shape_of_pagerdutys_samples(hooks, receiver):
    subscribe(hooks, receiver.url)
    trigger(hooks, "wh-shape")
    flush(hooks)
    event = receiver.received[0].event
    sample = json.loads((SAMPLES / "incident.priority_updated.json").read_text())["event"]
    assert set(sample) <= set(event)
    assert set(sample["data"]) - {"reopened_at"} <= set(event["data"])
    assert event["resource_type"] == "incident"
    assert event["occurred_at"].endswith("Z")
    assert event["agent"]["type"] == "inbound_integration_reference"
    assert event["client"] == {"name": "Sample Monitoring Service", "url": "https://monitoring.example.com"}
    assert event["data"]["type"] == "incident"
    assert event["data"]["service"]["type"] == "service_reference"


def test_the_secret_is_shown_only_on_create(hooks, receiver):
    sub = subscribe(hooks, receiver.url)
    fetched = hooks.get(f"/webhook_subscriptions/{sub['id']}").json()["webhook_subscription"]
    assert fetched["delivery_method"]["secret"] is None
    listed = hooks.get("/webhook_subscriptions").json()["webhook_subscriptions"]
    assert all(s["delivery_method"]["secret"] is None for s in listed)


def test_a_service_filter_only_receives_that_services_events(hooks, receiver):
    subscribe(hooks, receiver.url, filter={"type": "service_reference", "id": hooks.services["Billing Worker"]})
    trigger(hooks, "wh-other-service", service="API Gateway")
    trigger(hooks, "wh-this-service", service="Billing Worker")
    flush(hooks)
    assert [r.event["data"]["incident_key"] for r in receiver.received] == ["wh-this-service"]


def test_ping_delivers_pagey_ping(hooks, receiver):
    sub = subscribe(hooks, receiver.url)
    assert hooks.post(f"/webhook_subscriptions/{sub['id']}/ping").status_code == 202
    flush(hooks)
    [ping] = receiver.received
    assert ping.event["event_type"] == "pagey.ping"
    assert ping.event["data"] == {"message": "Hello from your friend Pagey!", "type": "ping"}
    assert verify(sub["delivery_method"]["secret"], ping)


def test_a_failed_delivery_is_retried_until_it_succeeds(hooks, receiver):
    # Retries well apart (0.5 s, then 1 s), and the answers decided up front: no race with the test thread.
    hooks.set_knobs(webhook_retry_base_seconds=0.5)
    sub = subscribe(hooks, receiver.url)
    receiver.script([503])
    hooks.post(f"/webhook_subscriptions/{sub['id']}/ping")
    flush(hooks)
    assert receiver.answered == [503, 200]
    assert len({r.headers["X-Webhook-Id"] for r in receiver.received}) == 1
    assert len({r.event["id"] for r in receiver.received}) == 1
    fetched = hooks.get(f"/webhook_subscriptions/{sub['id']}").json()["webhook_subscription"]
    assert fetched["delivery_method"]["temporarily_disabled"] is False


def test_three_failed_deliveries_disable_the_subscription_until_enabled(hooks, receiver):
    receiver.status = 500
    sub = subscribe(hooks, receiver.url)
    trigger(hooks, "wh-fail")
    flush(hooks)
    assert len(receiver.received) == 3
    fetched = hooks.get(f"/webhook_subscriptions/{sub['id']}").json()["webhook_subscription"]
    assert fetched["delivery_method"]["temporarily_disabled"] is True
    trigger(hooks, "wh-fail-2")
    flush(hooks)
    assert len(receiver.received) == 3
    receiver.status = 200
    enabled = hooks.post(f"/webhook_subscriptions/{sub['id']}/enable")
    assert enabled.status_code == 200
    assert enabled.json()["webhook_subscription"]["delivery_method"]["temporarily_disabled"] is False
    trigger(hooks, "wh-fail-3")
    flush(hooks)
    assert receiver.received[-1].event["data"]["incident_key"] == "wh-fail-3"


def test_service_status_update_and_responder_events_match_the_documented_data_types(hooks, receiver):
    sandbox = hooks
    subscribe(
        sandbox,
        receiver.url,
        events=[
            "service.created",
            "service.updated",
            "service.deleted",
            "incident.status_update_published",
            "incident.responder.added",
        ],
    )
    admin = {"From": "admin@example.com"}
    policy = sandbox.get("/escalation_policies").json()["escalation_policies"][0]
    created = sandbox.post(
        "/services",
        headers=admin,
        json={
            "service": {
                "type": "service",
                "name": "Webhook Shapes",
                "escalation_policy": {"id": policy["id"], "type": "escalation_policy_reference"},
            }
        },
    )
    assert created.status_code == 201, created.text
    service_id = created.json()["service"]["id"]
    sandbox.put(f"/services/{service_id}", headers=admin, json={"service": {"description": "changed"}})
    assert sandbox.delete(f"/services/{service_id}", headers=admin).status_code == 204
    incident_id = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1}).json()["incidents"][0]["id"]
    sandbox.post(f"/incidents/{incident_id}/status_updates", headers=admin, json={"message": "Fix rolling out"})
    target = {"responder_request_target": {"id": sandbox.user_id("oncall@example.com"), "type": "user_reference"}}
    sandbox.post(
        f"/incidents/{incident_id}/responder_requests",
        headers=admin,
        json={
            "requester_id": sandbox.user_id("admin@example.com"),
            "message": "Help",
            "responder_request_targets": [target],
        },
    )
    flush(sandbox)
    by_type = {r.event["event_type"]: r.event for r in receiver.received}
    assert set(by_type) == {
        "service.created",
        "service.updated",
        "service.deleted",
        "incident.status_update_published",
        "incident.responder.added",
    }
    data_types = SAMPLES / "data-types"
    service_keys = set(json.loads((data_types / "service.json").read_text()))
    assert service_keys <= set(by_type["service.updated"]["data"])
    assert by_type["service.deleted"]["data"]["id"] == service_id
    assert by_type["service.created"]["resource_type"] == "service"
    status = by_type["incident.status_update_published"]["data"]
    assert set(json.loads((data_types / "incident_status_update.json").read_text())) <= set(status)
    assert status["message"] == "Fix rolling out"
    responder = by_type["incident.responder.added"]["data"]
    assert set(json.loads((data_types / "incident_responder.json").read_text())) <= set(responder)
    assert responder["user"]["id"] == sandbox.user_id("oncall@example.com")
    assert by_type["incident.responder.added"]["agent"]["id"] == sandbox.user_id("admin@example.com")


def test_priority_and_conference_bridge_updates_are_delivered_in_their_documented_shapes(hooks, receiver):
    sandbox = hooks
    subscribe(sandbox, receiver.url, events=["incident.priority_updated", "incident.conference_bridge.updated"])
    incident_id = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1}).json()["incidents"][0]["id"]
    priority = sandbox.get("/priorities").json()["priorities"][0]
    bridge = {"conference_number": "+1-555-555-5555", "conference_url": "https://meet.example.com/war-room"}
    response = sandbox.put(
        f"/incidents/{incident_id}",
        headers={"From": "admin@example.com"},
        json={
            "incident": {
                "type": "incident_reference",
                "priority": {"id": priority["id"], "type": "priority_reference"},
                "conference_bridge": bridge,
            }
        },
    )
    assert response.status_code == 200, response.text
    flush(sandbox)
    by_type = {r.event["event_type"]: r.event for r in receiver.received}
    assert by_type["incident.priority_updated"]["data"]["priority"]["id"] == priority["id"]
    data = by_type["incident.conference_bridge.updated"]["data"]
    sample = json.loads((SAMPLES / "data-types" / "incident_conference_bridge.json").read_text())
    assert set(sample) <= set(data)
    assert data["conference_numbers"] == [{"label": "", "number": "+1-555-555-5555"}]
    assert data["conference_url"] == bridge["conference_url"]
    assert data["incident"]["id"] == incident_id


def test_moving_an_incident_to_another_service_updates_it_and_emits_service_updated(hooks, receiver):
    sandbox = hooks
    subscribe(sandbox, receiver.url, events=["incident.service_updated"])
    incident = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1}).json()["incidents"][0]
    target = next(sid for sid in sandbox.services.values() if sid != incident["service"]["id"])
    response = sandbox.put(
        f"/incidents/{incident['id']}",
        headers={"From": "admin@example.com"},
        json={"incident": {"type": "incident_reference", "service": {"id": target, "type": "service_reference"}}},
    )
    assert response.status_code == 200, response.text
    assert response.json()["incident"]["service"]["id"] == target
    flush(sandbox)
    moved = [r.event for r in receiver.received if r.event["event_type"] == "incident.service_updated"]
    assert [event["data"]["service"]["id"] for event in moved] == [target]

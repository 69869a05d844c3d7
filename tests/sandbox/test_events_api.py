"""Events API v2 on the sandbox: dedup_key semantics, change events, validation errors, throttling."""

import uuid

import pytest

pytestmark = pytest.mark.sandbox


def routing(sandbox, service="API Gateway"):
    return sandbox.routing_keys[service]


def send(sandbox, action, *, key, dedup=None, **payload):
    body = {"routing_key": key, "event_action": action}
    if dedup is not None:
        body["dedup_key"] = dedup
    if action == "trigger":
        body["payload"] = {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical", **payload}
    return sandbox.client.post("/v2/enqueue", json=body)


def incidents_with_key(sandbox, dedup):
    params = {"incident_key": dedup, "date_range": "all"}
    return sandbox.get("/incidents", params=params).json()["incidents"]


def test_a_trigger_opens_an_incident_on_the_routing_keys_service(fresh_sandbox):
    sandbox = fresh_sandbox
    dedup = f"disk-{uuid.uuid4().hex[:8]}"
    response = send(sandbox, "trigger", key=routing(sandbox), dedup=dedup)
    assert response.status_code == 202
    assert response.json() == {"status": "success", "message": "Event processed", "dedup_key": dedup}
    [incident] = incidents_with_key(sandbox, dedup)
    assert incident["status"] == "triggered"
    assert incident["service"]["id"] == sandbox.services["API Gateway"]
    assert incident["title"] == "Disk full on db-1"


def test_a_repeated_trigger_with_an_open_dedup_key_adds_no_incident(fresh_sandbox):
    sandbox = fresh_sandbox
    dedup = f"dup-{uuid.uuid4().hex[:8]}"
    for _ in range(3):
        assert send(sandbox, "trigger", key=routing(sandbox), dedup=dedup).status_code == 202
    assert len(incidents_with_key(sandbox, dedup)) == 1


def test_acknowledge_then_resolve_follow_the_dedup_key(fresh_sandbox):
    sandbox = fresh_sandbox
    dedup = f"ack-{uuid.uuid4().hex[:8]}"
    send(sandbox, "trigger", key=routing(sandbox), dedup=dedup)
    assert send(sandbox, "acknowledge", key=routing(sandbox), dedup=dedup).status_code == 202
    assert incidents_with_key(sandbox, dedup)[0]["status"] == "acknowledged"
    assert send(sandbox, "resolve", key=routing(sandbox), dedup=dedup).status_code == 202
    assert incidents_with_key(sandbox, dedup)[0]["status"] == "resolved"
    # After the resolve the key is free again: a new trigger opens a new incident.
    send(sandbox, "trigger", key=routing(sandbox), dedup=dedup)
    assert sorted(i["status"] for i in incidents_with_key(sandbox, dedup)) == ["resolved", "triggered"]


def test_a_trigger_without_dedup_key_gets_one_generated(sandbox):
    response = send(sandbox, "trigger", key=routing(sandbox, "Billing Worker"))
    assert response.status_code == 202
    assert response.json()["dedup_key"]
    sandbox.reset()


def test_acknowledging_an_unknown_dedup_key_is_accepted_and_ignored(sandbox):
    dedup = f"ghost-{uuid.uuid4().hex}"
    for action in ("acknowledge", "resolve"):
        response = send(sandbox, action, key=routing(sandbox), dedup=dedup)
        assert response.status_code == 202
        assert response.json()["status"] == "success"
    assert incidents_with_key(sandbox, dedup) == []


def test_a_trigger_missing_required_payload_fields_is_rejected_with_errors(sandbox):
    body = {"routing_key": routing(sandbox), "event_action": "trigger", "payload": {"custom_details": {}}}
    response = sandbox.client.post("/v2/enqueue", json=body)
    assert response.status_code == 400
    data = response.json()
    assert data["status"] == "invalid event"
    assert data["message"] == "Event object is invalid"
    errors = " ".join(data["errors"])
    for field in ("payload.summary", "payload.source", "payload.severity"):
        assert field in errors


def test_a_bad_severity_is_rejected(sandbox):
    response = send(sandbox, "trigger", key=routing(sandbox), dedup="x", severity="catastrophic")
    assert response.status_code == 400
    assert any("severity" in e for e in response.json()["errors"])


def test_an_unknown_routing_key_is_rejected(sandbox):
    response = send(sandbox, "trigger", key="0" * 32, dedup="x")
    assert response.status_code == 400
    assert response.json()["errors"]


def test_acknowledge_without_dedup_key_is_rejected(sandbox):
    response = send(sandbox, "acknowledge", key=routing(sandbox))
    assert response.status_code == 400
    assert any("dedup_key" in e for e in response.json()["errors"])


def test_a_body_that_is_not_json_is_unrecognized(sandbox):
    response = sandbox.client.post("/v2/enqueue", content=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["status"] == "Unrecognized object"


def test_a_change_event_is_stored_on_the_service(fresh_sandbox):
    sandbox = fresh_sandbox
    summary = f"Deploy {uuid.uuid4().hex[:6]}"
    body = {
        "routing_key": routing(sandbox),
        "payload": {"summary": summary, "source": "ci", "custom_details": {"build": "42"}},
        "links": [{"href": "https://ci.example.com/42", "text": "Build"}],
    }
    response = sandbox.client.post("/v2/change/enqueue", json=body)
    assert response.status_code == 202
    assert response.json()["status"] == "success"
    service_id = sandbox.services["API Gateway"]
    events = sandbox.get(f"/services/{service_id}/change_events").json()["change_events"]
    assert summary in [e["summary"] for e in events]


def test_a_change_event_without_summary_is_rejected(sandbox):
    response = sandbox.client.post("/v2/change/enqueue", json={"routing_key": routing(sandbox), "payload": {}})
    assert response.status_code == 400
    assert any("summary" in e for e in response.json()["errors"])


def test_too_many_events_for_one_routing_key_are_throttled(fresh_sandbox):
    sandbox = fresh_sandbox
    sandbox.set_knobs(events_rate_limit_per_min=2)
    try:
        key = routing(sandbox, "Billing Worker")
        statuses = [send(sandbox, "acknowledge", key=key, dedup="t").status_code for _ in range(3)]
        assert statuses == [202, 202, 429]
        assert send(sandbox, "acknowledge", key=routing(sandbox), dedup="t").status_code == 202
    finally:
        sandbox.reset()

"""The sandbox's Events API v2 answers (accepted, invalid, throttled) are checked against PagerDuty's Events spec."""

import uuid

import pytest

from tests.contract.openapi import validate


def _post(sandbox, path, body, status):
    response = sandbox.client.post(path, json=body)
    assert response.status_code == status, response.text
    validate(response, spec="events")
    return response.json()


@pytest.fixture
def key(sandbox):
    return sandbox.routing_keys["API Gateway"]


def test_alert_events_are_answered_in_the_spec_shape(sandbox, key):
    dedup = f"contract-{uuid.uuid4().hex[:8]}"
    trigger = {
        "routing_key": key,
        "event_action": "trigger",
        "dedup_key": dedup,
        "payload": {"summary": "Disk full on db-1", "source": "db-1", "severity": "critical"},
        "links": [{"href": "https://example.com/runbook", "text": "Runbook"}],
    }
    assert _post(sandbox, "/v2/enqueue", trigger, 202)["dedup_key"] == dedup
    for action in ("acknowledge", "resolve"):
        body = {"routing_key": key, "event_action": action, "dedup_key": dedup}
        assert _post(sandbox, "/v2/enqueue", body, 202)["status"] == "success"


def test_a_change_event_is_answered_in_the_spec_shape(sandbox, key):
    body = {"routing_key": key, "payload": {"summary": "Deployed v2.3", "source": "ci", "custom_details": {"by": "x"}}}
    _post(sandbox, "/v2/change/enqueue", body, 202)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/enqueue", {"event_action": "trigger", "payload": {}}),
        ("/v2/enqueue", {"routing_key": "R0UT1NGKEY", "event_action": "explode"}),
        ("/v2/change/enqueue", {"payload": {}}),
    ],
)
def test_invalid_events_are_refused_in_the_spec_shape(sandbox, path, body):
    answer = _post(sandbox, path, body, 400)
    assert answer["status"] == "invalid event" and answer["errors"]


def test_a_throttled_routing_key_is_answered_in_the_spec_shape(fresh_sandbox):
    sandbox = fresh_sandbox
    sandbox.set_knobs(events_rate_limit_per_min=1)
    key = sandbox.routing_keys["API Gateway"]
    body = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": "s", "source": "s", "severity": "info"},
    }
    _post(sandbox, "/v2/enqueue", body, 202)
    sandbox.client.post("/v2/enqueue", json=body)
    response = sandbox.client.post("/v2/enqueue", json=body)
    assert response.status_code == 429
    validate(response, spec="events")

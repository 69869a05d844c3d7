"""The /_sandbox/ control API: knobs for latency and faults, the request log, keys and reset."""

import pytest

pytestmark = pytest.mark.sandbox


@pytest.fixture
def knobs(sandbox):
    yield sandbox
    sandbox.client.delete("/_sandbox/knobs")


def test_knobs_have_documented_defaults(sandbox):
    values = sandbox.client.get("/_sandbox/knobs").json()["knobs"]
    assert values["latency_ms"] == 0
    assert values["rate_limit_per_min"] == 960
    assert values["fault_rate_500"] == 0
    assert values["fault_rate_429"] == 0


def test_an_invalid_knob_is_refused_and_nothing_changes(knobs):
    response = knobs.client.post("/_sandbox/knobs", json={"latency_ms": 5, "fault_rate_500": 3})
    assert response.status_code == 400
    assert "fault_rate_500" in response.json()["error"]
    assert knobs.client.get("/_sandbox/knobs").json()["knobs"]["latency_ms"] == 0


def test_a_full_500_fault_rate_fails_rest_calls_with_pagerdutys_body(knobs):
    knobs.set_knobs(fault_rate_500=1.0)
    response = knobs.get("/priorities")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == 2000


def test_fault_paths_limit_faults_to_matching_prefixes(knobs):
    knobs.set_knobs(fault_rate_429=1.0, fault_paths=["/incidents"])
    assert knobs.get("/incidents", params={"limit": 1}).status_code == 429
    assert knobs.get("/priorities").status_code == 200


def test_the_request_log_records_method_path_query_and_status(sandbox):
    sandbox.clear_log()
    sandbox.get("/incidents", params={"limit": 2, "statuses[]": "triggered"})
    rows = sandbox.requests_log()
    assert len(rows) == 1
    row = rows[0]
    assert (row["method"], row["path"], row["status"]) == ("GET", "/incidents", 200)
    assert "limit=2" in row["query"]
    assert row["duration_ms"] >= 0


def test_latency_knob_is_applied_and_logged(knobs):
    knobs.set_knobs(latency_ms=30)
    knobs.clear_log()
    knobs.get("/priorities")
    # Timings are never asserted tightly: only that the injected sleep is part of the logged time.
    assert knobs.requests_log()[0]["duration_ms"] >= 30


def test_keys_lists_routing_keys_users_and_the_oauth_client(sandbox):
    keys = sandbox.client.get("/_sandbox/keys").json()
    assert keys["account_api_key"] == sandbox.api_token
    assert {k["routing_key"] for k in keys["routing_keys"]} >= set(sandbox.routing_keys.values())
    assert keys["oauth_client"]["client_id"] == "pdportal-sandbox"
    assert any(u["role"] == "observer" for u in keys["users"])


def test_reset_restores_the_seed_and_default_knobs(sandbox):
    sandbox.set_knobs(latency_ms=5)
    incident = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1}).json()["incidents"][0]
    sandbox.put(
        f"/incidents/{incident['id']}",
        headers={"From": "admin@example.com"},
        json={"incident": {"type": "incident_reference", "status": "resolved"}},
    )
    sandbox.reset()
    assert sandbox.client.get("/_sandbox/knobs").json()["knobs"]["latency_ms"] == 0
    assert sandbox.get(f"/incidents/{incident['id']}").json()["incident"]["status"] == "triggered"


def test_unknown_control_endpoints_answer_404(sandbox):
    assert sandbox.client.get("/_sandbox/nope").status_code == 404

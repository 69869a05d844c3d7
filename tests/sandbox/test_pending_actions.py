"""The sandbox's incidents carry PagerDuty's `pending_actions` (REST Incident): the next escalation from the policy's
delays, the acknowledgement timeout from the service, and a snooze's end."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.sandbox

ADMIN = {"From": "admin@example.com"}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _pending(incident: dict, kind: str) -> list[datetime]:
    return [_at(p["at"]) for p in incident["pending_actions"] if p["type"] == kind]


def _create(sandbox, service: str) -> dict:
    body = {
        "incident": {"type": "incident", "title": "Latency", "service": {"id": service, "type": "service_reference"}}
    }
    response = sandbox.post("/incidents", headers=ADMIN, json=body)
    assert response.status_code == 201, response.text
    return response.json()["incident"]


def _put(sandbox, incident_id: str, **fields) -> dict:
    body = {"incident": {"type": "incident_reference", **fields}}
    response = sandbox.put(f"/incidents/{incident_id}", headers=ADMIN, json=body)
    assert response.status_code == 200, response.text
    return response.json()["incident"]


def test_a_triggered_incident_escalates_after_its_levels_delay(fresh_sandbox):
    sandbox = fresh_sandbox
    # API Gateway is on Platform On-Call: 15, 20 and 30 minutes per level (the seed's DELAYS).
    incident = _create(sandbox, sandbox.services["API Gateway"])
    assert _pending(incident, "escalate") == [_at(incident["created_at"]) + timedelta(minutes=15)]
    assert _pending(incident, "unacknowledge") == []
    escalated = _put(sandbox, incident["id"], escalation_level=2)
    reached = _at(escalated["updated_at"])
    assert _pending(escalated, "escalate") == [reached + timedelta(minutes=20)]
    fetched = sandbox.get(f"/incidents/{incident['id']}").json()["incident"]
    assert fetched["pending_actions"] == escalated["pending_actions"]


def test_an_acknowledgement_lapses_after_the_services_timeout_and_a_snooze_replaces_it(fresh_sandbox):
    sandbox = fresh_sandbox
    incident = _create(sandbox, sandbox.services["Checkout"])
    service = sandbox.get(f"/services/{sandbox.services['Checkout']}").json()["service"]
    acknowledged = _put(sandbox, incident["id"], status="acknowledged")
    assert _pending(acknowledged, "escalate") == []
    [ack] = acknowledged["acknowledgements"]
    timeout = timedelta(seconds=service["acknowledgement_timeout"])
    assert _pending(acknowledged, "unacknowledge") == [_at(ack["at"]) + timeout]
    snoozed = sandbox.post(f"/incidents/{incident['id']}/snooze", headers=ADMIN, json={"duration": 3600})
    assert snoozed.status_code == 201, snoozed.text
    body = snoozed.json()["incident"]
    [until] = _pending(body, "unacknowledge")
    entries = sandbox.get(f"/incidents/{incident['id']}/log_entries").json()["log_entries"]
    [snooze] = [e for e in entries if e["type"] == "snooze_log_entry"]
    assert snooze["changed_actions"] == [{"type": "unacknowledge", "at": body["pending_actions"][0]["at"]}]
    assert until == _at(snooze["created_at"]) + timedelta(hours=1)


def test_a_direct_assignment_does_not_escalate(fresh_sandbox):
    sandbox = fresh_sandbox
    incident = _create(sandbox, sandbox.services["Checkout"])
    users = sandbox.get("/users", params={"query": "responder2@example.com"}).json()["users"]
    body = {"assignments": [{"assignee": {"id": users[0]["id"], "type": "user_reference"}}]}
    reassigned = _put(sandbox, incident["id"], **body)
    assert reassigned["assigned_via"] == "direct_assignment"
    assert _pending(reassigned, "escalate") == []

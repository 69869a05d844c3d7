"""A requested responder accepts or declines in PagerDuty's apps (the sandbox's incident page): the REST incident's
`incidents_responders` then says `joined` or `declined`, as the spec's IncidentsRespondersReference does."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.sandbox

ADMIN = {"From": "admin@example.com"}


def _user_id(sandbox, email: str) -> str:
    return sandbox.get("/users", params={"query": email}).json()["users"][0]["id"]


def _states(sandbox, incident_id: str) -> dict[str, str]:
    incident = sandbox.get(f"/incidents/{incident_id}").json()["incident"]
    return {r["user"]["id"]: r["state"] for r in incident["incidents_responders"]}


def test_a_requested_responder_accepts_or_declines(fresh_sandbox):
    sandbox = fresh_sandbox
    body = {
        "incident": {
            "type": "incident",
            "title": "Help",
            "service": {"id": sandbox.services["Checkout"], "type": "service_reference"},
        }
    }
    incident = sandbox.post("/incidents", headers=ADMIN, json=body).json()["incident"]
    omar, ravi = _user_id(sandbox, "oncall@example.com"), _user_id(sandbox, "responder2@example.com")
    request = {
        "requester_id": _user_id(sandbox, "admin@example.com"),
        "message": "Please join",
        "responder_request_targets": [
            {"responder_request_target": {"id": uid, "type": "user_reference"}} for uid in (omar, ravi)
        ],
    }
    created = sandbox.post(f"/incidents/{incident['id']}/responder_requests", headers=ADMIN, json=request)
    assert created.status_code == 200, created.text
    assert _states(sandbox, incident["id"]) == {omar: "pending", ravi: "pending"}
    web = f"/web/incidents/{incident['id']}/responders"
    assert sandbox.client.post(f"{web}/{omar}", data={"answer": "accept"}).status_code == 302
    assert sandbox.client.post(f"{web}/{ravi}", data={"answer": "decline"}).status_code == 302
    assert _states(sandbox, incident["id"]) == {omar: "joined", ravi: "declined"}
    assert sandbox.client.post(f"{web}/{omar}", data={"answer": "maybe"}).status_code == 400

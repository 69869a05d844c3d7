"""Who may do what in the sandbox: role write rights, admin-only user management, keys, 401/403 bodies."""

import pytest

pytestmark = pytest.mark.sandbox


def user_key(sandbox, email):
    keys = sandbox.client.get("/_sandbox/keys").json()
    return next(u["api_key"] for u in keys["users"] if u["email"] == email)


def a_triggered_incident(sandbox):
    body = sandbox.get("/incidents", params={"statuses[]": "triggered", "limit": 1}).json()
    return body["incidents"][0]["id"]


def acknowledge(sandbox, incident_id, *, token, email):
    return sandbox.put(
        f"/incidents/{incident_id}",
        token=token,
        headers={"From": email},
        json={"incident": {"type": "incident_reference", "status": "acknowledged"}},
    )


def test_a_missing_token_is_unauthorized_with_pagerdutys_code(sandbox):
    response = sandbox.client.get("/incidents")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 2006


def test_an_unknown_token_is_unauthorized(sandbox):
    response = sandbox.get("/incidents", token="not-a-real-key")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Unauthorized"


@pytest.mark.parametrize("email", ["observer@example.com", "readonly@example.com"])
def test_a_read_only_role_cannot_acknowledge(fresh_sandbox, email):
    sandbox = fresh_sandbox
    incident_id = a_triggered_incident(sandbox)
    key = user_key(sandbox, email)
    assert sandbox.get(f"/incidents/{incident_id}", token=key).status_code == 200
    response = acknowledge(sandbox, incident_id, token=key, email=email)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == 2010
    assert sandbox.get(f"/incidents/{incident_id}").json()["incident"]["status"] == "triggered"


def test_a_responder_can_acknowledge_with_their_own_key(fresh_sandbox):
    sandbox = fresh_sandbox
    incident_id = a_triggered_incident(sandbox)
    key = user_key(sandbox, "responder@example.com")
    response = acknowledge(sandbox, incident_id, token=key, email="responder@example.com")
    assert response.status_code == 200, response.text
    assert response.json()["incident"]["status"] == "acknowledged"


def test_only_admins_and_owners_manage_users(fresh_sandbox):
    sandbox = fresh_sandbox
    new_user = {"user": {"type": "user", "name": "Nia New", "email": "nia@example.com", "role": "user"}}
    responder = user_key(sandbox, "responder@example.com")
    denied = sandbox.post("/users", token=responder, headers={"From": "responder@example.com"}, json=new_user)
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == 2010
    admin = user_key(sandbox, "admin@example.com")
    created = sandbox.post("/users", token=admin, headers={"From": "admin@example.com"}, json=new_user)
    assert created.status_code in (200, 201), created.text


def test_a_read_only_api_key_reads_but_cannot_write(fresh_sandbox):
    sandbox = fresh_sandbox
    key = sandbox.client.post("/_sandbox/keys", json={"read_only": True}).json()["api_key"]
    incident_id = a_triggered_incident(sandbox)
    assert sandbox.get("/incidents", token=key).status_code == 200
    response = acknowledge(sandbox, incident_id, token=key, email="responder@example.com")
    assert response.status_code == 403


def test_the_request_log_never_holds_the_raw_token(sandbox):
    sandbox.get("/priorities")
    rows = sandbox.requests_log(path="/priorities")
    assert rows and rows[-1]["token_id"].startswith("tok_")
    assert sandbox.api_token not in str(rows)

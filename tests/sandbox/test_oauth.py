"""OAuth 2.0 against the sandbox: authorization code with PKCE, single-use codes, rotating refresh tokens."""

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

pytestmark = pytest.mark.sandbox

CLIENT_ID = "pdportal-sandbox"
CLIENT_SECRET = "sandbox-secret"
REDIRECT = "http://127.0.0.1:8000/accounts/pagerduty/login/callback/"


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize(sandbox, *, email, scope="read write", challenge=None, state="s-123", decision=None):
    """Submit the sign-in page as `email` would; returns the redirect's query parameters."""
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": state,
        "scope": scope,
    }
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    form = {**params}
    if decision == "deny":
        form["decision"] = "deny"
    else:
        form["user_id"] = sandbox.user_id(email)
    response = sandbox.client.post("/oauth/authorize", data=form)
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def exchange(sandbox, code, verifier=None, *, secret=None):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": CLIENT_ID}
    if verifier is not None:
        data["code_verifier"] = verifier
    if secret is not None:
        data["client_secret"] = secret
    return sandbox.client.post("/oauth/token", data=data)


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def clock(sandbox):
    """Shift the sandbox clock; restores the default knobs afterwards."""

    def shift(seconds):
        sandbox.set_knobs(clock_offset_seconds=seconds)

    yield shift
    sandbox.client.delete("/_sandbox/knobs")


def test_the_sign_in_page_lists_the_seeded_users_and_a_deny_button(sandbox):
    _verifier, challenge = pkce_pair()
    response = sandbox.client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT,
            "state": "abc",
            "scope": "read",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert response.status_code == 200
    assert 'value="deny"' in response.text
    emails = re.findall(r'data-email="([^"]+)"', response.text)
    assert "responder@example.com" in emails
    assert "observer@example.com" in emails


def test_it_refuses_a_redirect_uri_off_loopback_without_redirecting(sandbox):
    response = sandbox.client.get(
        "/oauth/authorize",
        params={"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": "https://evil.example.com/cb"},
    )
    assert response.status_code == 400
    assert "location" not in response.headers


def test_deny_redirects_with_access_denied_and_the_state(sandbox):
    params = authorize(sandbox, email="responder@example.com", decision="deny", state="st-9")
    assert params["error"] == "access_denied"
    assert params["state"] == "st-9"
    assert "code" not in params


def test_the_code_flow_with_pkce_issues_a_working_bearer_token(sandbox):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge, state="st-1")
    assert params["state"] == "st-1"
    response = exchange(sandbox, params["code"], verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "read write"
    assert body["refresh_token"]
    me = sandbox.client.get("/users/me", headers=bearer(body["access_token"]))
    assert me.status_code == 200
    assert me.json()["user"]["email"] == "responder@example.com"


def test_a_wrong_code_verifier_is_rejected(sandbox):
    _verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge)
    response = exchange(sandbox, params["code"], "not-the-verifier-" + secrets.token_urlsafe(20))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_missing_code_verifier_is_rejected_even_with_the_client_secret(sandbox):
    _verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge)
    response = exchange(sandbox, params["code"], None, secret=CLIENT_SECRET)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_code_older_than_30_seconds_is_rejected(sandbox, clock):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge)
    clock(31)
    response = exchange(sandbox, params["code"], verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "expired" in response.json()["error_description"]


def test_a_code_within_30_seconds_is_accepted(sandbox, clock):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge)
    clock(25)
    assert exchange(sandbox, params["code"], verifier).status_code == 200


def test_a_code_can_be_used_only_once_and_a_replay_revokes_its_tokens(sandbox):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge)
    first = exchange(sandbox, params["code"], verifier)
    assert first.status_code == 200
    replay = exchange(sandbox, params["code"], verifier)
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    token = first.json()["access_token"]
    assert sandbox.client.get("/users/me", headers=bearer(token)).status_code == 401


def test_refresh_rotates_and_the_old_refresh_token_is_rejected(sandbox):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge)
    tokens = exchange(sandbox, params["code"], verifier).json()
    refresh = {
        "grant_type": "refresh_token",
        "refresh_token": tokens["refresh_token"],
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    rotated = sandbox.client.post("/oauth/token", data=refresh)
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["refresh_token"] != tokens["refresh_token"]
    assert new["access_token"] != tokens["access_token"]
    assert new["scope"] == tokens["scope"]
    assert sandbox.client.get("/users/me", headers=bearer(new["access_token"])).status_code == 200
    reused = sandbox.client.post("/oauth/token", data=refresh)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"


def test_an_expired_access_token_is_unauthorized(sandbox, clock):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge)
    token = exchange(sandbox, params["code"], verifier).json()["access_token"]
    clock(3601)
    response = sandbox.client.get("/users/me", headers=bearer(token))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 2006


def test_an_observer_asking_for_write_gets_read_only_silently(sandbox):
    verifier, challenge = pkce_pair()
    params = authorize(
        sandbox, email="observer@example.com", challenge=challenge, scope="incidents.read incidents.write services.read"
    )
    body = exchange(sandbox, params["code"], verifier).json()
    assert body["scope"] == "incidents.read services.read"


def test_a_classic_write_request_by_an_observer_keeps_only_read(sandbox):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="observer@example.com", challenge=challenge, scope="read write")
    assert exchange(sandbox, params["code"], verifier).json()["scope"] == "read"


def test_a_responder_cannot_get_users_write(sandbox):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge, scope="incidents.write users.write")
    assert exchange(sandbox, params["code"], verifier).json()["scope"] == "incidents.write"


def test_a_scoped_token_is_limited_to_its_scopes(sandbox):
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge, scope="services.read")
    token = exchange(sandbox, params["code"], verifier).json()["access_token"]
    assert sandbox.client.get("/services", headers=bearer(token)).status_code == 200
    denied = sandbox.client.get("/incidents", headers=bearer(token))
    assert denied.status_code == 403
    assert denied.json()["error"]["code"] == 2010


def test_an_unknown_client_is_refused_at_the_token_endpoint(sandbox):
    response = sandbox.client.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": "x", "redirect_uri": REDIRECT, "client_id": "nope"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("granted", "wanted", "allowed"),
    [
        ({"read"}, "incidents.read", True),
        ({"read"}, "incidents.write", False),
        ({"write"}, "incidents.write", True),
        ({"incidents.write"}, "incidents.read", True),
        ({"incidents.read"}, "services.read", False),
        ({"services.read"}, "users:contact_methods.read", False),
        ({"read"}, "users:contact_methods.read", True),
    ],
)
def test_scopes_grant_what_pagerduty_grants(granted, wanted, allowed):
    from sandbox.identity.scopes import grants

    assert grants(granted, wanted) is allowed


def _signed_in_tokens(sandbox) -> dict:
    verifier, challenge = pkce_pair()
    params = authorize(sandbox, email="responder@example.com", challenge=challenge)
    return exchange(sandbox, params["code"], verifier).json()


@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
def test_revoking_either_token_ends_the_whole_grant(sandbox, which):
    tokens = _signed_in_tokens(sandbox)
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": tokens[which], "token_type_hint": which}
    response = sandbox.client.post("/oauth/revoke", data=form)
    assert response.status_code == 200 and response.json() == {}
    assert sandbox.client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 401
    again = sandbox.client.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], "client_id": CLIENT_ID},
    )
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_revoke_needs_the_clients_credentials_and_a_token(sandbox):
    tokens = _signed_in_tokens(sandbox)
    wrong = {"client_id": CLIENT_ID, "client_secret": "not-the-secret", "token": tokens["access_token"]}
    assert sandbox.client.post("/oauth/revoke", data=wrong).json()["error"] == "invalid_client"
    stranger = {"client_id": "someone-else", "token": tokens["access_token"]}
    assert sandbox.client.post("/oauth/revoke", data=stranger).status_code == 401
    assert sandbox.client.get("/users/me", headers=bearer(tokens["access_token"])).status_code == 200
    missing = sandbox.client.post("/oauth/revoke", data={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


def test_revoking_an_unknown_token_answers_200(sandbox):
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": "never-issued"}
    assert sandbox.client.post("/oauth/revoke", data=form).status_code == 200

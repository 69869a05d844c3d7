"""Issue 11: "Disconnect PagerDuty" revokes the grant at PagerDuty, deletes the stored tokens, signs the person out
everywhere, and is audited."""

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.test import Client

from accounts.models import AuditEntry, Connection, OAuthGrant
from pdportal import crypto
from pdportal.pagerduty import OAuthError, ServerError
from pdportal.pagerduty import oauth as pd_oauth
from tests.accounts.conftest import me_json, start_signin, token_answer

from .signin_helpers import (  # noqa: F401 - fixtures
    OAUTH,
    as_pagerduty_signin,
    fresh_rate_limits,
    oauth_app,
    pagerduty_signin,
    plain_http,
)

PERSON = "responder@example.com"
DISCONNECT = "/settings/me/disconnect/"


def _person_in_two_browsers() -> tuple[Client, Client]:
    first, second = Client(), Client()
    pagerduty_signin(first, PERSON, access="at-1", refresh="rt-1")
    pagerduty_signin(second, PERSON, access="at-2", refresh="rt-2")
    assert first.get("/settings/me/").status_code == 200 and second.get("/settings/me/").status_code == 200
    return first, second


def _signed_out(browser: Client) -> bool:
    response = browser.get("/settings/me/")
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


@pytest.mark.usefixtures("oauth_app")
class TestWithResponses:
    @responses.activate
    def test_it_revokes_at_pagerduty_forgets_the_tokens_and_signs_out_everywhere(self):
        first, second = _person_in_two_browsers()
        page = first.get("/settings/me/").content.decode()
        assert 'id="pagerduty-disconnect"' in page
        revoke = responses.post(f"{OAUTH}/oauth/revoke", json={})

        response = first.post(DISCONNECT, follow=True)

        assert response.redirect_chain[-1][0] == "/accounts/login/"
        assert "PagerDuty is disconnected" in response.content.decode()
        sent = [parse_qs(call.request.body) for call in revoke.calls]
        assert [(form["token"], form["token_type_hint"]) for form in sent] == [
            (["rt-2"], ["refresh_token"]),
            (["at-2"], ["access_token"]),
        ]
        assert {(form["client_id"][0], form["client_secret"][0]) for form in sent} == {
            ("portal-client", "portal-secret")
        }
        assert not OAuthGrant.objects.exists()
        assert _signed_out(first) and _signed_out(second)
        entry = AuditEntry.objects.get(operation="Disconnect PagerDuty")
        assert (entry.actor_label, entry.method, entry.status, entry.error) == (PERSON, "POST", 200, "")
        assert (entry.path, entry.url) == ("/oauth/revoke", f"{OAUTH}/oauth/revoke")

    @responses.activate
    @pytest.mark.parametrize("answer", [{"status": 503}, {"body": requests.ConnectionError("refused")}])
    def test_when_pagerduty_cannot_revoke_the_tokens_are_still_forgotten_and_it_says_so(self, answer):
        first, second = _person_in_two_browsers()
        responses.post(f"{OAUTH}/oauth/revoke", **answer)
        response = first.post(DISCONNECT, follow=True)
        assert response.status_code == 200
        assert "PagerDuty did not confirm the revocation" in response.content.decode()
        assert not OAuthGrant.objects.exists()
        assert _signed_out(first) and _signed_out(second)
        assert AuditEntry.objects.get(operation="Disconnect PagerDuty").error

    def test_a_portal_login_has_nothing_to_disconnect(self, client_as, responder):
        client = client_as(responder)
        assert 'id="pagerduty-disconnect"' not in client.get("/settings/me/").content.decode()
        response = client.post(DISCONNECT, follow=True)
        assert "You have no PagerDuty sign-in stored here." in response.content.decode()
        assert not AuditEntry.objects.exists()

    def test_it_needs_a_post_with_the_csrf_token(self, responder):
        as_pagerduty_signin(responder)
        browser = Client(enforce_csrf_checks=True)
        browser.force_login(responder, backend="django.contrib.auth.backends.ModelBackend")
        assert browser.get(DISCONNECT).status_code == 405
        assert browser.post(DISCONNECT).status_code == 403

    def test_anonymous_visitors_are_sent_to_sign_in(self, client):
        assert client.post(DISCONNECT)["Location"].startswith("/accounts/login/")


@responses.activate
def test_the_client_speaks_rfc_7009_and_raises_typed_errors():
    call = responses.post(f"{OAUTH}/oauth/revoke", json={})
    status = pd_oauth.revoke(
        oauth_url=OAUTH, client_id="c", client_secret="s", token="t", token_type_hint="refresh_token"
    )
    assert status == 200
    assert call.calls[0].request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    responses.replace(responses.POST, f"{OAUTH}/oauth/revoke", status=401, json={"error": "invalid_client"})
    with pytest.raises(OAuthError) as refused:
        pd_oauth.revoke(oauth_url=OAUTH, client_id="c", client_secret="wrong", token="t")
    assert refused.value.error == "invalid_client" and refused.value.status == 401
    responses.replace(responses.POST, f"{OAUTH}/oauth/revoke", status=500, body="oops")
    with pytest.raises(ServerError):
        pd_oauth.revoke(oauth_url=OAUTH, client_id="c", client_secret="s", token="t", sleep=lambda _: None)


# --- against the sandbox: the whole round trip, and PagerDuty (emulated) refuses the token afterwards ---


@pytest.fixture
def on_sandbox(fresh_sandbox, settings, db):
    settings.PAGERDUTY_API_URL = fresh_sandbox.url
    settings.PAGERDUTY_OAUTH_URL = fresh_sandbox.url
    settings.PAGERDUTY_CLIENT_ID = "pdportal-sandbox"
    settings.PAGERDUTY_CLIENT_SECRET = "sandbox-secret"
    settings.PAGERDUTY_OAUTH_SCOPES = ["read", "write"]
    settings.PAGERDUTY_API_TOKEN = ""
    settings.PAGERDUTY_SUBDOMAIN = ""
    return fresh_sandbox


def _sandbox_signin(sandbox, email: str) -> Client:
    # The sandbox accepts loopback redirect URIs only, so the portal is reached as 127.0.0.1.
    browser = Client(HTTP_HOST="127.0.0.1")
    start = browser.post("/accounts/pagerduty/login/")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start["Location"]).query).items()}
    chosen = sandbox.client.post("/oauth/authorize", data={**query, "user_id": sandbox.user_id(email)})
    assert chosen.status_code == 302, chosen.text
    back = urlsplit(chosen.headers["location"])
    answer = browser.get(back.path, {k: v[0] for k, v in parse_qs(back.query).items()})
    assert answer.status_code == 302 and answer["Location"] == "/", answer.content[:500]
    return browser


def _me(sandbox, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.pagerduty+json;version=2"}
    return sandbox.client.get("/users/me", headers=headers).status_code


def test_disconnecting_against_the_sandbox_ends_the_grant_at_pagerduty(on_sandbox):
    browser = _sandbox_signin(on_sandbox, PERSON)
    other = _sandbox_signin(on_sandbox, PERSON)
    grant = OAuthGrant.objects.get()
    access, refresh = crypto.decrypt(grant.access_token), crypto.decrypt(grant.refresh_token)
    assert _me(on_sandbox, access) == 200

    browser.post("/settings/me/disconnect/")

    assert _me(on_sandbox, access) == 401
    refreshed = on_sandbox.client.post(
        "/oauth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": refresh,
            "client_id": "pdportal-sandbox",
            "client_secret": "sandbox-secret",
        },
    )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"
    assert not OAuthGrant.objects.exists()
    assert _signed_out(browser) and _signed_out(other)
    assert AuditEntry.objects.get(operation="Disconnect PagerDuty").status == 200


@responses.activate
def test_the_admin_whose_grant_ran_background_jobs_is_told_they_stop(settings, db):
    settings.PAGERDUTY_CLIENT_ID, settings.PAGERDUTY_CLIENT_SECRET = "portal-client", "portal-secret"
    settings.PAGERDUTY_API_TOKEN, settings.PAGERDUTY_SUBDOMAIN = "", "acme"
    browser = Client()
    params = start_signin(browser)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{settings.PAGERDUTY_API_URL}/users/me", json={"user": me_json("admin@example.com")})
    browser.get("/accounts/pagerduty/login/callback/", {"code": "c", "state": params["state"]})
    assert Connection.objects.get().mode == Connection.Mode.OAUTH
    responses.post(f"{OAUTH}/oauth/revoke", json={})
    page = browser.post(DISCONNECT, follow=True).content.decode()
    assert "Background sync used your PagerDuty sign-in" in page

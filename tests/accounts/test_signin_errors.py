"""A failed PagerDuty sign-in ends on a friendly page: unknown/revoked tokens, denied consent, tampered state."""

import responses
from django.contrib.auth import get_user_model

from accounts.models import OAuthGrant

from .conftest import API, CALLBACK, OAUTH, me_json, start_signin, token_answer


def _assert_friendly(response, *, title: str):
    assert response.status_code < 500
    page = response.content.decode()
    assert title in page
    assert 'href="/accounts/login/"' in page  # a way back to sign-in
    assert "Traceback" not in page


def _nobody_signed_in():
    assert not get_user_model().objects.exists()
    assert not OAuthGrant.objects.exists()


@responses.activate
def test_an_unknown_code_ends_on_a_friendly_page(client, oauth_app):
    params = start_signin(client)
    responses.post(
        f"{OAUTH}/oauth/token",
        status=400,
        json={"error": "invalid_grant", "error_description": "The authorization code is invalid or expired"},
    )
    response = client.get(CALLBACK, {"code": "nope", "state": params["state"]})
    _assert_friendly(response, title="PagerDuty did not accept this sign-in")
    _nobody_signed_in()


@responses.activate
def test_a_revoked_token_ends_on_a_friendly_page(client, oauth_app):
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{API}/users/me", status=401, json={"error": {"message": "Unauthorized", "code": 2006}})
    response = client.get(CALLBACK, {"code": "c", "state": params["state"]})
    _assert_friendly(response, title="PagerDuty did not accept this sign-in")
    _nobody_signed_in()


@responses.activate
def test_an_unreachable_pagerduty_ends_on_a_friendly_page(client, oauth_app):
    import requests

    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", body=requests.ConnectionError("refused"))
    response = client.get(CALLBACK, {"code": "c", "state": params["state"]})
    _assert_friendly(response, title="PagerDuty is not reachable")


def test_denied_consent_ends_on_a_friendly_page(client, oauth_app):
    params = start_signin(client)
    response = client.get(CALLBACK, {"error": "access_denied", "state": params["state"]})
    _assert_friendly(response, title="Sign-in cancelled")
    _nobody_signed_in()


@responses.activate
def test_a_tampered_state_ends_on_a_friendly_page_and_never_reaches_pagerduty(client, oauth_app):
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{API}/users/me", json={"user": me_json()})
    response = client.get(CALLBACK, {"code": "c", "state": params["state"] + "x"})
    _assert_friendly(response, title="This sign-in link is not valid")
    assert len(responses.calls) == 0
    _nobody_signed_in()


def test_a_callback_without_any_sign_in_started_ends_on_a_friendly_page(client, oauth_app):
    response = client.get(CALLBACK, {"code": "c", "state": "forged"})
    _assert_friendly(response, title="This sign-in link is not valid")


@responses.activate
def test_a_state_cannot_be_used_twice(client, oauth_app):
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{API}/users/me", json={"user": me_json()})
    assert client.get(CALLBACK, {"code": "c", "state": params["state"]}).status_code == 302
    client.logout()
    response = client.get(CALLBACK, {"code": "c", "state": params["state"]})
    _assert_friendly(response, title="This sign-in link is not valid")

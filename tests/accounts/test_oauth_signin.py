"""Signing in with PagerDuty: PKCE, scopes, token exchange, /users/me, Profile and grant."""

import base64
import hashlib
from urllib.parse import parse_qs

import responses
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from accounts.models import Connection, OAuthGrant, PagerDutyUser
from accounts.roles import PortalRole, portal_role
from pdportal import crypto

from .conftest import API, CALLBACK, OAUTH, me_json, start_signin, token_answer


def test_it_sends_the_browser_to_pagerduty_with_pkce_and_the_configured_scopes(client, oauth_app, settings):
    settings.PAGERDUTY_OAUTH_SCOPES = ["incidents.write", "services.read"]
    params = start_signin(client)
    assert params["client_id"] == "portal-client"
    assert params["response_type"] == "code"
    assert params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) >= 43
    assert set(params["scope"].split()) == {"incidents.write", "services.read"}
    assert params["redirect_uri"].endswith(CALLBACK)
    assert params["state"]


def test_a_visitor_cannot_widen_the_requested_scope(client, oauth_app):
    response = client.post("/accounts/pagerduty/login/?scope=admin.write")
    assert "admin.write" not in response["Location"]


@responses.activate
def test_it_signs_in_and_links_the_pagerduty_user(client, oauth_app):
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    me = responses.get(f"{API}/users/me", json={"user": me_json()})
    response = client.get(CALLBACK, {"code": "the-code", "state": params["state"]})
    assert response.status_code == 302 and response["Location"] == "/"

    # The token request proves possession of the PKCE verifier behind the challenge.
    form = parse_qs(responses.calls[0].request.body)
    verifier = form["code_verifier"][0]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert challenge == params["code_challenge"]
    assert form["code"] == ["the-code"] and form["client_secret"] == ["portal-secret"]
    assert me.calls[0].request.headers["Authorization"] == "Bearer at-1"

    user = get_user_model().objects.get(email="responder@example.com")
    assert portal_role(user) == PortalRole.RESPONDER
    pd_user = PagerDutyUser.objects.get(email="responder@example.com")
    assert user.profile.pd_user == pd_user
    assert user.profile.time_zone == "Europe/Berlin"
    assert user.profile.subdomain == "acme"
    assert [t.pd_id for t in pd_user.teams.all()] == ["PTEAM01"]
    assert SocialAccount.objects.get(user=user).uid == f"acme:{pd_user.pd_id}"
    grant = OAuthGrant.objects.get(user=user)
    assert crypto.decrypt(grant.access_token) == "at-1"
    assert crypto.decrypt(grant.refresh_token) == "rt-1"
    assert grant.scope == "read write"
    assert client.get("/settings/me/").status_code == 200


@responses.activate
def test_the_uid_is_the_bare_user_id_when_the_subdomain_is_unknown(client, oauth_app):
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{API}/users/me", json={"user": me_json(html_url="http://127.0.0.1:8010/users/X")})
    client.get(CALLBACK, {"code": "c", "state": params["state"]})
    account = SocialAccount.objects.get()
    assert account.uid == account.extra_data["id"]


@responses.activate
def test_signing_in_with_pagerduty_stays_apart_from_the_local_login_with_the_same_email(client, oauth_app, responder):
    # Identity is the PagerDuty user id (issue 11): a portal login with the same email is another identity.
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{API}/users/me", json={"user": me_json()})
    client.get(CALLBACK, {"code": "c", "state": params["state"]})
    signed_in = get_user_model().objects.exclude(pk=responder.pk).get(email="responder@example.com")
    assert OAuthGrant.objects.get().user == signed_in
    assert not SocialAccount.objects.filter(user=responder).exists()
    assert responder.profile.pd_user == signed_in.profile.pd_user
    assert not signed_in.has_usable_password()


@responses.activate
def test_the_first_admin_to_sign_in_connects_the_portal_when_there_is_no_api_key(client, oauth_app):
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{API}/users/me", json={"user": me_json("admin@example.com")})
    client.get(CALLBACK, {"code": "c", "state": params["state"]})
    connection = Connection.objects.get()
    assert connection.mode == Connection.Mode.OAUTH
    assert connection.oauth_user.email == "admin@example.com"


def test_the_sign_in_page_offers_pagerduty_and_a_password_form(client, oauth_app):
    page = client.get("/accounts/login/").content.decode()
    assert 'action="/accounts/pagerduty/login/"' in page
    assert "Sign in with PagerDuty" in page
    assert 'name="password"' in page


def test_without_an_oauth_app_the_sign_in_page_only_offers_passwords(client, settings):
    settings.PAGERDUTY_CLIENT_ID = ""
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with PagerDuty" not in page
    assert 'name="password"' in page

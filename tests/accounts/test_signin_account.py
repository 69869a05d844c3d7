"""Only people of this portal's PagerDuty account may sign in: other organisations can authorise the app too."""

import pytest
import responses
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model

from accounts.models import OAuthGrant
from tests.personas import seed_users

from .conftest import API, CALLBACK, OAUTH, me_json, start_signin, token_answer

RESPONDER = seed_users()["responder@example.com"]


@pytest.fixture
def connected(oauth_app, settings):
    """OAuth sign-in, with an account API key as the connection (the portal knows its account)."""
    settings.PAGERDUTY_API_TOKEN = "account-key"
    return settings


def _sign_in(client, **me):
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{API}/users/me", json={"user": me_json(**me)})
    return client.get(CALLBACK, {"code": "c", "state": params["state"]})


@responses.activate
def test_a_member_of_the_account_signs_in(client, connected):
    lookup = responses.get(f"{API}/users/{RESPONDER.pd_id}", json={"user": me_json()})
    response = _sign_in(client)
    assert response.status_code == 302 and response["Location"] == "/"
    assert lookup.calls[0].request.headers["Authorization"] == "Token token=account-key"
    assert get_user_model().objects.filter(email="responder@example.com").exists()


@responses.activate
def test_a_person_of_another_account_is_refused_before_any_account_is_made(client, connected):
    responses.get(f"{API}/users/{RESPONDER.pd_id}", status=404, json={"error": {"message": "Not Found", "code": 2100}})
    response = _sign_in(client, html_url=f"https://evilcorp.pagerduty.com/users/{RESPONDER.pd_id}")
    assert response.status_code == 403
    assert "“evilcorp”, which is not the account this PD Portal serves" in response.content.decode()
    assert not get_user_model().objects.exists()
    assert not OAuthGrant.objects.exists()
    assert "_auth_user_id" not in client.session


@responses.activate
def test_another_accounts_person_cannot_take_over_a_local_login_with_the_same_email(client, connected, responder):
    responses.get(f"{API}/users/{RESPONDER.pd_id}", status=404, json={"error": {"message": "Not Found", "code": 2100}})
    assert _sign_in(client).status_code == 403
    assert not SocialAccount.objects.filter(user=responder).exists()
    assert "_auth_user_id" not in client.session


@responses.activate
def test_an_id_that_exists_here_with_another_email_is_refused(client, connected):
    responses.get(f"{API}/users/{RESPONDER.pd_id}", json={"user": {**me_json(), "email": "someone.else@example.com"}})
    assert _sign_in(client).status_code == 403
    assert not get_user_model().objects.exists()


@responses.activate
def test_with_a_subdomain_configured_only_that_account_signs_in_without_a_lookup(client, connected, settings):
    settings.PAGERDUTY_SUBDOMAIN = "acme"
    assert _sign_in(client, html_url="https://evilcorp.pagerduty.com/users/X").status_code == 403
    client.logout()
    assert _sign_in(client).status_code == 302
    assert not [c for c in responses.calls if f"/users/{RESPONDER.pd_id}" in c.request.url]


@responses.activate
def test_a_connection_that_may_not_read_users_says_how_to_fix_it(client, connected):
    responses.get(f"{API}/users/{RESPONDER.pd_id}", status=403, json={"error": {"message": "Forbidden", "code": 2010}})
    response = _sign_in(client)
    assert response.status_code == 403
    assert "PAGERDUTY_SUBDOMAIN" in response.content.decode()


@responses.activate
def test_after_the_connection_is_removed_a_stranger_cannot_sign_in_and_take_it(client, oauth_app, admin):
    # The mirror holds this account's people (admin is one); nothing can be asked, so strangers are refused.
    stranger = {**me_json(), "id": "PFOREIGN", "email": "boss@evilcorp.example"}
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer())
    responses.get(f"{API}/users/me", json={"user": stranger})
    response = client.get(CALLBACK, {"code": "c", "state": params["state"]})
    assert response.status_code == 403
    assert "PAGERDUTY_SUBDOMAIN" in response.content.decode()
    assert not get_user_model().objects.filter(email="boss@evilcorp.example").exists()


@responses.activate
def test_after_the_connection_is_removed_a_known_person_still_signs_in(client, oauth_app, responder):
    assert _sign_in(client).status_code == 302


@responses.activate
def test_a_failing_connection_refresh_is_a_friendly_refusal_not_a_500(client, oauth_app, admin):
    from unittest import mock

    from accounts.models import Connection
    from pdportal.pagerduty import NetworkError

    Connection.objects.create(pk=1, mode=Connection.Mode.OAUTH, oauth_user=admin)
    with mock.patch("accounts.clients.account_client", side_effect=NetworkError("Could not reach PagerDuty")):
        response = _sign_in(client)
    assert response.status_code == 403
    assert "Please try again shortly" in response.content.decode()

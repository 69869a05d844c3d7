"""OAuth grants are refreshed before expiry, saving the rotated refresh token; a refused refresh means sign in again."""

from datetime import timedelta
from urllib.parse import parse_qs

import pytest
import requests
import responses
from django.utils import timezone

from accounts.clients import access_token_for, pagerduty_client_for, store_grant
from accounts.errors import ReauthenticationRequired
from accounts.models import OAuthGrant
from pdportal import crypto
from pdportal.pagerduty import NetworkError
from pdportal.pagerduty.oauth import TokenSet

from .conftest import OAUTH, as_pagerduty_signin, token_answer


@pytest.fixture
def grant(responder, oauth_app):
    return store_grant(
        user=as_pagerduty_signin(responder),
        token_set=TokenSet(
            access_token="old-access",
            refresh_token="old-refresh",
            expires_at=timezone.now() + timedelta(seconds=30),
            scope="read write",
        ),
        requested_scope="read write",
    )


@responses.activate
def test_it_refreshes_before_expiry_and_keeps_the_rotated_refresh_token(grant):
    responses.post(f"{OAUTH}/oauth/token", json=token_answer(access="new-access", refresh="new-refresh"))
    assert access_token_for(grant=grant) == "new-access"
    form = parse_qs(responses.calls[0].request.body)
    assert form["grant_type"] == ["refresh_token"] and form["refresh_token"] == ["old-refresh"]
    stored = OAuthGrant.objects.get(pk=grant.pk)
    assert crypto.decrypt(stored.access_token) == "new-access"
    assert crypto.decrypt(stored.refresh_token) == "new-refresh"
    assert stored.expires_at > timezone.now() + timedelta(minutes=50)


@responses.activate
def test_the_next_refresh_spends_the_rotated_token(grant):
    responses.post(f"{OAUTH}/oauth/token", json=token_answer(access="a2", refresh="r2"))
    access_token_for(grant=grant)
    OAuthGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now())
    responses.post(f"{OAUTH}/oauth/token", json=token_answer(access="a3", refresh="r3"))
    assert access_token_for(grant=OAuthGrant.objects.get(pk=grant.pk)) == "a3"
    assert parse_qs(responses.calls[1].request.body)["refresh_token"] == ["r2"]


@responses.activate
def test_a_fresh_token_is_used_without_refreshing(grant):
    OAuthGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() + timedelta(hours=1))
    assert access_token_for(grant=OAuthGrant.objects.get(pk=grant.pk)) == "old-access"
    assert len(responses.calls) == 0


@responses.activate
def test_a_stale_copy_does_not_spend_the_refresh_token_twice(grant):
    # Two requests loaded the grant while it was stale; only the first may refresh, the second reuses its result.
    stale_copy = OAuthGrant.objects.get(pk=grant.pk)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer(access="a2", refresh="r2"))
    assert access_token_for(grant=grant) == "a2"
    assert access_token_for(grant=stale_copy) == "a2"
    assert len(responses.calls) == 1


@responses.activate
def test_a_refused_refresh_revokes_the_grant_and_asks_to_sign_in_again(grant):
    responses.post(f"{OAUTH}/oauth/token", status=400, json={"error": "invalid_grant"})
    with pytest.raises(ReauthenticationRequired):
        access_token_for(grant=grant)
    assert OAuthGrant.objects.get(pk=grant.pk).revoked_at is not None
    with pytest.raises(ReauthenticationRequired):
        pagerduty_client_for(user=grant.user)
    assert len(responses.calls) == 1  # a revoked grant is not tried again


@responses.activate
def test_an_unreachable_oauth_server_keeps_the_grant_and_the_still_valid_token(grant):
    responses.post(f"{OAUTH}/oauth/token", body=requests.ConnectionError("down"))
    assert access_token_for(grant=grant) == "old-access"
    assert OAuthGrant.objects.get(pk=grant.pk).revoked_at is None


@responses.activate
def test_an_unreachable_oauth_server_with_an_expired_token_is_a_network_error(grant):
    OAuthGrant.objects.filter(pk=grant.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    responses.post(f"{OAUTH}/oauth/token", body=requests.ConnectionError("down"))
    with pytest.raises(NetworkError):
        access_token_for(grant=OAuthGrant.objects.get(pk=grant.pk))
    assert OAuthGrant.objects.get(pk=grant.pk).revoked_at is None


@responses.activate
def test_the_person_acts_with_their_refreshed_bearer_token(grant):
    responses.post(f"{OAUTH}/oauth/token", json=token_answer(access="new-access", refresh="new-refresh"))
    client = pagerduty_client_for(user=grant.user)
    assert client.auth == "bearer" and client.token == "new-access"
    assert client.from_email == "responder@example.com"

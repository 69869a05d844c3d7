"""The account connection for background jobs: API key first, else the connecting admin's OAuth grant."""

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from accounts.clients import account_client, store_grant
from accounts.errors import NoAccountConnection
from accounts.models import Connection, OAuthGrant
from pdportal.pagerduty.oauth import TokenSet

from .conftest import API, OAUTH, token_answer


@pytest.fixture
def admin_grant(admin, oauth_app):
    grant = store_grant(
        user=admin,
        token_set=TokenSet(
            access_token="admin-access", refresh_token="admin-refresh", expires_at=timezone.now(), scope="read write"
        ),
    )
    Connection.objects.create(pk=1, mode=Connection.Mode.OAUTH, oauth_user=admin, created_by=admin)
    return grant


@responses.activate
def test_background_jobs_use_the_connecting_admins_refreshed_grant(admin_grant):
    responses.post(f"{OAUTH}/oauth/token", json=token_answer(access="fresh", refresh="rotated"))
    responses.get(f"{API}/abilities", json={"abilities": []})
    client = account_client()
    client.get("/abilities")
    assert responses.calls[1].request.headers["Authorization"] == "Bearer fresh"


@responses.activate
def test_a_revoked_admin_grant_is_a_clear_no_connection_error(admin_grant):
    responses.post(f"{OAUTH}/oauth/token", status=400, json={"error": "invalid_grant"})
    with pytest.raises(NoAccountConnection, match="reconnect on the Settings page"):
        account_client()


def test_an_api_key_wins_over_the_admins_grant(admin_grant, api_key_mode):
    assert account_client().auth == "token"


def test_healthz_shows_the_connection(client_as, admin, admin_grant):
    Connection.objects.update(healthy=False, last_error="Unauthorized (2006)", checked_at=timezone.now())
    entry = client_as(admin).get("/healthz").json()["pagerduty_connection"]  # details are for admins
    assert entry["mode"] == "oauth" and entry["ok"] is False and entry["error"] == "Unauthorized (2006)"


def test_healthz_says_when_nothing_is_connected(client_as, admin, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    entry = client_as(admin).get("/healthz").json()["pagerduty_connection"]  # details are for admins
    assert entry["ok"] is False and "Not connected" in entry["error"]


@responses.activate
def test_an_admin_lends_their_grant_from_the_settings_page(client_as, admin, oauth_app):
    store_grant(
        user=admin,
        token_set=TokenSet(
            access_token="a", refresh_token="r", expires_at=timezone.now() + timedelta(hours=1), scope="read write"
        ),
    )
    responses.get(f"{API}/abilities", json={"abilities": []})
    response = client_as(admin).post("/settings/connection/oauth/")
    assert response.status_code == 302
    connection = Connection.objects.get()
    assert (connection.mode, connection.oauth_user, connection.healthy) == ("oauth", admin, True)
    assert OAuthGrant.objects.count() == 1


@responses.activate
def test_the_periodic_check_records_pagerdutys_answer(db, api_key_mode):
    from accounts.tasks import check_connection

    responses.get(f"{API}/abilities", status=401, json={"error": {"message": "Unauthorized", "code": 2006}})
    check_connection.delay()
    connection = Connection.objects.get()
    assert (connection.healthy, connection.last_error) == (False, "Unauthorized (2006)")
    assert connection.checked_at is not None


def test_the_periodic_check_is_quiet_without_a_connection(db, settings):
    from accounts.tasks import check_connection

    settings.PAGERDUTY_API_TOKEN = ""
    check_connection.delay()
    assert not Connection.objects.exists()

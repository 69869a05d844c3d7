"""API-key connection: local logins linked by email act through the account key with `From: <their email>`."""

import pytest
import responses
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from accounts.clients import account_client, pagerduty_client_for
from accounts.models import AuditEntry, Connection, PagerDutyUser
from pdportal import crypto
from tests.personas import PASSWORD, seed_users

from .conftest import API


@responses.activate
def test_writes_carry_the_persons_email_in_from(responder, api_key_mode, settings):
    responses.post(f"{API}/incidents/PINC001/notes", json={"note": {"id": "PN1", "content": "on it"}})
    client = pagerduty_client_for(user=responder)
    client.create("/incidents/PINC001/notes", {"content": "on it"})
    request = responses.calls[0].request
    assert request.headers["From"] == "responder@example.com"
    assert request.headers["Authorization"] == f"Token token={settings.PAGERDUTY_API_TOKEN}"
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.actor_label, entry.status) == (responder, "responder@example.com", 200)


@responses.activate
def test_each_person_acts_under_their_own_email(responder, admin, api_key_mode):
    responses.put(f"{API}/incidents/PINC001", json={"incident": {"id": "PINC001"}})
    pagerduty_client_for(user=responder).update("/incidents/PINC001", {"status": "acknowledged"})
    pagerduty_client_for(user=admin).update("/incidents/PINC001", {"status": "resolved"})
    assert [c.request.headers["From"] for c in responses.calls] == ["responder@example.com", "admin@example.com"]


@responses.activate
def test_a_refused_write_is_audited_with_pagerdutys_message(responder, api_key_mode):
    from pdportal.pagerduty import Forbidden

    responses.put(f"{API}/incidents/PINC001", status=403, json={"error": {"message": "Access Denied", "code": 2010}})
    with pytest.raises(Forbidden):
        pagerduty_client_for(user=responder).update("/incidents/PINC001", {"status": "resolved"})
    entry = AuditEntry.objects.get()
    assert (entry.status, entry.error, entry.target) == (403, "Access Denied (2010)", "PINC001")


def test_a_key_stored_on_the_settings_page_is_used_when_the_environment_has_none(db, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    Connection.objects.create(pk=1, mode=Connection.Mode.API_KEY, api_key=crypto.encrypt("stored-key"))
    client = account_client()
    assert (client.auth, client.token) == ("token", "stored-key")


def test_the_environment_key_wins_over_a_stored_key(db, api_key_mode, settings):
    Connection.objects.create(pk=1, mode=Connection.Mode.API_KEY, api_key=crypto.encrypt("stored-key"))
    assert account_client().token == settings.PAGERDUTY_API_TOKEN


def test_a_local_login_signs_in_with_username_and_password(client, responder, api_key_mode):
    response = client.post("/accounts/login/", {"login": "responder", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/settings/me/").context["user"] == responder


def test_a_local_login_also_accepts_the_email(client, responder, api_key_mode):
    response = client.post("/accounts/login/", {"login": "responder@example.com", "password": PASSWORD})
    assert response.status_code == 302


def test_nobody_can_sign_up_on_their_own(client, db):
    response = client.post(
        "/accounts/signup/",
        {"email": "x@example.com", "username": "x", "password1": "a-long-password-1", "password2": "a-long-password-1"},
    )
    assert not get_user_model().objects.filter(username="x").exists()
    assert response.status_code == 404  # allauth's sign-up page is not mounted (issue 11)


def test_create_portal_user_links_to_the_mirrored_pagerduty_user(db, api_key_mode):
    seed = seed_users()["observer@example.com"]
    PagerDutyUser.objects.create(pd_id=seed.pd_id, name=seed.name, email=seed.email, role=seed.role)
    call_command("create_portal_user", "--email", "observer@example.com", "--password", "a-good-password")
    user = get_user_model().objects.get(email="observer@example.com")
    assert user.check_password("a-good-password")
    assert user.profile.pd_user.pd_id == seed.pd_id
    assert user.profile.role == "observer"


@responses.activate
def test_create_portal_user_fetches_an_unmirrored_user_from_pagerduty(db, api_key_mode):
    seed = seed_users()["admin@example.com"]
    responses.get(
        f"{API}/users",
        json={
            "users": [{"id": seed.pd_id, "type": "user", "name": seed.name, "email": seed.email, "role": "admin"}],
            "limit": 100,
            "offset": 0,
            "more": False,
        },
    )
    call_command("create_portal_user", "--email", "admin@example.com", "--password", "a-good-password")
    user = get_user_model().objects.get(email="admin@example.com")
    assert user.profile.pd_user.pd_id == seed.pd_id
    assert "query=admin%40example.com" in responses.calls[0].request.url


@responses.activate
def test_create_portal_user_refuses_an_unknown_email(db, api_key_mode):
    responses.get(f"{API}/users", json={"users": [], "limit": 100, "offset": 0, "more": False})
    with pytest.raises(CommandError, match="No PagerDuty user has the email"):
        call_command("create_portal_user", "--email", "ghost@example.com", "--password", "a-good-password")
    assert not get_user_model().objects.exists()

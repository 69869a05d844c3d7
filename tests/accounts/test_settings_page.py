"""The admin Settings page: the account connection, its health, and storing an API key."""

import responses

from accounts.models import Connection

from .conftest import API


@responses.activate
def test_an_admin_stores_an_api_key_and_sees_it_checked(client_as, admin, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    responses.get(f"{API}/abilities", json={"abilities": ["teams"]})
    client = client_as(admin)
    response = client.post("/settings/", {"api_key": "u+abcdefghijk"})
    assert response.status_code == 302
    assert responses.calls[0].request.headers["Authorization"] == "Token token=u+abcdefghijk"
    connection = Connection.objects.get()
    assert (connection.mode, connection.healthy, connection.created_by) == ("api_key", True, admin)
    page = client.get("/settings/").content.decode()
    assert "REST API key stored here" in page and "OK" in page
    assert "u+abcdefghijk" not in page


@responses.activate
def test_a_refused_key_shows_pagerdutys_error_as_the_health(client_as, admin, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    responses.get(f"{API}/abilities", status=401, json={"error": {"message": "Unauthorized", "code": 2006}})
    client = client_as(admin)
    client.post("/settings/", {"api_key": "u+wrongwrong"})
    page = client.get("/settings/").content.decode()
    assert "Failing" in page and "Unauthorized (2006)" in page


def test_a_malformed_key_is_refused_in_place(client_as, admin, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    response = client_as(admin).post("/settings/", {"api_key": "has spaces in it"})
    assert response.status_code == 400
    assert "no spaces" in response.content.decode()
    assert not Connection.objects.exists()


@responses.activate
def test_the_environment_key_is_shown_and_checked(client_as, admin, api_key_mode):
    responses.get(f"{API}/abilities", json={"abilities": []})
    client = client_as(admin)
    assert "PAGERDUTY_API_TOKEN" in client.get("/settings/").content.decode()
    client.post("/settings/connection/check/")
    assert Connection.objects.get().healthy is True


def test_with_no_connection_the_page_says_so(client_as, admin, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    assert "Not connected" in client_as(admin).get("/settings/").content.decode()


@responses.activate
def test_connection_changes_are_in_the_audit_log(client_as, admin, settings):
    from accounts.models import AuditEntry

    settings.PAGERDUTY_API_TOKEN = ""
    responses.get(f"{API}/abilities", json={"abilities": []})
    client = client_as(admin)
    client.post("/settings/", {"api_key": "u+abcdefghijk"})
    client.post("/settings/connection/disconnect/")
    assert list(AuditEntry.objects.order_by("id").values_list("actor", "operation")) == [
        (admin.pk, "Connect with an API key"),
        (admin.pk, "Remove the stored connection"),
    ]

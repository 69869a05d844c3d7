"""Headers: auth scheme, PagerDuty's Accept, and `From` whenever an acting email is known."""

import pytest

from pdportal.pagerduty import PagerDutyClient

from .conftest import API, TOKEN


def test_it_sends_from_when_the_client_knows_the_email(make_client, mocked):
    client = make_client(from_email="alice@example.com")
    mocked.put(f"{API}/incidents/P1", json={"incident": {"id": "P1"}})
    client.update("/incidents/P1", {"type": "incident_reference", "status": "acknowledged"})
    assert mocked.calls[0].request.headers["From"] == "alice@example.com"


def test_it_sends_no_from_without_an_email(client, mocked):
    mocked.get(f"{API}/incidents", json={"incidents": []})
    client.get("/incidents")
    assert "From" not in mocked.calls[0].request.headers


def test_a_per_call_from_email_overrides_the_clients(make_client, mocked):
    client = make_client(from_email="account@example.com")
    mocked.post(f"{API}/incidents/P1/snooze", status=201, json={"incident": {"id": "P1"}})
    client.snooze_incident("P1", 600, from_email="bob@example.com")
    assert mocked.calls[0].request.headers["From"] == "bob@example.com"


def test_it_authenticates_rest_keys_with_the_token_scheme(client, mocked):
    mocked.get(f"{API}/users/me", json={"user": {"id": "U1"}})
    client.get_entity("/users/me")
    headers = mocked.calls[0].request.headers
    assert headers["Authorization"] == f"Token token={TOKEN}"
    assert headers["Accept"] == "application/vnd.pagerduty+json;version=2"
    assert headers["Content-Type"] == "application/json"


def test_it_authenticates_oauth_tokens_with_the_bearer_scheme(make_client, mocked):
    client = make_client(token="oauth-access", auth="bearer")
    mocked.get(f"{API}/users/me", json={"user": {"id": "U1"}})
    client.get("/users/me")
    assert mocked.calls[0].request.headers["Authorization"] == "Bearer oauth-access"


def test_it_accepts_full_urls_on_its_own_api_host(client, mocked):
    mocked.get(f"{API}/incidents/P1", json={"incident": {"id": "P1"}})
    assert client.get_entity(f"{API}/incidents/P1") == {"id": "P1"}


def test_it_refuses_to_send_the_token_to_another_host(client, mocked):
    from pdportal.pagerduty.errors import ForeignOrigin

    with pytest.raises(ForeignOrigin, match="Refused to send PagerDuty credentials"):
        client.get("https://evil.example.com/incidents")
    assert len(mocked.calls) == 0


def test_it_never_shows_the_token_in_its_repr():
    client = PagerDutyClient(token=TOKEN)
    assert TOKEN not in repr(client)

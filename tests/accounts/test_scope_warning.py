"""PagerDuty may silently grant less than the requested scope; the person is told which permissions are missing."""

import pytest
import responses

from accounts.actions import missing_scopes

from .conftest import API, CALLBACK, OAUTH, me_json, start_signin, token_answer


def _sign_in(client, *, granted: str):
    params = start_signin(client)
    responses.post(f"{OAUTH}/oauth/token", json=token_answer(scope=granted))
    responses.get(f"{API}/users/me", json={"user": me_json()})
    return client.get(CALLBACK, {"code": "c", "state": params["state"]}, follow=False)


def _next_page(client) -> str:
    # Messages wait in the session until the next page renders them.
    return client.get("/settings/me/").content.decode()


@responses.activate
def test_it_warns_when_pagerduty_grants_a_narrower_scope(client, oauth_app):
    _sign_in(client, granted="read")
    page = _next_page(client)
    assert "PagerDuty granted PD Portal less than it asked for" in page
    assert "missing: write" in page


@responses.activate
def test_it_stays_quiet_when_everything_was_granted(client, oauth_app):
    _sign_in(client, granted="read write")
    page = _next_page(client)
    assert "less than it asked for" not in page


@pytest.mark.parametrize(
    ("requested", "granted", "missing"),
    [
        ("read write", "read write", []),
        ("read write", "read", ["write"]),
        ("incidents.write services.read", "incidents.write", ["services.read"]),
        ("incidents.write services.read", "read write", []),
        ("incidents.write services.read", "read", ["incidents.write"]),
        ("read write", "", []),
    ],
)
def test_missing_scopes(requested, granted, missing):
    assert missing_scopes(requested=requested, granted=granted) == missing

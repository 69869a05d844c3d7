"""Shared by the identity attack tests: plain HTTP, fresh rate limits, an OAuth app, and a mocked PagerDuty sign-in.

Test modules import the fixtures they use (`from .signin_helpers import ...  # noqa: F401`).
"""

from __future__ import annotations

import pytest
import responses
from django.test import Client

from tests.accounts.conftest import API, CALLBACK, OAUTH, as_pagerduty_signin, me_json, start_signin, token_answer

# The accounts tests' autouse set-up (plain HTTP, a clean rate-limit cache), under the names our modules import.
from tests.accounts.conftest import _fresh_rate_limits as fresh_rate_limits
from tests.accounts.conftest import _plain_http as plain_http

__all__ = [
    "API",
    "CALLBACK",
    "OAUTH",
    "as_pagerduty_signin",
    "fresh_rate_limits",
    "me_json",
    "pagerduty_signin",
    "plain_http",
    "token_answer",
]


@pytest.fixture
def oauth_app(settings, db):
    """A PagerDuty OAuth app; the account is `acme`, so a sign-in needs no lookup through a connection."""
    settings.PAGERDUTY_CLIENT_ID = "portal-client"
    settings.PAGERDUTY_CLIENT_SECRET = "portal-secret"
    settings.PAGERDUTY_OAUTH_SCOPES = ["read", "write"]
    settings.PAGERDUTY_API_TOKEN = ""
    settings.PAGERDUTY_SUBDOMAIN = "acme"
    settings.PAGERDUTY_API_URL = API
    settings.PAGERDUTY_OAUTH_URL = OAUTH
    return settings


def pagerduty_signin(client: Client, email: str, *, access: str = "at-1", refresh: str = "rt-1"):
    """`email`'s PagerDuty user signs in through `client` (PagerDuty mocked with `responses`); returns the answer."""
    params = start_signin(client)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.post(f"{OAUTH}/oauth/token", json=token_answer(access=access, refresh=refresh))
        mocked.get(f"{API}/users/me", json={"user": me_json(email)})
        return client.get(CALLBACK, {"code": "c", "state": params["state"]})

"""Shared by the identity attack tests: plain HTTP, fresh rate limits, an OAuth app, and a mocked PagerDuty sign-in.

Test modules import the fixtures they use (`from .signin_helpers import ...  # noqa: F401`).
"""

from __future__ import annotations

import pytest
import responses
from django.test import Client

from tests.accounts.conftest import API, CALLBACK, OAUTH, as_pagerduty_signin, me_json, start_signin, token_answer

__all__ = ["API", "CALLBACK", "OAUTH", "as_pagerduty_signin", "me_json", "pagerduty_signin", "token_answer"]


@pytest.fixture(autouse=True)
def plain_http(settings):
    # The test client speaks plain HTTP; HTTPS redirects are the security middleware's business, not ours.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def fresh_rate_limits():
    # allauth counts sign-in attempts in the cache; each test starts with a clean slate.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


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

"""Helpers for the accounts tests: an OAuth app, a fake PagerDuty sign-in, and the tiny role-checking views."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from tests.personas import seed_users

API = "https://api.pagerduty.test"
OAUTH = "https://identity.pagerduty.test"
CALLBACK = "/accounts/pagerduty/login/callback/"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # The test client speaks plain HTTP; HTTPS redirects are the security middleware's business, not ours.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    # allauth counts sign-in attempts in the cache; each test starts with a clean slate.
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def oauth_app(settings, db):
    settings.PAGERDUTY_CLIENT_ID = "portal-client"
    settings.PAGERDUTY_CLIENT_SECRET = "portal-secret"
    settings.PAGERDUTY_OAUTH_SCOPES = ["read", "write"]
    settings.PAGERDUTY_API_TOKEN = ""
    return settings


def me_json(email: str = "responder@example.com", **overrides) -> dict:
    seed = seed_users()[email]
    user = {
        "id": seed.pd_id,
        "type": "user",
        "name": seed.name,
        "email": seed.email,
        "role": seed.role,
        "time_zone": seed.time_zone,
        "job_title": seed.job_title,
        "html_url": f"https://acme.pagerduty.com/users/{seed.pd_id}",
        "teams": [{"id": "PTEAM01", "type": "team_reference", "summary": "Platform"}],
    }
    user.update(overrides)
    return user


def start_signin(client) -> dict[str, str]:
    """POST to the provider's login URL; returns the authorize redirect's query parameters."""
    response = client.post("/accounts/pagerduty/login/")
    assert response.status_code == 302, response.content[:500]
    location = urlparse(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == f"{OAUTH}/oauth/authorize"
    return {key: values[0] for key, values in parse_qs(location.query).items()}


def token_answer(*, access="at-1", refresh="rt-1", scope="read write", expires_in=3600) -> dict:
    return {
        "access_token": access,
        "token_type": "bearer",
        "expires_in": expires_in,
        "refresh_token": refresh,
        "scope": scope,
    }


def as_pagerduty_signin(user):
    """Make a persona a PagerDuty sign-in: bound by its PagerDuty user id, no password (only those hold a grant)."""
    from allauth.socialaccount.models import SocialAccount

    user.set_unusable_password()
    user.save(update_fields=["password"])
    # The uid a sign-in of me_json()'s account (acme) gets.
    SocialAccount.objects.get_or_create(user=user, provider="pagerduty", uid=f"acme:{user.profile.pd_user.pd_id}")
    return user


@pytest.fixture(autouse=True)
def _pagerduty_outside_transactions(pagerduty_outside_transactions):
    """Sign-in, connections and grants read PagerDuty outside any transaction too (tests/conftest.py)."""

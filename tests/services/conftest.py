"""Fixtures of the admin-area tests: the sandbox in API-key mode, and a signed-in admin client."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # The test client speaks plain HTTP; HTTPS redirects are the security middleware's business.
    settings.SECURE_SSL_REDIRECT = False


@pytest.fixture
def pd(db, fresh_sandbox, settings, api_key_mode):
    """The sandbox, freshly seeded, as this portal's PagerDuty (every host), with an empty request log."""
    settings.PAGERDUTY_API_URL = fresh_sandbox.url
    settings.PAGERDUTY_EVENTS_URL = fresh_sandbox.url
    settings.PAGERDUTY_OAUTH_URL = fresh_sandbox.url
    fresh_sandbox.clear_log()
    return fresh_sandbox


@pytest.fixture
def admin_client(admin, client_as):
    return client_as(admin)


def requests_to(sandbox, method: str, path: str) -> list[dict]:
    """The sandbox's log of requests with this method and exact path."""
    return [r for r in sandbox.requests_log(method=method) if r["path"] == path]


@pytest.fixture(autouse=True)
def _pagerduty_outside_transactions(pagerduty_outside_transactions):
    """Every action path here reads PagerDuty first and then writes the mirror in one short transaction."""

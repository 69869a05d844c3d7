"""Fixtures for the incidents tests: the portal pointed at the sandbox in API-key mode, with a roomy budget."""

from __future__ import annotations

import pytest

from pdportal.pagerduty import PagerDutyClient, RequestBudget


@pytest.fixture
def portal_on_sandbox(fresh_sandbox, settings, api_key_mode):
    """The portal talks to a freshly reset sandbox with the account key (people act with `From: <email>`)."""
    settings.PAGERDUTY_API_URL = fresh_sandbox.url
    settings.PAGERDUTY_EVENTS_URL = fresh_sandbox.url
    # Tests are not rate-limited by PagerDuty; the shared per-token budget must not make them wait.
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    return fresh_sandbox


@pytest.fixture
def sandbox_client(sandbox):
    return PagerDutyClient(token=sandbox.api_token, api_url=sandbox.url, budget=RequestBudget(per_minute=1_000_000))


@pytest.fixture(autouse=True)
def _plain_http(settings):
    # The test client speaks plain HTTP; HTTPS redirects are the security middleware's business.
    settings.SECURE_SSL_REDIRECT = False

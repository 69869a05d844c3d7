"""An in-process portal for browser tests that need no live stream: the test's own database (the ORM can check the
mirror), a quick sync from a freshly reset sandbox, API-key mode, and a forced-login session cookie per persona."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import Client

from incidents import sync
from pdportal.pagerduty import PagerDutyClient, RequestBudget
from tests.personas import make_portal_user

QUICK_STEPS = ("priorities", "teams", "users", "escalation_policies", "services", "templates", "incidents")


def on_sandbox(settings, sandbox, *, api_key: bool = True) -> None:
    """Every PagerDuty host is the (freshly reset) sandbox, over plain HTTP on loopback: no HTTPS redirect, no
    Secure-only cookies. `api_key`: the account key connects the portal (else the caller sets up OAuth)."""
    sandbox.reset()
    settings.PAGERDUTY_API_URL = sandbox.url
    settings.PAGERDUTY_EVENTS_URL = sandbox.url
    settings.PAGERDUTY_OAUTH_URL = sandbox.url
    if api_key:
        settings.PAGERDUTY_API_TOKEN = settings.SANDBOX_API_TOKEN
        settings.PAGERDUTY_CLIENT_ID = ""
    settings.SECURE_SSL_REDIRECT = False
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False


@pytest.fixture
def inprocess_portal(sandbox, settings, transactional_db):
    """The portal's URL: a live server in this process on the sandbox, its mirror filled by a quick sync."""
    on_sandbox(settings, sandbox)
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    client = PagerDutyClient(token=sandbox.api_token, api_url=sandbox.url, budget=RequestBudget(per_minute=1_000_000))
    sync.sync_all(client=client, steps=QUICK_STEPS)
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost")
    settings.PORTAL_URL = server.url
    try:
        yield server.url
    finally:
        server.stop()
        sandbox.reset()  # what the test did there (a sent event is a new incident) must not reach the next test


def sign_in(page, portal_url: str, email: str):
    """Sign the page's browser context in as a seed persona (a forced-login session cookie); returns the user.
    Signing in again (another browser) is the same portal user."""
    user = get_user_model().objects.filter(email=email).first() or make_portal_user(email=email)
    client = Client()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": portal_url}])
    return user

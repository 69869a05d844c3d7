"""Browser sign-in with PagerDuty against the sandbox: portal, sandbox sign-in page, back signed in as that user."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model

from accounts.models import OAuthGrant
from accounts.roles import PortalRole, portal_role
from pdportal import crypto
from tests.e2e.inprocess import on_sandbox


@pytest.fixture
def portal(sandbox, settings, transactional_db):
    """A live portal pointed at the sandbox, with the sandbox's registered OAuth client.

    Its own server, started after the settings change: Django's middleware reads some settings (the HTTPS
    redirect) once when the server starts, so the session-wide `live_server` would keep the old ones.
    """
    on_sandbox(settings, sandbox, api_key=False)
    settings.PAGERDUTY_CLIENT_ID = "pdportal-sandbox"
    settings.PAGERDUTY_CLIENT_SECRET = "sandbox-secret"
    settings.PAGERDUTY_OAUTH_SCOPES = ["read", "write"]
    settings.PAGERDUTY_API_TOKEN = ""
    settings.SECURE_CSP = {**settings.SECURE_CSP, "form-action": ["'self'", sandbox.url]}
    from django.core.cache import cache

    cache.clear()
    from pytest_django.live_server_helper import LiveServer

    server = LiveServer("localhost")
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def page(page):
    # The live stream is endless and WSGI test servers serve it from a thread that never ends; sign-in needs no live.
    page.route(re.compile(r"/live/"), lambda route: route.abort())
    return page


def _sign_in_as(page, portal: str, sandbox, email: str) -> None:
    page.goto(f"{portal}/settings/me/")
    assert "/accounts/login/" in page.url
    page.click("#signin-with-pagerduty")
    page.wait_for_url(f"{sandbox.url}/oauth/authorize*")
    assert "Sign in to the PagerDuty sandbox" in page.content()
    page.click(f'#users button[data-email="{email}"]')
    page.wait_for_url(f"{portal}/settings/me/")


@pytest.mark.parametrize(
    ("email", "pd_role", "portal_role_expected"),
    [
        ("responder@example.com", "user", PortalRole.RESPONDER),
        ("observer@example.com", "observer", PortalRole.READ_ONLY),
    ],
)
def test_signing_in_with_pagerduty_lands_signed_in_as_the_chosen_user(
    page, portal, sandbox, email, pd_role, portal_role_expected
):
    _sign_in_as(page, portal, sandbox, email)
    assert page.locator("#me-role").inner_text().startswith(pd_role)
    read_only_note = "(read-only in the portal)" in page.locator("#me-role").inner_text()
    assert read_only_note is (portal_role_expected == PortalRole.READ_ONLY)

    user = get_user_model().objects.get(email=email)
    assert portal_role(user) == portal_role_expected
    assert user.profile.pd_user.pd_id == sandbox.user_id(email)
    grant = OAuthGrant.objects.get(user=user)
    assert grant.revoked_at is None and "read" in grant.scope.split()
    # The stored token is the person's own: the sandbox answers /users/me with them.
    me = sandbox.client.get(
        "/users/me",
        headers={
            "Authorization": f"Bearer {crypto.decrypt(grant.access_token)}",
            "Accept": "application/vnd.pagerduty+json;version=2",
        },
    )
    assert me.json()["user"]["email"] == email


def test_denying_consent_ends_on_a_friendly_page(page, portal, sandbox):
    page.goto(f"{portal}/accounts/login/")
    page.click("#signin-with-pagerduty")
    page.wait_for_url(f"{sandbox.url}/oauth/authorize*")
    page.click("#deny")
    page.wait_for_url(f"{portal}/accounts/pagerduty/login/callback/*")
    assert "Sign-in cancelled" in page.content()
    assert not get_user_model().objects.exists()


def test_disconnect_pagerduty_signs_out_and_pagerduty_refuses_the_token(page, portal, sandbox):
    _sign_in_as(page, portal, sandbox, "responder@example.com")
    token = crypto.decrypt(OAuthGrant.objects.get().access_token)
    page.click("#pagerduty-disconnect")
    page.wait_for_url(f"{portal}/accounts/login/")
    assert "PagerDuty is disconnected" in page.content()
    assert not OAuthGrant.objects.exists()
    me = sandbox.client.get(
        "/users/me",
        headers={"Authorization": f"Bearer {token}", "Accept": "application/vnd.pagerduty+json;version=2"},
    )
    assert me.status_code == 401
    page.goto(f"{portal}/settings/me/")
    assert "/accounts/login/" in page.url

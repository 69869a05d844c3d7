"""Issue 11: when the PagerDuty user a portal user is linked to changes, or an admin switches a login off, every
session of that user ends at its next request (and stays ended)."""

import pytest
from django.test import Client

from accounts.actions import profile_link
from accounts.models import PagerDutyUser
from tests.personas import PASSWORD

from .signin_helpers import fresh_rate_limits, plain_http  # noqa: F401


def _signed_in_twice(user) -> tuple[Client, Client]:
    """Two browsers of the same person, each with its own session (signed in through django.contrib.auth.login)."""
    browsers = (Client(), Client())
    for browser in browsers:
        browser.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
        assert browser.get("/settings/me/").status_code == 200
    return browsers


def _signed_out(browser: Client) -> bool:
    response = browser.get("/settings/me/")
    return response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_relinking_to_another_pagerduty_user_ends_every_session(responder, admin):
    browsers = _signed_in_twice(responder)
    profile_link(user=responder, pd_user=admin.profile.pd_user)
    assert all(_signed_out(browser) for browser in browsers)


def test_the_pagerduty_user_disappearing_from_the_mirror_ends_every_session(responder):
    browsers = _signed_in_twice(responder)
    PagerDutyUser.objects.filter(pk=responder.profile.pd_user_id).delete()
    assert all(_signed_out(browser) for browser in browsers)


def test_a_password_sign_in_is_stamped_too(responder, admin):
    browser = Client()
    assert browser.post("/accounts/login/", {"login": responder.username, "password": PASSWORD}).status_code == 302
    profile_link(user=responder, pd_user=admin.profile.pd_user)
    assert _signed_out(browser)


def test_a_switched_off_login_stays_signed_out_after_it_is_switched_on(client_as, admin, responder):
    browsers = _signed_in_twice(responder)
    admin_client = client_as(admin)
    admin_client.post(f"/settings/logins/{responder.pk}/active/", {"active": "0"})
    admin_client.post(f"/settings/logins/{responder.pk}/active/", {"active": "1"})
    assert all(_signed_out(browser) for browser in browsers)
    # Signing in again works, and that new session lives.
    fresh = _signed_in_twice(responder)
    assert not any(_signed_out(browser) for browser in fresh)


def test_a_session_of_someone_else_is_untouched(client_as, admin, responder, observer):
    (bystander, _) = _signed_in_twice(observer)
    client_as(admin).post(f"/settings/logins/{responder.pk}/active/", {"active": "0"})
    profile_link(user=responder, pd_user=admin.profile.pd_user)
    assert not _signed_out(bystander)


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx-partial"])
def test_an_ended_session_is_sent_to_sign_in_not_an_error(responder, admin, htmx):
    (browser, _) = _signed_in_twice(responder)
    profile_link(user=responder, pd_user=admin.profile.pd_user)
    headers = {"HX-Request": "true"} if htmx else {}
    response = browser.get("/settings/me/", headers=headers)
    assert response.status_code in (302, 401)
    assert "/accounts/login/" in (response.get("Location") or response.get("HX-Redirect") or "")

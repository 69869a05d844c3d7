"""Issue 11, finding 1: nobody takes over another person's PagerDuty identity through allauth's stock pages.

The attack on the old main: a read-only person adds the victim's email at /accounts/email/; the victim (a
PagerDuty admin new to the portal) signs in with PagerDuty; allauth joined the victim into the attacker's
account, whose open session then acted at PagerDuty with the victim's own token.
"""

from urllib.parse import parse_qs, urlparse

import allauth.urls
import pytest
import responses
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import NoReverseMatch, URLPattern, URLResolver, reverse

from accounts.clients import pagerduty_client_for
from accounts.errors import IdentityError
from accounts.models import OAuthGrant
from accounts.roles import PortalRole, portal_role
from pdportal import crypto
from tests.personas import OBSERVER_EMAIL, PASSWORD, make_portal_user, seed_users

from .signin_helpers import (  # noqa: F401 - fixtures
    API,
    CALLBACK,
    OAUTH,
    as_pagerduty_signin,
    fresh_rate_limits,
    me_json,
    oauth_app,
    pagerduty_signin,
    plain_http,
    token_answer,
)

VICTIM = "admin@example.com"
pytestmark = pytest.mark.usefixtures("oauth_app")
MOUNTED = {"account_login", "account_logout", "pagerduty_login", "pagerduty_callback"}

# Every page allauth 65 mounts under /accounts/ by default (allauth.urls with this project's settings, plus those
# that other settings switch on), with sample values for the path parameters.
STOCK_PAGES = [
    "",
    "signup/",
    "reauthenticate/",
    "inactive/",
    "email/",
    "confirm-email/",
    "confirm-email/MTA:1tKey:abc/",
    "password/change/",
    "password/set/",
    "password/reset/",
    "password/reset/done/",
    "password/reset/key/1-set-password/",
    "password/reset/key/done/",
    "password/reset/confirm/",
    "password/reset/complete/",
    "login/code/",
    "login/code/confirm/",
    "phone/verify/",
    "phone/change/",
    "signup/passkey/",
    "3rdparty/",
    "3rdparty/signup/",
    "3rdparty/login/cancelled/",
    "3rdparty/login/error/",
    "social/login/cancelled/",
    "social/login/error/",
    "social/signup/",
    "social/connections/",
    "2fa/",
    "sessions/",
]


def _stock_names(patterns=None) -> set[str]:
    names = set()
    for entry in patterns if patterns is not None else allauth.urls.urlpatterns:
        if isinstance(entry, URLResolver):
            names |= _stock_names(entry.url_patterns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(entry.name)
    return names


@pytest.fixture
def attacker(db):
    """The read-only person of the repro (PagerDuty's observer role), signed in with PagerDuty."""
    return as_pagerduty_signin(make_portal_user(email=OBSERVER_EMAIL))


@pytest.mark.parametrize("name", sorted(_stock_names() - MOUNTED))
def test_no_stock_allauth_url_name_is_mounted(name):
    with pytest.raises(NoReverseMatch):
        reverse(name)


def test_the_enumeration_found_the_dangerous_pages():
    # Guards the test above: if allauth renamed its views, it would pass without testing anything.
    assert {"account_email", "account_set_password", "account_change_password", "socialaccount_connections"} <= (
        _stock_names()
    )


@pytest.mark.parametrize("method", ["get", "post"])
@pytest.mark.parametrize("page", STOCK_PAGES)
def test_every_stock_allauth_page_answers_404_signed_in_or_not(client_as, attacker, page, method):
    for client in (Client(), client_as(attacker)):
        response = getattr(client, method)(f"/accounts/{page}")
        assert response.status_code == 404, (page, method, response.status_code)


def test_the_pages_the_product_uses_are_still_there(client):
    assert client.get("/accounts/login/").status_code == 200
    assert client.post("/accounts/pagerduty/login/").status_code == 302
    assert client.post("/accounts/logout/").status_code == 302


# --- the takeover, through each page that took part in it ---


def _victim_signs_in() -> Client:
    victim_browser = Client()
    response = pagerduty_signin(victim_browser, VICTIM, access="victim-access", refresh="victim-refresh")
    assert response.status_code == 302 and response["Location"] == "/"
    return victim_browser


def _assert_nothing_gained(attacker_client: Client, attacker) -> None:
    victim = seed_users()[VICTIM]
    attacker.refresh_from_db()
    assert attacker.profile.pd_user.email == OBSERVER_EMAIL
    assert portal_role(attacker) == PortalRole.READ_ONLY
    assert not SocialAccount.objects.filter(user=attacker, uid__endswith=victim.pd_id).exists()
    # The victim got a portal user of their own, holding their own grant; the attacker holds none of it.
    victim_user = SocialAccount.objects.get(uid__endswith=victim.pd_id).user
    assert victim_user.pk != attacker.pk
    assert crypto.decrypt(OAuthGrant.objects.get(user=victim_user).access_token) == "victim-access"
    assert not OAuthGrant.objects.filter(user=attacker).exists()
    try:
        acting = pagerduty_client_for(user=attacker)
    except IdentityError:
        pass
    else:
        assert acting.token != "victim-access"
    # The attacker's open session is still the observer's: no admin page.
    assert attacker_client.get("/settings/logins/").status_code == 403


def test_adding_the_victims_email_at_accounts_email_is_refused_and_joins_nothing(client_as, attacker):
    attacker_client = client_as(attacker)
    response = attacker_client.post("/accounts/email/", {"email": VICTIM, "action_add": ""})
    assert response.status_code == 404
    assert not EmailAddress.objects.filter(user=attacker, email__iexact=VICTIM).exists()
    _victim_signs_in()
    _assert_nothing_gained(attacker_client, attacker)


def test_a_password_set_at_accounts_password_set_is_refused(client_as, attacker):
    attacker_client = client_as(attacker)
    response = attacker_client.post("/accounts/password/set/", {"password1": PASSWORD, "password2": PASSWORD})
    assert response.status_code == 404
    attacker.refresh_from_db()
    assert not attacker.has_usable_password()
    login = Client().post("/accounts/login/", {"login": attacker.username, "password": PASSWORD})
    assert "_auth_user_id" not in login.wsgi_request.session


def test_a_password_change_and_a_reset_are_refused(client_as, attacker):
    attacker_client = client_as(attacker)
    form = {"oldpassword": "x", "password1": PASSWORD, "password2": PASSWORD}
    assert attacker_client.post("/accounts/password/change/", form).status_code == 404
    assert Client().post("/accounts/password/reset/", {"email": VICTIM}).status_code == 404
    attacker.refresh_from_db()
    assert not attacker.has_usable_password()


def test_the_connections_page_cannot_drop_a_pagerduty_sign_in(client_as, attacker):
    attacker_client = client_as(attacker)
    account = SocialAccount.objects.get(user=attacker)
    assert attacker_client.post("/accounts/3rdparty/", {"account": account.pk}).status_code == 404
    assert SocialAccount.objects.filter(user=attacker).count() == 1


@pytest.mark.parametrize("attacker_signs_in_with", ["pagerduty", "password"])
def test_an_account_holding_the_victims_email_is_never_joined(client_as, attacker_signs_in_with):
    """The binding itself, whatever page once let the victim's email onto the attacker's account."""
    attacker = make_portal_user(email=OBSERVER_EMAIL)
    if attacker_signs_in_with == "pagerduty":
        as_pagerduty_signin(attacker)
    # What /accounts/email/ saved on the old main (verified: email verification was off).
    EmailAddress.objects.create(user=attacker, email=VICTIM, verified=True, primary=False)
    attacker_client = client_as(attacker)
    _victim_signs_in()
    assert get_user_model().objects.count() == 2
    _assert_nothing_gained(attacker_client, attacker)


def test_a_connect_flow_cannot_attach_another_persons_sign_in(client_as, attacker):
    """?process=connect would attach whichever PagerDuty user finishes the flow to the signed-in account."""
    attacker_client = client_as(attacker)
    response = attacker_client.post("/accounts/pagerduty/login/?process=connect")
    state = parse_qs(urlparse(response["Location"]).query)["state"][0]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.post(f"{OAUTH}/oauth/token", json=token_answer(access="victim-access"))
        mocked.get(f"{API}/users/me", json={"user": me_json(VICTIM)})
        answer = attacker_client.get(CALLBACK, {"code": "the-victims-code", "state": state})
    assert answer.status_code == 403
    assert SocialAccount.objects.filter(user=attacker).count() == 1
    assert not SocialAccount.objects.filter(uid__endswith=seed_users()[VICTIM].pd_id).exists()
    assert not OAuthGrant.objects.exists()

"""Issue 11, findings 3 and 4: a password login and a PagerDuty sign-in are two identities that never share a grant.

On the old main an admin-made portal login was joined by the person's later PagerDuty sign-in (same email), so
whoever knew the admin-chosen password acted with that person's own OAuth token, and the login left
/settings/logins/; and anyone signed in with PagerDuty could grow a private password at /accounts/password/set/.
"""

import importlib
from datetime import timedelta

import pytest
from allauth.socialaccount.models import SocialAccount
from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from accounts.clients import pagerduty_client_for, store_grant
from accounts.models import OAuthGrant, PagerDutyUser
from pdportal.pagerduty.oauth import TokenSet
from tests.personas import seed_users

from .signin_helpers import as_pagerduty_signin, fresh_rate_limits, oauth_app, pagerduty_signin, plain_http  # noqa: F401

PERSON = "responder@example.com"
CHOSEN = "the-admin-chose-this-password"
ACCOUNT_KEY = "account-key"


@pytest.fixture(autouse=True)
def key_and_oauth(request, settings):
    """API-key connection and an OAuth app side by side: both kinds of sign-in exist."""
    request.getfixturevalue("oauth_app")
    settings.PAGERDUTY_API_TOKEN = ACCOUNT_KEY
    seed = seed_users()[PERSON]
    PagerDutyUser.objects.create(pd_id=seed.pd_id, name=seed.name, email=seed.email, role=seed.role)


def _password_session(username: str, password: str) -> Client:
    browser = Client()
    response = browser.post("/accounts/login/", {"login": username, "password": password})
    assert response.status_code == 302, response.content[:300]
    return browser


def _portal_login_made_by(client_as, admin):
    response = client_as(admin).post("/settings/logins/", {"email": PERSON, "password1": CHOSEN, "password2": CHOSEN})
    assert response.status_code == 302
    return get_user_model().objects.get(email=PERSON)


def test_the_persons_pagerduty_sign_in_never_joins_the_admin_made_login(client_as, admin):
    login = _portal_login_made_by(client_as, admin)
    assert pagerduty_signin(Client(), PERSON, access="persons-own-token").status_code == 302

    signed_in = SocialAccount.objects.get(provider="pagerduty").user
    assert signed_in.pk != login.pk
    login.refresh_from_db()
    assert not SocialAccount.objects.filter(user=login).exists()
    assert not OAuthGrant.objects.filter(user=login).exists()
    assert login.check_password(CHOSEN) and not signed_in.has_usable_password()
    # Both act as the same PagerDuty user, each with its own credential.
    assert login.profile.pd_user_id == signed_in.profile.pd_user_id
    acting = pagerduty_client_for(user=login)
    assert (acting.auth, acting.token, acting.from_email) == ("token", ACCOUNT_KEY, PERSON)
    own = pagerduty_client_for(user=signed_in)
    assert (own.auth, own.token) == ("bearer", "persons-own-token")
    # The login stays visible, so admins can reset or switch it off.
    page = client_as(admin).get("/settings/logins/").content.decode()
    assert f'id="login-{login.pk}"' in page and f'id="login-{signed_in.pk}"' not in page


def test_whoever_knows_the_chosen_password_acts_only_with_the_account_key(client_as, admin):
    login = _portal_login_made_by(client_as, admin)
    pagerduty_signin(Client(), PERSON, access="persons-own-token")
    browser = _password_session(login.username, CHOSEN)
    user = browser.get("/settings/me/").wsgi_request.user
    assert user.pk == login.pk
    acting = pagerduty_client_for(user=user)
    assert acting.token != "persons-own-token" and acting.auth == "token" and acting.from_email == PERSON


def test_a_password_login_never_acts_with_a_grant_even_one_stored_on_it(client_as, admin):
    login = _portal_login_made_by(client_as, admin)
    store_grant(
        user=login,
        token_set=TokenSet(
            access_token="stray-token", refresh_token="r", expires_at=timezone.now() + timedelta(hours=1), scope="write"
        ),
    )
    acting = pagerduty_client_for(user=login)
    assert (acting.auth, acting.token, acting.from_email) == ("token", ACCOUNT_KEY, PERSON)


def test_create_portal_user_never_puts_a_password_on_a_pagerduty_sign_in():
    pagerduty_signin(Client(), PERSON)
    signed_in = SocialAccount.objects.get(provider="pagerduty").user
    call_command("create_portal_user", email=PERSON, password=CHOSEN)
    signed_in.refresh_from_db()
    assert not signed_in.has_usable_password()
    login = get_user_model().objects.exclude(pk=signed_in.pk).get(email=PERSON)
    assert login.check_password(CHOSEN) and not SocialAccount.objects.filter(user=login).exists()


def test_a_pagerduty_sign_in_cannot_grow_a_password():
    browser = Client()
    pagerduty_signin(browser, PERSON)
    signed_in = SocialAccount.objects.get(provider="pagerduty").user
    for page in ("/accounts/password/set/", "/accounts/password/change/"):
        form = {"oldpassword": "", "password1": CHOSEN, "password2": CHOSEN}
        assert browser.post(page, form).status_code == 404
    signed_in.refresh_from_db()
    assert not signed_in.has_usable_password()
    attempt = Client().post("/accounts/login/", {"login": signed_in.username, "password": CHOSEN})
    assert "_auth_user_id" not in attempt.wsgi_request.session


def test_admins_cannot_give_a_pagerduty_sign_in_a_password(client_as, admin):
    pagerduty_signin(Client(), PERSON)
    signed_in = SocialAccount.objects.get(provider="pagerduty").user
    client = client_as(admin)
    answer = client.post(f"/settings/logins/{signed_in.pk}/", {"password1": CHOSEN, "password2": CHOSEN})
    assert answer.status_code == 404
    signed_in.refresh_from_db()
    assert not signed_in.has_usable_password()


def test_a_password_an_older_version_let_a_pagerduty_sign_in_grow_is_dropped(responder):
    as_pagerduty_signin(responder)
    responder.set_password(CHOSEN)
    responder.save()
    migration = importlib.import_module("accounts.migrations.0008_pagerduty_signins_have_no_password")
    migration.drop_passwords(apps, None)
    responder.refresh_from_db()
    assert not responder.has_usable_password()


def test_a_pagerduty_sign_in_never_enters_an_account_that_also_has_a_password(responder):
    # Left over from an older version (joined by email, password set): the sign-in is refused, not joined.
    as_pagerduty_signin(responder)
    responder.set_password(CHOSEN)
    responder.save()
    answer = pagerduty_signin(Client(), PERSON, access="persons-own-token")
    assert answer.status_code == 403
    assert not OAuthGrant.objects.exists()

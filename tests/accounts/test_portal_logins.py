"""Portal logins: admins create password sign-ins linked by email to PagerDuty users, reset and switch them off."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from accounts.models import AuditEntry
from tests.personas import PASSWORD

NEW_PASSWORD = "another-long-passphrase-42"


@pytest.fixture
def on_sandbox(sandbox, settings, api_key_mode):
    settings.PAGERDUTY_API_URL = sandbox.url
    settings.PAGERDUTY_API_TOKEN = sandbox.api_token
    return sandbox


def _create(client, email, password=NEW_PASSWORD, again=None):
    return client.post("/settings/logins/", {"email": email, "password1": password, "password2": again or password})


def _signs_in(username, password) -> bool:
    response = Client().post("/accounts/login/", {"login": username, "password": password})
    return response.status_code == 302 and "_auth_user_id" in response.wsgi_request.session


def test_an_admin_creates_a_login_that_acts_as_the_pagerduty_user_with_that_email(on_sandbox, client_as, admin):
    client = client_as(admin)
    response = _create(client, "responder2@example.com")
    assert response.status_code == 302
    user = get_user_model().objects.get(email="responder2@example.com")
    pd_user = user.profile.pd_user
    assert (user.username, pd_user.pd_id, pd_user.role) == (
        "responder2",
        on_sandbox.user_id("responder2@example.com"),
        "user",
    )
    page = client.get("/settings/logins/").content.decode()
    assert "responder2" in page and "Ravi Responder (responder2@example.com)" in page
    assert _signs_in("responder2", NEW_PASSWORD)


def test_an_email_no_pagerduty_user_has_is_refused_in_place(on_sandbox, client_as, admin):
    response = _create(client_as(admin), "nobody@example.com")
    assert response.status_code == 400
    assert "No PagerDuty user has the email nobody@example.com" in response.content.decode()
    assert not get_user_model().objects.filter(email="nobody@example.com").exists()


def test_an_email_that_already_has_a_login_is_refused(client_as, admin, responder):
    response = _create(client_as(admin), "responder@example.com")
    assert response.status_code == 400
    assert "responder already signs in with responder@example.com" in response.content.decode()
    assert _signs_in("responder", PASSWORD)


def test_mismatched_or_weak_passwords_are_refused_with_the_reason(client_as, admin):
    client = client_as(admin)
    mismatched = _create(client, "responder2@example.com", again="something-else-entirely")
    assert mismatched.status_code == 400 and "The two passwords differ." in mismatched.content.decode()
    weak = _create(client, "responder2@example.com", password="password")
    assert weak.status_code == 400 and "too common" in weak.content.decode()
    assert not get_user_model().objects.filter(email="responder2@example.com").exists()


def test_an_admin_sets_a_new_password(client_as, admin, responder):
    response = client_as(admin).post(
        f"/settings/logins/{responder.pk}/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    assert _signs_in("responder", NEW_PASSWORD)
    assert not _signs_in("responder", PASSWORD)


def test_a_switched_off_login_is_signed_out_and_cannot_sign_in_until_switched_on(client_as, admin, responder):
    admin_client, responder_client = client_as(admin), client_as(responder)
    assert responder_client.get("/settings/me/").status_code == 200
    admin_client.post(f"/settings/logins/{responder.pk}/active/", {"active": "0"})
    assert responder_client.get("/settings/me/").status_code == 302
    assert not _signs_in("responder", PASSWORD)
    assert "switched off" in admin_client.get("/settings/logins/").content.decode()
    admin_client.post(f"/settings/logins/{responder.pk}/active/", {"active": "1"})
    assert _signs_in("responder", PASSWORD)


def test_an_admin_cannot_switch_off_their_own_login(client_as, admin):
    client = client_as(admin)
    response = client.post(f"/settings/logins/{admin.pk}/active/", {"active": "0"}, follow=True)
    assert "You cannot switch off your own login." in response.content.decode()
    admin.refresh_from_db()
    assert admin.is_active


def _signed_in_with_pagerduty(user, *, password: bool):
    from allauth.socialaccount.models import SocialAccount

    if not password:
        user.set_unusable_password()
        user.save()
    SocialAccount.objects.create(user=user, provider="pagerduty", uid=user.profile.pd_user.pd_id)


@pytest.mark.parametrize("password", [False, True], ids=["oauth-only", "oauth-and-password"])
def test_people_who_sign_in_with_pagerduty_are_not_portal_logins(client_as, admin, responder, password):
    _signed_in_with_pagerduty(responder, password=password)
    client = client_as(admin)
    assert client.get(f"/settings/logins/{responder.pk}/").status_code == 404
    response = client.post(f"/settings/logins/{responder.pk}/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 404
    assert f'id="login-{responder.pk}"' not in client.get("/settings/logins/").content.decode()


def test_a_login_cannot_be_added_to_someone_who_signs_in_with_pagerduty(client_as, admin, responder):
    # Their portal account holds their own PagerDuty grant: a password chosen by an admin would reach it.
    _signed_in_with_pagerduty(responder, password=False)
    response = _create(client_as(admin), "responder@example.com")
    assert response.status_code == 400
    assert "responder signs in with PagerDuty; a portal login cannot be added to it." in response.content.decode()
    responder.refresh_from_db()
    assert not responder.has_usable_password()


def test_only_the_owner_may_change_the_owners_login(client_as, admin):
    from tests.personas import make_portal_user

    owner = make_portal_user(email="owner@example.com")
    client = client_as(admin)
    response = client.post(f"/settings/logins/{owner.pk}/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert response.status_code == 400
    assert "Only the PagerDuty account owner may change the owner&#x27;s portal login." in response.content.decode()
    client.post(f"/settings/logins/{owner.pk}/active/", {"active": "0"})
    owner.refresh_from_db()
    assert owner.is_active and owner.check_password(PASSWORD)
    assert client_as(owner).post(f"/settings/logins/{admin.pk}/active/", {"active": "0"}).status_code == 302
    admin.refresh_from_db()
    assert not admin.is_active


def test_an_admin_cannot_give_the_owner_a_login(client_as, admin):
    from accounts.models import PagerDutyUser
    from tests.personas import seed_users

    owner = seed_users()["owner@example.com"]
    PagerDutyUser.objects.create(pd_id=owner.pd_id, name=owner.name, email=owner.email, role="owner")
    response = _create(client_as(admin), "owner@example.com")
    assert response.status_code == 400
    assert "Only the PagerDuty account owner may give the owner a portal login." in response.content.decode()
    assert not get_user_model().objects.filter(email="owner@example.com").exists()


def test_without_an_account_connection_an_unknown_email_is_a_form_error(client_as, admin, settings):
    settings.PAGERDUTY_API_TOKEN = ""
    response = _create(client_as(admin), "responder2@example.com")
    assert response.status_code == 400
    assert "PD Portal is not connected to PagerDuty" in response.content.decode()


def test_every_change_to_a_login_is_in_the_audit_log(on_sandbox, client_as, admin, responder):
    client = client_as(admin)
    _create(client, "responder2@example.com")
    client.post(f"/settings/logins/{responder.pk}/", {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    client.post(f"/settings/logins/{responder.pk}/active/", {"active": "0"})
    entries = AuditEntry.objects.order_by("id").values_list("actor", "operation", "target")
    assert list(entries) == [
        (admin.pk, "Create portal login", "responder2"),
        (admin.pk, "Set portal login password", "responder"),
        (admin.pk, "Switch off portal login", "responder"),
    ]
    assert "Switch off portal login" in client.get("/audit/").content.decode()


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/settings/logins/"),
        ("post", "/settings/logins/"),
        ("get", "/settings/logins/{pk}/"),
        ("post", "/settings/logins/{pk}/"),
        ("post", "/settings/logins/{pk}/active/"),
    ],
)
@pytest.mark.parametrize("persona", ["responder", "observer", "outsider"])
def test_only_admins_manage_logins(client_as, request, admin, persona, method, url):
    user = request.getfixturevalue(persona)
    response = getattr(client_as(user), method)(url.format(pk=admin.pk), {"active": "0"} if method == "post" else None)
    assert response.status_code == 403
    admin.refresh_from_db()
    assert admin.is_active

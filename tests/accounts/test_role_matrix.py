"""Who may do what: responders act, observers only look, admins also administer; nobody else gets in."""

import pytest


@pytest.fixture(autouse=True)
def _role_pages(settings):
    settings.ROOT_URLCONF = "tests.accounts.role_urls"


MATRIX = [
    # persona, read page, action, admin page, /settings/
    ("responder", 200, 200, 403, 403),
    ("observer", 200, 403, 403, 403),
    ("admin", 200, 200, 200, 200),
    ("outsider", 403, 403, 403, 403),
]


@pytest.mark.parametrize(("persona", "read", "act", "admin_page", "settings_page"), MATRIX)
def test_the_role_matrix(request, client_as, persona, read, act, admin_page, settings_page, api_key_mode):
    client = client_as(request.getfixturevalue(persona))
    assert client.get("/t/read/").status_code == read
    assert client.post("/t/act/").status_code == act
    assert client.get("/t/admin/").status_code == admin_page
    assert client.get("/settings/").status_code == settings_page


@pytest.mark.parametrize("url", ["/t/read/", "/t/admin/", "/settings/", "/settings/me/"])
def test_anonymous_visitors_are_sent_to_sign_in(client, db, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith(f"/accounts/login/?next={url}")


def test_an_anonymous_action_is_not_performed(client, db):
    response = client.post("/t/act/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_an_anonymous_htmx_request_is_told_to_navigate_to_sign_in(client, db):
    response = client.get("/t/read/", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response["HX-Redirect"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    ("persona", "sees_button", "sees_admin"),
    [
        ("responder", True, False),
        ("observer", False, False),
        ("admin", True, True),
    ],
)
def test_buttons_and_admin_links_show_only_to_those_who_may_use_them(
    request, client_as, persona, sees_button, sees_admin
):
    page = client_as(request.getfixturevalue(persona)).get("/t/read/").content.decode()
    assert ("id=ack" in page) is sees_button
    assert ("id=admin-link" in page) is sees_admin


def test_a_role_change_mirrored_from_pagerduty_takes_effect(client_as, responder):
    pd_user = responder.profile.pd_user
    pd_user.role = "observer"
    pd_user.save()
    assert client_as(responder).post("/t/act/").status_code == 403


def test_an_unlinked_superuser_may_administer_to_connect_the_portal(client_as, outsider):
    outsider.is_superuser = True
    outsider.save()
    client = client_as(outsider)
    assert client.get("/settings/").status_code == 200


def test_the_refusal_explains_itself(client_as, observer, outsider):
    response = client_as(observer).post("/t/act/")
    assert response.status_code == 403
    assert "Your PagerDuty role is read-only" in response.content.decode()
    response = client_as(outsider).get("/t/read/")
    assert "not linked to a PagerDuty user" in response.content.decode()


def test_an_unknown_pagerduty_role_gets_no_access_and_says_why(client_as, responder):
    responder.profile.role = "stakeholder_plus"
    responder.profile.save()
    response = client_as(responder).get("/t/read/")
    assert response.status_code == 403
    assert "Your PagerDuty role (stakeholder_plus) gives no access" in response.content.decode()

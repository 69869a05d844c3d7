"""Sessions: sign-out, expiry, sign-in rate limiting and CSRF on every write."""

from datetime import timedelta

from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from tests.personas import PASSWORD

WRONG = "not-the-password"


def test_signing_out_ends_the_session(client_as, responder):
    client = client_as(responder)
    assert client.get("/settings/me/").status_code == 200
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert client.get("/settings/me/").status_code == 302


def test_signing_out_needs_a_post(client_as, responder):
    client = client_as(responder)
    client.get("/accounts/logout/")
    assert client.get("/settings/me/").status_code == 200


def test_a_session_lasts_session_cookie_age(client, responder, settings):
    settings.SESSION_COOKIE_AGE = 3600
    client.post("/accounts/login/", {"login": "responder", "password": PASSWORD})
    assert client.session.get_expiry_age() == 3600


def test_an_expired_session_is_signed_out(client_as, responder):
    client = client_as(responder)
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/settings/me/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_sixth_bad_password_in_a_row_is_refused_even_when_correct(client, responder):
    for _ in range(5):
        response = client.post("/accounts/login/", {"login": "responder", "password": WRONG})
        assert response.status_code == 200
        assert "Too many failed login attempts" not in response.content.decode()
    response = client.post("/accounts/login/", {"login": "responder", "password": WRONG})
    assert "Too many failed login attempts" in response.content.decode()
    response = client.post("/accounts/login/", {"login": "responder", "password": PASSWORD})
    assert response.status_code == 200 and "_auth_user_id" not in client.session


def test_a_bad_password_shows_a_clear_error(client, responder):
    response = client.post("/accounts/login/", {"login": "responder", "password": WRONG})
    assert "not correct" in response.content.decode()


def test_writes_need_the_csrf_token(responder):
    client = Client(enforce_csrf_checks=True)
    client.force_login(responder, backend="django.contrib.auth.backends.ModelBackend")
    assert client.post("/settings/me/", {"time_zone": "Asia/Tokyo"}).status_code == 403
    assert client.post("/accounts/logout/").status_code == 403
    page = client.get("/settings/me/")
    token = page.context["csrf_token"]
    assert client.post("/settings/me/", {"time_zone": "Asia/Tokyo", "csrfmiddlewaretoken": token}).status_code == 302


def test_signing_in_needs_the_csrf_token(db):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/accounts/login/", {"login": "x", "password": "y"}).status_code == 403
    assert client.post("/accounts/pagerduty/login/").status_code == 403

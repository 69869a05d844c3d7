"""Issue 11 review: attacks the first round of identity tests did not try (hung Redis, /live/ after a session ended).

Each test here is an attack on the identity change: a session that must be over, or a sign-in that must not 500.
"""

import runpy
import socket
import threading
import time
from pathlib import Path

import pytest
import responses
from django.core.cache import cache
from django.test import AsyncClient, Client

from accounts.actions import profile_link, sessions_end
from tests.conftest import free_port
from tests.personas import PASSWORD

from .signin_helpers import (  # noqa: F401
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

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "pdportal" / "settings.py"


@pytest.fixture
def hung_redis(settings, monkeypatch):
    """A 'Redis' that accepts connections and never answers (a frozen server), on this test's own port."""
    port = free_port()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)  # never read, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    settings.CACHES = runpy.run_path(str(SETTINGS_FILE))["CACHES"]
    monkeypatch.setattr("pdportal.cache._down_until", 0.0)
    cache.local.clear()
    yield port
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    listener.close()
    cache.local.clear()


def test_a_hung_redis_does_not_stop_a_password_sign_in(responder, hung_redis):
    started = time.monotonic()
    response = Client().post("/accounts/login/", {"login": responder.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    # One socket timeout (about 1 s) for the whole sign-in, then the process-local cache answers.
    assert time.monotonic() - started < 5


async def _live_status(user_session_cookie: str) -> int:
    browser = AsyncClient()
    browser.cookies.load({"sessionid": user_session_cookie})
    response = await browser.get("/live/")
    return response.status_code


@pytest.mark.django_db(transaction=True)  # the ASGI view reads the session from another thread
@pytest.mark.parametrize("end", ["relinked", "disconnected", "switched-off"])
def test_live_refuses_a_session_that_ended(responder, admin, settings, end):
    settings.REDIS_URL = ""  # a granted stream answers 503 (no bus); a refused one 401
    browser = Client()
    browser.force_login(responder, backend="django.contrib.auth.backends.ModelBackend")
    assert browser.get("/settings/me/").status_code == 200
    cookie = browser.cookies["sessionid"].value
    import asyncio  # only this test drives the ASGI view

    assert asyncio.run(_live_status(cookie)) == 503
    if end == "relinked":
        profile_link(user=responder, pd_user=admin.profile.pd_user)
    elif end == "disconnected":
        sessions_end(user=responder)
    else:
        type(responder).objects.filter(pk=responder.pk).update(is_active=False)
        sessions_end(user=responder)
    assert asyncio.run(_live_status(cookie)) == 401


@pytest.mark.usefixtures("oauth_app")
def test_a_hung_redis_does_not_stop_a_pagerduty_sign_in(responder, hung_redis):
    browser = Client()
    started = time.monotonic()
    response = pagerduty_signin(browser, responder.email)
    assert response.status_code == 302, response.content[:300]
    assert browser.get("/settings/me/").status_code == 200
    assert time.monotonic() - started < 8


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/", "javascript:x"])
@pytest.mark.usefixtures("oauth_app")
def test_next_never_leaves_the_portal_after_a_pagerduty_sign_in(responder, target):
    browser = Client()
    params = start_signin_with_next(browser, target)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.post(f"{OAUTH}/oauth/token", json=token_answer())
        mocked.get(f"{API}/users/me", json={"user": me_json(responder.email)})
        response = browser.get(CALLBACK, {"code": "c", "state": params["state"]})
    assert response.status_code == 302
    assert response["Location"].startswith("/") and not response["Location"].startswith(("//", "/\\"))


def start_signin_with_next(client: Client, target: str) -> dict[str, str]:
    from urllib.parse import parse_qs, urlparse

    response = client.post(f"/accounts/pagerduty/login/?next={target}")
    assert response.status_code == 302
    return {key: values[0] for key, values in parse_qs(urlparse(response["Location"]).query).items()}


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
def test_next_never_leaves_the_portal_after_a_password_sign_in(responder, target):
    response = Client().post(f"/accounts/login/?next={target}", {"login": responder.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.parametrize("process", ["connect", "redirect", "reauthenticate", "CONNECT"])
@pytest.mark.usefixtures("oauth_app")
def test_only_a_plain_sign_in_flow_completes(responder, process):
    from urllib.parse import parse_qs, urlparse

    browser = Client()
    started = browser.post(f"/accounts/pagerduty/login/?process={process}")
    assert started.status_code in (302, 400, 403, 404)
    if started.status_code != 302:
        return
    state = parse_qs(urlparse(started["Location"]).query)["state"][0]
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.post(f"{OAUTH}/oauth/token", json=token_answer())
        mocked.get(f"{API}/users/me", json={"user": me_json(responder.email)})
        response = browser.get(CALLBACK, {"code": "c", "state": state})
    assert response.status_code in (400, 403)
    assert "_auth_user_id" not in browser.session


@pytest.mark.parametrize("query", ["", "?process=connect", "?next=/settings/"])
@pytest.mark.usefixtures("oauth_app")
def test_the_provider_login_page_answers_a_get_without_an_error(client, query):
    assert client.get(f"/accounts/pagerduty/login/{query}").status_code < 500


@pytest.mark.usefixtures("oauth_app")
def test_a_callback_with_another_browsers_state_signs_nobody_in(responder, outsider):
    attackers = Client()
    state = start_signin_with_next(attackers, "/")["state"]
    victims = Client()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.post(f"{OAUTH}/oauth/token", json=token_answer())
        mocked.get(f"{API}/users/me", json={"user": me_json(responder.email)})
        response = victims.get(CALLBACK, {"code": "attackers-code", "state": state})
    assert response.status_code == 400
    assert "_auth_user_id" not in victims.session


@pytest.mark.usefixtures("oauth_app")
@pytest.mark.parametrize("typed", ["RESPONDER@EXAMPLE.COM", "  Responder@Example.com  "])
def test_an_admin_cannot_give_a_pagerduty_sign_in_a_password_through_a_case_variant(client_as, admin, responder, typed):
    from django.contrib.auth import get_user_model  # the user model is only known once apps load

    as_pagerduty_signin(responder)
    chosen = "the-admin-chose-this-password"
    answer = client_as(admin).post("/settings/logins/", {"email": typed, "password1": chosen, "password2": chosen})
    assert answer.status_code == 400
    responder.refresh_from_db()
    assert not responder.has_usable_password()
    assert not any(u.check_password(chosen) for u in get_user_model().objects.filter(email__iexact=responder.email))


def test_the_first_page_after_sign_in_answers_with_redis_hung(responder, hung_redis):
    browser = Client()
    response = browser.post("/accounts/login/", {"login": responder.username, "password": PASSWORD}, follow=True)
    assert response.status_code == 200


def test_the_account_key_refused_for_a_password_login_is_not_blamed_on_a_stray_grant(responder, rf):
    """A password login acts with the account key only, so PagerDuty refusing it is the key's fault, not a grant's."""
    from datetime import timedelta  # only this test stores a grant

    from django.contrib.messages.storage.fallback import FallbackStorage
    from django.contrib.sessions.backends.db import SessionStore
    from django.utils import timezone

    from accounts.clients import store_grant
    from accounts.middleware import ReauthenticationMiddleware
    from accounts.models import OAuthGrant
    from pdportal.pagerduty import Unauthorized
    from pdportal.pagerduty.oauth import TokenSet

    expires = timezone.now() + timedelta(hours=1)
    store_grant(
        user=responder, token_set=TokenSet(access_token="stray", refresh_token="r", expires_at=expires, scope="")
    )
    request = rf.get("/incidents/")
    request.user, request.session = responder, SessionStore()
    request._messages = FallbackStorage(request)
    response = ReauthenticationMiddleware(lambda r: None).process_exception(request, Unauthorized("bad key"))
    assert response.status_code == 503 and b"API key" in response.content
    assert OAuthGrant.objects.get(user=responder).revoked_at is None

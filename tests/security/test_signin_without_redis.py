"""Issue 11, finding 5: sign-in keeps working while Redis is down; the rate limit then counts per process.

allauth keeps its sign-in rate limits in the default cache. On the old main that cache was a plain RedisCache,
so with Redis unreachable the sign-in page and every password sign-in answered 500.
"""

import runpy
import time
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from tests.conftest import free_port
from tests.personas import PASSWORD

from .signin_helpers import plain_http  # noqa: F401

SETTINGS_FILE = Path(__file__).resolve().parents[2] / "pdportal" / "settings.py"
WRONG = "not-the-password"


@pytest.fixture
def redis_down(settings, monkeypatch):
    """The portal's own cache settings, built for a REDIS_URL whose port nothing listens on."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("REDIS_URL", dead)
    built = runpy.run_path(str(SETTINGS_FILE))["CACHES"]
    assert built["default"]["LOCATION"] == dead
    settings.CACHES = built  # Django's setting_changed handler drops the cache connections
    local = getattr(cache, "local", None)  # the per-process fallback (none on the old main)
    if local is not None:
        monkeypatch.setattr("pdportal.cache._down_until", 0.0)
        local.clear()
    yield dead
    if local is not None:
        local.clear()


def test_the_sign_in_page_answers(client, redis_down):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert 'name="password"' in response.content.decode()


def test_a_password_sign_in_works(client, responder, redis_down):
    response = client.post("/accounts/login/", {"login": "responder", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/settings/me/").status_code == 200


def test_a_wrong_password_is_a_clear_error_not_a_500(client, responder, redis_down):
    response = client.post("/accounts/login/", {"login": "responder", "password": WRONG})
    assert response.status_code == 200 and "not correct" in response.content.decode()


def test_the_limit_still_applies_in_this_process(responder, redis_down):
    for _ in range(5):
        Client().post("/accounts/login/", {"login": "responder", "password": WRONG})
    blocked = Client().post("/accounts/login/", {"login": "responder", "password": PASSWORD})
    assert "Too many failed login attempts" in blocked.content.decode()
    assert "_auth_user_id" not in blocked.wsgi_request.session


def test_a_dead_redis_costs_one_attempt_per_interval_not_one_per_call(client, redis_down, monkeypatch):
    import pdportal.cache  # only once the fallback exists

    attempts = []
    real = pdportal.cache.RedisCache.get

    def counting(self, *args, **kwargs):
        attempts.append(1)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(pdportal.cache.RedisCache, "get", counting)
    started = time.monotonic()
    for _ in range(5):
        assert client.get("/accounts/login/").status_code == 200
    assert len(attempts) <= 1
    assert time.monotonic() - started < 10


def test_with_redis_back_the_shared_cache_is_used_again(redis_down, monkeypatch):
    import pdportal.cache  # only once the fallback exists

    monkeypatch.setattr(pdportal.cache, "_down_until", time.monotonic() - 1)
    calls = []

    def answering(self, key, default=None, version=None):
        calls.append(key)

    monkeypatch.setattr(pdportal.cache.RedisCache, "get", answering)
    cache.get("anything")
    assert calls == ["anything"]

"""Without a PORTAL_URL PagerDuty can reach, the portal registers no webhook and follows PagerDuty's log instead."""

from __future__ import annotations

import subprocess
import sys

import pytest
import responses

from pdportal.env import is_public_https


@pytest.mark.parametrize(
    ("url", "public"),
    [
        ("https://portal.example.com", True),
        ("https://abc123.ngrok-free.app", True),
        ("https://8.8.8.8", True),
        ("http://portal.example.com", False),
        ("http://127.0.0.1:8000", False),
        ("https://127.0.0.1:8443", False),
        ("https://localhost", False),
        ("https://10.1.2.3", False),
        ("https://192.168.0.10", False),
        ("https://[::1]:8000", False),
        ("https://portal.local", False),
        # Spellings that still name this machine or a private network (each was "public" before).
        ("https://localhost.", False),
        ("https://127.1", False),
        ("https://0x7f000001", False),
        ("https://2130706433", False),
        ("https://10.1", False),
        ("https://portal", False),
        ("https://[::1", False),
        ("https://portal.example.com.", True),
    ],
)
def test_only_a_public_https_url_can_receive_pagerdutys_webhooks(url, public):
    assert is_public_https(url) is public


def test_settings_poll_the_log_every_30_s_without_a_public_portal_url():
    code = (
        "from django.conf import settings as s; "
        "print(s.PAGERDUTY_WEBHOOKS, s.RECONCILE_SECONDS, s.CELERY_BEAT_SCHEDULE['reconcile']['schedule'])"
    )
    base = {"DJANGO_SETTINGS_MODULE": "pdportal.settings", "PATH": "/usr/bin:/bin"}

    def run(**env):
        out = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            env={**base, **env},
            capture_output=True,
            text=True,
            check=True,
        )
        return out.stdout.split()

    assert run(PORTAL_URL="http://127.0.0.1:8000") == ["False", "30", "30"]
    assert run(PORTAL_URL="https://portal.example.com") == ["True", "180", "180"]
    assert run(PORTAL_URL="http://127.0.0.1:8000", PAGERDUTY_WEBHOOKS="on") == ["True", "180", "180"]


@pytest.mark.django_db
def test_no_subscription_is_registered_when_pagerduty_cannot_reach_the_portal(settings, api_key_mode):
    from services.tasks import ensure_webhook_subscription

    settings.PAGERDUTY_WEBHOOKS = False
    with responses.RequestsMock() as rsps:  # any request to PagerDuty would fail the test
        assert ensure_webhook_subscription() == "polling"
        assert not rsps.calls


@pytest.mark.django_db
def test_health_and_header_say_the_mirror_follows_the_log(settings, client_as, admin, responder, api_key_mode):
    settings.PAGERDUTY_WEBHOOKS, settings.RECONCILE_SECONDS = False, 30
    assert client_as(admin).get("/healthz", secure=True).json()["webhook_subscription"] == {
        "ok": True,
        "state": "polling",
        "interval_seconds": 30,
    }
    response = client_as(responder).get("/settings/me/", secure=True)
    assert response.status_code == 200, response
    page = response.content.decode()
    assert 'data-live-label="live via PagerDuty&#x27;s log every 30 s"' in page

    settings.PAGERDUTY_WEBHOOKS = True
    assert "data-live-label" not in client_as(responder).get("/settings/me/", secure=True).content.decode()

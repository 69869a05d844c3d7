"""Debug logging shows every request and response, never a token or secret."""

import logging

from pdportal.pagerduty import redact, redact_headers, redact_url
from pdportal.pagerduty.redact import REDACTED

from .conftest import API, TOKEN

SECRET = "whsec-very-secret-value"


def test_it_logs_requests_and_responses_with_secrets_redacted(make_client, mocked, caplog):
    client = make_client(debug=True)
    mocked.post(f"{API}/webhook_subscriptions", json={"webhook_subscription": {"id": "W1"}})
    with caplog.at_level(logging.DEBUG, logger="pdportal.pagerduty"):
        client.post(
            "/webhook_subscriptions",
            {"webhook_subscription": {"delivery_method": {"secret": SECRET}, "routing_key": "RK-123456"}},
            params={"token": "query-token-1"},
        )
    text = caplog.text
    assert "POST" in text and f"{API}/webhook_subscriptions" in text
    assert "-> 200" in text
    for secret in (TOKEN, SECRET, "RK-123456", "query-token-1"):
        assert secret not in text
    assert f"Token {REDACTED}" in text


def test_it_logs_nothing_without_debug(client, mocked, caplog):
    mocked.get(f"{API}/incidents", json={"incidents": []})
    with caplog.at_level(logging.DEBUG, logger="pdportal.pagerduty"):
        client.get("/incidents")
    assert caplog.records == []


def test_redact_headers_keeps_the_scheme_and_hides_the_credential():
    headers = redact_headers({"Authorization": "Bearer abc", "Accept": "x", "X-PagerDuty-Signature": "v1=aa"})
    assert headers == {"Authorization": f"Bearer {REDACTED}", "Accept": "x", "X-PagerDuty-Signature": REDACTED}


def test_redact_hides_nested_secret_fields_but_keeps_error_codes():
    body = {
        "access_token": "a",
        "refresh_token": "r",
        "client_secret": "c",
        "items": [{"routing_key": "k", "name": "ok"}],
        "error": {"code": 2001},
    }
    assert redact(body) == {
        "access_token": REDACTED,
        "refresh_token": REDACTED,
        "client_secret": REDACTED,
        "items": [{"routing_key": REDACTED, "name": "ok"}],
        "error": {"code": 2001},
    }


def test_redact_handles_form_bodies_and_urls():
    assert redact(b"grant_type=refresh_token&refresh_token=abc&client_secret=s") == (
        f"grant_type=refresh_token&refresh_token={REDACTED}&client_secret={REDACTED}"
    )
    url = redact_url("https://api.pagerduty.com/x?token=abc&statuses[]=triggered")
    assert "abc" not in url and "statuses[]=triggered" in url


def test_oauth_debug_logging_hides_the_form_secrets(mocked, caplog):
    from pdportal.pagerduty.oauth import refresh

    mocked.post("https://identity.pagerduty.test/oauth/token", json={"access_token": "fresh-access-999"})
    with caplog.at_level(logging.DEBUG, logger="pdportal.pagerduty"):
        refresh(
            oauth_url="https://identity.pagerduty.test",
            client_id="cid",
            client_secret="client-secret-777",
            refresh_token="refresh-888",
            debug=True,
        )
    assert "oauth/token" in caplog.text
    for secret in ("client-secret-777", "refresh-888", "fresh-access-999"):
        assert secret not in caplog.text


def test_events_debug_logging_hides_the_routing_key(mocked, caplog):
    from pdportal.pagerduty import EventsClient

    mocked.post("https://events.pagerduty.test/v2/enqueue", status=202, json={"status": "success"})
    events = EventsClient(events_url="https://events.pagerduty.test", debug=True)
    with caplog.at_level(logging.DEBUG, logger="pdportal.pagerduty"):
        events.resolve(routing_key="routing-key-555", dedup_key="d")
    assert "v2/enqueue" in caplog.text
    assert "routing-key-555" not in caplog.text

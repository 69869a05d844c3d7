"""The audit log records the exact URL that was sent, not a path that can hide the host (issue 11, finding 2)."""

from __future__ import annotations

import pytest
import responses
from django.utils.html import escape

from accounts.clients import pagerduty_client_for
from accounts.models import AuditEntry

pytestmark = pytest.mark.django_db

API = "https://api.pagerduty.test"


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


def _console(client, **overrides):
    data = {
        "method": "GET",
        "target": "/priorities",
        "params": "",
        "body_type": "none",
        "json_body": "",
        "response_type": "json",
        "timeout": "5",
        "retries": "0",
        "retry_delay": "0",
    }
    data.update(overrides)
    return client.post("/api-console/", data)


@responses.activate
def test_a_console_read_records_the_url_with_its_query(client_as, admin, api_key_mode):
    responses.get(f"{API}/incidents", json={"incidents": []})

    page = _console(client_as(admin), target="/incidents?statuses[]=triggered", params="limit=5\ninclude[]=assignees")

    sent = responses.calls[0].request.url
    entry = AuditEntry.objects.get()
    assert entry.url == sent
    assert entry.url.startswith(f"{API}/incidents?") and "limit=5" in entry.url
    # The admin sees the same URL on the page.
    assert f'id="console-sent-to">Sent to <code class="audit-url">{escape(sent)}</code>' in page.content.decode()


@responses.activate
def test_a_console_write_records_the_url_sent(client_as, admin, api_key_mode):
    responses.post(f"{API}/incidents/PABC123/notes", json={"note": {"id": "PN1"}})

    _console(
        client_as(admin),
        method="POST",
        target=f"{API}/incidents/PABC123/notes",
        body_type="json",
        json_body='{"note": {"content": "x"}}',
    )

    entry = AuditEntry.objects.get()
    assert entry.url == f"{API}/incidents/PABC123/notes" == responses.calls[0].request.url
    assert (entry.method, entry.path, entry.status) == ("POST", "/incidents/PABC123/notes", 200)


@responses.activate
def test_a_refused_console_target_records_nothing_and_sends_nothing(client_as, admin, api_key_mode):
    _console(client_as(admin), method="POST", target=f"{API}/http://evil.example/x", body_type="json", json_body="{}")

    assert not AuditEntry.objects.exists()
    assert len(responses.calls) == 0


@responses.activate
def test_every_client_write_records_the_url_sent(responder, api_key_mode):
    responses.put(f"{API}/incidents/PABC123", json={"incident": {"id": "PABC123"}})

    client = pagerduty_client_for(user=responder)
    client.update("/incidents/PABC123", {"status": "acknowledged"}, params={"x": "1"})

    entry = AuditEntry.objects.get()
    assert entry.url == responses.calls[0].request.url == f"{API}/incidents/PABC123?x=1"


@responses.activate
def test_a_secret_in_the_query_is_redacted_in_the_recorded_url(responder, api_key_mode):
    responses.post(f"{API}/things", json={})

    pagerduty_client_for(user=responder).request("POST", "/things", params={"token": "sekrit", "a": "b"}, json={})

    entry = AuditEntry.objects.get()
    assert "sekrit" not in entry.url
    assert entry.url.startswith(f"{API}/things?")

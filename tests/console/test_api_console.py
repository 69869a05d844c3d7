"""The raw API console: PagerDuty hosts only, every input, redacted debug output, retries, audit."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import responses

from accounts.models import AuditEntry
from console.selectors import ForeignHost, resolve_console_target


def _send(client, **overrides):
    data = {
        "method": "GET",
        "target": "/priorities",
        "params": "",
        "headers": "",
        "body_type": "none",
        "json_body": "",
        "form_data": "",
        "upload_field": "file",
        "response_type": "json",
        "timeout": "10",
        "retries": "0",
        "retry_delay": "0",
        "exponential": "on",
    }
    data.update(overrides)
    return client.post("/api-console/", data)


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example.com/incidents",
        "http://evil.example.com/incidents",
        "//evil.example.com/incidents",
        "ftp://api.pagerduty.test/incidents",
        "https://user:pw@api.pagerduty.test/incidents",
        "https://api.pagerduty.test.evil.com/incidents",
        "javascript:alert(1)",
    ],
)
def test_it_refuses_hosts_other_than_pagerduty(pd, admin_client, target):
    target = target.replace("api.pagerduty.test", pd.url.split("://", 1)[1])

    response = _send(admin_client, target=target)

    assert response.status_code == 400
    assert 'id="console-refused"' in response.content.decode()
    assert pd.requests_log() == []
    assert not AuditEntry.objects.exists()


def test_it_accepts_a_full_url_on_the_configured_host(pd, admin_client):
    response = _send(admin_client, target=f"{pd.url}/services?limit=1")

    assert response.status_code == 200
    assert "HTTP <strong>200</strong>" in response.content.decode()
    assert [r["query"] for r in pd.requests_log(path="/services")] == ["limit=1"]


def test_it_redacts_the_token_in_the_debug_output(pd, admin_client):
    response = _send(
        admin_client,
        method="POST",
        target="/incidents",
        body_type="json",
        json_body='{"incident": {"title": "x"}, "routing_key": "R0UT1NGKEY"}',
        debug="on",
    )

    html = response.content.decode()
    debug = html.split('id="console-debug">', 1)[1].split("</pre>", 1)[0]
    assert f"POST {pd.url}/incidents" in debug
    assert "Authorization: Token [REDACTED]" in debug
    assert "From: admin@example.com" in debug
    assert pd.api_token not in html
    assert "R0UT1NGKEY" not in debug


def test_it_shows_no_debug_output_unless_asked(pd, admin_client):
    html = _send(admin_client).content.decode()

    assert 'id="console-debug"' not in html
    assert 'id="console-body"' in html


@pytest.mark.parametrize(
    ("method", "retries", "retry_all", "expected"),
    [
        ("GET", "0", False, 1),
        ("GET", "2", False, 3),
        ("POST", "2", False, 1),
        ("POST", "2", True, 3),
    ],
)
def test_it_respects_its_retry_settings_against_injected_500s(pd, admin_client, method, retries, retry_all, expected):
    pd.set_knobs(fault_rate_500=1.0, fault_paths=["/priorities"])
    extra = {"retry_all_errors": "on"} if retry_all else {}

    response = _send(admin_client, method=method, target="/priorities", retries=retries, retry_delay="0", **extra)

    assert len(pd.requests_log(path="/priorities", method=method)) == expected
    html = response.content.decode()
    assert "HTTP <strong>500</strong>" in html
    assert f"{expected} attempt" in html
    assert "injected by the sandbox" in html


def test_it_sends_a_json_body_and_audits_the_write(pd, admin, admin_client):
    incident = pd.get("/incidents", params={"limit": 1}).json()["incidents"][0]

    response = _send(
        admin_client,
        method="POST",
        target=f"/incidents/{incident['id']}/notes",
        body_type="json",
        json_body='{"note": {"content": "from the console"}}',
    )

    assert "HTTP <strong>200</strong>" in response.content.decode()  # the spec answers a new note with 200
    notes = pd.get(f"/incidents/{incident['id']}/notes").json()["notes"]
    assert any(n["content"] == "from the console" for n in notes)
    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.method, entry.status) == (admin, "POST", 200)
    assert entry.operation == "api-console POST /incidents/{id}/notes"
    assert entry.target == incident["id"]


def test_it_audits_reads_too(pd, admin, admin_client):
    _send(admin_client, target="/priorities", params="limit=5")

    entry = AuditEntry.objects.get()
    assert (entry.actor, entry.method, entry.path, entry.status) == (admin, "GET", "/priorities", 200)
    assert pd.requests_log(path="/priorities")[0]["query"] == "limit=5"


def test_it_explains_invalid_json_without_sending(pd, admin_client):
    response = _send(admin_client, method="POST", target="/incidents", body_type="json", json_body="{nope")

    assert "This is not valid JSON" in response.content.decode()
    assert pd.requests_log() == []


def test_it_offers_a_binary_response_as_a_download(pd, admin_client):
    response = _send(admin_client, target="/priorities", response_type="binary")

    html = response.content.decode()
    link = html.split('id="console-download" href="', 1)[1].split('"', 1)[0]
    download = admin_client.get(link)
    assert download.status_code == 200
    assert download["Content-Disposition"].startswith("attachment")
    assert "priorities" in json.loads(download.content)


def test_a_download_belongs_to_the_person_who_made_it(pd, admin_client, client_as):
    from tests.personas import make_portal_user

    html = _send(admin_client, target="/priorities", response_type="binary").content.decode()
    link = html.split('id="console-download" href="', 1)[1].split('"', 1)[0]
    owner = make_portal_user(email="owner@example.com")

    assert client_as(owner).get(link).status_code == 404


@responses.activate
def test_it_sends_form_data_and_multipart_uploads(admin, client_as, settings, api_key_mode):
    settings.SECURE_SSL_REDIRECT = False
    url = f"{settings.PAGERDUTY_API_URL}/upload"
    responses.post(url, body=b"ok", content_type="text/plain")
    client = client_as(admin)

    _send(client, method="POST", target="/upload", body_type="form", form_data="a=1\nb=two words", response_type="text")
    form_request = responses.calls[-1].request
    assert form_request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_request.body == "a=1&b=two+words"

    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("report.csv", b"id,name\n1,x\n", content_type="text/csv")
    response = client.post(
        "/api-console/",
        {
            "method": "POST",
            "target": "/upload",
            "body_type": "multipart",
            "form_data": "kind=report",
            "upload": upload,
            "upload_field": "attachment",
            "response_type": "text",
            "timeout": "10",
            "retries": "0",
            "retry_delay": "0",
        },
    )
    multipart = responses.calls[-1].request
    assert multipart.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    body = multipart.body
    assert b'name="attachment"; filename="report.csv"' in body
    assert b"id,name\n1,x\n" in body
    assert b'name="kind"' in body and b"report" in body
    assert multipart.headers["Authorization"] == f"Token token={api_key_mode}"
    assert "HTTP <strong>200</strong>" in response.content.decode()


@responses.activate
def test_it_sends_extra_headers_but_never_lets_them_replace_the_token(admin, client_as, settings, api_key_mode):
    settings.SECURE_SSL_REDIRECT = False
    responses.get(f"{settings.PAGERDUTY_API_URL}/abilities", json={"abilities": []})
    client = client_as(admin)

    _send(client, target="/abilities", headers="X-Early-Access: yes")
    assert responses.calls[-1].request.headers["X-Early-Access"] == "yes"

    response = _send(client, target="/abilities", headers="Authorization: Token token=stolen")
    assert "cannot be changed here" in response.content.decode()
    assert len(responses.calls) == 1


@responses.activate
def test_an_admin_cannot_act_as_someone_else_by_setting_from(admin, client_as, settings, api_key_mode):
    settings.SECURE_SSL_REDIRECT = False
    responses.post(f"{settings.PAGERDUTY_API_URL}/incidents/PINC001/notes", json={"note": {"id": "PN1"}})
    response = _send(
        client_as(admin), method="POST", target="/incidents/PINC001/notes", headers="From: owner@example.com"
    )
    assert "The From header is set by the portal and cannot be changed here." in response.content.decode()
    assert not responses.calls


def test_it_routes_full_urls_to_the_matching_configured_host(settings):
    settings.PAGERDUTY_API_URL = "https://api.pagerduty.test"
    settings.PAGERDUTY_EVENTS_URL = "https://events.pagerduty.test"
    settings.PAGERDUTY_OAUTH_URL = "https://identity.pagerduty.test"

    events = resolve_console_target("https://events.pagerduty.test/v2/enqueue")
    assert (events.base_url, events.path) == ("https://events.pagerduty.test", "/v2/enqueue")
    oauth = resolve_console_target("https://identity.pagerduty.test/oauth/token?x=1")
    assert (oauth.base_url, oauth.path) == ("https://identity.pagerduty.test", "/oauth/token?x=1")
    rest = resolve_console_target("incidents/P1")
    assert rest.url == "https://api.pagerduty.test/incidents/P1"
    with pytest.raises(ForeignHost):
        resolve_console_target("https://events.pagerduty.test:8443/v2/enqueue")


def test_it_bounds_the_total_retry_wait(pd, admin_client):
    response = _send(admin_client, retries="10", retry_delay="30", exponential="on")

    assert "keep it under 300 s" in response.content.decode()
    assert pd.requests_log() == []


@pytest.mark.parametrize(("exponential", "delays"), [("on", [0.01, 0.02, 0.04]), ("", [0.01, 0.01, 0.01])])
@responses.activate
def test_it_waits_the_chosen_delay_between_retries_and_sends_the_chosen_timeout(
    admin, client_as, settings, api_key_mode, exponential, delays
):
    from pdportal.pagerduty.client import HttpTransport

    settings.SECURE_SSL_REDIRECT = False
    responses.get(f"{settings.PAGERDUTY_API_URL}/priorities", status=500, json={"error": {"message": "boom"}})
    waits = []
    real = HttpTransport._backoff_delay

    def spy(self, attempt, **kwargs):
        waits.append(real(self, attempt, **kwargs))
        return waits[-1]

    with mock.patch.object(HttpTransport, "_backoff_delay", spy):
        _send(client_as(admin), retries="3", retry_delay="0.01", exponential=exponential, timeout="7")
    assert waits == delays
    assert len(responses.calls) == 4
    assert {call.request.req_kwargs["timeout"] for call in responses.calls} == {7.0}


@pytest.mark.parametrize(
    ("host_setting", "target"),
    [
        ("PAGERDUTY_EVENTS_URL", "https://events.pagerduty.test/v2/enqueue"),
        ("PAGERDUTY_OAUTH_URL", "https://identity.pagerduty.test/oauth/token"),
    ],
)
@responses.activate
def test_an_attacker_cannot_make_the_console_send_the_rest_credential_to_the_events_or_oauth_host(
    admin, client_as, settings, api_key_mode, host_setting, target
):
    # The Events and OAuth hosts never need the REST key: a console call there must not carry it (nor the
    # admin's From), so a misconfigured or hostile Events/OAuth host never learns the account key.
    settings.SECURE_SSL_REDIRECT = False
    responses.post(target, json={"status": "success"}, status=202)

    response = _send(client_as(admin), method="POST", target=target, body_type="json", json_body="{}", debug="on")

    sent = responses.calls[-1].request
    assert sent.url == target
    assert "Authorization" not in sent.headers
    assert "From" not in sent.headers
    html = response.content.decode()
    assert "Authorization:" not in html.split('id="console-debug">', 1)[1].split("</pre>", 1)[0]
    assert "no credential" in html


@responses.activate
def test_the_console_still_sends_the_rest_credential_to_the_rest_api_host(admin, client_as, settings, api_key_mode):
    settings.SECURE_SSL_REDIRECT = False
    responses.get(f"{settings.PAGERDUTY_API_URL}/abilities", json={"abilities": []})

    _send(client_as(admin), target=f"{settings.PAGERDUTY_API_URL}/abilities")

    assert responses.calls[-1].request.headers["Authorization"] == f"Token token={api_key_mode}"


def test_it_lists_each_host_once_even_when_one_host_serves_all_three(admin_client, settings):
    settings.PAGERDUTY_API_URL = settings.PAGERDUTY_EVENTS_URL = settings.PAGERDUTY_OAUTH_URL = "http://127.0.0.1:8010"

    html = admin_client.get("/api-console/").content.decode()

    assert html.count("http://127.0.0.1:8010") == 1
    hosts = html.split('id="console-hosts">', 1)[1].split("</ul>", 1)[0]
    assert "REST API, Events API v2, OAuth" in hosts


def test_its_checkboxes_sit_inside_their_labels(admin_client):
    html = admin_client.get("/api-console/").content.decode()

    for name, label in [("exponential", "Exponential backoff"), ("retry_all_errors", "Retry on all errors")]:
        assert f'<label class="check" for="id_{name}"><input type="checkbox" name="{name}"' in html
        assert f"<span>{label}</span></label>" in html

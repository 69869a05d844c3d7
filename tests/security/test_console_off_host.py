"""Attack: make the API console send the admin's credential to another host (issue 11, finding 2)."""

from __future__ import annotations

import pytest
import responses

from accounts.models import AuditEntry
from console.selectors import ForeignHost, resolve_console_target

pytestmark = pytest.mark.django_db

API = "https://api.pagerduty.test"  # tests/conftest.py points PAGERDUTY_API_URL here

# Every spelling a browser, urllib, requests or a proxy could read as "another host". Each must be refused
# with a form error, and nothing may be sent anywhere.
OFF_HOST_TARGETS = [
    f"{API}/http://evil.example/x",  # the reported attack: urljoin let the path replace the host
    f"{API}/https://evil.example/x",
    f"{API}/HTTP://evil.example/x",
    f"{API}/hTtPs://evil.example/x",
    f"{API}//evil.example/x",
    "http://evil.example/x",
    "HTTP://evil.example/x",
    "hTtPs://evil.example/x",
    "https:evil.example/x",
    "http:/evil.example/x",
    "http:\\\\evil.example\\x",
    "HTTP:\\\\evil.example/x",
    "/http://evil.example/x",
    "/HTTP://evil.example/x",
    "//evil.example/x",
    "///evil.example/x",
    "\\\\evil.example/x",
    "/\\evil.example/x",
    "\\/evil.example/x",
    "%2F%2Fevil.example/x",
    "/%2F%2Fevil.example/x",
    "/%2f%2fevil.example/x",
    "%5C%5Cevil.example/x",
    "/%5Cevil.example/x",
    "http%3A//evil.example/x",
    "/http%3A%2F%2Fevil.example/x",
    "/%252F%252Fevil.example/x",  # double-encoded //
    "/%25252F%25252Fevil.example/x",  # triple-encoded //
    "/http%253A%252F%252Fevil.example/x",
    "/\t/evil.example/x",  # browsers and urllib drop tabs and newlines inside URLs
    "/\n/evil.example/x",
    "/%09/evil.example/x",
    "/%0a/evil.example/x",
    "h\ttp://evil.example/x",
    f"{API}@evil.example/x",
    f"https://user:pw@{API.removeprefix('https://')}/incidents",
    f"https://evil.example@{API.removeprefix('https://')}/incidents",
    f"{API}\\@evil.example/x",  # urllib3 and urllib.parse disagree on this one's host
    "@evil.example/x",
    "/@evil.example/x",
    f"{API}.evil.example/incidents",
    f"{API}:8443/incidents",
    "ftp://api.pagerduty.test/incidents",
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "mailto:attacker@evil.example",
    "/incidents/../../evil",
    "/%2e%2e/%2e%2e/evil",
    "/\uff0f\uff0fevil.example/x",  # fullwidth solidus, which some normalisers turn into //
    # URLs that urllib.parse itself refuses to split (each was a 500 before): the console must say no, not crash.
    "https://[::1/incidents",  # an unclosed IPv6 literal
    "https://[api.pagerduty.test]/incidents",  # a host name in IPv6 brackets
    "https://evil.example\uff03@api.pagerduty.test/incidents",  # fullwidth # becomes "#@" under NFKC
    "https://api.pagerduty.test\uff03@evil.example/incidents",
]


def _post(client, target: str, method: str = "GET"):
    return client.post(
        "/api-console/",
        {
            "method": method,
            "target": target,
            "body_type": "json" if method != "GET" else "none",
            "json_body": '{"note": {"content": "x"}}' if method != "GET" else "",
            "response_type": "json",
            "timeout": "5",
            "retries": "0",
            "retry_delay": "0",
        },
    )


@pytest.fixture
def admin_console(admin, client_as, settings, api_key_mode):
    settings.SECURE_SSL_REDIRECT = False
    return client_as(admin)


@pytest.mark.parametrize("target", OFF_HOST_TARGETS)
@pytest.mark.parametrize("method", ["GET", "POST"])
@responses.activate
def test_the_console_refuses_every_off_host_spelling_and_sends_nothing(admin_console, target, method):
    # Nothing is registered: any request at all, to any host, would show up in responses.calls.
    response = _post(admin_console, target, method)

    assert response.status_code == 400, response.content.decode()[:500]
    html = response.content.decode()
    assert 'id="console-refused"' in html
    assert "not" in html.split('id="console-refused"', 1)[1].split("</p>", 1)[0]
    assert len(responses.calls) == 0
    assert not AuditEntry.objects.exists()


@pytest.mark.parametrize("target", OFF_HOST_TARGETS)
def test_resolving_a_console_target_refuses_it(target):
    with pytest.raises(ForeignHost):
        resolve_console_target(target)


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("/incidents", "/incidents"),
        ("incidents/PABC123", "/incidents/PABC123"),
        (
            "/incidents?statuses[]=triggered&since=2026-01-01T00:00:00Z",
            "/incidents?statuses[]=triggered&since=2026-01-01T00:00:00Z",
        ),
        ("/users?query=ann@example.com", "/users?query=ann@example.com"),
        (f"{API}/services?limit=1", "/services?limit=1"),
        (f"{API.upper().replace('HTTPS', 'https')}/abilities", "/abilities"),
        ("/incidents?redirect=http://evil.example/", "/incidents?redirect=http://evil.example/"),
    ],
)
def test_ordinary_paths_and_urls_on_the_api_host_still_work(target, path):
    resolved = resolve_console_target(target)

    assert (resolved.base_url, resolved.path) == (API, path)


@responses.activate
def test_a_plain_path_reaches_the_api_host_with_the_credential(admin_console, api_key_mode):
    responses.get(f"{API}/abilities", json={"abilities": []})

    response = _post(admin_console, "/abilities")

    assert response.status_code == 200
    assert [c.request.url for c in responses.calls] == [f"{API}/abilities"]
    assert responses.calls[0].request.headers["Authorization"] == f"Token token={api_key_mode}"

"""Attack: make the PagerDuty client attach a credential to a request for another origin (issue 11, finding 2)."""

from __future__ import annotations

import contextlib
import re
from urllib.parse import urlsplit

import pytest
import responses

from pdportal.pagerduty import EventsClient, PagerDutyClient, PagerDutyError, RequestBudget, errors, oauth

API = "https://api.pagerduty.test"
EVENTS = "https://events.pagerduty.test"
IDENTITY = "https://identity.pagerduty.test"
TOKEN = "s3cr3t-account-key"
_ANY = re.compile(r".*")

# Paths and URLs a caller (the console, a pagination link, a webhook's self link) could hand the client.
HOSTILE = [
    "/http://evil.example/x",
    "http://evil.example/x",
    "https://evil.example/x",
    "HTTPS://evil.example/x",
    "hTtP://evil.example/x",
    "//evil.example/x",
    "///evil.example/x",
    "http:evil.example/x",
    "https:/evil.example/x",
    "\\\\evil.example/x",
    "/\\evil.example/x",
    "http:\\\\evil.example/x",
    "%2F%2Fevil.example/x",
    "@evil.example/x",
    f"{API}@evil.example/x",
    f"{API}.evil.example/x",
    f"{API}:8443/x",
    f"{API}\\@evil.example/x",
    "https://user:pw@api.pagerduty.test/x",
    "\t//evil.example/x",
    "/\t/evil.example/x",
]


def _client(**kw) -> PagerDutyClient:
    return PagerDutyClient(token=TOKEN, api_url=API, budget=RequestBudget(per_minute=1_000_000), max_retries=0, **kw)


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    return parts.scheme, parts.hostname or "", parts.port or 443


@pytest.mark.parametrize("path", HOSTILE)
@responses.activate
def test_the_client_never_sends_the_token_to_another_origin(path):
    # Answer anything anywhere, so a request that leaves is recorded instead of failing to connect.
    responses.add(responses.POST, _ANY, json={})

    with contextlib.suppress(PagerDutyError, ValueError):  # refusing is as good as sending to the API host
        _client().request("POST", path, json={"note": {"content": "x"}}, raw=True)

    for call in responses.calls:
        assert _origin(call.request.url) == _origin(API), call.request.url
        assert "evil.example" not in (urlsplit(call.request.url).netloc or "")


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/x",
        "HTTPS://evil.example/x",
        f"{API}.evil.example/x",
        f"{API}:8443/x",
        f"{API}\\@evil.example/x",
        "https://user:pw@api.pagerduty.test/x",
    ],
)
@responses.activate
def test_a_full_url_on_another_origin_is_refused_with_a_typed_error_before_sending(url):
    responses.add(responses.GET, _ANY, json={})

    with pytest.raises(errors.ForeignOrigin):
        _client().request("GET", url)
    assert len(responses.calls) == 0


@responses.activate
def test_a_path_is_appended_to_the_api_base_never_resolved_against_it():
    responses.add(responses.GET, _ANY, json={})

    client = _client()
    client.get("/http://evil.example/x")
    client.get("//evil.example/x")
    client.get("http:evil.example/x")

    assert [c.request.url for c in responses.calls] == [
        f"{API}/http://evil.example/x",
        f"{API}/evil.example/x",
        f"{API}/http:evil.example/x",
    ]


@responses.activate
def test_the_choke_point_refuses_even_when_the_url_is_handed_to_send_directly():
    responses.add(responses.GET, _ANY, json={})

    client = _client()
    with pytest.raises(errors.ForeignOrigin):
        client.send("GET", "https://evil.example/x", headers=client.headers())
    assert len(responses.calls) == 0


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@responses.activate
def test_a_redirect_to_another_origin_is_not_followed(status):
    responses.get(f"{API}/incidents", status=status, headers={"Location": "https://evil.example/steal"})
    responses.get("https://evil.example/steal", json={"stolen": True})

    answer = _client().request("GET", "/incidents", raw=True)

    assert answer.status == status
    assert [c.request.url for c in responses.calls] == [f"{API}/incidents"]


@responses.activate
def test_the_events_client_only_posts_to_the_events_host():
    responses.post(f"{EVENTS}/v2/enqueue", json={"status": "success", "dedup_key": "k"}, status=202)
    client = EventsClient(events_url=EVENTS, max_retries=0)

    with pytest.raises(errors.ForeignOrigin):
        client.send("POST", "https://evil.example/v2/enqueue", json={})
    client.enqueue(
        routing_key="R" * 32, event_action="trigger", payload={"summary": "s", "source": "x", "severity": "info"}
    )

    assert [c.request.url for c in responses.calls] == [f"{EVENTS}/v2/enqueue"]


@responses.activate
def test_the_oauth_client_secret_only_goes_to_the_oauth_host():
    responses.post(f"{IDENTITY}/oauth/token", json={"access_token": "a", "refresh_token": "r", "expires_in": 60})

    tokens = oauth.refresh(oauth_url=IDENTITY, client_id="id", client_secret="cs", refresh_token="r")

    assert tokens.access_token == "a"
    assert [c.request.url for c in responses.calls] == [f"{IDENTITY}/oauth/token"]


@responses.activate
def test_every_write_reports_the_exact_url_sent():
    responses.put(f"{API}/incidents/PABC123", json={"incident": {"id": "PABC123"}})
    records: list[dict] = []

    _client(on_write=records.append).request(
        "PUT", "/incidents/PABC123", params={"include": ["assignees"], "x": "a b"}, json={"incident": {}}
    )

    sent = responses.calls[0].request.url
    assert sent == f"{API}/incidents/PABC123?include%5B%5D=assignees&x=a+b"
    assert [r["url"] for r in records] == [sent]
    assert records[0]["path"] == "/incidents/PABC123"


@responses.activate
def test_a_transport_without_a_configured_host_sends_nowhere():
    from pdportal.pagerduty.client import HttpTransport

    responses.add(responses.POST, _ANY, json={})

    with pytest.raises(errors.ForeignOrigin, match="no PagerDuty host"):
        HttpTransport(max_retries=0).send("POST", f"{IDENTITY}/oauth/token", data="client_secret=cs")
    HttpTransport(max_retries=0, base_url=IDENTITY).send("POST", f"{IDENTITY}/oauth/token", data="x=1")

    assert [c.request.url for c in responses.calls] == [f"{IDENTITY}/oauth/token"]


@pytest.mark.parametrize(
    "path",
    ["../admin/x", "/../../admin/x", "%2e%2e/admin/x", f"{'https://gw.pagerduty.test'}/pagerduty-other/x"],
)
@responses.activate
def test_behind_a_path_prefix_the_token_never_leaves_the_prefix(path):
    # PAGERDUTY_API_URL may name PagerDuty behind a shared gateway; the rest of that host is someone else.
    responses.add(responses.GET, _ANY, json={})
    base = "https://gw.pagerduty.test/pagerduty"
    client = PagerDutyClient(token=TOKEN, api_url=base, budget=RequestBudget(per_minute=1_000_000), max_retries=0)

    with contextlib.suppress(PagerDutyError, ValueError):
        client.request("GET", path, raw=True)

    for call in responses.calls:
        assert urlsplit(call.request.url).path.startswith("/pagerduty/"), call.request.url


@responses.activate
def test_behind_a_path_prefix_its_own_paths_still_go():
    responses.add(responses.GET, "https://gw.pagerduty.test/pagerduty/incidents", json={"incidents": []})
    base = "https://gw.pagerduty.test/pagerduty"
    client = PagerDutyClient(token=TOKEN, api_url=base, budget=RequestBudget(per_minute=1_000_000), max_retries=0)

    assert client.get("/incidents") == {"incidents": []}

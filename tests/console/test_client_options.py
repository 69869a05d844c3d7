"""The client options the API console needs: form data, multipart files, and per-call retry delay/backoff."""

from __future__ import annotations

import json

import responses

from pdportal.pagerduty import PagerDutyClient

API = "https://api.pagerduty.test"


def _client(sleeps: list[float]) -> PagerDutyClient:
    return PagerDutyClient(token="tok", api_url=API, sleep=sleeps.append, backoff=0.5)


@responses.activate
def test_it_uses_the_clients_exponential_backoff_by_default():
    responses.get(f"{API}/priorities", status=500, json={"error": {"message": "boom"}})
    sleeps: list[float] = []

    _client(sleeps).request("GET", "/priorities", max_retries=3, raw=True)

    assert sleeps == [0.5, 1.0, 2.0]


@responses.activate
def test_it_takes_a_per_call_delay_exponential_or_constant():
    responses.get(f"{API}/priorities", status=500, json={"error": {"message": "boom"}})
    sleeps: list[float] = []
    client = _client(sleeps)

    client.request("GET", "/priorities", max_retries=3, raw=True, backoff=0.2)
    assert sleeps == [0.2, 0.4, 0.8]
    sleeps.clear()
    response = client.request("GET", "/priorities", max_retries=2, raw=True, backoff=1.5, exponential=False)
    assert sleeps == [1.5, 1.5]
    assert response.attempts == 3


@responses.activate
def test_it_sends_form_fields_with_a_form_content_type():
    responses.post(f"{API}/things", json={})

    _client([]).request("POST", "/things", data=[("a", "1"), ("b", "x y")])

    sent = responses.calls[0].request
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.body == "a=1&b=x+y"
    assert sent.headers["Authorization"] == "Token token=tok"


@responses.activate
def test_it_sends_files_as_multipart():
    responses.post(f"{API}/things", json={})

    _client([]).request("POST", "/things", data=[("kind", "k")], files={"upload": ("a.txt", b"hello", "text/plain")})

    sent = responses.calls[0].request
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'filename="a.txt"' in sent.body and b"hello" in sent.body


@responses.activate
def test_json_requests_are_unchanged():
    responses.post(f"{API}/things", json={"ok": True})

    assert _client([]).post("/things", {"x": 1}) == {"ok": True}

    sent = responses.calls[0].request
    assert sent.headers["Content-Type"] == "application/json"
    assert json.loads(sent.body) == {"x": 1}

"""Raw responses for the API console, and rate-limit headers."""

import pytest

from pdportal.pagerduty import RawResponse
from pdportal.pagerduty.errors import NetworkError

from .conftest import API


def test_raw_returns_the_response_without_raising_on_errors(client, mocked):
    mocked.get(f"{API}/incidents/NOPE", status=404, json={"error": {"message": "Not Found", "code": 2100}})
    raw = client.request("GET", "/incidents/NOPE", raw=True)
    assert isinstance(raw, RawResponse)
    assert raw.status == 404
    assert raw.json() == {"error": {"message": "Not Found", "code": 2100}}
    assert raw.attempts == 1
    assert raw.elapsed_ms >= 0
    assert raw.headers["content-type"] == "application/json"


def test_raw_still_retries_and_counts_attempts(client, mocked):
    mocked.get(f"{API}/users", status=503, body="")
    mocked.get(f"{API}/users", json={"users": []})
    raw = client.request("GET", "/users", raw=True)
    assert (raw.status, raw.attempts) == (200, 2)


def test_raw_raises_network_error_when_nothing_answered(client, mocked):
    import requests

    mocked.get(f"{API}/users", body=requests.ConnectionError("down"))
    with pytest.raises(NetworkError):
        client.request("GET", "/users", raw=True, max_retries=0)


def test_it_reads_the_rate_limit_headers(client, mocked):
    mocked.get(
        f"{API}/users",
        json={"users": []},
        headers={"ratelimit-limit": "960", "ratelimit-remaining": "958", "ratelimit-reset": "42"},
    )
    client.get("/users")
    assert client.last_ratelimit == {"limit": 960.0, "remaining": 958.0, "reset": 42.0}


def test_an_empty_success_body_is_an_empty_dict(client, mocked):
    mocked.delete(f"{API}/services/S1", status=204)
    assert client.delete("/services/S1") == {}

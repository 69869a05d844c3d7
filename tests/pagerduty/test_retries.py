"""Retries: 5xx and network errors back off exponentially, 429 waits ratelimit-reset, all bounded."""

import pytest
import requests
import responses

from pdportal.pagerduty.errors import NetworkError, ServerError

from .conftest import API

OK = {"incidents": [], "more": False}


def test_it_retries_a_5xx_then_succeeds(client, mocked, sleeps):
    mocked.get(f"{API}/incidents", status=500, json={"error": {"message": "Internal Server Error", "code": 2000}})
    mocked.get(f"{API}/incidents", json=OK)
    assert client.get("/incidents") == OK
    assert sleeps == [0.5]


def test_it_backs_off_exponentially_and_stops_after_max_retries(make_client, mocked, sleeps):
    client = make_client(max_retries=3, backoff=0.5)
    for _ in range(4):
        mocked.get(f"{API}/incidents", status=503, body="unavailable")
    with pytest.raises(ServerError):
        client.get("/incidents")
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(mocked.calls) == 4


def test_it_waits_ratelimit_reset_after_a_429(client, mocked, sleeps):
    mocked.get(f"{API}/incidents", status=429, headers={"ratelimit-reset": "12"}, json={})
    mocked.get(f"{API}/incidents", json=OK)
    assert client.get("/incidents") == OK
    assert sleeps == [12.0]


def test_it_honours_retry_after_when_ratelimit_reset_is_absent(client, mocked, sleeps):
    mocked.get(f"{API}/incidents", status=429, headers={"Retry-After": "3"}, json={})
    mocked.get(f"{API}/incidents", json=OK)
    client.get("/incidents")
    assert sleeps == [3.0]


def test_it_caps_each_429_wait(make_client, mocked, sleeps):
    client = make_client(max_wait=60)
    mocked.get(f"{API}/incidents", status=429, headers={"ratelimit-reset": "3600"}, json={})
    mocked.get(f"{API}/incidents", json=OK)
    client.get("/incidents")
    assert sleeps == [60]


def test_it_retries_a_429_even_for_a_post(client, mocked, sleeps):
    mocked.post(f"{API}/incidents/P1/notes", status=429, headers={"ratelimit-reset": "1"}, json={})
    mocked.post(f"{API}/incidents/P1/notes", json={"note": {"id": "N1"}})
    assert client.create("/incidents/P1/notes", {"content": "hi"}) == {"id": "N1"}
    assert sleeps == [1.0]


def test_it_does_not_repeat_a_post_after_a_500(client, mocked, sleeps):
    mocked.post(f"{API}/incidents/P1/notes", status=500, json={"error": {"message": "Internal Server Error"}})
    with pytest.raises(ServerError):
        client.create("/incidents/P1/notes", {"content": "hi"})
    assert len(mocked.calls) == 1
    assert sleeps == []


def test_it_repeats_a_post_after_a_500_when_asked(client, mocked):
    mocked.post(f"{API}/incidents/P1/notes", status=500, json={})
    mocked.post(f"{API}/incidents/P1/notes", json={"note": {"id": "N1"}})
    result = client.post("/incidents/P1/notes", {"note": {"content": "x"}}, retry_all_errors=True)
    assert result == {"note": {"id": "N1"}}


def test_it_repeats_a_post_after_a_gateway_error(client, mocked):
    mocked.post(f"{API}/incidents/P1/notes", status=503, body="")
    mocked.post(f"{API}/incidents/P1/notes", json={"note": {"id": "N1"}})
    assert client.create("/incidents/P1/notes", {"content": "x"}) == {"id": "N1"}


def test_it_retries_network_errors_then_raises_network_error(make_client, mocked, sleeps):
    client = make_client(max_retries=2, backoff=0.25)
    for _ in range(3):
        mocked.get(f"{API}/users", body=requests.ConnectionError("reset"))
    with pytest.raises(NetworkError):
        client.get("/users")
    assert sleeps == [0.25, 0.5]


def test_it_does_not_retry_a_post_that_may_have_reached_pagerduty(client, mocked, sleeps):
    mocked.post(f"{API}/incidents/P1/notes", body=requests.ReadTimeout("slow"))
    with pytest.raises(NetworkError):
        client.post("/incidents/P1/notes", {"note": {"content": "x"}})
    assert sleeps == []


def test_it_does_not_retry_client_errors(client, mocked, sleeps):
    mocked.get(f"{API}/incidents/NOPE", status=404, json={"error": {"message": "Not Found", "code": 2100}})
    with pytest.raises(Exception, match="Not Found"):
        client.get("/incidents/NOPE")
    assert sleeps == []
    assert len(mocked.calls) == 1


def test_it_bounds_429_retries_too(make_client, mocked, sleeps):
    client = make_client(max_retries=2)
    mocked.add(responses.GET, f"{API}/users", status=429, headers={"ratelimit-reset": "1"}, json={})
    mocked.add(responses.GET, f"{API}/users", status=429, headers={"ratelimit-reset": "1"}, json={})
    mocked.add(responses.GET, f"{API}/users", status=429, headers={"ratelimit-reset": "1"}, json={})
    with pytest.raises(Exception, match="Too Many Requests"):
        client.get("/users")
    assert len(mocked.calls) == 3
    assert sleeps == [1.0, 1.0]

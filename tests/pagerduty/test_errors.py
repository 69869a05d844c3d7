"""Each PagerDuty error shape becomes a typed error carrying PagerDuty's own words."""

import pytest
import requests

from pdportal.pagerduty import errors
from pdportal.pagerduty.errors import (
    Forbidden,
    InvalidInput,
    NetworkError,
    NotFound,
    PagerDutyError,
    RateLimited,
    ServerError,
    Unauthorized,
    parse_error_body,
)

from .conftest import API


def pd_error(message, code, errs=None):
    body = {"error": {"message": message, "code": code}}
    if errs is not None:
        body["error"]["errors"] = errs
    return body


@pytest.mark.parametrize(
    ("status", "cls", "message", "code"),
    [
        (400, InvalidInput, "Invalid Input Provided", 2001),
        (401, Unauthorized, "Authentication Required", 2006),
        (403, Forbidden, "Access Denied", 2010),
        (404, NotFound, "Not Found", 2100),
        (422, InvalidInput, "Unprocessable Entity", 2001),
        (500, ServerError, "Internal Server Error", 2000),
    ],
)
def test_it_raises_the_typed_error_for_each_status(client, mocked, status, cls, message, code):
    mocked.get(f"{API}/incidents/P1", status=status, json=pd_error(message, code, ["detail one"]))
    with pytest.raises(cls) as info:
        client.get("/incidents/P1", max_retries=0)
    err = info.value
    assert isinstance(err, PagerDutyError)
    assert (err.status, err.message, err.code, err.errors) == (status, message, code, ["detail one"])
    assert (err.method, err.path) == ("GET", "/incidents/P1")


def test_it_reads_like_pagerdutys_own_words(client, mocked):
    mocked.put(
        f"{API}/incidents/P1",
        status=400,
        json=pd_error("Incident Already Resolved", 1001, ["Incident Already Resolved"]),
    )
    with pytest.raises(InvalidInput) as info:
        client.update("/incidents/P1", {"type": "incident_reference", "status": "resolved"})
    assert str(info.value) == "Incident Already Resolved (1001): Incident Already Resolved"


def test_it_raises_rate_limited_with_retry_after_once_retries_are_exhausted(client, mocked, sleeps):
    mocked.get(
        f"{API}/users",
        status=429,
        json=pd_error("Rate Limit Exceeded", 2020),
        headers={"ratelimit-reset": "7"},
    )
    with pytest.raises(RateLimited) as info:
        client.get("/users", max_retries=1)
    assert info.value.retry_after == 7.0
    assert info.value.code == 2020
    assert sleeps == [7.0]


def test_it_tolerates_a_non_json_error_body(client, mocked):
    mocked.get(f"{API}/services", status=502, body="<html><body>Bad   gateway</body></html>")
    with pytest.raises(ServerError) as info:
        client.get("/services", max_retries=0)
    assert info.value.status == 502
    assert info.value.message == "Bad Gateway"
    assert info.value.errors == ["<html><body>Bad gateway</body></html>"]
    assert info.value.code is None


def test_it_tolerates_an_empty_error_body(client, mocked):
    mocked.delete(f"{API}/services/P1", status=404, body="")
    with pytest.raises(NotFound) as info:
        client.delete("/services/P1")
    assert str(info.value) == "Not Found"


def test_it_parses_the_events_api_error_shape():
    body = (
        b'{"status":"invalid event","message":"Event object is invalid",'
        b'"errors":["Length of \'routing_key\' is incorrect (should be 32 characters)"]}'
    )
    message, code, errs = parse_error_body(body, 400)
    assert message == "Event object is invalid"
    assert code is None
    assert errs == ["Length of 'routing_key' is incorrect (should be 32 characters)"]


def test_it_flattens_field_keyed_errors():
    message, _, errs = parse_error_body(b'{"error":{"message":"Invalid","errors":{"email":["is taken"]}}}', 400)
    assert (message, errs) == ("Invalid", ["email: is taken"])


def test_it_wraps_connection_errors_without_leaking_requests(client, mocked):
    mocked.get(f"{API}/incidents", body=requests.ConnectionError("boom"))
    with pytest.raises(NetworkError) as info:
        client.get("/incidents", max_retries=0)
    err = info.value
    assert err.status is None
    assert not isinstance(err, requests.RequestException)
    assert err.path == "/incidents"
    assert "Could not reach PagerDuty" in str(err)


def test_it_wraps_timeouts_as_network_errors(client, mocked):
    mocked.get(f"{API}/incidents", body=requests.ReadTimeout("slow"))
    with pytest.raises(NetworkError, match="timed out"):
        client.get("/incidents", max_retries=0)


def test_it_maps_unknown_statuses_to_the_base_error():
    err = errors.error_from_response(status=402, content=b'{"error":{"message":"Payment Required","code":2012}}')
    assert type(err) is PagerDutyError
    assert str(err) == "Payment Required (2012)"


def test_errors_survive_pickling_with_all_their_details():
    import pickle

    original = RateLimited("Rate Limit Exceeded", retry_after=4, status=429, code=2020, errors=["slow down"], path="/x")
    copy = pickle.loads(pickle.dumps(original))
    assert type(copy) is RateLimited
    assert (copy.status, copy.code, copy.errors, copy.retry_after, copy.path) == (429, 2020, ["slow down"], 4.0, "/x")
    assert str(copy) == str(original)

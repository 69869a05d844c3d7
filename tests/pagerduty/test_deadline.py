"""One deadline for every PagerDuty call of a person's request; writes are never blindly resent after a timeout."""

from __future__ import annotations

import time

import pytest
import requests

from pdportal.pagerduty import DeadlineExceeded, NetworkError, RateLimited, deadline
from tests.pagerduty.conftest import API


def test_a_put_that_timed_out_is_not_resent(client, mocked, sleeps):
    mocked.put(f"{API}/incidents/P1", body=requests.ReadTimeout("slow"))
    with pytest.raises(NetworkError) as caught:
        client.put("/incidents/P1", {"incident": {"type": "incident_reference", "status": "acknowledged"}})
    assert caught.value.outcome_unknown is True
    assert len(mocked.calls) == 1 and sleeps == []


def test_a_delete_that_timed_out_is_not_resent(client, mocked, sleeps):
    mocked.delete(f"{API}/services/PS1", body=requests.ReadTimeout("slow"))
    with pytest.raises(NetworkError):
        client.delete("/services/PS1")
    assert len(mocked.calls) == 1


def test_a_write_that_never_left_is_still_retried(client, mocked, sleeps):
    mocked.put(f"{API}/incidents/P1", body=requests.ConnectTimeout("no route"))
    mocked.put(f"{API}/incidents/P1", json={"incident": {"id": "P1"}})
    assert client.put("/incidents/P1", {"incident": {}}) == {"incident": {"id": "P1"}}


def test_a_get_that_timed_out_is_retried(client, mocked, sleeps):
    mocked.get(f"{API}/priorities", body=requests.ReadTimeout("slow"))
    mocked.get(f"{API}/priorities", json={"priorities": []})
    assert client.get("/priorities") == {"priorities": []}


def test_a_timed_out_write_is_audited_as_outcome_unknown_with_its_intent(make_client, mocked):
    records = []
    client = make_client(on_write=records.append)
    mocked.post(f"{API}/incidents/P1/notes", body=requests.ReadTimeout("slow"))
    with pytest.raises(NetworkError):
        client.post("/incidents/P1/notes", {"note": {"content": "x"}})
    [record] = records
    assert record["outcome_unknown"] is True
    assert record["intent"] == {"note": {"content": "x"}}


def test_a_refused_write_is_not_outcome_unknown(make_client, mocked):
    records = []
    client = make_client(on_write=records.append)
    mocked.put(f"{API}/incidents/P1", status=400, json={"error": {"message": "Invalid", "code": 2001}})
    with pytest.raises(Exception, match="Invalid"):
        client.put("/incidents/P1", {"incident": {}})
    assert records[0]["outcome_unknown"] is False and records[0]["intent"] is None


def test_a_retry_wait_longer_than_the_deadline_is_not_taken(client, mocked, sleeps):
    mocked.get(f"{API}/priorities", status=429, headers={"ratelimit-reset": "30"}, json={})
    with deadline(8), pytest.raises(RateLimited):
        client.get("/priorities")
    assert sleeps == [] and len(mocked.calls) == 1


def test_without_a_deadline_background_work_keeps_its_retries(client, mocked, sleeps):
    mocked.get(f"{API}/priorities", status=429, headers={"ratelimit-reset": "30"}, json={})
    mocked.get(f"{API}/priorities", json={"priorities": []})
    assert client.get("/priorities") == {"priorities": []}
    assert sleeps == [30.0]


def test_a_spent_deadline_sends_nothing_and_says_so(client, mocked):
    with deadline(0.01):
        time.sleep(0.02)
        with pytest.raises(DeadlineExceeded) as caught:
            client.get("/priorities")
    assert len(mocked.calls) == 0
    assert str(caught.value) == (
        "PagerDuty did not answer within 0.01 s. We will show the result as soon as PagerDuty reports it."
    )


def test_an_inner_deadline_never_extends_the_outer_one():
    with deadline(1) as outer, deadline(60) as inner:
        assert inner is outer


def test_the_error_survives_pickling_with_its_fields():
    import pickle

    error = pickle.loads(pickle.dumps(DeadlineExceeded(seconds=8, outcome_unknown=True, method="PUT")))
    assert (error.seconds, error.outcome_unknown, error.method) == (8.0, True, "PUT")


def test_a_read_timeout_well_within_the_deadline_is_retried(make_client, mocked, sleeps):
    client = make_client(timeout=2)
    mocked.get(f"{API}/priorities", body=requests.ReadTimeout("slow"))
    mocked.get(f"{API}/priorities", json={"priorities": []})
    with deadline(8):
        assert client.get("/priorities") == {"priorities": []}
    assert sleeps == [0.5]


def test_a_write_timeout_within_the_deadline_is_unknown_but_not_resent(make_client, mocked, sleeps):
    client = make_client(timeout=2)
    mocked.put(f"{API}/incidents/P1", body=requests.ReadTimeout("slow"))
    with deadline(8), pytest.raises(NetworkError) as caught:
        client.put("/incidents/P1", {"incident": {}})
    assert not isinstance(caught.value, DeadlineExceeded) and caught.value.outcome_unknown is True
    assert len(mocked.calls) == 1


def test_an_attempt_cut_by_the_deadline_answers_with_the_deadline_message(client, mocked, sleeps):
    # The 30 s timeout is longer than the deadline: the attempt waits only as long as the deadline allows.
    mocked.get(f"{API}/priorities", body=requests.ReadTimeout("slow"))
    with deadline(8), pytest.raises(DeadlineExceeded) as caught:
        client.get("/priorities")
    assert caught.value.outcome_unknown is False and len(mocked.calls) == 1

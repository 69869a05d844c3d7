"""The on_write callback sees every write, successful or not, and can never break the call."""

import pytest

from pdportal.pagerduty.errors import Forbidden

from .conftest import API


def test_it_reports_a_successful_write(make_client, mocked):
    records = []
    client = make_client(on_write=records.append)
    mocked.put(f"{API}/incidents/P1", json={"incident": {"id": "P1"}})
    client.update("/incidents/P1", {"status": "acknowledged"})
    (record,) = records
    assert record["method"] == "PUT"
    assert record["path"] == "/incidents/P1"
    assert record["status"] == 200
    assert record["error_message"] is None
    assert record["error_code"] is None
    assert record["duration_ms"] >= 0


def test_it_reports_a_refused_write_with_pagerdutys_message(make_client, mocked):
    records = []
    client = make_client(on_write=records.append)
    mocked.post(f"{API}/incidents/P1/notes", status=403, json={"error": {"message": "Access Denied", "code": 2010}})
    with pytest.raises(Forbidden):
        client.create("/incidents/P1/notes", {"content": "x"})
    assert records[0]["status"] == 403
    assert (records[0]["error_message"], records[0]["error_code"]) == ("Access Denied", 2010)


def test_it_reports_a_write_that_never_reached_pagerduty(make_client, mocked):
    import requests

    records = []
    client = make_client(on_write=records.append)
    mocked.delete(f"{API}/webhook_subscriptions/W1", body=requests.ConnectionError("down"))
    with pytest.raises(Exception, match="Could not reach PagerDuty"):
        client.delete("/webhook_subscriptions/W1", max_retries=0)
    assert records[0]["status"] is None
    assert "Could not reach PagerDuty" in records[0]["error_message"]


def test_it_does_not_report_reads(make_client, mocked):
    records = []
    client = make_client(on_write=records.append)
    mocked.get(f"{API}/incidents", json={"incidents": []})
    client.get("/incidents")
    assert records == []


def test_a_failing_callback_does_not_break_the_write(make_client, mocked, caplog):
    def broken(record):
        raise RuntimeError("audit database is down")

    client = make_client(on_write=broken)
    mocked.put(f"{API}/incidents/P1", json={"incident": {"id": "P1"}})
    assert client.update("/incidents/P1", {"status": "resolved"}) == {"id": "P1"}
    assert "on_write callback failed" in caplog.text

"""Events API v2: alert events and change events, validated before sending, retried on 5xx and 429."""

import json

import pytest

from pdportal.pagerduty import EventsClient
from pdportal.pagerduty.errors import InvalidInput, RateLimited

EVENTS = "https://events.pagerduty.test"
KEY = "e93facc04764012d7bfb002500d5d1a6"
ACCEPTED = {"status": "success", "message": "Event processed", "dedup_key": "srv01/mysql"}


@pytest.fixture
def events(sleeps):
    return EventsClient(events_url=EVENTS, sleep=sleeps.append)


def sent(mocked, index=0):
    return json.loads(mocked.calls[index].request.body)


def test_it_triggers_with_the_spec_fields(events, mocked):
    mocked.post(f"{EVENTS}/v2/enqueue", status=202, json=ACCEPTED)
    answer = events.trigger(
        routing_key=KEY,
        summary="DISK at 99%",
        source="db01",
        severity="critical",
        dedup_key="srv01/mysql",
        class_="disk",
        custom_details={"free": "1%"},
        links=[{"href": "https://x.test", "text": "x"}],
        client="Monitor",
    )
    assert answer == ACCEPTED
    assert sent(mocked) == {
        "routing_key": KEY,
        "event_action": "trigger",
        "dedup_key": "srv01/mysql",
        "payload": {
            "summary": "DISK at 99%",
            "source": "db01",
            "severity": "critical",
            "class": "disk",
            "custom_details": {"free": "1%"},
        },
        "client": "Monitor",
        "links": [{"href": "https://x.test", "text": "x"}],
    }
    assert "Authorization" not in mocked.calls[0].request.headers


@pytest.mark.parametrize("missing", ["summary", "source", "severity"])
def test_it_refuses_a_trigger_without_required_payload_fields(events, mocked, missing):
    payload = {"summary": "s", "source": "h", "severity": "error"}
    del payload[missing]
    with pytest.raises(InvalidInput) as info:
        events.enqueue(routing_key=KEY, event_action="trigger", payload=payload)
    assert f"payload.{missing} is required to trigger an alert" in info.value.errors
    assert len(mocked.calls) == 0


def test_it_refuses_an_unknown_severity(events):
    with pytest.raises(InvalidInput, match="severity must be one of"):
        events.trigger(routing_key=KEY, summary="s", source="h", severity="fatal")


def test_it_needs_a_dedup_key_to_resolve(events):
    with pytest.raises(InvalidInput, match="dedup_key is required to resolve"):
        events.enqueue(routing_key=KEY, event_action="resolve")


def test_it_acknowledges_and_resolves_by_dedup_key(events, mocked):
    mocked.post(f"{EVENTS}/v2/enqueue", status=202, json=ACCEPTED)
    events.acknowledge(routing_key=KEY, dedup_key="d1")
    events.resolve(routing_key=KEY, dedup_key="d1")
    assert sent(mocked, 0) == {"routing_key": KEY, "event_action": "acknowledge", "dedup_key": "d1"}
    assert sent(mocked, 1) == {"routing_key": KEY, "event_action": "resolve", "dedup_key": "d1"}


def test_it_sends_a_change_event(events, mocked):
    mocked.post(
        f"{EVENTS}/v2/change/enqueue", status=202, json={"status": "success", "message": "Change event processed"}
    )
    events.send_change_event(
        routing_key=KEY,
        summary="Deploy 220",
        source="ci",
        timestamp="2015-07-17T08:42:58.315+0000",
        custom_details={"build": "220"},
        links=[{"href": "https://ci.test/220"}],
    )
    assert sent(mocked) == {
        "routing_key": KEY,
        "payload": {
            "summary": "Deploy 220",
            "source": "ci",
            "timestamp": "2015-07-17T08:42:58.315+0000",
            "custom_details": {"build": "220"},
        },
        "links": [{"href": "https://ci.test/220"}],
    }


def test_it_refuses_a_change_event_without_summary(events, mocked):
    with pytest.raises(InvalidInput, match="Invalid change event"):
        events.send_change_event(routing_key=KEY, summary=" ")


def test_it_raises_pagerdutys_events_error(events, mocked):
    mocked.post(
        f"{EVENTS}/v2/enqueue",
        status=400,
        json={"status": "invalid event", "message": "Event object is invalid", "errors": ["'routing_key' is invalid"]},
    )
    with pytest.raises(InvalidInput) as info:
        events.resolve(routing_key="bad", dedup_key="d")
    assert str(info.value) == "Event object is invalid: 'routing_key' is invalid"


def test_it_retries_5xx_and_429(events, mocked, sleeps):
    mocked.post(f"{EVENTS}/v2/enqueue", status=500, body="oops")
    mocked.post(f"{EVENTS}/v2/enqueue", status=429, headers={"Retry-After": "2"}, body="")
    mocked.post(f"{EVENTS}/v2/enqueue", status=202, json=ACCEPTED)
    assert events.resolve(routing_key=KEY, dedup_key="d")["status"] == "success"
    assert sleeps == [0.5, 2.0]


def test_it_raises_rate_limited_when_429_persists(sleeps, mocked):
    events = EventsClient(events_url=EVENTS, sleep=sleeps.append, max_retries=1)
    mocked.post(f"{EVENTS}/v2/enqueue", status=429, headers={"Retry-After": "5"}, body="")
    with pytest.raises(RateLimited) as info:
        events.resolve(routing_key=KEY, dedup_key="d")
    assert info.value.retry_after == 5.0

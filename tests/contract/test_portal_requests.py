"""What the portal sends PagerDuty: only the query parameters each operation declares, and one time format."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from incidents import actions, sync
from incidents.tasks import refetch_incident
from tests.contract.openapi import undeclared_query_parameters
from tests.incidents.factories import incident_json

API = "https://api.pagerduty.test"
# PagerDuty's documented form: UTC, ending in Z (e.g. 2026-11-20T10:00:00Z).
PAGERDUTY_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
pytestmark = pytest.mark.django_db


@pytest.fixture
def account(api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    from accounts.clients import account_client

    return account_client()


def _empty_lists(rsps) -> None:
    for key in ("log_entries", "alerts", "notes", "change_events"):
        rsps.add(responses.GET, re.compile(rf"{re.escape(API)}/(.*/)?{key}(\?.*)?$"), json={key: [], "more": False})


def _times(call) -> list[str]:
    query = parse_qs(urlsplit(call.request.url).query)
    return [value for name in ("since", "until") for value in query.get(name, [])]


def test_refetching_an_incident_sends_only_what_get_incident_declares(account):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.GET, f"{API}/incidents/PINC1", json={"incident": incident_json("PINC1", 1)})
        _empty_lists(rsps)
        refetch_incident(client=account, pd_id="PINC1")
        calls = list(rsps.calls)
    assert [c.request.url for c in calls if urlsplit(c.request.url).path == "/incidents/PINC1"]
    for call in calls:
        assert undeclared_query_parameters(call.request.method, call.request.url) == set(), call.request.url


def test_the_sync_and_the_change_events_page_send_windows_in_one_format(account, responder):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _empty_lists(rsps)
        sync.sync_all(client=account, steps=["change_events", "log_entries"])
        actions.change_events_fetch(
            actor=responder,
            filters={"since": datetime(2026, 11, 1, 8, 30, tzinfo=UTC), "until": datetime(2026, 11, 2, tzinfo=UTC)},
        )
        calls = list(rsps.calls)
    sent = [(urlsplit(c.request.url).path, t) for c in calls for t in _times(c)]
    assert len(sent) >= 6, sent  # the sync's two windows and the page's one
    assert [(path, t) for path, t in sent if not PAGERDUTY_TIME.match(t)] == []
    for call in calls:
        assert undeclared_query_parameters(call.request.method, call.request.url) == set(), call.request.url

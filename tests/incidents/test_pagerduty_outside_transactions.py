"""Actions read PagerDuty first, then write the mirror in one short transaction: never a request inside one."""

from __future__ import annotations

import pytest
import responses
from django.db import transaction

from pdportal.pagerduty import PagerDutyClient, RequestBudget
from tests.conftest import PagerDutyInsideTransaction

API = "https://api.pagerduty.test"


@pytest.fixture
def client():
    return PagerDutyClient(token="t", api_url=API, budget=RequestBudget(per_minute=1_000_000))


@responses.activate
@pytest.mark.django_db
def test_the_guard_refuses_a_request_sent_inside_a_transaction(client):
    responses.get(f"{API}/incidents/P1", json={"incident": {"id": "P1"}})
    with pytest.raises(PagerDutyInsideTransaction), transaction.atomic():
        client.get_entity("/incidents/P1")
    assert len(responses.calls) == 0


@responses.activate
@pytest.mark.django_db
def test_the_guard_lets_a_request_outside_a_transaction_through(client):
    responses.get(f"{API}/incidents/P1", json={"incident": {"id": "P1"}})
    assert client.get_entity("/incidents/P1") == {"id": "P1"}

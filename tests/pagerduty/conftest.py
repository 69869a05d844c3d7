"""Fixtures for the PagerDuty client tests: a fake HTTP layer and a sleep that never sleeps."""

import pytest
import responses

from pdportal.pagerduty import PagerDutyClient, RequestBudget

API = "https://api.pagerduty.test"
TOKEN = "u+secretTOKENvalue123"


@pytest.fixture
def sleeps():
    """Every delay the client asked for, in order (nothing actually sleeps)."""
    return []


@pytest.fixture
def make_client(sleeps):
    def make(**kwargs):
        kwargs.setdefault("token", TOKEN)
        kwargs.setdefault("api_url", API)
        kwargs.setdefault("sleep", sleeps.append)
        # A private, roomy budget: the shared per-token one could make a long test run really wait.
        kwargs.setdefault("budget", RequestBudget(per_minute=1_000_000))
        return PagerDutyClient(**kwargs)

    return make


@pytest.fixture
def client(make_client):
    return make_client()


@pytest.fixture
def mocked():
    with responses.RequestsMock() as rsps:
        yield rsps

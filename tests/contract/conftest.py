"""Contract-test helpers: every sandbox response is checked against PagerDuty's OpenAPI spec."""

import pytest

from tests.contract.openapi import validate


def checked(response, status):
    """Assert the status code, then validate body and status against the spec; return the JSON body."""
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    validate(response)
    return response.json() if response.content else None


@pytest.fixture
def check():
    return checked

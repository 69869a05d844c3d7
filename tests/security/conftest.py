"""The security tests hold every PagerDuty request outside database transactions too (tests/conftest.py)."""

import pytest


@pytest.fixture(autouse=True)
def _pagerduty_outside_transactions(pagerduty_outside_transactions):
    """Sign-in, connections, grants and actions read PagerDuty outside any transaction."""

"""The admin-area fixtures (see tests/services/conftest.py)."""

import pytest

from tests.services.conftest import _plain_http, admin_client, pd  # noqa: F401


@pytest.fixture(autouse=True)
def _pagerduty_outside_transactions(pagerduty_outside_transactions):
    """Every action path here reads PagerDuty first and then writes the mirror in one short transaction."""

"""The admin-area fixtures (see tests/services/conftest.py)."""

from tests.services.conftest import _plain_http, admin_client, pd  # noqa: F401

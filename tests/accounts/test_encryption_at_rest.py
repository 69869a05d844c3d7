"""Tokens and API keys are encrypted at rest: the raw database columns never hold them."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from accounts.actions import connection_use_api_key
from accounts.clients import api_key, store_grant
from accounts.models import Connection, OAuthGrant
from pdportal.pagerduty.oauth import TokenSet


def _raw_row(table: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} WHERE id = %s", [pk])
        return " ".join(str(value) for value in cursor.fetchone())


def test_oauth_tokens_are_not_in_the_database_in_clear(responder, oauth_app):
    grant = store_grant(
        user=responder,
        token_set=TokenSet(
            access_token="pdus+ACCESS-SECRET-123",
            refresh_token="pdus+REFRESH-SECRET-456",
            expires_at=timezone.now() + timedelta(hours=1),
            scope="read write",
        ),
    )
    row = _raw_row(OAuthGrant._meta.db_table, grant.pk)
    assert "ACCESS-SECRET-123" not in row
    assert "REFRESH-SECRET-456" not in row
    assert "read write" in row  # the scope is not a secret and stays readable


def test_a_stored_api_key_is_not_in_the_database_in_clear(admin, settings, monkeypatch):
    settings.PAGERDUTY_API_TOKEN = ""
    monkeypatch.setattr("accounts.actions.connection_check", lambda connection: connection)
    connection_use_api_key(actor=admin, api_key="u+KEY-SECRET-789")
    assert "KEY-SECRET-789" not in _raw_row(Connection._meta.db_table, 1)
    assert api_key() == "u+KEY-SECRET-789"

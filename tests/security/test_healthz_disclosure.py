"""Attack: read the deployment's internals from anonymous /healthz (issue 11, finding 7)."""

from __future__ import annotations

import json

import pytest

from pdportal import redis as portal_redis
from tests.conftest import free_port

pytestmark = pytest.mark.django_db

SUBSCRIPTION_ID = "PSUBSEC"


@pytest.fixture
def portal_state(settings):
    """A subscription, a connection mode and a sync state: the details an outsider must not read."""
    from pdportal.models import SyncState
    from services.models import WebhookSubscription

    settings.PAGERDUTY_API_TOKEN = "account-key"
    WebhookSubscription.objects.create(
        pd_id=SUBSCRIPTION_ID, url=f"{settings.PORTAL_URL}/hooks/pagerduty/", created_by_portal=True, raw={}
    )
    SyncState.objects.create(name="initial_sync", status="running", done=3, total=9)


@pytest.fixture
def redis_down(settings):
    """Redis at a closed port on a named host, so the driver's error names both."""
    port = free_port()
    settings.REDIS_URL = f"redis://:hunter2@localhost:{port}/0"
    portal_redis._client.cache_clear()
    yield port
    portal_redis._client.cache_clear()


def _leaks(text: str, *secrets: str) -> list[str]:
    return [s for s in secrets if s in text]


@pytest.mark.parametrize("who", ["anonymous", "responder", "observer"])
def test_everyone_but_an_admin_reads_only_ok(client, client_as, responder, observer, portal_state, who):
    caller = {"anonymous": client, "responder": client_as(responder), "observer": client_as(observer)}[who]

    response = caller.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_an_admin_reads_the_details(client_as, admin, portal_state):
    body = client_as(admin).get("/healthz").json()

    assert body["status"] == "ok"
    assert body["webhook_subscription"]["id"] == SUBSCRIPTION_ID
    assert body["pagerduty_connection"]["mode"]
    assert body["last_sync"]["full_sync"]["status"] == "running"
    assert body["database"]["ok"] and body["redis"]["ok"]


def test_anonymous_reads_only_failing_when_redis_is_down_and_no_host_or_port(client, portal_state, redis_down):
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "failing"}
    assert not _leaks(response.content.decode(), str(redis_down), "localhost", "hunter2", SUBSCRIPTION_ID)


def test_an_admin_reads_the_redis_error_without_its_host_port_or_password(client_as, admin, portal_state, redis_down):
    response = client_as(admin).get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "failing"
    assert body["redis"]["ok"] is False and body["redis"]["error"]
    text = json.dumps(body)
    assert not _leaks(text, str(redis_down), "localhost", "hunter2")


def test_the_states_map_to_http_statuses_in_one_place():
    from pdportal import health

    # Another state (for example "degraded" for a stalled sync) is one entry in this table and one rule.
    assert health.HTTP_STATUS == {"ok": 200, "degraded": 200, "failing": 503}
    ok = {"ok": True}
    assert health.overall_status({"database": ok, "redis": ok}) == "ok"
    assert health.overall_status({"database": ok, "redis": {"ok": False}}) == "failing"
    stalled = {"ok": False, "degraded": True}
    assert health.overall_status({"database": ok, "redis": ok, "sync_lease": stalled}) == "degraded"


@pytest.fixture
def database_down(settings):
    """Every query fails, as when PostgreSQL is unreachable (the driver's error names its host and port)."""
    from unittest import mock

    from django.db import OperationalError
    from django.db.backends.base.base import BaseDatabaseWrapper

    def unreachable(*args, **kwargs):
        raise OperationalError('connection to server at "10.9.8.7", port 5432 failed: Connection refused')

    with mock.patch.object(BaseDatabaseWrapper, "cursor", unreachable):
        yield


@pytest.mark.django_db(transaction=True)
def test_with_the_database_down_healthz_says_failing_not_500(client, database_down):
    # The one moment a load balancer needs /healthz is when a dependency is down: a 500 with Django's error page
    # (or a traceback in DEBUG) is neither the contract nor safe.
    client.raise_request_exception = False

    response = client.get("/healthz")

    assert response.status_code == 503
    assert json.loads(response.content) == {"status": "failing"}


def test_a_check_that_raises_fails_in_the_details_without_naming_the_host(client_as, admin, portal_state):
    from pdportal import health

    def broken() -> dict:
        raise RuntimeError("could not reach db.internal.example:5432 as portal:hunter2@db.internal.example")

    health._CHECKS["zz_broken"] = broken
    try:
        response = client_as(admin).get("/healthz")
    finally:
        del health._CHECKS["zz_broken"]

    body = json.loads(response.content)
    assert body["zz_broken"]["ok"] is False and "RuntimeError" in body["zz_broken"]["error"]
    assert _leaks(response.content.decode(), "hunter2", ":5432", "db.internal.example:") == []

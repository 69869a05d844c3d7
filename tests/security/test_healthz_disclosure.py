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
    assert health.HTTP_STATUS == {"ok": 200, "failing": 503}
    ok = {"ok": True}
    assert health.overall_status({"database": ok, "redis": ok}) == "ok"
    assert health.overall_status({"database": ok, "redis": {"ok": False}}) == "failing"

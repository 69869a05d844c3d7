"""Syncs that survive a dead worker: the lease stops being renewed, /healthz says degraded, a new run takes over."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from incidents import sync, sync_watchdog, tasks
from incidents.models import Incident
from pdportal import lease
from pdportal.models import SyncState
from tests.live.conftest import rest_incident

pytestmark = pytest.mark.django_db

LEASE = f"{lease.PREFIX}{sync.lease_name(sync.SYNC_STATE)}"


@pytest.fixture
def short_lease(settings, redis_url):
    from pdportal.redis import get_redis

    settings.SYNC_LEASE_SECONDS = 1  # production: 120 s, so a dead worker's sync is taken over within 3 minutes
    client = get_redis()
    keys = [LEASE, f"{lease.PREFIX}full_sync"]
    client.delete(*keys)
    yield client
    client.delete(*keys)


def _killed_mid_sync(client) -> None:
    """What a worker killed with SIGKILL mid-sync leaves: "running" in SyncState and a lease nobody renews."""
    SyncState.objects.create(
        name=sync.SYNC_STATE, status="running", started_at="2026-12-07T03:00:00Z", progress={"step": "incidents"}
    )
    client.set(LEASE, "dead-worker", ex=1)
    client.set(f"{lease.PREFIX}full_sync", "t-killed", ex=1)


def _wait_until_stalled(client, timeout: float = 10.0) -> None:
    """Until the lease lapsed and the state has been quiet for one lease length (polled, an event)."""
    limit = time.monotonic() + timeout
    while client.exists(LEASE) or not sync_watchdog.stalled_syncs():
        assert time.monotonic() < limit, "the sync never counted as stalled"
        time.sleep(0.1)


def test_a_sync_whose_worker_died_is_reported_degraded_then_taken_over(client, client_as, admin, fake_pd, short_lease):
    fake_pd.incidents["PTAKE1"] = rest_incident("PTAKE1")
    killed_at = time.monotonic()
    _killed_mid_sync(short_lease)
    assert sync_watchdog.take_over_stalled_syncs() == []  # the lease still runs: maybe only slow
    _wait_until_stalled(short_lease)

    # Anyone: the state only (still 200, the portal serves pages); an admin: which sync stalled.
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "degraded"})
    body = client_as(admin).get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["sync_lease"] == {"ok": False, "degraded": True, "stalled": ["initial_sync"]}

    assert sync_watchdog.take_over_stalled_syncs() == ["initial_sync"]  # beat runs it every minute
    assert time.monotonic() - killed_at < 1 + 60  # within one lease length and one watchdog period
    state = SyncState.objects.get(name=sync.SYNC_STATE)
    assert state.status == "done"
    assert Incident.objects.filter(pd_id="PTAKE1").exists()
    body = client_as(admin).get("/healthz").json()
    assert body["status"] == "ok" and body["sync_lease"]["degraded"] is False


def test_a_live_sync_keeps_its_lease_and_is_never_taken_over(client, short_lease):
    with lease.hold(sync.lease_name(sync.SYNC_STATE)) as held:
        assert held is True
        state = SyncState.objects.create(name=sync.SYNC_STATE, status="running")
        time.sleep(2.5)  # more than twice the lease: only the heartbeat keeps it
        assert state.updated_at < timezone.now() - timedelta(seconds=2)  # quiet long enough to count
        assert sync_watchdog.take_over_stalled_syncs() == []
        assert client.get("/healthz").json() == {"status": "ok"}
    assert SyncState.objects.get(name=sync.SYNC_STATE).status == "running"


def test_a_second_sync_is_refused_while_one_holds_the_lease(short_lease, fake_pd):
    from pdportal.pagerduty import PagerDutyClient, RequestBudget

    client = PagerDutyClient(token="t", api_url="https://api.pagerduty.test", budget=RequestBudget(per_minute=10**6))
    with lease.hold(sync.lease_name(sync.SYNC_STATE)), pytest.raises(sync.SyncAlreadyRunning):
        sync.sync_all(client=client)


def test_the_watchdog_is_on_the_beat_schedule(settings):
    tasks_scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert "incidents.sync_watchdog.take_over_stalled_syncs" in tasks_scheduled
    assert tasks.full_sync.name == "incidents.tasks.full_sync"


def test_a_sync_that_just_started_is_not_called_stalled(client, short_lease, settings):
    settings.SYNC_LEASE_SECONDS = 120
    SyncState.objects.create(name=sync.SYNC_STATE, status="running")  # its run is taking its lease right now
    assert sync_watchdog.stalled_syncs() == []
    assert client.get("/healthz").json() == {"status": "ok"}

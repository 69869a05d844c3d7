"""Background jobs: reconcile from log entries with a watermark, full sync, enrichment, scheduling and /healthz."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs, urlparse

import pytest
from django.utils import timezone

from incidents import signals, tasks, webhooks
from incidents.models import Incident, LogEntry
from pdportal.models import SyncState, WebhookEvent
from pdportal.pagerduty import PagerDutyError, format_time
from tests.live.conftest import mirror_hash, rest_incident

pytestmark = pytest.mark.django_db

WATERMARK = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def _log_entry(entry_id: str, incident_id: str) -> dict:
    return {
        "id": entry_id,
        "type": "acknowledge_log_entry",
        "summary": "Acknowledged by Rita",
        "created_at": "2026-11-20T10:01:00Z",
        "incident": {"id": incident_id, "type": "incident_reference"},
        "agent": {"id": "PUSR1", "type": "user_reference"},
        "channel": {"type": "web_ui"},
    }


def test_reconcile_refetches_the_incidents_named_by_new_log_entries_and_advances_the_watermark(fake_pd):
    recent = timezone.now() - timedelta(minutes=10)
    SyncState.objects.create(name="reconcile", watermark=recent)
    fake_pd.incidents["PREC1"] = rest_incident("PREC1", status="acknowledged", updated_at="2026-11-20T10:01:00Z")
    fake_pd.log_entries = [_log_entry("LACK1", "PREC1")]
    before = timezone.now()

    assert tasks.reconcile() == 1

    query = parse_qs(urlparse(fake_pd.log_queries[0]).query)
    assert query["since"] == [format_time(recent - tasks.RECONCILE_OVERLAP)]
    incident = Incident.objects.get(pd_id="PREC1")
    assert incident.status == "acknowledged"
    assert incident.alerts.count() == 1
    assert LogEntry.objects.filter(pd_id="LPREC1").exists()  # the incident's own log, refetched
    state = SyncState.objects.get(name="reconcile")
    assert state.status == "done"
    assert state.watermark >= before


def test_reconcile_keeps_the_watermark_when_a_refetch_fails_and_heals_on_the_next_run(fake_pd):
    SyncState.objects.create(name="reconcile", watermark=WATERMARK)
    fake_pd.log_entries = [_log_entry("LACK1", "PREC1")]
    fake_pd.failing.add("PREC1")

    with pytest.raises(PagerDutyError):
        tasks.reconcile()
    state = SyncState.objects.get(name="reconcile")
    assert state.watermark == WATERMARK
    assert state.status == "failed"
    assert "Invalid Input" in state.error

    fake_pd.failing.clear()
    assert tasks.reconcile() == 1
    assert Incident.objects.filter(pd_id="PREC1").exists()
    assert SyncState.objects.get(name="reconcile").watermark > WATERMARK


def test_reconcile_starts_from_the_full_sync_when_it_never_ran(fake_pd):
    SyncState.objects.create(name="initial_sync", status="done", watermark=WATERMARK)
    tasks.reconcile()
    query = parse_qs(urlparse(fake_pd.log_queries[0]).query)
    assert query["since"] == [format_time(WATERMARK - tasks.RECONCILE_OVERLAP)]


def test_full_sync_records_progress_and_tells_pages_to_resync(fake_pd):
    fake_pd.incidents["PFULL1"] = rest_incident("PFULL1")
    with mock.patch("incidents.tasks.live.publish") as publish:
        counts = tasks.full_sync()
    assert counts["incidents"] == 1
    state = SyncState.objects.get(name="initial_sync")
    assert state.status == "done"
    assert state.done == state.total and state.total > 0
    assert state.watermark is not None
    told = {(c.kwargs["topic"], c.kwargs["event"]) for c in publish.call_args_list if c.kwargs["topic"] != "sync"}
    assert told == {("incident", "resync"), ("service", "resync")}  # ("sync" topic: the progress bar)


def test_enrichment_is_idempotent(fake_pd):
    fake_pd.incidents["PENR1"] = rest_incident("PENR1", updated_at="2026-11-20T10:00:00Z")
    webhooks.enrich_incident("PENR1")
    first = mirror_hash()
    webhooks.enrich_incident("PENR1")
    assert mirror_hash() == first
    assert Incident.objects.get(pd_id="PENR1").alerts.count() == 1


def test_a_refetch_in_the_same_second_as_the_last_webhook_still_applies(fake_pd):
    Incident.objects.create(
        pd_id="PSEC1",
        number=1,
        title="old",
        status="triggered",
        created_at=WATERMARK,
        changed_at=datetime(2026, 11, 20, 10, 0, 0, 400_000, tzinfo=UTC),
    )
    fake_pd.incidents["PSEC1"] = rest_incident("PSEC1", status="resolved", updated_at="2026-11-20T10:00:00Z")
    webhooks.enrich_incident("PSEC1")
    incident = Incident.objects.get(pd_id="PSEC1")
    assert incident.status == "resolved"
    assert incident.changed_at == datetime(2026, 11, 20, 10, 0, 0, 400_000, tzinfo=UTC)


def test_an_older_refetch_does_not_regress_a_newer_row(fake_pd):
    Incident.objects.create(
        pd_id="POLD1",
        number=1,
        title="new",
        status="resolved",
        created_at=WATERMARK,
        changed_at=datetime(2026, 11, 20, 10, 0, 5, tzinfo=UTC),
    )
    fake_pd.incidents["POLD1"] = rest_incident("POLD1", status="triggered", updated_at="2026-11-20T10:00:03Z")
    webhooks.enrich_incident("POLD1")
    assert Incident.objects.get(pd_id="POLD1").status == "resolved"


def test_every_task_acknowledges_late():
    for task in (tasks.full_sync, tasks.reconcile, tasks.sweep_webhook_events, webhooks.enrich_incident):
        assert task.acks_late is True, task.name


def test_connecting_the_account_registers_the_webhook_and_starts_the_initial_sync(
    monkeypatch, django_capture_on_commit_callbacks
):
    from accounts.models import Connection

    with (
        mock.patch("services.tasks.ensure_webhook_subscription.delay") as ensure,
        mock.patch("incidents.tasks.full_sync.delay") as sync,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            connection = Connection.load()
            connection.mode = Connection.Mode.API_KEY
            connection.api_key = "encrypted"
            connection.save()
        assert ensure.call_count == 1 and sync.call_count == 1
        with django_capture_on_commit_callbacks(execute=True):
            connection.healthy = True
            connection.save(update_fields=["healthy"])  # a health check is not a new connection
        assert ensure.call_count == 1 and sync.call_count == 1


# -- /healthz ------------------------------------------------------------------------------------------------------


@pytest.fixture
def admin_health(client_as, admin):
    """/healthz's details are for admins; anonymous callers read only ok or failing (tests/security)."""
    return client_as(admin)


def test_healthz_reports_the_worker_heartbeat(admin_health):
    from pdportal.redis import get_redis
    from pdportal.tasks import HEARTBEAT_KEY, heartbeat

    get_redis().delete(HEARTBEAT_KEY)
    assert admin_health.get("/healthz").json()["worker"]["ok"] is False
    heartbeat()
    worker = admin_health.get("/healthz").json()["worker"]
    assert worker["ok"] is True
    assert worker["last_heartbeat_seconds_ago"] < 60


def test_healthz_reports_the_last_sync_and_the_last_webhook(admin_health):
    SyncState.objects.create(name="initial_sync", status="running", done=10, total=40)
    WebhookEvent.objects.create(event_id="E1", event_type="incident.triggered", payload={})
    body = admin_health.get("/healthz").json()
    assert body["last_sync"]["full_sync"]["status"] == "running"
    assert (body["last_sync"]["full_sync"]["done"], body["last_sync"]["full_sync"]["total"]) == (10, 40)
    assert body["last_webhook"]["event_type"] == "incident.triggered"
    assert body["last_webhook"]["unprocessed"] == 1
    received = datetime.fromisoformat(body["last_webhook"]["received_at"])
    assert timezone.now() - received < timedelta(minutes=1)


def test_healthz_flags_a_subscription_pagerduty_temporarily_disabled(admin_health, settings):
    from services.models import WebhookSubscription

    assert admin_health.get("/healthz").json()["webhook_subscription"]["state"] == "missing"
    sub = WebhookSubscription.objects.create(
        pd_id="PSUB1",
        url=f"{settings.PORTAL_URL}/hooks/pagerduty/",
        created_by_portal=True,
        raw={"delivery_method": {"temporarily_disabled": True}},
    )
    check = admin_health.get("/healthz").json()["webhook_subscription"]
    assert check["ok"] is False
    assert check["state"] == "temporarily_disabled"
    sub.raw = {"delivery_method": {"temporarily_disabled": False}}
    sub.save()
    assert admin_health.get("/healthz").json()["webhook_subscription"] == {
        "ok": True,
        "state": "active",
        "id": "PSUB1",
        "url": sub.url,
    }


def test_enrichment_does_not_replay_an_incident_event_the_refetch_superseded(
    fake_pd, post_webhook, django_capture_on_commit_callbacks
):
    from tests.live.conftest import incident_data, webhook

    acked = webhook(
        "incident.acknowledged",
        incident_data("PSUP1", status="acknowledged"),
        event_id="01EVTSUPERSEDED",
        occurred_at="2026-11-20T10:00:00.400Z",
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert post_webhook(acked).status_code == 202
    # Resolved 400 ms later; that webhook is still on its way, but the refetch already sees it.
    fake_pd.incidents["PSUP1"] = rest_incident("PSUP1", status="resolved", updated_at="2026-11-20T10:00:00Z")
    webhooks.enrich_incident("PSUP1")
    assert Incident.objects.get(pd_id="PSUP1").status == "resolved"
    assert WebhookEvent.objects.get(event_id="01EVTSUPERSEDED").processed_at is not None


def test_a_starting_worker_queues_the_initial_sync_and_the_webhook_check_once_connected(settings):
    settings.PAGERDUTY_API_TOKEN = ""
    with (
        mock.patch("services.tasks.ensure_webhook_subscription.delay") as ensure,
        mock.patch("incidents.tasks.full_sync.delay") as sync,
    ):
        assert signals.bootstrap_on_worker_start() == []  # not connected: nothing to do yet
        settings.PAGERDUTY_API_TOKEN = "account-key"
        assert signals.bootstrap_on_worker_start() == ["ensure_webhook_subscription", "full_sync"]
        SyncState.objects.create(name="initial_sync", status="done", watermark=WATERMARK)
        assert signals.bootstrap_on_worker_start() == ["ensure_webhook_subscription"]
    assert ensure.call_count == 2 and sync.call_count == 1


def test_reconcile_notices_a_subscription_pagerduty_temporarily_disabled(fake_pd, admin_health, settings):
    from services.models import WebhookSubscription

    url = f"{settings.PORTAL_URL}/hooks/pagerduty/"
    WebhookSubscription.objects.create(pd_id="PSUBX", url=url, created_by_portal=True, raw={})
    WebhookSubscription.objects.create(pd_id="PGONE", url=url, created_by_portal=True, raw={})
    fake_pd.subscriptions["PSUBX"] = {
        "id": "PSUBX",
        "type": "webhook_subscription",
        "active": True,
        "delivery_method": {"type": "http_delivery_method", "url": url, "temporarily_disabled": True},
        "events": ["incident.triggered"],
        "filter": {"type": "account_reference"},
    }
    assert admin_health.get("/healthz").json()["webhook_subscription"]["ok"] is True
    tasks.reconcile()
    check = admin_health.get("/healthz").json()["webhook_subscription"]
    assert check["state"] == "temporarily_disabled" and check["ok"] is False
    assert WebhookSubscription.objects.get(pd_id="PGONE").active is False


def test_reconcile_catches_up_a_long_outage_window_by_window(fake_pd):
    SyncState.objects.create(name="reconcile", watermark=WATERMARK)
    tasks.reconcile()
    query = parse_qs(urlparse(fake_pd.log_queries[0]).query)
    since = WATERMARK - tasks.RECONCILE_OVERLAP
    assert query["until"] == [format_time(since + tasks.RECONCILE_MAX_WINDOW + timedelta(seconds=1))]
    assert SyncState.objects.get(name="reconcile").watermark == since + tasks.RECONCILE_MAX_WINDOW


def test_reconcile_resumes_from_the_first_incident_it_had_no_time_for(fake_pd, monkeypatch):
    monkeypatch.setattr(tasks, "RECONCILE_MAX_INCIDENTS", 1)
    SyncState.objects.create(name="reconcile", watermark=WATERMARK)
    early, late = _log_entry("LE1", "PEARLY"), _log_entry("LE2", "PLATE")
    early["created_at"], late["created_at"] = "2026-11-20T09:10:00Z", "2026-11-20T09:20:00Z"
    fake_pd.log_entries = [late, early]  # PagerDuty lists newest first
    assert tasks.reconcile() == 1
    assert Incident.objects.filter(pd_id="PEARLY").exists()
    assert not Incident.objects.filter(pd_id="PLATE").exists()
    assert SyncState.objects.get(name="reconcile").watermark == datetime(2026, 11, 20, 9, 20, tzinfo=UTC)


def test_it_configures_celery_to_acknowledge_late_requeue_on_worker_loss_and_prefetch_one():
    from pdportal.celery import app

    assert app.conf.task_acks_late is True
    assert app.conf.task_reject_on_worker_lost is True
    assert app.conf.worker_prefetch_multiplier == 1
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled >= {
        "incidents.tasks.reconcile",
        "incidents.tasks.full_sync",
        "incidents.tasks.sweep_webhook_events",
        "services.tasks.ensure_webhook_subscription",
        "pdportal.tasks.heartbeat",
    }
    app.loader.import_default_modules()
    assert scheduled <= set(app.tasks), scheduled - set(app.tasks)


# -- the unprocessed-event sweep -----------------------------------------------------------------------------------


def _stored_event(event_id: str, pd_id: str, minutes_ago: int) -> WebhookEvent:
    event = WebhookEvent.objects.create(
        event_id=event_id,
        event_type="incident.triggered",
        resource_type="incident",
        resource_id=pd_id,
        payload={"event": {"id": event_id, "data": {"id": pd_id, "type": "incident"}}},
        applied_at=timezone.now(),  # the consumer applied it; only its enrichment is missing
    )
    WebhookEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=minutes_ago))
    return event


def test_it_sweeps_past_a_poison_event_and_gives_it_up_after_a_few_attempts(fake_pd):
    poison = _stored_event("01EVTPOISON", "PPOISON", minutes_ago=5)
    good = _stored_event("01EVTGOOD", "PGOOD", minutes_ago=4)
    fake_pd.failing.add("PPOISON")  # PagerDuty answers 400 for this one, every time

    assert tasks.sweep_webhook_events(grace_seconds=0) == 1
    good.refresh_from_db()
    assert good.processed_at is not None
    assert Incident.objects.filter(pd_id="PGOOD").exists()
    poison.refresh_from_db()
    assert poison.processed_at is None
    assert poison.attempts == 1
    assert "Invalid Input" in poison.error

    for _ in range(tasks.SWEEP_MAX_ATTEMPTS - 1):
        tasks.sweep_webhook_events(grace_seconds=0)
    poison.refresh_from_db()
    assert poison.attempts == tasks.SWEEP_MAX_ATTEMPTS
    assert poison.processed_at is not None  # given up, with its error kept for the record
    assert "Invalid Input" in poison.error
    assert tasks.sweep_webhook_events(grace_seconds=0) == 0


def test_it_leaves_an_event_whose_refetch_failed_transiently_for_the_next_sweep(fake_pd):
    from pdportal.pagerduty import ServerError

    flaky = _stored_event("01EVTFLAKY", "PFLAKY", minutes_ago=5)
    good = _stored_event("01EVTGOOD2", "PGOOD2", minutes_ago=4)
    real = tasks.refetch_incident

    def refetch(*, client, pd_id):
        if pd_id == "PFLAKY":
            raise ServerError("Service Unavailable", status=503)
        return real(client=client, pd_id=pd_id)

    with mock.patch("incidents.tasks.refetch_incident", side_effect=refetch):
        for _ in range(tasks.SWEEP_MAX_ATTEMPTS + 1):
            tasks.sweep_webhook_events(grace_seconds=0)
    flaky.refresh_from_db()
    assert (flaky.processed_at, flaky.attempts, flaky.error) == (None, 0, "")
    good.refresh_from_db()
    assert good.processed_at is not None
    assert tasks.sweep_webhook_events(grace_seconds=0) == 1  # PagerDuty is back
    flaky.refresh_from_db()
    assert flaky.processed_at is not None


# -- single-flight locks --------------------------------------------------------------------------------------------


@pytest.fixture
def locks(redis_url):
    from pdportal.redis import get_redis

    client = get_redis()
    names = ["full_sync", "reconcile", "sweep_webhook_events", "renewal-test"]
    for name in names:
        client.delete(f"pdportal:lock:{name}")
    yield client
    for name in names:
        client.delete(f"pdportal:lock:{name}")


def test_it_lets_a_redelivered_task_take_over_the_lock_its_killed_worker_left(fake_pd, locks):
    fake_pd.incidents["PREDEL1"] = rest_incident("PREDEL1")
    # The worker running task "t-killed" died mid-sync: its lock is still there (nobody renews it any more, so it
    # lapses within one TTL; here, in a second), and SyncState says running.
    locks.set("pdportal:lock:full_sync", "t-killed", ex=1)
    SyncState.objects.create(name="initial_sync", status="running")

    # acks_late + reject_on_worker_lost: the broker hands the same task (same id) to another worker.
    counts = tasks.full_sync.apply(task_id="t-killed").get()
    assert counts["incidents"] == 1
    state = SyncState.objects.get(name="initial_sync")
    assert state.status == "done"
    assert Incident.objects.filter(pd_id="PREDEL1").exists()
    assert locks.get("pdportal:lock:full_sync") is None  # released when the run finished


def test_it_still_skips_a_run_while_another_task_holds_the_lock(fake_pd, locks):
    locks.set("pdportal:lock:full_sync", "t-running", ex=3600)
    assert tasks.full_sync.apply(task_id="t-other").get() == {}
    assert locks.get("pdportal:lock:full_sync") == b"t-running"
    assert not SyncState.objects.filter(name="initial_sync", status="done").exists()


def test_a_duplicate_delivery_never_runs_beside_the_original(locks):
    # The broker's visibility timeout ran out while "t-dup" still runs: the same task id is delivered again.
    key = "pdportal:lock:renewal-test"
    with tasks._single_flight("renewal-test", holder="t-dup", ttl=1) as original:
        assert original is True
        with tasks._single_flight("renewal-test", holder="t-dup", ttl=1) as duplicate:
            assert duplicate is False  # the original's renewals kept the lock through the wait
        assert locks.get(key) == b"t-dup"  # the duplicate did not release the original's lock
    assert locks.get(key) is None


def test_it_keeps_a_short_lock_alive_while_its_holder_runs(locks):
    key = "pdportal:lock:renewal-test"
    with tasks._single_flight("renewal-test", holder="t-long", ttl=1) as acquired:
        assert acquired is True
        assert 0 < locks.ttl(key) <= 1
        time.sleep(2.0)  # twice the TTL: only the renewals keep it
        assert locks.get(key) == b"t-long"
    assert locks.get(key) is None

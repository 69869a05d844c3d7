"""Celery tasks of the incidents mirror: full sync, reconcile, webhook enrichment and the unprocessed-event sweep.

Every task takes ids, is idempotent (mirror upserts keyed by PagerDuty id and guarded by change time), runs
with acks_late, and is enqueued with transaction.on_commit by its callers (see the `schedule_*` helpers).
"""

from __future__ import annotations

import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from celery.signals import worker_ready
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from incidents import mirror
from incidents.models import Incident
from incidents.outcomes import settle_incident_writes
from pdportal import health, lease, live
from pdportal.models import SyncState, WebhookEvent
from pdportal.pagerduty import NetworkError, PagerDutyError, RateLimited, ServerError, format_time

logger = logging.getLogger(__name__)

RECONCILE_STATE = "reconcile"
FULL_SYNC_STATE = "initial_sync"
# Log entries are read from a little before the watermark: PagerDuty's list is eventually consistent.
RECONCILE_OVERLAP = timedelta(seconds=60)
# Without any watermark (no sync ever finished), reconcile looks back this far.
RECONCILE_DEFAULT_LOOKBACK = timedelta(hours=24)
RECONCILE_MAX_INCIDENTS = 500
RECONCILE_MAX_WINDOW = timedelta(hours=6)
# An unprocessed event younger than this is probably still in the broker queue.
SWEEP_GRACE = timedelta(seconds=30)
SWEEP_BATCH = 200
# Sweeps that try an event failing with a non-transient error before it is given up (processed, error kept).
SWEEP_MAX_ATTEMPTS = 3

TRANSIENT = (NetworkError, ServerError, RateLimited)


# Overlapping runs of a task exclude each other through a lease with a heartbeat (pdportal/lease.py).
_single_flight = lease.hold


def _account_client():
    from accounts.clients import account_client

    return account_client()


# -- refetching one incident -----------------------------------------------------------------------------------


def _rest_changed_at(instance: Any, data: dict[str, Any]) -> datetime | None:
    """The change time to store for a REST refetch of `instance`.

    PagerDuty's REST `updated_at` has whole seconds while a webhook's `occurred_at` has milliseconds: a refetch
    in the same second as the last webhook must still apply (it is at least as new), keeping the finer time.
    """
    updated = mirror.parse_time(data.get("updated_at"))
    stored = getattr(instance, "changed_at", None)
    if updated is None or stored is None:
        return updated
    if updated >= stored.replace(microsecond=0):
        return max(updated, stored)
    return updated


def refetch_incident(*, client, pd_id: str) -> Incident | None:
    """Refetch one incident, its alerts, notes and log entries from PagerDuty and upsert them."""
    from incidents.sync import sync_incident_details

    try:
        # Get Incident declares no time_zone parameter, so none is sent (nor by the sync's list, so both store
        # the same JSON); the mirror parses times whatever their offset.
        data = client.get_entity(f"/incidents/{pd_id}")
    except PagerDutyError as exc:
        if exc.status == 404:
            return Incident.objects.filter(pd_id=pd_id).first()
        raise
    existing = Incident.objects.filter(pd_id=pd_id).first()
    # What a webhook is about is recent: the entries since shortly before our last known change (the whole
    # history came with the sync or an earlier refetch), one page.
    params: dict[str, Any] = {"limit": 100}
    if existing is not None and existing.changed_at is not None:
        params["since"] = format_time(existing.changed_at - timedelta(minutes=10))
    log_entries = client.get(f"/incidents/{pd_id}/log_entries", params).get("log_entries", [])
    with transaction.atomic():
        existing = Incident.objects.filter(pd_id=pd_id).first()
        incident = mirror.upsert_incident(data, changed_at=_rest_changed_at(existing, data))
    sync_incident_details(client=client, incident_ids=[pd_id], concurrency=1)
    if incident is not None:
        with transaction.atomic():
            refs = mirror.Refs()
            for entry in log_entries:
                mirror.upsert_log_entry(entry, incident=incident, refs=refs)
    read_unknown_teams(client=client)
    return incident


# A webhook can name a team the mirror has not read yet; at most this many are read per refetch.
UNKNOWN_TEAMS_PER_RUN = 10


def read_unknown_teams(*, client, limit: int = UNKNOWN_TEAMS_PER_RUN) -> int:
    """Read the teams known only by reference (their visibility unknown, so private meanwhile); returns how many.

    Until PagerDuty says a team is public, its objects are hidden from non-members (accounts.visibility): this
    makes that wait seconds (the webhook's refetch) rather than until the nightly sync.
    """
    from accounts.models import Team

    unknown = list(Team.objects.filter(default_role="").values_list("pd_id", flat=True)[:limit])
    for team_id in unknown:
        try:
            data = client.get_entity(f"/teams/{team_id}")
        except PagerDutyError as exc:
            if exc.status == 404:
                # Gone, or not visible to the account connection: keep it private, and stop asking.
                Team.objects.filter(pd_id=team_id, default_role="").update(default_role=Team.PRIVATE)
            else:
                logger.info("could not read team %s: %s", team_id, exc)
            continue
        with transaction.atomic():
            mirror.upsert_team(data)
    return len(unknown)


def _publish_incidents(ids: list[str], event: str) -> None:
    if not ids:
        return
    assignees = list(
        Incident.assignees.through.objects.filter(incident__pd_id__in=ids).values_list(
            "pagerdutyuser__pd_id", flat=True
        )
    )
    services = list(
        Incident.objects.filter(pd_id__in=ids, service__isnull=False).values_list("service__pd_id", flat=True)
    )
    live.publish(topic="incident", ids=ids, event=event, assignees=assignees, related={"service": services})


@shared_task(
    name="incidents.tasks.enrich_incident",
    acks_late=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=6,
)
def enrich_incident(pd_id: str) -> None:
    """After a webhook: refetch what its payload lacks (alerts, notes, log entries) and mark the events processed."""
    from incidents.webhooks import enrichment_pending_key
    from pdportal.redis import get_redis

    # Clear the pending mark before noting the start: an event arriving from now on queues its own refetch,
    # and every event received before `started` is covered by this one.
    with contextlib.suppress(Exception):
        get_redis().delete(enrichment_pending_key(pd_id))
    started = timezone.now()
    pending = WebhookEvent.objects.filter(resource_id=pd_id, processed_at__isnull=True, received_at__lte=started)
    latest_type = pending.order_by("-occurred_at", "-pk").values_list("event_type", flat=True).first()
    client = _account_client()
    refetch_incident(client=client, pd_id=pd_id)
    from incidents.webhooks import reapply_pending

    reapply_pending(pd_id=pd_id, received_before=started)
    settle_incident_writes(pd_id=pd_id, by="webhook")  # a write PagerDuty did not answer shows up here
    # Every event received before the refetch began is covered by what the refetch read.
    WebhookEvent.objects.filter(resource_id=pd_id, processed_at__isnull=True, received_at__lte=started).update(
        processed_at=timezone.now()
    )
    # Named after the event that caused it, with the refetched assignees: a page that could not tell from the
    # webhook payload whom the incident is assigned to can still notify the right person (pages dedupe).
    _publish_incidents([pd_id], latest_type or "enriched")


@shared_task(name="incidents.tasks.sweep_webhook_events", bind=True, acks_late=True, ignore_result=True)
def sweep_webhook_events(self, *, grace_seconds: float | None = None) -> int:
    """Apply stored events no consumer applied yet, then process those whose enrichment never ran (broker down,
    worker lost); returns how many were enriched.

    A transient failure (network, 5xx, 429) leaves the event for the next sweep. Any other failure (403, 400,
    no account connection...) is recorded on the event and counted; after SWEEP_MAX_ATTEMPTS sweeps the event
    is marked processed with its error (reconcile heals the incident). Either way the sweep goes on to the next
    events: taken oldest first, one poison event must not hold back every later one.
    """
    grace = SWEEP_GRACE if grace_seconds is None else timedelta(seconds=grace_seconds)
    from incidents.webhooks import drain  # why: webhooks imports this module's tasks

    # The backup consumer: events stored while no web process drained them (its thread died, or
    # WEBHOOK_CONSUMER=sweep) are applied and published first, in occurred_at order.
    drain()
    with _single_flight("sweep_webhook_events", holder=self.request.id) as acquired:
        if not acquired:
            return 0
        cutoff = timezone.now() - grace
        pending = list(
            WebhookEvent.objects.filter(processed_at__isnull=True, received_at__lte=cutoff)
            .order_by("received_at")
            .values("pk", "event_type", "resource_id")[:SWEEP_BATCH]
        )
        if not pending:
            return 0
        from incidents.webhooks import needs_enrichment, reapply_pending

        client = None
        processed = 0
        refetched: set[str] = set()
        failed: dict[str, str] = {}  # pd_id -> error: one failed refetch per incident and sweep
        for row in pending:
            pd_id = row["resource_id"]
            if needs_enrichment(row["event_type"]) and pd_id and pd_id not in refetched:
                error = failed.get(pd_id)
                if error is None:
                    try:
                        if client is None:
                            client = _account_client()
                        refetch_incident(client=client, pd_id=pd_id)
                    except TRANSIENT as exc:
                        logger.warning("sweep: refetch of %s failed (%s); will retry on the next sweep", pd_id, exc)
                        continue
                    except Exception as exc:  # noqa: BLE001 - recorded on the event, see the docstring
                        error = failed[pd_id] = f"{type(exc).__name__}: {exc}"[:2000]
                        logger.warning("sweep: refetch of %s failed: %s", pd_id, error)
                if error is not None:
                    _record_sweep_failure(row["pk"], error)
                    continue
                reapply_pending(pd_id=pd_id, received_before=cutoff)
                refetched.add(pd_id)
            processed += WebhookEvent.objects.filter(pk=row["pk"], processed_at__isnull=True).update(
                processed_at=timezone.now()
            )
        _publish_incidents(sorted(refetched), "swept")
        return processed


def _record_sweep_failure(pk: int, error: str) -> None:
    """Count a failed attempt on the event; the last allowed one marks it processed, keeping the error."""
    event = WebhookEvent.objects.filter(pk=pk, processed_at__isnull=True).first()
    if event is None:
        return
    event.attempts += 1
    event.error = error
    if event.attempts >= SWEEP_MAX_ATTEMPTS:
        event.processed_at = timezone.now()
        logger.warning("sweep: gave up on webhook %s after %d attempts: %s", event.event_id, event.attempts, error)
    event.save(update_fields=["attempts", "error", "processed_at"])


@shared_task(name="incidents.tasks.full_sync", bind=True, acks_late=True, ignore_result=True)
def full_sync(self) -> dict[str, int]:
    """The initial and nightly full sync (progress in SyncState "initial_sync", shown by the UI and /healthz)."""
    from incidents.sync import sync_all

    with _single_flight("full_sync", holder=self.request.id) as acquired:
        if not acquired:
            logger.info("full sync already running; skipped")
            return {}
        report = sync_all(client=_account_client())
    live.publish(topic="incident", event="resync")
    live.publish(topic="service", event="resync")
    return dict(report.counts)


def _reconcile_since() -> datetime:
    state = SyncState.objects.filter(name=RECONCILE_STATE).first()
    if state is not None and state.watermark is not None:
        return state.watermark - RECONCILE_OVERLAP
    synced = SyncState.objects.filter(name=FULL_SYNC_STATE, watermark__isnull=False).first()
    if synced is not None:
        return synced.watermark - RECONCILE_OVERLAP
    return timezone.now() - RECONCILE_DEFAULT_LOOKBACK


@shared_task(name="incidents.tasks.reconcile", bind=True, acks_late=True, ignore_result=True)
def reconcile(self) -> int:
    """Heal missed webhooks: read log entries since the watermark and refetch the incidents they name.

    The watermark (SyncState "reconcile") advances to this run's start only after everything succeeded, so a
    failed run is simply repeated from the same point. Returns how many incidents were refetched.
    """
    with _single_flight("reconcile", holder=self.request.id) as acquired:
        if not acquired:
            return 0
        started = timezone.now()
        state, _ = SyncState.objects.get_or_create(name=RECONCILE_STATE)
        since = _reconcile_since()
        # A long outage is caught up window by window (PagerDuty lists at most 10,000 records per query).
        until = min(started, since + RECONCILE_MAX_WINDOW)
        SyncState.objects.filter(pk=state.pk).update(status="running", started_at=started, error="", done=0)
        try:
            client = _account_client()
            entries = client.list_all(
                "/log_entries",
                {"since": format_time(since), "until": format_time(until + timedelta(seconds=1))},
            )
            first_seen: dict[str, datetime] = {}
            for entry in entries:
                pd_id = (entry.get("incident") or {}).get("id")
                at = mirror.parse_time(entry.get("created_at")) or until
                if pd_id and (pd_id not in first_seen or at < first_seen[pd_id]):
                    first_seen[pd_id] = at
            known = set(Incident.objects.filter(pd_id__in=list(first_seen)).values_list("pd_id", flat=True))
            with transaction.atomic():
                refs = mirror.Refs()
                for entry in entries:
                    if (entry.get("incident") or {}).get("id") in known:
                        mirror.upsert_log_entry(entry, refs=refs)
            ordered = sorted(first_seen, key=lambda i: first_seen[i])
            incident_ids, skipped = ordered[:RECONCILE_MAX_INCIDENTS], ordered[RECONCILE_MAX_INCIDENTS:]
            watermark = until
            if skipped:
                # Resume from the first incident left for the next run (and always move forward).
                watermark = max(min(first_seen[i] for i in skipped), since + RECONCILE_OVERLAP + timedelta(seconds=1))
            SyncState.objects.filter(pk=state.pk).update(total=len(incident_ids))
            for done, pd_id in enumerate(incident_ids, start=1):
                refetch_incident(client=client, pd_id=pd_id)
                SyncState.objects.filter(pk=state.pk).update(done=done)
        except Exception as exc:
            SyncState.objects.filter(pk=state.pk).update(
                status="failed", error=str(exc)[:2000], finished_at=timezone.now()
            )
            logger.warning("reconcile failed (watermark kept at %s): %s", since, exc)
            raise
        SyncState.objects.filter(pk=state.pk).update(
            status="done", watermark=watermark, finished_at=timezone.now(), error=""
        )
        _publish_incidents(incident_ids, "reconciled")
        refresh_subscription_state(client=client)
        return len(incident_ids)


def refresh_subscription_state(*, client) -> None:
    """Re-read the portal's own webhook subscriptions (one request each), so /healthz and the Webhooks page
    notice when PagerDuty temporarily disabled delivery (the hourly registration check re-enables it)."""
    from services.mirror import upsert_webhook_subscription
    from services.models import WebhookSubscription

    for pd_id in WebhookSubscription.objects.filter(created_by_portal=True).values_list("pd_id", flat=True):
        try:
            data = client.get_entity(f"/webhook_subscriptions/{pd_id}")
        except PagerDutyError as exc:
            if exc.status == 404:
                # Deleted in PagerDuty: no longer delivering; the registration check makes a new one.
                WebhookSubscription.objects.filter(pd_id=pd_id).update(active=False)
                continue
            logger.warning("webhook subscription %s: state not refreshed: %s", pd_id, exc)
            continue
        upsert_webhook_subscription(data)


# -- enqueueing (always after commit) ----------------------------------------------------------------------------


def schedule_full_sync() -> None:
    transaction.on_commit(lambda: full_sync.delay())


def schedule_after_connection() -> None:
    """Once the account connection is set up: register the webhook subscription, then the initial sync."""
    from services.tasks import ensure_webhook_subscription

    transaction.on_commit(lambda: ensure_webhook_subscription.delay())
    transaction.on_commit(lambda: full_sync.delay())


def _on_connection_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    # A health check saves only its own columns; a new or changed connection is a full save.
    if update_fields is not None or instance.mode == "none":
        return
    schedule_after_connection()


def bootstrap_on_worker_start(**kwargs) -> list[str]:
    """When a worker starts: the initial sync if none finished yet, and the webhook subscription check.

    With the API key in the environment (PAGERDUTY_API_TOKEN) no connection is ever saved, and beat's first
    nightly sync or hourly registration would be a day or an hour away. Returns what was queued.
    """
    from accounts.errors import NoAccountConnection
    from accounts.selectors import connection_mode
    from services.tasks import ensure_webhook_subscription

    try:
        if connection_mode() == "none":
            return []
    except NoAccountConnection:
        return []
    queued = ["ensure_webhook_subscription"]
    ensure_webhook_subscription.delay()
    synced = SyncState.objects.filter(name=FULL_SYNC_STATE, watermark__isnull=False).exists()
    if not synced:
        full_sync.delay()
        queued.append("full_sync")
    return queued


worker_ready.connect(bootstrap_on_worker_start, dispatch_uid="incidents.tasks.bootstrap_on_worker_start")
post_save.connect(_on_connection_saved, sender="accounts.Connection", dispatch_uid="incidents.tasks.on_connection")


# -- /healthz --------------------------------------------------------------------------------------------------------


@health.register("worker")
def check_worker() -> dict:
    from django.conf import settings

    from pdportal.tasks import HEARTBEAT_KEY

    if not settings.REDIS_URL:
        return {"ok": False, "error": "REDIS_URL is not set"}
    from pdportal.redis import get_redis

    try:
        value = get_redis().get(HEARTBEAT_KEY)
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)}
    if value is None:
        return {"ok": False, "error": "No heartbeat from a Celery worker in the last 5 minutes (is beat running?)."}
    age = max(time.time() - float(value), 0.0)
    return {"ok": age < 120, "last_heartbeat_seconds_ago": round(age, 1)}


def _state_json(state: SyncState | None) -> dict:
    if state is None:
        return {"status": "never"}
    return {
        "status": state.status,
        "done": state.done,
        "total": state.total,
        "started_at": state.started_at.isoformat() if state.started_at else None,
        "finished_at": state.finished_at.isoformat() if state.finished_at else None,
        "watermark": state.watermark.isoformat() if state.watermark else None,
        "error": state.error,
    }


@health.register("last_sync")
def check_last_sync() -> dict:
    states = {s.name: s for s in SyncState.objects.filter(name__in=[FULL_SYNC_STATE, RECONCILE_STATE])}
    full, rec = states.get(FULL_SYNC_STATE), states.get(RECONCILE_STATE)
    ok = full is not None and (full.status in ("done", "running") or full.watermark is not None)
    return {"ok": bool(ok), "full_sync": _state_json(full), "reconcile": _state_json(rec)}

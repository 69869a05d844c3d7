"""Celery tasks of the incidents mirror: full sync, reconcile and the unprocessed-event sweep (webhook enrichment,
queued by the consumer, lives beside it in incidents/webhooks.py).

The work itself lives with its subject (incidents/refetch.py, incidents/sync.py, incidents/webhooks.py); the
signals that start tasks are in incidents/signals.py, the /healthz checks in incidents/health.py.

Every task takes ids, is idempotent (mirror upserts keyed by PagerDuty id and guarded by change time), runs
with acks_late, and is enqueued with transaction.on_commit by its callers (see the `schedule_*` helpers).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from accounts.clients import account_client
from accounts.models import PagerDutyUser, Team
from incidents import mirror
from incidents.models import Incident
from incidents.refetch import publish_incidents, refetch_incident
from incidents.sync import SyncAlreadyRunning, sync_all
from incidents.webhooks import drain, needs_enrichment, reapply_pending
from pdportal import lease, live
from pdportal.models import SyncState, WebhookEvent
from pdportal.pagerduty import TRANSIENT, format_time
from services.actions import refresh_subscription_state
from services.tasks import ensure_webhook_subscription

logger = logging.getLogger(__name__)

RECONCILE_STATE = "reconcile"
FULL_SYNC_STATE = "initial_sync"
MEMBERSHIP_STATE = "memberships"
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


# Overlapping runs of a task exclude each other through a lease with a heartbeat (pdportal/lease.py).
_single_flight = lease.hold


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
                            client = account_client()
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
        publish_incidents(sorted(refetched), "swept")
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
    with _single_flight("full_sync", holder=self.request.id) as acquired:
        if not acquired:
            logger.info("full sync already running; skipped")
            return {}
        report = sync_all(client=account_client())
    live.publish(topic="incident", event="resync")
    live.publish(topic="service", event="resync")
    return dict(report.counts)


def _memberships() -> tuple[frozenset[tuple[int, int]], frozenset[tuple[int, str]]]:
    """Who is on which team, and which teams are private: everything a person's visibility scope is made of."""
    through = PagerDutyUser.teams.through
    return (
        frozenset(through.objects.values_list("pagerdutyuser_id", "team_id")),
        frozenset(Team.objects.values_list("pk", "default_role")),
    )


@shared_task(name="incidents.tasks.refresh_memberships", bind=True, acks_late=True, ignore_result=True)
def refresh_memberships(self) -> dict[str, int]:
    """Read teams and people again (MEMBERSHIP_REFRESH_SECONDS, 15 min by default): who is on which team and which
    teams are private decide what each person sees, and PagerDuty sends no webhook when they change.

    Costs one listing of /teams and one of /users (100 per page) per run. When anything changed, open pages resync,
    so a person removed from a private team stops seeing its incidents at once.
    """
    with _single_flight("refresh_memberships", holder=self.request.id) as acquired:
        if not acquired:
            return {}
        before = _memberships()
        try:
            report = sync_all(client=account_client(), state_name=MEMBERSHIP_STATE, steps=("teams", "users"))
        except SyncAlreadyRunning:
            return {}
        changed = _memberships() != before
    if changed:
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
            client = account_client()
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
        publish_incidents(incident_ids, "reconciled")
        refresh_subscription_state(client=client)
        return len(incident_ids)


# -- enqueueing (always after commit) ----------------------------------------------------------------------------


def schedule_full_sync() -> None:
    transaction.on_commit(lambda: full_sync.delay())


def schedule_after_connection() -> None:
    """Once the account connection is set up: register the webhook subscription, then the initial sync."""
    transaction.on_commit(lambda: ensure_webhook_subscription.delay())
    transaction.on_commit(lambda: full_sync.delay())


# -- /healthz --------------------------------------------------------------------------------------------------------

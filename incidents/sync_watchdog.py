"""Syncs that survive a dead worker: a running sync whose lease lapsed is reported degraded and taken over.

A killed worker's Celery message is redelivered only after the broker's visibility timeout (an hour); the sync's
lease (pdportal/lease.py) lapses within SYNC_LEASE_SECONDS, and this watchdog, run by beat every minute, starts
a new run then.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from incidents import tasks
from incidents.sync import SYNC_STATE, lease_name
from pdportal import health, lease
from pdportal.models import SyncState

logger = logging.getLogger(__name__)

RECONCILE_STATE = "reconcile"
# SyncState name -> the lease its live run keeps alive (reconcile runs under its task's single-flight lease).
WATCHED = {SYNC_STATE: lease_name(SYNC_STATE), RECONCILE_STATE: RECONCILE_STATE}


def stalled_syncs() -> list[SyncState]:
    """Syncs that say "running" while nobody renews their lease: their worker died (or Redis lost the key).

    A run that wrote its state within one lease length is not stalled yet: a dead worker's lease takes that long
    to lapse anyway, and a state written moments ago may belong to a run still taking its lease.
    """
    quiet_since = timezone.now() - timedelta(seconds=lease.lease_seconds())
    running = list(SyncState.objects.filter(name__in=WATCHED, status="running", updated_at__lt=quiet_since))
    return [state for state in running if lease.is_held(WATCHED[state.name]) is False]


@shared_task(name="incidents.sync_watchdog.take_over_stalled_syncs", acks_late=True, ignore_result=True)
def take_over_stalled_syncs() -> list[str]:
    """Mark each stalled sync and start a new run of it; returns the names taken over."""
    taken = []
    for state in stalled_syncs():
        step = (state.progress or {}).get("step") or "its start"
        note = (
            f"The worker running this sync stopped (no heartbeat for {lease.lease_seconds()} s) at {step}; "
            f"a new run took over at {timezone.now():%H:%M:%S} UTC."
        )
        # Only the state we saw: a run that finished or restarted meanwhile is left alone.
        if not SyncState.objects.filter(pk=state.pk, status="running", started_at=state.started_at).update(
            status="stalled", error=note, finished_at=timezone.now()
        ):
            continue
        logger.warning("sync %s stalled; taking over", state.name)
        (tasks.full_sync if state.name == SYNC_STATE else tasks.reconcile).delay()
        taken.append(state.name)
    return taken


@health.register("sync_lease")
def check_sync_lease() -> dict:
    """Degraded (not failing) while a sync is stalled: pages still work from the mirror, which is not refreshed."""
    stalled = stalled_syncs()
    names = [s.name for s in stalled] + list(
        SyncState.objects.filter(name__in=WATCHED, status="stalled").values_list("name", flat=True)
    )
    return {"ok": not names, "degraded": bool(names), "stalled": sorted(set(names))}

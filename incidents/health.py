"""The incidents app's /healthz checks: the worker's heartbeat, the last sync and reconcile, the last webhook."""

from __future__ import annotations

import time

from django.conf import settings

from incidents.tasks import FULL_SYNC_STATE, RECONCILE_STATE
from pdportal import health
from pdportal.models import SyncState, WebhookEvent
from pdportal.redis import get_redis
from pdportal.tasks import HEARTBEAT_KEY


@health.register("worker")
def check_worker() -> dict:
    if not settings.REDIS_URL:
        return {"ok": False, "error": "REDIS_URL is not set"}
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


@health.register("last_webhook")
def check_last_webhook() -> dict:
    latest = WebhookEvent.objects.order_by("-received_at").values("received_at", "event_type").first()
    backlog = WebhookEvent.objects.filter(processed_at__isnull=True).count()
    # Stored but not yet in the mirror: the consumer's queue (normally empty within a fraction of a second).
    unapplied = WebhookEvent.objects.filter(applied_at__isnull=True).count()
    if latest is None:
        return {"ok": True, "received_at": None, "unprocessed": backlog, "unapplied": unapplied}
    return {
        "ok": True,
        "received_at": latest["received_at"].isoformat(),
        "event_type": latest["event_type"],
        "unprocessed": backlog,
        "unapplied": unapplied,
    }

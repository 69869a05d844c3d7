"""What starts the incidents tasks on its own: a saved account connection, and a worker coming up (connected in
IncidentsConfig.ready)."""

from __future__ import annotations

from typing import Any

from accounts.errors import NoAccountConnection
from accounts.models import Connection
from accounts.selectors import connection_mode
from incidents.tasks import FULL_SYNC_STATE, full_sync, schedule_after_connection
from pdportal.models import SyncState
from services.tasks import ensure_webhook_subscription


def on_connection_saved(
    sender: type[Connection], instance: Connection, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    """A new or changed account connection registers the webhook subscription and starts the initial sync."""
    # A health check saves only its own columns; a new or changed connection is a full save.
    if update_fields is not None or instance.mode == "none":
        return
    schedule_after_connection()


def bootstrap_on_worker_start(**kwargs: Any) -> list[str]:
    """When a worker starts: the initial sync if none finished yet, and the webhook subscription check.

    With the API key in the environment (PAGERDUTY_API_TOKEN) no connection is ever saved, and beat's first
    nightly sync or hourly registration would be a day or an hour away. Returns what was queued.
    """
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

"""Celery tasks of the services app: keep the portal's own webhook subscription registered and healthy."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings
from django.db import transaction

from accounts.clients import account_client
from accounts.errors import NoAccountConnection
from pdportal.models import SyncState
from pdportal.pagerduty import PagerDutyError

from .actions import webhook_subscription_ensure
from .oncall_mirror import ONCALL_STATE, oncalls_refresh

logger = logging.getLogger(__name__)


@shared_task(name="services.tasks.ensure_webhook_subscription", acks_late=True, ignore_result=True)
def ensure_webhook_subscription() -> str:
    """Create or repair the account subscription to PORTAL_URL/hooks/pagerduty/ (idempotent; safe to repeat)."""

    if not settings.PAGERDUTY_WEBHOOKS:
        # PagerDuty cannot reach PORTAL_URL: a subscription would only fail and be disabled. Reconcile follows
        # PagerDuty's log instead (settings.RECONCILE_SECONDS).
        return "polling"
    try:
        result = webhook_subscription_ensure(client=account_client())
    except NoAccountConnection as exc:
        # Nothing to register against yet; the hourly schedule tries again once an admin connects the portal.
        logger.info("webhook registration skipped: %s", exc)
        return "not-connected"
    except PagerDutyError as exc:
        logger.warning("webhook registration failed: %s", exc)
        raise
    if result.action != "unchanged":
        logger.info("webhook subscription %s: %s %s", result.action, result.subscription, "; ".join(result.details))
    return result.action


@shared_task(name="services.tasks.refresh_oncalls", acks_late=True, ignore_result=True)
def refresh_oncalls() -> str:
    """Re-read who is on call (GET /oncalls) and the stalest schedules; idempotent, so a repeat is harmless."""

    try:
        result = oncalls_refresh(client=account_client())
    except NoAccountConnection as exc:
        logger.info("on-call refresh skipped: %s", exc)
        return "not-connected"
    except PagerDutyError as exc:
        # finished_at stays the last success: the on-call page says how old its data is, and that it failed.
        SyncState.objects.update_or_create(name=ONCALL_STATE, defaults={"status": "failed", "error": str(exc)[:2000]})
        logger.warning("on-call refresh failed: %s", exc)
        raise
    return f"{result.oncalls} on-calls"


def schedule_oncall_refresh() -> None:
    """Ask the worker for a refresh once the current transaction (if any) commits."""

    transaction.on_commit(lambda: refresh_oncalls.delay())

"""Celery tasks of the services app: keep the portal's own webhook subscription registered and healthy."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

logger = logging.getLogger(__name__)


@shared_task(name="services.tasks.ensure_webhook_subscription", acks_late=True, ignore_result=True)
def ensure_webhook_subscription() -> str:
    """Create or repair the account subscription to PORTAL_URL/hooks/pagerduty/ (idempotent; safe to repeat)."""
    from accounts.errors import NoAccountConnection
    from accounts.selectors import account_client
    from pdportal.pagerduty import PagerDutyError

    from .actions import webhook_subscription_ensure

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

"""The /healthz entry for the portal's own webhook subscription (read from the mirror, no PagerDuty call)."""

from __future__ import annotations

from django.conf import settings

from pdportal import health

from .models import WebhookSubscription


@health.register("webhook_subscription")
def check_webhook_subscription() -> dict:
    """The portal's own subscription, from the mirror: flags one PagerDuty disabled after failed deliveries."""
    if not settings.PAGERDUTY_WEBHOOKS:
        # No subscription is wanted: PagerDuty cannot reach PORTAL_URL, and reconcile reads its log instead.
        return {"ok": True, "state": "polling", "interval_seconds": settings.RECONCILE_SECONDS}
    subs = list(WebhookSubscription.objects.filter(created_by_portal=True).order_by("pd_id"))
    if not subs:
        return {"ok": False, "state": "missing", "error": "No webhook subscription points at this portal."}
    ours = [s for s in subs if s.url.startswith(settings.PORTAL_URL)] or subs
    sub = next((s for s in ours if s.active), ours[0])
    delivery = (sub.raw or {}).get("delivery_method") or {}
    if delivery.get("temporarily_disabled"):
        return {
            "ok": False,
            "state": "temporarily_disabled",
            "id": sub.pd_id,
            "error": "PagerDuty disabled delivery after repeated failures; enable it on the Webhooks page.",
        }
    if not sub.active:
        return {"ok": False, "state": "inactive", "id": sub.pd_id}
    return {"ok": True, "state": "active", "id": sub.pd_id, "url": sub.url}

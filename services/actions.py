"""Writes for services and webhook subscriptions: PagerDuty first, then its answer goes to the mirror."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any

from django.core.cache import cache
from django.db import transaction

from accounts.clients import acting_client
from accounts.models import Actor
from pdportal import crypto, live
from pdportal.mirror import mark_deleted
from pdportal.pagerduty import NotFound, PagerDutyClient, PagerDutyError

from . import mirror, selectors
from .events import ALL_EVENT_TYPES, FILTER_TYPES
from .mirror import upsert_webhook_subscription
from .models import Service, WebhookSubscription

logger = logging.getLogger(__name__)

SERVICE_INCLUDES = ["escalation_policies", "integrations", "teams"]
LIST_PAGE = 100


def _publish_services(ids: list[str], event: str = "changed") -> None:
    transaction.on_commit(lambda: live.publish(topic="service", ids=ids, event=event))


# -- services ----------------------------------------------------------------------------------------------------


def _upsert_service_with_policy(data: dict[str, Any]) -> Service | None:
    policy = data.get("escalation_policy")
    if isinstance(policy, dict) and policy.get("type") == "escalation_policy":
        mirror.upsert_escalation_policy(policy)
    return mirror.upsert_service(data)


def services_refresh(
    *, actor: Actor, query: str = "", name: str = "", team_id: str = "", client: PagerDutyClient | None = None
) -> list[str]:
    """List Services with the page's filters and upsert the first page of answers; returns their ids."""
    params: dict[str, Any] = {"limit": LIST_PAGE, "query": query or None, "name": name or None}
    if team_id:
        params["team_ids"] = [team_id]
    body = acting_client(actor=actor, client=client).get("/services", params)
    services = body.get("services", []) if isinstance(body, dict) else []
    with transaction.atomic():
        for data in services:
            _upsert_service_with_policy(data)
    return [s["id"] for s in services if s.get("id")]


def service_fetch(*, actor: Actor, pd_id: str, client: PagerDutyClient | None = None) -> Service | None:
    """Get Service with its escalation policy, integrations and teams, into the mirror."""
    data = acting_client(actor=actor, client=client).get_entity(f"/services/{pd_id}", {"include[]": SERVICE_INCLUDES})
    with transaction.atomic():
        return _upsert_service_with_policy(data)


def service_create(*, actor: Actor, payload: dict[str, Any], client: PagerDutyClient | None = None) -> Service:
    data = acting_client(actor=actor, client=client).create("/services", {"type": "service", **payload})
    with transaction.atomic():
        service = _upsert_service_with_policy(data)
        _publish_services([service.pd_id], "created")
    return service


def service_update(
    *, actor: Actor, service: Service, payload: dict[str, Any], client: PagerDutyClient | None = None
) -> Service:
    data = acting_client(actor=actor, client=client).update(
        f"/services/{service.pd_id}", {"type": "service", **payload}
    )
    with transaction.atomic():
        updated = _upsert_service_with_policy(data)
        _publish_services([service.pd_id])
    return updated


def service_delete(*, actor: Actor, service: Service, client: PagerDutyClient | None = None) -> None:
    acting_client(actor=actor, client=client).delete(f"/services/{service.pd_id}")
    with transaction.atomic():
        mark_deleted(Service, service.pd_id)
        _publish_services([service.pd_id], "deleted")


def escalation_policies_refresh(*, actor: Actor, client: PagerDutyClient | None = None) -> int:
    """Mirror every escalation policy (the service form's choices)."""
    policies = acting_client(actor=actor, client=client).list_all("/escalation_policies")
    with transaction.atomic():
        for data in policies:
            mirror.upsert_escalation_policy(data)
    return len(policies)


class NoEventsIntegration(Exception):
    """The service has no Events API v2 integration, so an event cannot be sent to it by picking it."""


def service_events_routing_key(*, actor: Actor, service: Service, client: PagerDutyClient | None = None) -> str:
    """The integration key of the service's Events API v2 integration, read from PagerDuty as this person.

    Get Service with include[]=integrations; an integration listed only as a reference is read on its own
    (Get an Integration). Raises NoEventsIntegration when the service has none.
    """
    client = acting_client(actor=actor, client=client)
    data = client.get_entity(f"/services/{service.pd_id}", {"include[]": ["integrations"]})
    for integration in data.get("integrations") or []:
        if not isinstance(integration, dict):
            continue
        kind = str(integration.get("type") or "").removesuffix("_reference")
        if kind != selectors.EVENTS_V2_INTEGRATION:
            continue
        key = integration.get("integration_key")
        if not key and integration.get("id"):
            key = client.get_entity(f"/services/{service.pd_id}/integrations/{integration['id']}").get(
                "integration_key"
            )
        if key:
            return str(key)
    raise NoEventsIntegration(
        f"{service.name} has no Events API v2 integration in PagerDuty, so an event cannot be sent to it. "
        "Add one to the service in PagerDuty, or enter a routing key under Advanced."
    )


# -- webhook subscriptions ---------------------------------------------------------------------------------------


def _filter(filter_type: str, filter_id: str) -> dict[str, str]:
    ref = {"type": FILTER_TYPES[filter_type]}
    if filter_type != "account":
        ref["id"] = filter_id
    return ref


def webhook_subscriptions_refresh(
    *, actor: Actor = None, client: PagerDutyClient | None = None, filter_type: str = "", filter_id: str = ""
) -> list[dict[str, Any]]:
    """List Webhook Subscriptions (optionally filtered) into the mirror; an unfiltered list also drops gone ones."""
    params: dict[str, Any] = {}
    if filter_type:
        params["filter_type"] = filter_type
        if filter_type != "account" and filter_id:
            params["filter_id"] = filter_id
    subs = acting_client(actor=actor, client=client).list_all("/webhook_subscriptions", params)
    with transaction.atomic():
        for data in subs:
            upsert_webhook_subscription(data)
        if not filter_type:
            WebhookSubscription.objects.exclude(pd_id__in=[s["id"] for s in subs]).delete()
    return subs


def webhook_subscription_fetch(
    *, actor: Actor = None, pd_id: str, client: PagerDutyClient | None = None
) -> WebhookSubscription | None:
    data = acting_client(actor=actor, client=client).get_entity(f"/webhook_subscriptions/{pd_id}")
    return upsert_webhook_subscription(data)


@dataclass
class CreatedSubscription:
    subscription: WebhookSubscription
    # The signing secret to show once: only for subscriptions pointed elsewhere (ours is kept encrypted).
    secret_to_show: str | None = None


def webhook_subscription_create(
    *,
    actor: Actor = None,
    client: PagerDutyClient | None = None,
    url: str,
    events: list[str],
    filter_type: str = "account",
    filter_id: str = "",
    description: str = "",
    active: bool = True,
) -> CreatedSubscription:
    entity = {
        "type": "webhook_subscription",
        "delivery_method": {"type": "http_delivery_method", "url": url},
        "events": list(events),
        "filter": _filter(filter_type, filter_id),
        "description": description,
        "active": active,
    }
    data = acting_client(actor=actor, client=client).create("/webhook_subscriptions", entity)
    secret = (data.get("delivery_method") or {}).get("secret") or ""
    ours = selectors.is_portal_url(url)
    subscription = upsert_webhook_subscription(data, secret=secret if ours else None, created_by_portal=True)
    return CreatedSubscription(subscription=subscription, secret_to_show=None if ours else (secret or None))


def webhook_subscription_update(
    *,
    actor: Actor = None,
    client: PagerDutyClient | None = None,
    subscription: WebhookSubscription,
    events: list[str],
    filter_type: str,
    filter_id: str = "",
    description: str = "",
    active: bool = True,
) -> WebhookSubscription:
    entity = {
        "events": list(events),
        "filter": _filter(filter_type, filter_id),
        "description": description,
        "active": active,
    }
    data = acting_client(actor=actor, client=client).update(f"/webhook_subscriptions/{subscription.pd_id}", entity)
    return upsert_webhook_subscription(data)


def webhook_subscription_enable(
    *, actor: Actor = None, client: PagerDutyClient | None = None, subscription: WebhookSubscription
) -> WebhookSubscription:
    body = acting_client(actor=actor, client=client).post(f"/webhook_subscriptions/{subscription.pd_id}/enable")
    data = body.get("webhook_subscription") if isinstance(body, dict) else None
    if data:
        return upsert_webhook_subscription(data)
    return webhook_subscription_fetch(actor=actor, client=client, pd_id=subscription.pd_id) or subscription


def webhook_subscription_ping(
    *, actor: Actor = None, client: PagerDutyClient | None = None, subscription: WebhookSubscription
) -> None:
    """Ask PagerDuty to send a `pagey.ping` to the subscription's URL (it answers 202 and delivers later)."""
    acting_client(actor=actor, client=client).post(f"/webhook_subscriptions/{subscription.pd_id}/ping")


def webhook_subscription_delete(
    *, actor: Actor = None, client: PagerDutyClient | None = None, subscription: WebhookSubscription
) -> None:
    # Already gone in PagerDuty (404): dropping our copy tells the truth.
    with contextlib.suppress(NotFound):
        acting_client(actor=actor, client=client).delete(f"/webhook_subscriptions/{subscription.pd_id}")
    WebhookSubscription.objects.filter(pk=subscription.pk).delete()


@dataclass
class RemovalReport:
    removed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def webhook_subscriptions_remove_portal(*, actor: Actor = None, client: PagerDutyClient | None = None) -> RemovalReport:
    """Delete every subscription this portal created; subscriptions made elsewhere are never touched."""
    client = acting_client(actor=actor, client=client)
    report = RemovalReport()
    for subscription in WebhookSubscription.objects.filter(created_by_portal=True).order_by("pd_id"):
        try:
            webhook_subscription_delete(client=client, subscription=subscription)
        except PagerDutyError as exc:
            report.failed[subscription.pd_id] = str(exc)
        else:
            report.removed.append(subscription.pd_id)
    return report


@dataclass
class EnsureResult:
    subscription: WebhookSubscription | None
    action: str  # created, repaired, unchanged, busy
    details: list[str] = field(default_factory=list)


def _usable_secret(pd_id: str) -> bool:

    row = WebhookSubscription.objects.filter(pd_id=pd_id, created_by_portal=True).exclude(secret="").first()
    if row is None:
        return False
    try:
        crypto.decrypt(row.secret)
    except ValueError:
        return False
    return True


def webhook_subscription_ensure(*, client: PagerDutyClient) -> EnsureResult:
    """Create or repair the account-wide subscription to PORTAL_URL/hooks/pagerduty/ with every event type.

    Idempotent: an existing subscription whose secret we hold is kept (events, filter and active flag are
    repaired; a temporarily disabled one is enabled). One we cannot verify (no secret) is replaced only if
    this portal made it; others are left alone and a new one is made beside them.
    """
    lock = "services:webhook-ensure"
    if not cache.add(lock, 1, timeout=120):
        return EnsureResult(subscription=None, action="busy", details=["another registration is running"])
    try:
        return _ensure(client)
    finally:
        cache.delete(lock)


def _ensure(client: PagerDutyClient) -> EnsureResult:
    url = selectors.portal_webhook_url()
    subs = client.list_all("/webhook_subscriptions")
    ours = [s for s in subs if selectors.is_portal_url((s.get("delivery_method") or {}).get("url", ""))]
    keep = next((s for s in ours if _usable_secret(s["id"])), None)
    details: list[str] = []
    for stale in ours:
        if stale is keep:
            continue
        row = WebhookSubscription.objects.filter(pd_id=stale["id"], created_by_portal=True).first()
        if row is not None:
            webhook_subscription_delete(client=client, subscription=row)
            details.append(f"removed {stale['id']} (its signing secret is unknown)")
    if keep is None:
        created = webhook_subscription_create(
            client=client,
            url=url,
            events=list(ALL_EVENT_TYPES),
            filter_type="account",
            description="PD Portal live updates",
        )
        return EnsureResult(subscription=created.subscription, action="created", details=details)
    changes: dict[str, Any] = {}
    if set(keep.get("events") or []) != set(ALL_EVENT_TYPES):
        changes["events"] = list(ALL_EVENT_TYPES)
    if (keep.get("filter") or {}).get("type") != "account_reference":
        changes["filter"] = {"type": "account_reference"}
    if not keep.get("active", True):
        changes["active"] = True
    data = keep
    if changes:
        data = client.update(f"/webhook_subscriptions/{keep['id']}", changes)
        details.append("updated " + ", ".join(sorted(changes)))
    if (data.get("delivery_method") or {}).get("temporarily_disabled"):
        body = client.post(f"/webhook_subscriptions/{keep['id']}/enable")
        data = (body or {}).get("webhook_subscription") or data
        details.append("enabled (it was temporarily disabled)")
    subscription = upsert_webhook_subscription(data, created_by_portal=True)
    return EnsureResult(subscription=subscription, action="repaired" if details else "unchanged", details=details)


def refresh_subscription_state(*, client: PagerDutyClient) -> None:
    """Re-read the portal's own webhook subscriptions (one request each), so /healthz and the Webhooks page
    notice when PagerDuty temporarily disabled delivery (the hourly registration check re-enables it)."""
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

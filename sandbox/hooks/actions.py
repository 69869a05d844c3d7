"""Webhook subscription writes: validate like PagerDuty, create (secret shown once), update, enable, ping."""

import secrets
from urllib.parse import urlsplit

from django.db import transaction

from sandbox.api.context import new_id, now
from sandbox.api.errors import invalid
from sandbox.hooks import delivery, payloads
from sandbox.hooks.models import WebhookSubscription

FILTER_TYPES = ("account_reference", "service_reference", "team_reference")


def _validate_events(events) -> list[str]:
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise invalid("Events must be a non-empty list of event types")
    unknown = [e for e in events if e not in payloads.EVENT_TYPES and e != payloads.PING]
    if unknown:
        raise invalid(*[f"Event type {e} is not a valid event type" for e in unknown])
    return list(dict.fromkeys(events))


def _validate_filter(value) -> tuple[str, str]:
    from sandbox.api.models import Service, Team

    if not isinstance(value, dict):
        raise invalid("Filter must be an object with a type")
    ftype = value.get("type")
    if ftype not in FILTER_TYPES:
        raise invalid("Filter type must be one of " + ", ".join(FILTER_TYPES))
    if ftype == "account_reference":
        return ftype, ""
    fid = value.get("id")
    if not isinstance(fid, str) or not fid:
        raise invalid("Filter id is required for " + ftype)
    model = Service if ftype == "service_reference" else Team
    if not model.objects.filter(pk=fid).exists():
        raise invalid(f"Filter {ftype} {fid} not found")
    return ftype, fid


def _validate_url(url) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
        raise invalid("Delivery method url must be an http(s) URL")
    return url


def _validate_headers(headers) -> list[dict]:
    if headers is None:
        return []
    if not isinstance(headers, list) or not all(isinstance(h, dict) and h.get("name") for h in headers):
        raise invalid("custom_headers must be a list of {name, value} objects")
    return [{"name": str(h["name"]), "value": str(h.get("value", ""))} for h in headers]


@transaction.atomic
def subscription_create(
    *,
    url: str,
    events: list[str],
    filter_type: str = "account_reference",
    filter_id: str = "",
    description: str = "",
    active: bool = True,
    custom_headers: list | None = None,
    secret: str | None = None,
) -> WebhookSubscription:
    """Create a subscription; `secret` is generated unless given (the --portal-webhook flag passes one)."""
    return WebhookSubscription.objects.create(
        id=new_id(),
        description=description or "",
        events=_validate_events(events),
        filter_type=filter_type,
        filter_id=filter_id or "",
        active=bool(active),
        delivery_method_id=new_id(),
        url=_validate_url(url),
        secret=secret or secrets.token_urlsafe(32),
        custom_headers=_validate_headers(custom_headers),
        created_at=now(),
    )


@transaction.atomic
def subscription_ensure(*, url: str, events: list[str], secret: str | None = None, description: str = "") -> tuple:
    """Idempotent account-wide subscription for `url` (server restarts must not pile up duplicates).

    Returns (subscription, created). An existing one gets the events, is re-enabled, and keeps its secret
    unless a new one is given.
    """
    existing = WebhookSubscription.objects.filter(url=url, filter_type="account_reference").first()
    if existing is None:
        return subscription_create(url=url, events=events, secret=secret, description=description), True
    existing.events = _validate_events(events)
    existing.active = True
    existing.temporarily_disabled = False
    existing.consecutive_failures = 0
    if secret:
        existing.secret = secret
    if description:
        existing.description = description
    existing.save()
    return existing, False


def subscription_create_from_body(*, body: dict) -> WebhookSubscription:
    sub = body.get("webhook_subscription")
    if not isinstance(sub, dict):
        raise invalid("webhook_subscription is required")
    if sub.get("type", "webhook_subscription") != "webhook_subscription":
        raise invalid("Type must be webhook_subscription")
    method = sub.get("delivery_method")
    if not isinstance(method, dict):
        raise invalid("Delivery method is required")
    if method.get("type", "http_delivery_method") != "http_delivery_method":
        raise invalid("Delivery method type must be http_delivery_method")
    if "filter" not in sub:
        raise invalid("Filter is required")
    ftype, fid = _validate_filter(sub.get("filter"))
    active = sub.get("active", True)
    if not isinstance(active, bool):
        raise invalid("Active must be a boolean")
    return subscription_create(
        url=method.get("url"),
        events=sub.get("events"),
        filter_type=ftype,
        filter_id=fid,
        description=str(sub.get("description") or ""),
        active=active,
        custom_headers=method.get("custom_headers"),
    )


@transaction.atomic
def subscription_update(*, subscription: WebhookSubscription, body: dict) -> WebhookSubscription:
    changes = body.get("webhook_subscription")
    if not isinstance(changes, dict):
        raise invalid("webhook_subscription is required")
    if "delivery_method" in changes:
        raise invalid("The delivery method of a webhook subscription cannot be updated")
    if "events" in changes:
        subscription.events = _validate_events(changes["events"])
    if "filter" in changes:
        subscription.filter_type, subscription.filter_id = _validate_filter(changes["filter"])
    if "description" in changes:
        subscription.description = str(changes["description"] or "")
    if "active" in changes:
        if not isinstance(changes["active"], bool):
            raise invalid("Active must be a boolean")
        subscription.active = changes["active"]
    subscription.save()
    return subscription


def subscription_delete(*, subscription: WebhookSubscription) -> None:
    delivery.dispatcher.drop_subscription(subscription.id)
    subscription.delete()


def subscription_enable(*, subscription: WebhookSubscription) -> WebhookSubscription:
    """Clear a temporary disable (after repeated delivery failures) and start counting afresh."""
    subscription.temporarily_disabled = False
    subscription.consecutive_failures = 0
    subscription.save(update_fields=["temporarily_disabled", "consecutive_failures"])
    return subscription


def subscription_ping(*, subscription: WebhookSubscription, agent=None) -> delivery.Delivery:
    from sandbox.hooks.emit import queue_for

    return queue_for(subscription, payloads.ping_envelope(agent=agent))


def reset() -> None:
    delivery.clear()
    WebhookSubscription.objects.all().delete()

"""Mirror upserts for webhook subscriptions (services and policies go through incidents.mirror)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from pdportal import crypto

from .models import WebhookSubscription


def public_raw(data: Mapping[str, Any]) -> dict[str, Any]:
    """The subscription as PagerDuty sent it, minus the signing secret (which only ever lives encrypted)."""
    raw = copy.deepcopy(dict(data))
    method = raw.get("delivery_method")
    if isinstance(method, dict) and "secret" in method:
        method["secret"] = None
    return raw


def upsert_webhook_subscription(
    data: Mapping[str, Any], *, secret: str | None = None, created_by_portal: bool | None = None
) -> WebhookSubscription | None:
    """Create or update one subscription from PagerDuty's JSON; `secret` (plaintext) is stored encrypted."""
    pd_id = data.get("id")
    if not pd_id:
        return None
    method = data.get("delivery_method") or {}
    flt = data.get("filter") or {}
    fields: dict[str, Any] = {
        "url": str(method.get("url") or "")[:1024],
        "description": str(data.get("description") or "")[:1024],
        "active": bool(data.get("active", True)),
        "filter_type": str(flt.get("type") or "")[:64],
        "filter_id": str(flt.get("id") or "")[:64],
        "events": list(data.get("events") or []),
        "raw": public_raw(data),
    }
    if secret:
        fields["secret"] = crypto.encrypt(secret)
    if created_by_portal is not None:
        fields["created_by_portal"] = created_by_portal
    subscription, _ = WebhookSubscription.objects.update_or_create(pd_id=pd_id, defaults=fields)
    return subscription

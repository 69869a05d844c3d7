"""Mirror upserts for services, escalation policies and webhook subscriptions (pdportal/mirror.py has the rules)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from accounts.models import Team
from pdportal import crypto
from pdportal.mirror import Json, Refs, changed, fk, parse_time, ref_id, save, text

from .models import EscalationPolicy, Service, WebhookSubscription


def upsert_escalation_policy(
    data: Json, *, changed_at: datetime | None = None, refs: Refs | None = None
) -> EscalationPolicy | None:
    pd_id = ref_id(data)
    if not pd_id:
        return None
    refs = refs or Refs()
    fields: dict[str, Any] = {"name": text(data.get("name") or data.get("summary"), 255)}
    if "description" in data:
        fields["description"] = text(data.get("description"))
    if "num_loops" in data:
        fields["num_loops"] = max(int(data.get("num_loops") or 0), 0)
    if "html_url" in data:
        fields["html_url"] = text(data.get("html_url"), 200)
    policy, applied = save(
        EscalationPolicy, pd_id, fields, data=data, changed_at=changed(data, changed_at, "updated_at")
    )
    if policy is not None:
        refs.remember(policy)
        if applied and "teams" in data:
            policy.teams.set(refs.pks(Team, data.get("teams") or []))
    return policy


def upsert_service(data: Json, *, changed_at: datetime | None = None, refs: Refs | None = None) -> Service | None:
    pd_id = ref_id(data)
    if not pd_id:
        return None
    refs = refs or Refs()
    fields: dict[str, Any] = {"name": text(data.get("name") or data.get("summary"), 255)}
    for key, limit in (("description", None), ("status", 32), ("html_url", 200)):
        if key in data:
            fields[key] = text(data.get(key), limit)
    if "created_at" in data:
        fields["created_at"] = parse_time(data.get("created_at"))
    if "escalation_policy" in data:
        fields["escalation_policy_id"] = fk(refs, EscalationPolicy, data.get("escalation_policy"))
    service, applied = save(Service, pd_id, fields, data=data, changed_at=changed(data, changed_at, "updated_at"))
    if service is not None:
        refs.remember(service)
        if applied and "teams" in data:
            service.teams.set(refs.pks(Team, data.get("teams") or []))
    return service


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

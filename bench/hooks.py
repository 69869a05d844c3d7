"""Signed PagerDuty webhook v3 deliveries, shaped like the real payloads in tests/fixtures/webhooks/."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

from bench.env import WEBHOOK_SECRET

RECEIVER_PATH = "/hooks/pagerduty/"


def _ref(kind: str, pd_id: str, summary: str) -> dict:
    return {
        "id": pd_id,
        "type": f"{kind}_reference",
        "summary": summary,
        "self": f"https://api.pagerduty.com/{kind}s/{pd_id}",
        "html_url": f"https://bench.pagerduty.com/{kind}s/{pd_id}",
    }


def incident_event(
    *,
    event_id: str,
    incident_id: str,
    number: int,
    status: str,
    title: str,
    service_id: str = "QSVC001",
    occurred_at: datetime | None = None,
) -> bytes:
    """One `incident.<status>` event body (acknowledged / triggered / resolved)."""
    when = (occurred_at or datetime.now(UTC)).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    event_type = {"triggered": "incident.triggered", "acknowledged": "incident.acknowledged"}.get(
        status, "incident.resolved"
    )
    document = {
        "event": {
            "id": event_id,
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": when,
            "agent": _ref("user", "QUSER01", "Responder 1"),
            "client": None,
            "data": {
                "id": incident_id,
                "type": "incident",
                "self": f"https://api.pagerduty.com/incidents/{incident_id}",
                "html_url": f"https://bench.pagerduty.com/incidents/{incident_id}",
                "number": number,
                "status": status,
                "incident_key": f"bench-{number}",
                "title": title,
                "service": _ref("service", service_id, service_id),
                "assignees": [_ref("user", "QUSER01", "Responder 1")],
                "escalation_policy": _ref("escalation_policy", "QEP0001", "Bench EP"),
                "teams": [],
                "priority": None,
                "urgency": "high",
                "conference_bridge": None,
                "resolve_reason": None,
            },
        }
    }
    return json.dumps(document, separators=(",", ":")).encode()


def headers_for(body: bytes, *, secret: str = WEBHOOK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "Content-Type": "application/json",
        "X-PagerDuty-Signature": f"v1={digest}",
        "X-Webhook-Id": "bench",
        "X-Webhook-Subscription": "QBENCHSUB",
        "User-Agent": "PagerDuty-Webhook/V3.0",
    }


def number_of(incident_id: str) -> int:
    return int(incident_id[1:])

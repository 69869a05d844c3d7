"""PagerDuty-shaped JSON for the incidents tests (REST v2 bodies, as the spec and the sandbox render them)."""

from __future__ import annotations

from typing import Any


def ref(kind: str, pd_id: str, summary: str = "") -> dict[str, Any]:
    return {"id": pd_id, "type": f"{kind}_reference", "summary": summary or pd_id}


def incident_json(pd_id: str = "PINC1", number: int = 1, **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pd_id,
        "type": "incident",
        "summary": f"[#{number}] Disk full",
        "html_url": f"https://acme.pagerduty.com/incidents/{pd_id}",
        "incident_number": number,
        "title": "Disk full",
        "description": "Disk full",
        "created_at": "2026-11-20T10:00:00Z",
        "updated_at": "2026-11-20T10:00:00Z",
        "status": "triggered",
        "incident_key": f"key-{pd_id}",
        "service": ref("service", "PSVC1", "API Gateway"),
        "assignments": [{"at": "2026-11-20T10:00:00Z", "assignee": ref("user", "PUSR1", "Rita Responder")}],
        "last_status_change_at": "2026-11-20T10:00:00Z",
        "resolved_at": None,
        "alert_counts": {"all": 2, "triggered": 2, "resolved": 0},
        "escalation_policy": ref("escalation_policy", "PEP1", "Platform On-Call"),
        "teams": [ref("team", "PTEAM1", "Platform")],
        "priority": {"id": "PPRI1", "type": "priority_reference", "summary": "P1"},
        "urgency": "high",
    }
    body.update(over)
    return body


def alert_json(pd_id: str = "PALR1", incident_id: str = "PINC1", **over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": pd_id,
        "type": "alert",
        "summary": "CPU on db-7 at 99%",
        "created_at": "2026-11-20T10:00:00Z",
        "status": "triggered",
        "alert_key": f"ak-{pd_id}",
        "service": ref("service", "PSVC1", "API Gateway"),
        "incident": ref("incident", incident_id),
        "suppressed": False,
        "severity": "critical",
        "body": {"type": "alert_body", "contexts": [], "details": {"host": "db-7"}},
    }
    body.update(over)
    return body

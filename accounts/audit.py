"""Audit writes: one AuditEntry per PagerDuty write (the client's on_write callback) or local security change."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from django.dispatch import Signal

from .models import Actor, AuditEntry

logger = logging.getLogger("pdportal.accounts")

# Sent with `entry` (an AuditEntry) when PagerDuty did not answer a write that may have reached it; the incidents
# app queues a refetch to settle it (accounts cannot import incidents: layers point down).
write_outcome_unknown = Signal()

_ID = re.compile(r"^[A-Z0-9]{5,}$")


def describe_write(method: str, path: str) -> tuple[str, str]:
    """(operation, target) of a write: "PUT /incidents/{id}" and the last PagerDuty id in the path."""
    segments = [s for s in path.split("?", 1)[0].split("/") if s]
    target = ""
    shape = []
    for segment in segments:
        if _ID.match(segment):
            target = segment
            shape.append("{id}")
        else:
            shape.append(segment)
    return f"{method} /{'/'.join(shape)}", target


_INCIDENT_CHANGES = (
    ("escalation_level", "Escalated"),
    ("assignments", "Reassigned"),
    ("escalation_policy", "Reassigned"),
    ("priority", "Set the priority of"),
    ("urgency", "Set the urgency of"),
    ("service", "Moved"),
    ("title", "Renamed"),
)
_STATUS_DONE = {"resolved": "Resolved", "acknowledged": "Acknowledged", "triggered": "Re-triggered"}
_INCIDENT_SUBPATHS = {
    ("POST", "notes"): "Added a note to",
    ("POST", "snooze"): "Snoozed",
    ("PUT", "merge"): "Merged incidents into",
    ("POST", "status_updates"): "Published a status update on",
    ("POST", "responder_requests"): "Requested responders for",
    ("PUT", "alerts"): "Changed the alerts of",
}
_VERBS = {"POST": "Created", "PUT": "Updated", "PATCH": "Updated", "DELETE": "Deleted"}


def _incident_change(*, change: Any) -> str:
    if not isinstance(change, dict):
        return "Updated"
    if change.get("status") in _STATUS_DONE:
        return _STATUS_DONE[change["status"]]
    return next((words for key, words in _INCIDENT_CHANGES if key in change), "Updated")


def describe_action(*, method: str, shape: str, body: Any) -> str:
    """A write in words, completed by its target: "Resolved", "Added a note to", "Resolved 3 incidents"."""
    parts = [p for p in shape.split(" ", 1)[-1].split("/") if p]
    method = method.upper()
    if parts[:1] == ["incidents"]:
        if len(parts) == 1 and method == "POST":
            return "Created an incident"
        if len(parts) == 1 and method == "PUT":
            changes = body.get("incidents") if isinstance(body, dict) else None
            changes = changes if isinstance(changes, list) else []
            words = {_incident_change(change=c) for c in changes}
            verb = words.pop() if len(words) == 1 else "Updated"
            return f"{verb} {len(changes)} incident{'s' if len(changes) != 1 else ''}"
        if len(parts) == 2 and method == "PUT":
            return _incident_change(change=body.get("incident") if isinstance(body, dict) else None)
        if len(parts) >= 3:
            return _INCIDENT_SUBPATHS.get(
                (method, parts[2]), f"{_VERBS.get(method, method)} {parts[2].replace('_', ' ')} of"
            )
    if parts[:2] == ["v2", "enqueue"]:
        return "Sent an event"
    if parts[:2] == ["v2", "change"]:
        return "Sent a change event"
    if not parts:
        return ""
    noun = parts[0].replace("_", " ")
    noun = noun[:-3] + "y" if noun.endswith("ies") else noun.removesuffix("s")
    if len(parts) == 1:
        return f"{_VERBS.get(method, method)} a {noun}"
    if len(parts) >= 3 and parts[1] == "{id}":
        return f"{parts[2].replace('_', ' ').capitalize()} on {noun}"
    return f"{_VERBS.get(method, method)} {noun}"


def audit_label(user: Actor | None) -> str:
    """Who an audit entry names: the person's email (or login), or the portal itself for background work."""
    return (getattr(user, "email", "") or user.get_username()) if user is not None else "PD Portal (background)"


def audit_recorder(*, user: Actor | None, operation: str = "") -> Callable[[dict[str, Any]], None]:
    """The client's on_write callback: one AuditEntry per write, successful or not."""
    label = audit_label(user)

    def record(write: dict[str, Any]) -> None:
        method = write.get("method") or ""
        path = write.get("path") or ""
        derived, target = describe_write(method, path)
        error = ""
        if write.get("error_message"):
            error = str(write["error_message"])
            if write.get("error_code") is not None:
                error = f"{error} ({write['error_code']})"
        unknown = bool(write.get("outcome_unknown"))
        entry = AuditEntry.objects.create(
            actor=user,
            actor_label=label[:255],
            operation=(operation or derived)[:128],
            method=method[:8],
            path=path[:512],
            url=str(write.get("url") or ""),
            target=target[:255],
            action="" if operation else describe_action(method=method, shape=derived, body=write.get("body"))[:160],
            status=write.get("status"),
            error=error,
            duration_ms=int(write.get("duration_ms") or 0),
            outcome="unknown" if unknown else "",
            # Kept only for incident writes, the ones a refetch can check (nothing else a body holds is stored).
            intent=write.get("intent") if unknown and path.startswith("/incidents") else None,
        )
        if unknown:
            write_outcome_unknown.send(sender=AuditEntry, entry=entry)

    return record


def record_local(*, actor: Actor | None, operation: str, target: str, **fields: Any) -> AuditEntry:
    """Audit a change the portal makes to its own security settings (no PagerDuty write of its own to record)."""
    entry = AuditEntry.objects.create(
        actor=actor, actor_label=audit_label(actor)[:255], operation=operation, target=target[:255], **fields
    )
    logger.info("%s: %s by %s", operation, target, actor)
    return entry

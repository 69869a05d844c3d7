"""Events API v2: validate an event like PagerDuty, then trigger/acknowledge/resolve or record a change."""

import uuid
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.dateparse import parse_datetime

from sandbox.api import domain
from sandbox.api.models import Integration
from sandbox.hooks.emit import event_origin

SEVERITIES = ("critical", "error", "warning", "info")
ACTIONS = ("trigger", "acknowledge", "resolve")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255


@dataclass
class EventRejected(Exception):
    """PagerDuty's 400 body: `{"status": "invalid event", "message": "Event object is invalid", "errors": [...]}`."""

    errors: list[str] = field(default_factory=list)
    status: str = "invalid event"
    message: str = "Event object is invalid"

    def body(self) -> dict:
        return {"status": self.status, "message": self.message, "errors": self.errors}


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _timestamp(value, errors):
    if _blank(value):
        return None
    parsed = parse_datetime(str(value).replace("+0000", "+00:00")) if isinstance(value, str) else None
    if parsed is None:
        errors.append("'payload.timestamp' is invalid (must be an ISO 8601 date-time)")
    return parsed


def _links(value, name, key, errors):
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(x, dict) and not _blank(x.get(key)) for x in value):
        errors.append(f"'{name}' must be a list of objects with '{key}'")
        return []
    return value


def integration_for(routing_key) -> Integration | None:
    if _blank(routing_key) or not isinstance(routing_key, str):
        return None
    return Integration.objects.select_related("service").filter(integration_key=routing_key).first()


def check_routing_key(data: dict) -> Integration:
    key = data.get("routing_key")
    if _blank(key):
        raise EventRejected(["'routing_key' is missing or blank"])
    integration = integration_for(key)
    if integration is None:
        raise EventRejected(["Invalid routing key"])
    return integration


def alert_event_process(*, integration: Integration, data: dict) -> str:
    """Apply one /v2/enqueue event; returns the dedup_key. Unknown dedup keys on ack/resolve are ignored."""
    errors = []
    action = data.get("event_action")
    if _blank(action):
        errors.append("'event_action' is missing or blank")
    elif action not in ACTIONS:
        errors.append("'event_action' is invalid (must be one of trigger, acknowledge, resolve)")
    dedup_key = data.get("dedup_key")
    if dedup_key is not None and not isinstance(dedup_key, str):
        errors.append("'dedup_key' must be a string")
    elif isinstance(dedup_key, str) and len(dedup_key) > MAX_DEDUP_KEY:
        errors.append(f"'dedup_key' is too long (maximum is {MAX_DEDUP_KEY} characters)")
    if action in ("acknowledge", "resolve") and _blank(dedup_key):
        errors.append("'dedup_key' is missing or blank")
    payload = data.get("payload")
    links, images, timestamp = [], [], None
    if action == "trigger":
        if not isinstance(payload, dict):
            errors.append("'payload' is missing or blank")
            payload = {}
        for name in ("summary", "source", "severity"):
            if _blank(payload.get(name)):
                errors.append(f"'payload.{name}' is missing or blank")
        severity = payload.get("severity")
        if not _blank(severity) and severity not in SEVERITIES:
            errors.append("'payload.severity' is invalid (must be one of critical, error, warning, info)")
        timestamp = _timestamp(payload.get("timestamp"), errors)
        links = _links(data.get("links"), "links", "href", errors)
        images = _links(data.get("images"), "images", "src", errors)
    if errors:
        raise EventRejected(errors)
    client = None
    if action == "trigger" and not _blank(data.get("client")):
        client = {"name": str(data["client"])}
        if not _blank(data.get("client_url")):
            client["url"] = str(data["client_url"])
    # The outer transaction makes the domain's webhooks fire inside event_origin, attributed to the integration.
    with event_origin(agent=integration, client=client), transaction.atomic():
        return _apply(
            integration=integration,
            action=action,
            dedup_key=dedup_key,
            payload=payload,
            links=links,
            images=images,
            timestamp=timestamp,
        )


def _apply(*, integration, action, dedup_key, payload, links, images, timestamp) -> str:
    if action == "trigger":
        dedup_key = dedup_key if not _blank(dedup_key) else uuid.uuid4().hex
        domain.incident_trigger_from_event(
            integration=integration,
            dedup_key=dedup_key,
            summary=str(payload["summary"])[:MAX_SUMMARY],
            severity=payload["severity"],
            source=str(payload["source"]),
            component=payload.get("component"),
            group=payload.get("group"),
            event_class=payload.get("class"),
            custom_details=payload.get("custom_details"),
            links=links,
            images=images,
            timestamp=timestamp,
        )
    elif action == "acknowledge":
        domain.incident_acknowledge_from_event(integration=integration, dedup_key=dedup_key)
    else:
        domain.incident_resolve_from_event(integration=integration, dedup_key=dedup_key)
    return dedup_key


def change_event_process(*, integration: Integration, data: dict):
    errors = []
    payload = data.get("payload")
    if not isinstance(payload, dict):
        errors.append("'payload' is missing or blank")
        payload = {}
    elif _blank(payload.get("summary")):
        errors.append("'payload.summary' is missing or blank")
    timestamp = _timestamp(payload.get("timestamp"), errors)
    links = _links(data.get("links"), "links", "href", errors)
    if errors:
        raise EventRejected(errors)
    details = payload.get("custom_details")
    return domain.change_event_create(
        integration=integration,
        summary=str(payload["summary"])[:MAX_SUMMARY],
        timestamp=timestamp,
        source=str(payload.get("source") or ""),
        custom_details=details if isinstance(details, dict) else ({"details": details} if details else {}),
        links=links,
    )

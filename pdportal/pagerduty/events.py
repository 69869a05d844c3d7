"""PagerDuty Events API v2 client: alert events (trigger/acknowledge/resolve) and change events."""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import requests

from .client import HttpTransport, WriteCallback
from .errors import InvalidInput, NetworkError, PagerDutyError, error_from_response

DEFAULT_EVENTS_URL = "https://events.pagerduty.com"
EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITIES = ("critical", "warning", "error", "info")
PAYLOAD_FIELDS = ("summary", "timestamp", "severity", "source", "component", "group", "class", "custom_details")
SUMMARY_MAX = 1024  # PagerDuty truncates longer summaries; we refuse them so nothing is silently cut.


def _timestamp(value: datetime | str | None) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value.isoformat()


class EventsClient(HttpTransport):
    """Sends events with a routing (integration) key; no REST token is involved."""

    def __init__(
        self,
        *,
        events_url: str = DEFAULT_EVENTS_URL,
        timeout: float = 10,
        debug: bool = False,
        max_retries: int = 3,
        backoff: float = 0.5,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        on_write: WriteCallback | None = None,
    ) -> None:
        super().__init__(
            timeout=timeout,
            max_retries=max_retries,
            backoff=backoff,
            debug=debug,
            session=session,
            sleep=sleep,
            on_write=on_write,
        )
        self.events_url = events_url.rstrip("/")

    @property
    def base_url(self) -> str:  # type: ignore[override]
        return self.events_url

    def __repr__(self) -> str:
        return f"EventsClient(events_url={self.events_url!r})"

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.events_url}{path}"
        started = time.monotonic()
        # Events are idempotent by dedup_key (and change events are informational), so 5xx retries are safe.
        state = self.send(
            "POST",
            url,
            json=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            retry_all_errors=True,
        )
        resp = state.response
        error: PagerDutyError | None = None
        if resp is None:
            error = state.error or NetworkError("Could not reach PagerDuty's Events API")
            error.path = path
        elif resp.status >= 400:
            retry_after = self._retry_wait_for_429(resp.headers, 1) if resp.status == 429 else 0.0
            error = error_from_response(
                status=resp.status, content=resp.content, method="POST", path=path, retry_after=retry_after
            )
        self._notify_write(
            {
                "method": "POST",
                "path": path,
                "url": state.url,
                "status": resp.status if resp is not None else None,
                "error_message": error.message if error else None,
                "error_code": error.code if error else None,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            }
        )
        if error is not None:
            raise error
        try:
            return jsonlib.loads(resp.content) if resp.content.strip() else {}
        except ValueError:
            raise PagerDutyError(
                "The Events API answered with a body that is not JSON", status=resp.status, path=path
            ) from None

    def enqueue(
        self,
        *,
        routing_key: str,
        event_action: str,
        dedup_key: str | None = None,
        payload: Mapping[str, Any] | None = None,
        links: list[Mapping[str, Any]] | None = None,
        images: list[Mapping[str, Any]] | None = None,
        client: str | None = None,
        client_url: str | None = None,
    ) -> dict[str, Any]:
        """POST /v2/enqueue; returns {"status", "message", "dedup_key"}. Invalid input is refused before sending."""
        problems = []
        if not routing_key:
            problems.append("routing_key is required (the integration key of an Events API v2 integration)")
        if event_action not in EVENT_ACTIONS:
            problems.append(f"event_action must be one of {', '.join(EVENT_ACTIONS)}, not {event_action!r}")
        if event_action in ("acknowledge", "resolve") and not dedup_key:
            problems.append(f"dedup_key is required to {event_action} an alert")
        body: dict[str, Any] = {"routing_key": routing_key, "event_action": event_action}
        if dedup_key:
            body["dedup_key"] = dedup_key
        if event_action == "trigger":
            data = dict(payload or {})
            for name in ("summary", "source", "severity"):
                if not data.get(name):
                    problems.append(f"payload.{name} is required to trigger an alert")
            if data.get("severity") and data["severity"] not in SEVERITIES:
                problems.append(f"payload.severity must be one of {', '.join(SEVERITIES)}, not {data['severity']!r}")
            if len(str(data.get("summary") or "")) > SUMMARY_MAX:
                problems.append(f"payload.summary is longer than {SUMMARY_MAX} characters")
            unknown = sorted(set(data) - set(PAYLOAD_FIELDS))
            if unknown:
                problems.append(f"payload has unknown fields: {', '.join(unknown)} (use custom_details)")
            if "timestamp" in data:
                data["timestamp"] = _timestamp(data["timestamp"])
            body["payload"] = data
            if client:
                body["client"] = client
            if client_url:
                body["client_url"] = client_url
            if links:
                body["links"] = [dict(link) for link in links]
            if images:
                body["images"] = [dict(image) for image in images]
        elif payload:
            body["payload"] = dict(payload)
        for link in links or []:
            if not link.get("href"):
                problems.append("every link needs an href")
        for image in images or []:
            if not image.get("src"):
                problems.append("every image needs a src")
        if problems:
            raise InvalidInput("Invalid event", errors=problems, method="POST", path="/v2/enqueue")
        return self._post("/v2/enqueue", body)

    def trigger(
        self,
        *,
        routing_key: str,
        summary: str,
        source: str,
        severity: str = "error",
        dedup_key: str | None = None,
        timestamp: datetime | str | None = None,
        component: str | None = None,
        group: str | None = None,
        class_: str | None = None,
        custom_details: Mapping[str, Any] | None = None,
        links: list[Mapping[str, Any]] | None = None,
        images: list[Mapping[str, Any]] | None = None,
        client: str | None = None,
        client_url: str | None = None,
    ) -> dict[str, Any]:
        """Trigger (or update) an alert; returns PagerDuty's answer including the dedup_key to use later."""
        payload: dict[str, Any] = {"summary": summary, "source": source, "severity": severity}
        optional = {
            "timestamp": _timestamp(timestamp),
            "component": component,
            "group": group,
            "class": class_,
            "custom_details": dict(custom_details) if custom_details is not None else None,
        }
        payload.update({k: v for k, v in optional.items() if v is not None})
        return self.enqueue(
            routing_key=routing_key,
            event_action="trigger",
            dedup_key=dedup_key,
            payload=payload,
            links=links,
            images=images,
            client=client,
            client_url=client_url,
        )

    def acknowledge(self, *, routing_key: str, dedup_key: str) -> dict[str, Any]:
        """Acknowledge the alert with this dedup_key."""
        return self.enqueue(routing_key=routing_key, event_action="acknowledge", dedup_key=dedup_key)

    def resolve(self, *, routing_key: str, dedup_key: str) -> dict[str, Any]:
        """Resolve the alert with this dedup_key."""
        return self.enqueue(routing_key=routing_key, event_action="resolve", dedup_key=dedup_key)

    def send_change_event(
        self,
        *,
        routing_key: str,
        summary: str,
        source: str | None = None,
        timestamp: datetime | str | None = None,
        custom_details: Mapping[str, Any] | None = None,
        links: list[Mapping[str, Any]] | None = None,
        images: list[Mapping[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """POST /v2/change/enqueue: an informational change (deploy, config change) on a service."""
        problems = []
        if not routing_key:
            problems.append("routing_key is required (the integration key of an Events API v2 integration)")
        if not summary or not summary.strip():
            problems.append("payload.summary is required for a change event")
        elif len(summary) > SUMMARY_MAX:
            problems.append(f"payload.summary is longer than {SUMMARY_MAX} characters")
        for link in links or []:
            if not link.get("href"):
                problems.append("every link needs an href")
        for image in images or []:
            if not image.get("src"):
                problems.append("every image needs a src")
        if problems:
            raise InvalidInput("Invalid change event", errors=problems, method="POST", path="/v2/change/enqueue")
        payload: dict[str, Any] = {"summary": summary}
        if source:
            payload["source"] = source
        if timestamp is not None:
            payload["timestamp"] = _timestamp(timestamp)
        if custom_details is not None:
            payload["custom_details"] = dict(custom_details)
        body: dict[str, Any] = {"routing_key": routing_key, "payload": payload}
        if links:
            body["links"] = [dict(link) for link in links]
        if images:
            body["images"] = [dict(image) for image in images]
        return self._post("/v2/change/enqueue", body)

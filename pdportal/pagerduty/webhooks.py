"""PagerDuty webhooks v3: HMAC-SHA256 signatures (with secret rotation) and event parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SIGNATURE_HEADER = "X-PagerDuty-Signature"
SIGNATURE_VERSION = "v1"


class InvalidWebhook(ValueError):
    """The body is not a PagerDuty v3 webhook event."""


def sign(body: bytes, secret: str) -> str:
    """The `v1=<hex>` signature PagerDuty sends for `body` signed with `secret`."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def parse_signatures(header: str | None) -> list[str]:
    """The hex digests of every `v1=` signature in the header (several while a secret is being rotated)."""
    if not header:
        return []
    out = []
    for part in header.split(","):
        version, sep, digest = part.strip().partition("=")
        if sep and version.strip().lower() == SIGNATURE_VERSION and digest.strip():
            out.append(digest.strip().lower())
    return out


def verify_signature(*, body: bytes, header: str | None, secrets: Iterable[str]) -> bool:
    """True if any `v1=` signature in `header` matches `body` under any of `secrets`.

    Every signature is compared against every secret with `hmac.compare_digest`, without stopping at the first
    match, so the timing does not reveal which secret or signature matched.
    """
    signatures = parse_signatures(header)
    secret_list = [s for s in secrets if s]
    if not signatures or not secret_list:
        return False
    matched = False
    for secret in secret_list:
        expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        for signature in signatures:
            matched |= hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", errors="replace"))
    return matched


@dataclass(frozen=True)
class WebhookEvent:
    """One v3 webhook event: `data` is the resource (incident, service, note...) as PagerDuty sent it."""

    id: str
    event_type: str
    resource_type: str
    occurred_at: datetime
    agent: dict[str, Any] | None
    client: dict[str, Any] | None
    data: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)

    @property
    def resource_id(self) -> str | None:
        """The id of the incident or service the event is about (the incident for note/responder events)."""
        if self.data.get("type") in ("incident", "service"):
            return self.data.get("id")
        related = self.data.get("incident") or self.data.get("service")
        if isinstance(related, dict):
            return related.get("id")
        return self.data.get("id")


def parse_time(value: Any) -> datetime:
    """Parse PagerDuty's ISO 8601 timestamps ("2020-10-02T18:45:22.169Z") into aware UTC datetimes."""
    if not isinstance(value, str) or not value:
        raise InvalidWebhook("event.occurred_at must be an ISO 8601 timestamp")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidWebhook(f"event.occurred_at is not a valid timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_event(body: bytes | str) -> WebhookEvent:
    """Parse a webhook body `{"event": {...}}`; raises InvalidWebhook on malformed JSON or shape."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidWebhook(f"Webhook body is not valid JSON: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("event"), dict):
        raise InvalidWebhook('Webhook body must be an object with an "event" object')
    event = document["event"]
    for name in ("id", "event_type", "resource_type"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise InvalidWebhook(f"event.{name} must be a non-empty string")
    data = event.get("data")
    if not isinstance(data, dict):
        raise InvalidWebhook("event.data must be an object")
    agent = event.get("agent")
    client = event.get("client")
    if agent is not None and not isinstance(agent, dict):
        raise InvalidWebhook("event.agent must be an object or null")
    if client is not None and not isinstance(client, dict):
        raise InvalidWebhook("event.client must be an object or null")
    return WebhookEvent(
        id=event["id"],
        event_type=event["event_type"],
        resource_type=event["resource_type"],
        occurred_at=parse_time(event.get("occurred_at")),
        agent=agent,
        client=client,
        data=data,
        raw=document,
    )

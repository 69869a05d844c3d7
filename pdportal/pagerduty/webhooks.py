"""PagerDuty webhooks v3: HMAC-SHA256 signatures (with secret rotation) and event parsing."""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SIGNATURE_HEADER = "X-PagerDuty-Signature"
SIGNATURE_VERSION = "v1"
# The largest delivery accepted (PagerDuty's events are a few KiB; this bounds what a forged one can cost).
MAX_BODY_BYTES = 256 * 1024


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


# The earliest and the latest `occurred_at` accepted: PagerDuty's v3 webhooks did not exist before 2000, and a
# time far ahead of our clock would pin a mirrored row (newer changes would look stale) until it passed.
EARLIEST_OCCURRED_AT = datetime(2000, 1, 1, tzinfo=UTC)
MAX_FUTURE = timedelta(days=1)
# Real payloads nest about 6 deep and hold a few hundred values; these bounds leave room and stop the abuse.
MAX_DEPTH = 32
MAX_NODES = 50_000
MAX_INT = 2**53  # the largest integer every JSON reader (and our integer columns' checks) handles exactly
# \Z: `$` also matches before a final newline. At least one letter or digit: an id becomes a path segment of a REST
# read (`/incidents/{id}`), where "." or ".." would name another resource once the client normalises the path.
ID_RE = re.compile(r"^(?=[^A-Za-z0-9]*[A-Za-z0-9])[A-Za-z0-9_.:-]{1,128}\Z")
NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*\Z")


def parse_time(value: Any) -> datetime:
    """Parse PagerDuty's ISO 8601 timestamps ("2020-10-02T18:45:22.169Z") into aware UTC datetimes.

    Only times from EARLIEST_OCCURRED_AT to a day ahead of our clock are accepted.
    """
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidWebhook("event.occurred_at must be an ISO 8601 timestamp string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidWebhook(f"event.occurred_at is not a valid timestamp: {value[:64]!r}") from None
    if not EARLIEST_OCCURRED_AT <= parsed <= datetime.now(UTC) + MAX_FUTURE:
        raise InvalidWebhook(
            f"event.occurred_at {value[:64]!r} is outside the accepted range "
            f"({EARLIEST_OCCURRED_AT:%Y-%m-%d} to a day from now)"
        )
    return parsed


def _reject_constant(name: str) -> Any:
    raise InvalidWebhook(f"Webhook body is not valid JSON: {name} is not a JSON number")


def _check_values(document: Any) -> None:
    """Walk the whole document once (no recursion): bounded depth and size, text every database can store, and
    numbers that fit. Lone surrogates and NUL are valid JSON escapes but PostgreSQL's jsonb refuses them."""
    stack: list[tuple[Any, int, str]] = [(document, 0, "body")]
    nodes = 0
    while stack:
        value, depth, where = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise InvalidWebhook(f"Webhook body holds more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise InvalidWebhook(f"Webhook body is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key, where)
                stack.append((item, depth + 1, f"{where}.{key[:40]}"))
        elif isinstance(value, list):
            stack.extend((item, depth + 1, f"{where}[]") for item in value)
        elif isinstance(value, str):
            _check_text(value, where)
        elif isinstance(value, bool) or value is None:
            continue
        elif isinstance(value, int):
            if abs(value) > MAX_INT:
                raise InvalidWebhook(f"{where}: the number is too large")
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidWebhook(f"{where}: the number is too large")


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise InvalidWebhook(f"{where}: text must not contain NUL characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidWebhook(f"{where}: text is not valid Unicode (a lone surrogate)") from None


def _string(obj: dict[str, Any], name: str, where: str, *, required: bool = False, limit: int = 100_000) -> None:
    value = obj.get(name)
    if value is None:
        if required:
            raise InvalidWebhook(f"{where}.{name} must be a non-empty string")
        return
    if not isinstance(value, str) or (required and not value):
        raise InvalidWebhook(f"{where}.{name} must be a {'non-empty ' if required else ''}string")
    if len(value) > limit:
        raise InvalidWebhook(f"{where}.{name} is longer than {limit} characters")


def _pd_id(obj: dict[str, Any], where: str, *, required: bool) -> None:
    value = obj.get("id")
    if value is None and not required:
        return
    if not isinstance(value, str) or not ID_RE.match(value) or len(value) > 64:
        raise InvalidWebhook(f"{where}.id must be a PagerDuty id (letters and digits, at most 64)")


def _reference(obj: dict[str, Any], name: str, where: str) -> None:
    value = obj.get(name)
    if value is None:
        return
    if not isinstance(value, dict):
        raise InvalidWebhook(f"{where}.{name} must be an object or null")
    _pd_id(value, f"{where}.{name}", required=True)
    for text in ("summary", "name", "email", "type", "self", "html_url"):
        _string(value, text, f"{where}.{name}", limit=2048)


def _references(obj: dict[str, Any], name: str, where: str) -> None:
    value = obj.get(name)
    if value is None:
        return
    if not isinstance(value, list):
        raise InvalidWebhook(f"{where}.{name} must be a list or null")
    for item in value:
        if not isinstance(item, dict):
            raise InvalidWebhook(f"{where}.{name} must hold objects")
        _pd_id(item, f"{where}.{name}[]", required=True)
        for text in ("summary", "name", "email", "type"):
            _string(item, text, f"{where}.{name}[]", limit=2048)


def _timestamp(obj: dict[str, Any], name: str, where: str) -> None:
    value = obj.get(name)
    if value is None:
        return
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidWebhook(f"{where}.{name} must be an ISO 8601 timestamp string or null")
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidWebhook(f"{where}.{name} is not a valid timestamp: {value!r}") from None


def _check_data(data: dict[str, Any]) -> None:
    """The fields of `event.data` that the mirror reads must have the types PagerDuty documents."""
    where = "event.data"
    _string(data, "type", where, limit=64)
    kind = data.get("type") or ""
    for ref in ("incident", "service", "user", "escalation_policy", "priority", "sender", "agent"):
        _reference(data, ref, where)
    _references(data, "teams", where)
    _references(data, "assignees", where)
    for text in ("summary", "title", "description", "html_url", "self", "incident_key", "status", "urgency"):
        _string(data, text, where)
    for text in ("content", "message", "subject", "name"):
        _string(data, text, where)
    for stamp in ("created_at", "updated_at", "resolved_at", "last_status_change_at", "reopened_at"):
        _timestamp(data, stamp, where)
    if kind in ("incident", "service", "incident_note", "incident_status_update"):
        _pd_id(data, where, required=True)
    else:
        _pd_id(data, where, required=False)
    number = data.get("number", data.get("incident_number"))
    if number is not None and (isinstance(number, bool) or not isinstance(number, int) or not 0 <= number < 2**31):
        raise InvalidWebhook(f"{where}.number must be a whole number from 0 to 2147483647")
    counts = data.get("alert_counts")
    if counts is not None:
        if not isinstance(counts, dict):
            raise InvalidWebhook(f"{where}.alert_counts must be an object")
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**31:
                raise InvalidWebhook(f"{where}.alert_counts.{name} must be a whole number")
    if kind == "incident":
        if data.get("status") is not None and data["status"] not in INCIDENT_STATUSES:
            raise InvalidWebhook(f"{where}.status must be one of {', '.join(INCIDENT_STATUSES)}")
        if data.get("urgency") is not None and data["urgency"] not in ("high", "low"):
            raise InvalidWebhook(f"{where}.urgency must be high or low")


INCIDENT_STATUSES = ("triggered", "acknowledged", "resolved")


def decode_body(body: bytes | str) -> Any:
    """The JSON document of a webhook body: strict UTF-8, no NaN or Infinity, bounded depth."""
    if isinstance(body, bytes):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidWebhook(f"Webhook body is not UTF-8 text: {exc.reason} at byte {exc.start}") from None
    else:
        text = body
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except InvalidWebhook:
        raise
    except RecursionError:
        raise InvalidWebhook(f"Webhook body is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise InvalidWebhook(f"Webhook body is not valid JSON: {str(exc)[:200]}") from None
    _check_values(document)
    return document


def parse_event(body: bytes | str) -> WebhookEvent:
    """Parse and validate a webhook body `{"event": {...}}`; raises InvalidWebhook with a clear message.

    Everything the receiver stores and the mirror later reads is checked here, before anything is stored: a
    signed but malformed event is refused with a 400, never a 500, and never half-stored.
    """
    document = decode_body(body)
    if not isinstance(document, dict) or not isinstance(document.get("event"), dict):
        raise InvalidWebhook('Webhook body must be an object with an "event" object')
    event = document["event"]
    for name in ("id", "event_type", "resource_type"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise InvalidWebhook(f"event.{name} must be a non-empty string")
    if not ID_RE.match(event["id"]):
        raise InvalidWebhook("event.id must be at most 128 letters, digits or _.:-")
    if len(event["event_type"]) > 128 or not NAME_RE.match(event["event_type"]):
        raise InvalidWebhook("event.event_type must look like incident.triggered")
    if len(event["resource_type"]) > 64 or not NAME_RE.match(event["resource_type"]):
        raise InvalidWebhook("event.resource_type must look like incident")
    data = event.get("data")
    if not isinstance(data, dict):
        raise InvalidWebhook("event.data must be an object")
    agent = event.get("agent")
    client = event.get("client")
    if agent is not None and not isinstance(agent, dict):
        raise InvalidWebhook("event.agent must be an object or null")
    if client is not None and not isinstance(client, dict):
        raise InvalidWebhook("event.client must be an object or null")
    occurred_at = parse_time(event.get("occurred_at"))
    _check_data(data)
    return WebhookEvent(
        id=event["id"],
        event_type=event["event_type"],
        resource_type=event["resource_type"],
        occurred_at=occurred_at,
        agent=agent,
        client=client,
        data=data,
        raw=document,
    )

"""The PagerDuty webhook v3 receiver: verify, store once, apply to the mirror, then publish and enqueue enrichment.

Webhooks are an accelerator, not the source of truth (DESIGN.md rule 3): an event is stored before anything
else, applied only when it is newer than the mirrored row, and a lost or failed enrichment is healed by the
sweep (`incidents.tasks.sweep_webhook_events`) and the reconcile job.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from incidents import mirror
from incidents.models import Incident, WebhookEvent
from pdportal import health, live
from pdportal.pagerduty import webhooks as pd_webhooks

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
# Decrypting the secrets costs a query and Fernet work: keep them briefly, so a rotation shows up within seconds.
SECRETS_TTL_SECONDS = 30.0

# Events whose payload is the whole story: no REST refetch needed.
NO_ENRICHMENT_PREFIXES = ("pagey.", "service.")


@dataclass
class Answer:
    """What the receiver tells PagerDuty: an HTTP status and a short JSON body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)


# -- signing secrets ----------------------------------------------------------------------------------------------

_secrets_lock = threading.Lock()
_secrets_cache: tuple[float, tuple[str, ...]] | None = None


def _load_secrets() -> tuple[str, ...]:
    from services.selectors import webhook_signing_secrets

    found = list(webhook_signing_secrets())
    # Subscriptions made outside the portal: extra accepted secrets from the environment.
    found.extend(settings.PAGERDUTY_WEBHOOK_SECRETS)
    return tuple(dict.fromkeys(s for s in found if s))


def signing_secrets() -> tuple[str, ...]:
    """Every accepted signing secret, cached for SECRETS_TTL_SECONDS in this process."""
    global _secrets_cache
    now = time.monotonic()
    cached = _secrets_cache
    if cached is not None and now - cached[0] < SECRETS_TTL_SECONDS:
        return cached[1]
    with _secrets_lock:
        secrets = _load_secrets()
        _secrets_cache = (now, secrets)
    return secrets


def _verify(body: bytes, signature: str) -> bool:
    global _secrets_cache
    if pd_webhooks.verify_signature(body=body, header=signature, secrets=signing_secrets()):
        return True
    # A subscription created moments ago (by the worker, in another process) has a secret we have not
    # cached yet: reload once, at most every second, so a flood of bad signatures cannot flood the database.
    cached = _secrets_cache
    if cached is not None and time.monotonic() - cached[0] >= 1.0:
        _secrets_cache = None
        return pd_webhooks.verify_signature(body=body, header=signature, secrets=signing_secrets())
    return False


def forget_secrets() -> None:
    """Drop the cached secrets (after a subscription is created or its secret rotated, and in tests)."""
    global _secrets_cache
    _secrets_cache = None


# -- applying one event to the mirror -----------------------------------------------------------------------------


@dataclass
class Applied:
    """What an event changed: the live invalidation to publish and whether the incident needs a REST refetch."""

    topic: str | None = None
    ids: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    enrich_incident: str | None = None


def _assignee_ids(incident: Incident | None) -> list[str]:
    if incident is None or incident.pk is None:
        return []
    return list(incident.assignees.values_list("pd_id", flat=True))


class _OneByOneRefs(mirror.Refs):
    """Reference resolution for a single event: looks up just the ids it names.

    mirror.Refs preloads each referenced table whole, which pays off for a sync of thousands of records but
    would cost every webhook a full read of the users, services, teams... tables.
    """

    def _map(self, model):
        return self._maps.setdefault(model, {})


def apply_event(event: pd_webhooks.WebhookEvent) -> Applied:
    """Apply one parsed event to the mirror (guarded by changed_at); never calls PagerDuty."""
    from services.models import Service

    data = event.data
    kind = str(data.get("type") or "")
    if event.event_type.startswith("pagey."):
        return Applied()
    if event.resource_type == "service" or event.event_type.startswith("service."):
        service_id = data.get("id")
        if not service_id:
            return Applied()
        if event.event_type == "service.deleted":
            mirror.mark_deleted(Service, service_id, occurred_at=event.occurred_at)
        else:
            mirror.upsert_service(data, changed_at=event.occurred_at, refs=_OneByOneRefs())
        return Applied(topic="service", ids=[service_id])
    if event.resource_type != "incident" and not event.event_type.startswith("incident."):
        return Applied()  # an event type we do not know: stored for the record, nothing to apply

    incident_id = event.resource_id
    if not incident_id:
        return Applied()
    if kind == "incident":
        mirror.upsert_incident(data, changed_at=event.occurred_at, refs=_OneByOneRefs())
        # The payload names the assignees and service: no extra queries in the request path.
        return Applied(
            topic="incident",
            ids=[incident_id],
            assignees=[a["id"] for a in data.get("assignees") or [] if isinstance(a, dict) and a.get("id")],
            services=[ref] if (ref := (data.get("service") or {}).get("id")) else [],
            enrich_incident=incident_id,
        )
    incident = Incident.objects.filter(pd_id=incident_id).first()
    # A note or status update for an incident we do not have yet waits for the enrichment, which
    # fetches the incident first; a stub incident would show a made-up status in the list.
    if incident is not None and kind == "incident_note":
        mirror.upsert_note(data, incident=incident, changed_at=event.occurred_at, refs=_OneByOneRefs())
    elif incident is not None and kind == "incident_status_update":
        mirror.upsert_status_update(data, incident=incident, changed_at=event.occurred_at, refs=_OneByOneRefs())
    service_ids = (
        list(Service.objects.filter(pk=incident.service_id).values_list("pd_id", flat=True)) if incident else []
    )
    return Applied(
        topic="incident",
        ids=[incident_id],
        assignees=_assignee_ids(incident),
        services=service_ids,
        enrich_incident=incident_id,
    )


def reapply_pending(*, pd_id: str, received_before) -> int:
    """Re-apply the deferred notes and status updates of one incident, once its refetch created the row.

    Incident events were applied when received; replaying them after a refetch could put back a state the
    refetch already saw superseded within the same second (REST times have whole seconds).
    """
    count = 0
    pending = WebhookEvent.objects.filter(
        resource_id=pd_id, processed_at__isnull=True, received_at__lte=received_before
    ).order_by("occurred_at", "pk")
    for record in pending:
        data = (record.payload.get("event") or {}).get("data") or {}
        if data.get("type") not in ("incident_note", "incident_status_update"):
            continue
        try:
            event = pd_webhooks.parse_event(json.dumps(record.payload))
            with transaction.atomic():
                apply_event(event)
        except Exception:  # the refetch already healed the incident itself
            logger.warning("stored webhook %s could not be re-applied", record.event_id, exc_info=True)
            continue
        count += 1
    return count


# -- the receiver -------------------------------------------------------------------------------------------------


# A burst of events about one incident costs one refetch: PagerDuty's rate limit is per account token.
ENRICH_DELAY_SECONDS = 2
ENRICH_PENDING_TTL = 60


def enrichment_pending_key(pd_id: str) -> str:
    return f"pdportal:enrich:pending:{pd_id}"


def _enqueue_enrichment(pd_id: str) -> bool:
    from incidents.tasks import enrich_incident
    from pdportal.redis import get_redis

    key = enrichment_pending_key(pd_id)
    try:
        if not get_redis().set(key, "1", nx=True, ex=ENRICH_PENDING_TTL):
            # A refetch is queued and has not started: it will cover this event too (see enrich_incident).
            return True
    except Exception:
        logger.warning("Redis unavailable; enrichment of %s left to the sweep", pd_id, exc_info=True)
        return False
    try:
        # retry=False: with the broker down the receiver must still answer within milliseconds;
        # the stored event (processed_at null) is picked up by the sweep.
        enrich_incident.apply_async(args=[pd_id], countdown=ENRICH_DELAY_SECONDS, retry=False)
    except Exception:
        logger.warning("broker unavailable; enrichment of %s left to the sweep", pd_id, exc_info=True)
        with contextlib.suppress(Exception):
            get_redis().delete(key)
        return False
    return True


def _after_commit(applied: Applied, event_type: str) -> None:
    if applied.topic:
        live.publish(
            topic=applied.topic,
            ids=applied.ids,
            event=event_type,
            assignees=applied.assignees,
            related={"service": applied.services} if applied.services else None,
        )
    if applied.enrich_incident:
        _enqueue_enrichment(applied.enrich_incident)


def receive(*, body: bytes, signature: str | None, webhook_id: str = "", subscription_id: str = "") -> Answer:
    """Verify, store (once by event id), apply and acknowledge one webhook delivery."""
    if len(body) > MAX_BODY_BYTES:
        return Answer(413, {"error": f"Body larger than {MAX_BODY_BYTES} bytes."})
    if not signature:
        return Answer(401, {"error": f"Missing {pd_webhooks.SIGNATURE_HEADER} header."})
    if not _verify(body, signature):
        return Answer(403, {"error": "No signature matches a known signing secret."})
    try:
        event = pd_webhooks.parse_event(body)
    except pd_webhooks.InvalidWebhook as exc:
        return Answer(400, {"error": str(exc)})

    if WebhookEvent.objects.filter(event_id=event.id).exists():
        return Answer(202, {"status": "duplicate", "id": event.id})
    try:
        with transaction.atomic():
            record = WebhookEvent.objects.create(
                event_id=event.id[:128],
                webhook_id=webhook_id[:128],
                subscription_id=subscription_id[:64],
                event_type=event.event_type[:128],
                resource_type=event.resource_type[:64],
                resource_id=(event.resource_id or "")[:64],
                occurred_at=event.occurred_at,
                payload=event.raw,
            )
            applied = Applied()
            try:
                with transaction.atomic():
                    applied = apply_event(event)
                if event.event_type == "pagey.ping" and subscription_id:
                    # The Webhooks page shows the latest ping of each subscription.
                    applied = Applied(topic="webhook", ids=[subscription_id[:64]])
            except Exception as exc:
                logger.exception("webhook %s (%s) could not be applied", event.id, event.event_type)
                record.error = f"{type(exc).__name__}: {exc}"[:2000]
                applied = Applied(
                    topic="incident" if event.resource_type == "incident" else None,
                    ids=[event.resource_id] if event.resource_id else [],
                    enrich_incident=event.resource_id if event.resource_type == "incident" else None,
                )
            if not applied.enrich_incident:
                record.processed_at = timezone.now()
            if record.error or record.processed_at:
                record.save(update_fields=["error", "processed_at"])
            transaction.on_commit(lambda: _after_commit(applied, event.event_type))
    except IntegrityError:
        # The same event delivered twice at the same moment: the other request stored it.
        return Answer(202, {"status": "duplicate", "id": event.id})
    return Answer(202, {"status": "accepted", "id": event.id})


def needs_enrichment(event_type: str) -> bool:
    return not event_type.startswith(NO_ENRICHMENT_PREFIXES)


# -- /healthz -----------------------------------------------------------------------------------------------------


@health.register("last_webhook")
def check_last_webhook() -> dict:
    latest = WebhookEvent.objects.order_by("-received_at").values("received_at", "event_type").first()
    backlog = WebhookEvent.objects.filter(processed_at__isnull=True).count()
    if latest is None:
        return {"ok": True, "received_at": None, "unprocessed": backlog}
    return {
        "ok": True,
        "received_at": latest["received_at"].isoformat(),
        "event_type": latest["event_type"],
        "unprocessed": backlog,
    }


@health.register("webhook_subscription")
def check_webhook_subscription() -> dict:
    """The portal's own subscription, from the mirror: flags one PagerDuty disabled after failed deliveries."""
    from services.models import WebhookSubscription

    if not settings.PAGERDUTY_WEBHOOKS:
        # No subscription is wanted: PagerDuty cannot reach PORTAL_URL, and reconcile reads its log instead.
        return {"ok": True, "state": "polling", "interval_seconds": settings.RECONCILE_SECONDS}
    subs = list(WebhookSubscription.objects.filter(created_by_portal=True).order_by("pd_id"))
    if not subs:
        return {"ok": False, "state": "missing", "error": "No webhook subscription points at this portal."}
    ours = [s for s in subs if s.url.startswith(settings.PORTAL_URL)] or subs
    sub = next((s for s in ours if s.active), ours[0])
    delivery = (sub.raw or {}).get("delivery_method") or {}
    if delivery.get("temporarily_disabled"):
        return {
            "ok": False,
            "state": "temporarily_disabled",
            "id": sub.pd_id,
            "error": "PagerDuty disabled delivery after repeated failures; enable it on the Webhooks page.",
        }
    if not sub.active:
        return {"ok": False, "state": "inactive", "id": sub.pd_id}
    return {"ok": True, "state": "active", "id": sub.pd_id, "url": sub.url}

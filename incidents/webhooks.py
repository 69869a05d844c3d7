"""The PagerDuty webhook v3 receiver (verify, validate, store once, answer) and its consumer (apply, publish, enrich).

Webhooks are an accelerator, not the source of truth (DESIGN.md rule 3): the request path only stores the
event; the consumer applies stored events in `occurred_at` order, each only when it is newer than the mirrored
row, and a lost or failed enrichment is healed by the sweep (`incidents.tasks.sweep_webhook_events`) and the
reconcile job.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import DatabaseError, IntegrityError, close_old_connections, connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from accounts.clients import account_client
from incidents import mirror
from incidents.models import Incident
from incidents.outcomes import settle_incident_writes
from incidents.refetch import publish_incidents, refetch_incident
from pdportal import live
from pdportal.mirror import mark_deleted
from pdportal.models import WebhookEvent
from pdportal.pagerduty import TRANSIENT
from pdportal.pagerduty import webhooks as pd_webhooks
from pdportal.redis import breaker, get_fast_redis, get_redis, warn_unavailable
from services.models import Service
from services.selectors import webhook_signing_secrets

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = pd_webhooks.MAX_BODY_BYTES
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
    """Drop this process's cached secrets (tests do, between subscriptions; the product relies on the TTL and
    the one reload after a bad signature in `_verify`)."""
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

    data = event.data
    kind = str(data.get("type") or "")
    if event.event_type.startswith("pagey."):
        return Applied()
    if event.resource_type == "service" or event.event_type.startswith("service."):
        service_id = data.get("id")
        if not service_id:
            return Applied()
        if event.event_type == "service.deleted":
            mark_deleted(Service, service_id, occurred_at=event.occurred_at)
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
    elif incident is not None and kind == "incident_responder":
        # responder.added / responder.replied: the request and its answer show at once; the refetch completes it.
        mirror.upsert_responder(data, incident=incident, changed_at=event.occurred_at, refs=_OneByOneRefs())
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


# -- the receiver: store and answer ----------------------------------------------------------------------------------


def _is_sqlite() -> bool:
    return connection.vendor == "sqlite"


# SQLite has one writer at a time, and its busy handler waits in sleeps of up to 100 ms: inside one process the
# receiver's insert and the consumer's batch take this lock first, so they hand over the file at once instead.
_sqlite_writer = threading.Lock()


@contextlib.contextmanager
def _write_transaction() -> Iterator[None]:
    if _is_sqlite():
        with _sqlite_writer, transaction.atomic():
            yield
    else:
        with transaction.atomic():
            yield


def _store(event: pd_webhooks.WebhookEvent, *, webhook_id: str, subscription_id: str) -> bool:
    """One idempotent insert in its own short transaction; False when the event id is already stored."""
    try:
        with _write_transaction():
            WebhookEvent.objects.create(
                event_id=event.id,
                webhook_id=webhook_id[:128],
                subscription_id=subscription_id[:64],
                event_type=event.event_type,
                resource_type=event.resource_type,
                resource_id=(event.resource_id or "")[:64],
                occurred_at=event.occurred_at,
                payload=event.raw,
            )
    except IntegrityError:
        # The unique event id: a retry by PagerDuty, or the same delivery racing itself. Stored once either way.
        return False
    return True


def receive(*, body: bytes, signature: str | None, webhook_id: str = "", subscription_id: str = "") -> Answer:
    """The request path: size, signature, validation, one idempotent insert, commit, answer.

    Nothing here touches Redis or PagerDuty, and nothing waits for the mirror: the consumer (`drain`) applies
    the stored event, publishes it and queues its enrichment. A malformed event is refused with a 4xx before
    anything is stored.
    """
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
    try:
        stored = _store(event, webhook_id=webhook_id, subscription_id=subscription_id)
    except DatabaseError:
        logger.exception("webhook %s could not be stored", event.id)
        # PagerDuty retries a delivery that fails: nothing is lost, and the answer says to come back.
        return Answer(503, {"error": "The event could not be stored right now; please retry."})
    if not stored:
        return Answer(202, {"status": "duplicate", "id": event.id})
    # Committed already when the receiver runs on its own; inside an outer transaction, once that commits.
    transaction.on_commit(consumer.wake)
    return Answer(202, {"status": "accepted", "id": event.id})


def handle_delivery(*, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """The receiver for pdportal.asgi's direct webhook path (lower-cased header names); runs on its own threads.

    Each of those threads keeps its database connection between deliveries (nothing else would open and close
    it); one that broke is closed, so the next delivery reconnects.
    """
    try:
        answer = receive(
            body=body,
            signature=headers.get("x-pagerduty-signature"),
            webhook_id=headers.get("x-webhook-id", ""),
            subscription_id=headers.get("x-webhook-subscription", ""),
        )
    except Exception:
        logger.exception("webhook delivery failed")
        connection.close()
        return 503, {"error": "The event could not be stored right now; please retry."}
    if answer.status == 503:
        connection.close()
    return answer.status, answer.body


# -- the consumer: apply, publish, enrich ----------------------------------------------------------------------------

# A batch is one write transaction: short, so the receiver's inserts (and any other writer) wait little for it.
DRAIN_BATCH = 100
DRAIN_BUDGET_SECONDS = 0.03
# Invalidations that could not be published (Redis down) wait for the next round, at most this many ids.
MAX_UNPUBLISHED = 2000
ENRICH_DELAY_SECONDS = 2
ENRICH_PENDING_TTL = 60


def enrichment_pending_key(pd_id: str) -> str:
    return f"pdportal:enrich:pending:{pd_id}"


def _event_of(record: WebhookEvent) -> pd_webhooks.WebhookEvent:
    """The stored event as the receiver parsed it (it was validated before it was stored)."""
    event = (record.payload or {}).get("event") or {}
    agent, client = event.get("agent"), event.get("client")
    return pd_webhooks.WebhookEvent(
        id=record.event_id,
        event_type=record.event_type,
        resource_type=record.resource_type,
        occurred_at=record.occurred_at,
        agent=agent if isinstance(agent, dict) else None,
        client=client if isinstance(client, dict) else None,
        data=event.get("data") if isinstance(event.get("data"), dict) else {},
        raw=record.payload,
    )


@dataclass
class Batch:
    """What one drained batch changed: invalidations to publish and incidents to refetch, after it commits."""

    applied: int = 0
    # The batch stopped at its size or time limit: more events may be waiting.
    more: bool = False
    # (topic, event type) -> ids, assignees and related services: one invalidation per kind of change.
    messages: dict[tuple[str, str], Applied] = field(default_factory=dict)
    enrich: list[str] = field(default_factory=list)

    def add(self, applied: Applied, event_type: str) -> None:
        if applied.topic:
            merged = self.messages.setdefault((applied.topic, event_type), Applied(topic=applied.topic))
            merged.ids.extend(applied.ids)
            merged.assignees.extend(applied.assignees)
            merged.services.extend(applied.services)
        if applied.enrich_incident and applied.enrich_incident not in self.enrich:
            self.enrich.append(applied.enrich_incident)


def _superseded(records: list[WebhookEvent]) -> set[int]:
    """Incident snapshots older than a later snapshot of the same incident in this batch: the later one carries
    every field the older one does, so applying only the newest gives the same mirror (a storm's shortcut)."""
    newest: dict[str, WebhookEvent] = {}
    for record in records:
        data = ((record.payload or {}).get("event") or {}).get("data") or {}
        if data.get("type") == "incident" and record.resource_id:
            newest[record.resource_id] = record  # records come in occurred_at order: the last one wins
    return {
        r.pk
        for r in records
        if r.resource_id in newest
        and newest[r.resource_id].pk != r.pk
        and (((r.payload or {}).get("event") or {}).get("data") or {}).get("type") == "incident"
    }


def _mark_applied(records: list[WebhookEvent]) -> None:
    """Write the batch's outcome columns: one UPDATE per distinct outcome (usually one or two per batch).

    Not bulk_update: it compiles a CASE WHEN per row and column, which was half of a batch's CPU on PostgreSQL."""
    groups: dict[tuple[Any, Any, str], list[int]] = {}
    for record in records:
        groups.setdefault((record.applied_at, record.processed_at, record.error), []).append(record.pk)
    for (applied_at, processed_at, error), pks in groups.items():
        WebhookEvent.objects.filter(pk__in=pks).update(applied_at=applied_at, processed_at=processed_at, error=error)


def _apply_record(record: WebhookEvent, batch: Batch, *, now: datetime) -> None:
    event = _event_of(record)
    try:
        with transaction.atomic():
            applied = apply_event(event)
        if event.event_type == "pagey.ping" and record.subscription_id:
            # The Webhooks page shows the latest ping of each subscription.
            applied = Applied(topic="webhook", ids=[record.subscription_id])
    except Exception as exc:
        logger.exception("webhook %s (%s) could not be applied", record.event_id, record.event_type)
        record.error = f"{type(exc).__name__}: {exc}"[:2000]
        is_incident = record.resource_type == "incident" and record.resource_id
        applied = Applied(
            topic="incident" if is_incident else None,
            ids=[record.resource_id] if is_incident else [],
            enrich_incident=record.resource_id if is_incident else None,
        )
    batch.add(applied, record.event_type)
    if not applied.enrich_incident:
        record.processed_at = now


def _snapshot_of(record: WebhookEvent) -> dict[str, Any] | None:
    """The incident in an incident event's payload (the whole incident as PagerDuty sent it), else None."""
    if not record.event_type.startswith("incident.") or not record.resource_id:
        return None
    data = ((record.payload or {}).get("event") or {}).get("data")
    return data if isinstance(data, dict) and data.get("type") == "incident" else None


def _apply_snapshots(records: list[WebhookEvent], batch: Batch) -> list[WebhookEvent]:
    """Incident snapshots of distinct incidents in one bulk upsert (a handful of queries for the whole batch);
    returns the records left for one-by-one application (all of them when the bulk write fails)."""
    snapshots = [(r, data) for r in records if (data := _snapshot_of(r)) is not None]
    if len(snapshots) < 2:
        return records
    try:
        with transaction.atomic():
            mirror.upsert_incidents_at(((data, r.occurred_at) for r, data in snapshots), refs=_OneByOneRefs())
    except Exception:  # one bad payload: apply them one by one, each in its own savepoint, to isolate it
        logger.warning("bulk apply of %d incident events failed; applying one by one", len(snapshots), exc_info=True)
        return records
    for record, data in snapshots:
        service = data.get("service")
        applied = Applied(
            topic="incident",
            ids=[record.resource_id],
            assignees=[a["id"] for a in data.get("assignees") or [] if isinstance(a, dict) and a.get("id")],
            services=[service["id"]] if isinstance(service, dict) and service.get("id") else [],
            enrich_incident=record.resource_id,
        )
        batch.add(applied, record.event_type)
    done = {r.pk for r, _ in snapshots}
    return [r for r in records if r.pk not in done]


def drain_batch(*, limit: int = DRAIN_BATCH, budget: float = DRAIN_BUDGET_SECONDS) -> Batch:
    """Apply the oldest stored events not yet applied, in `occurred_at` order, in one short transaction.

    Each is applied only when newer than the mirrored row (apply_event). On PostgreSQL concurrent consumers skip
    each other's rows (SKIP LOCKED); on SQLite the write transaction itself admits one consumer at a time. The
    batch stops early after `budget` seconds so it never holds the writer's lock long; the rest stays queued.
    """
    batch = Batch()
    started = time.monotonic()
    # One time for the whole batch: its rows are then marked in one UPDATE per outcome (_mark_applied).
    started_at = timezone.now()
    with _write_transaction():
        records = list(
            WebhookEvent.objects.select_for_update(skip_locked=True)
            .filter(applied_at__isnull=True)
            .order_by("occurred_at", "pk")[:limit]
        )
        if not records:
            return batch
        skip = _superseded(records)
        for record in records:
            if record.pk in skip:
                batch.add(Applied(enrich_incident=record.resource_id), record.event_type)
        left = _apply_snapshots([r for r in records if r.pk not in skip], batch)
        pending = {r.pk for r in left}
        done: list[WebhookEvent] = []
        for record in records:
            if record.pk in pending:
                if done and time.monotonic() - started > budget:
                    batch.more = True
                    continue  # stays queued for the next batch (its newer snapshots were applied: still safe)
                _apply_record(record, batch, now=started_at)
            record.applied_at = started_at
            done.append(record)
        _mark_applied(done)
        batch.applied = len(done)
        batch.more = batch.more or len(records) == limit
    return batch


class Consumer:
    """Applies stored webhook events to the mirror, then publishes and queues enrichment; never on a request.

    In a web process (settings.WEBHOOK_CONSUMER = "thread") one daemon thread waits on an event that the receiver
    sets after each commit, drains everything stored, and otherwise looks every IDLE_SECONDS for events stored by
    other processes. The Celery sweep (incidents.tasks.sweep_webhook_events) runs the same drain as the backup.
    """

    IDLE_SECONDS = 5.0
    # In a storm (deliveries less than 50 ms apart), let the deliveries of the next 50 ms join the batch.
    # Measured CPU per applied event (apply, publish, enqueue; SQLite, in-process): 4.8 ms in batches of 1,
    # 1.7 ms in batches of 5, about 1 ms in batches of 100. At 100/s this makes batches of about 5 for 50 ms of
    # lag (the bar is 250 ms); a lone delivery is applied at once.
    LINGER_SECONDS = 0.05

    def __init__(self) -> None:
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._unpublished: dict[tuple[str, str], Applied] = {}
        self._unenriched: list[str] = []
        self._woken_at = (0.0, 0.0)  # the last two wakes (monotonic)

    def wake(self) -> None:
        """Called by the receiver after its commit: never blocks."""
        if settings.WEBHOOK_CONSUMER != "thread":
            return
        self._woken_at = (self._woken_at[1], time.monotonic())
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._run, name="webhook-consumer", daemon=True)
                    self._thread.start()
        self._wake.set()

    def _run(self) -> None:

        while True:
            woken = self._wake.wait(self.IDLE_SECONDS)
            previous, last = self._woken_at
            if woken and last - previous < self.LINGER_SECONDS:
                time.sleep(self.LINGER_SECONDS)
            self._wake.clear()
            try:
                self.drain()
            except Exception:
                logger.exception("webhook consumer: drain failed; retrying shortly")
                close_old_connections()
                connection.close()
                time.sleep(0.5)

    def drain(self, *, max_batches: int = 1000) -> int:
        """Drain until nothing is left (or max_batches); publish and enqueue after each commit. Returns how many."""
        total = 0
        for _ in range(max_batches):
            batch = drain_batch()
            total += batch.applied
            self._after(batch)
            if not batch.more:
                break
        if not total and (self._unpublished or self._unenriched):
            self._after(Batch())  # Redis came back: what waited goes out now
        return total

    def _after(self, batch: Batch) -> None:

        for key, applied in batch.messages.items():
            waiting = self._unpublished.setdefault(key, Applied(topic=applied.topic))
            waiting.ids.extend(applied.ids)
            waiting.assignees.extend(applied.assignees)
            waiting.services.extend(applied.services)
        for pd_id in batch.enrich:
            if pd_id not in self._unenriched:
                self._unenriched.append(pd_id)
        if not breaker.available():
            self._bound()
            return
        for (topic, event_type), applied in list(self._unpublished.items()):
            stream_id = live.publish(
                topic=topic,
                ids=applied.ids,
                event=event_type,
                assignees=applied.assignees,
                related={"service": applied.services} if applied.services else None,
            )
            if stream_id is None and settings.REDIS_URL:
                break  # Redis is down: keep the rest for the next round
            del self._unpublished[(topic, event_type)]
        while self._unenriched and breaker.available():
            if not _enqueue_enrichment(self._unenriched[0]):
                break
            self._unenriched.pop(0)
        self._bound()

    def _bound(self) -> None:
        """A long outage must not grow memory: past MAX_UNPUBLISHED ids every page is told to resync instead, and
        refetches are left to the sweep (their events keep processed_at empty)."""
        if sum(len(a.ids) for a in self._unpublished.values()) > MAX_UNPUBLISHED:
            self._unpublished = {("incident", "resync"): Applied(topic="incident")}
        del self._unenriched[MAX_UNPUBLISHED:]


consumer = Consumer()


def drain() -> int:
    """Apply every stored event not yet applied, then publish and queue enrichment (the consumer's one step)."""
    return consumer.drain()


def _enqueue_enrichment(pd_id: str) -> bool:
    """Queue one refetch per burst of events about an incident; False when Redis or the broker is unavailable."""
    now = time.monotonic()
    if now - _enqueued_at.get(pd_id, -ENRICH_DELAY_SECONDS) < ENRICH_DELAY_SECONDS:
        return True  # queued by this process moments ago and not started yet (its countdown runs)
    key = enrichment_pending_key(pd_id)
    try:
        if not get_fast_redis().set(key, "1", nx=True, ex=ENRICH_PENDING_TTL):
            # A refetch is queued and has not started: it will cover this event too (see enrich_incident).
            return True
    except Exception as exc:  # noqa: BLE001 (warn_unavailable keeps the traceback of any other error)
        breaker.failed()
        warn_unavailable(logger, "Redis unavailable; enrichment of %s left to the sweep", pd_id, error=exc)
        return False
    try:
        # retry=False: with the broker down the consumer goes on; the stored event (processed_at null) is
        # picked up by the sweep.
        enrich_incident.apply_async(args=[pd_id], countdown=ENRICH_DELAY_SECONDS, retry=False)
    except Exception as exc:
        if isinstance(exc, OperationalError | OSError):
            breaker.failed()
        logger.warning("broker unavailable; enrichment of %s left to the sweep", pd_id, exc_info=True)
        with contextlib.suppress(Exception):
            get_fast_redis().delete(key)
        return False
    if len(_enqueued_at) > 10_000:
        _enqueued_at.clear()
    _enqueued_at[pd_id] = now
    return True


# pd_id -> when this process last queued its refetch: a storm about one incident skips even the Redis check.
_enqueued_at: dict[str, float] = {}


def needs_enrichment(event_type: str) -> bool:
    return not event_type.startswith(NO_ENRICHMENT_PREFIXES)


# -- enrichment: the refetch the consumer queues ---------------------------------------------------------------


# It lives beside the consumer that queues it (tasks.py imports this module, so the reverse would be a cycle); the
# name is unchanged, so messages already in the broker still reach it.
@shared_task(
    name="incidents.tasks.enrich_incident",
    acks_late=True,
    ignore_result=True,
    autoretry_for=TRANSIENT,
    retry_backoff=2,
    retry_backoff_max=120,
    max_retries=6,
)
def enrich_incident(pd_id: str) -> None:
    """After a webhook: refetch what its payload lacks (alerts, notes, log entries) and mark the events processed."""

    # Clear the pending mark before noting the start: an event arriving from now on queues its own refetch,
    # and every event received before `started` is covered by this one.
    with contextlib.suppress(Exception):
        get_redis().delete(enrichment_pending_key(pd_id))
    started = timezone.now()
    pending = WebhookEvent.objects.filter(resource_id=pd_id, processed_at__isnull=True, received_at__lte=started)
    latest_type = pending.order_by("-occurred_at", "-pk").values_list("event_type", flat=True).first()
    client = account_client()
    refetch_incident(client=client, pd_id=pd_id)

    reapply_pending(pd_id=pd_id, received_before=started)
    settle_incident_writes(pd_id=pd_id, by="webhook")  # a write PagerDuty did not answer shows up here
    # Every event received before the refetch began is covered by what the refetch read.
    WebhookEvent.objects.filter(resource_id=pd_id, processed_at__isnull=True, received_at__lte=started).update(
        processed_at=timezone.now()
    )
    # Named after the event that caused it, with the refetched assignees: a page that could not tell from the
    # webhook payload whom the incident is assigned to can still notify the right person (pages dedupe).
    publish_incidents([pd_id], latest_type or "enriched")

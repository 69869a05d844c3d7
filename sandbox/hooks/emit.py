"""Emit webhook v3 events after sandbox state changes (core calls this after each commit)."""

import contextlib
import logging
import threading

from sandbox.hooks import delivery, payloads

log = logging.getLogger(__name__)
_origin = threading.local()


@contextlib.contextmanager
def event_origin(*, agent=None, client=None):
    """Attribute the webhooks emitted in this block (and its on_commit callbacks) to an integration/client.

    The Events API wraps its domain calls in a transaction inside this block, so the callbacks that fire at
    commit see the inbound integration as the agent and the monitoring tool as the client, like PagerDuty.
    """
    previous = getattr(_origin, "value", None)
    _origin.value = {"agent": agent, "client": client}
    try:
        yield
    finally:
        _origin.value = previous


def _service_and_teams(resource) -> tuple[str | None, set[str]]:
    """The service id and team ids a subscription filter is matched against."""
    kind = payloads._model_name(resource)
    service = None
    if kind == "incident":
        service = resource.service
    elif kind == "service":
        service = resource
    elif hasattr(resource, "incident"):
        service = resource.incident.service
    if service is None:
        return None, set()
    if service._state.adding:
        return service.id, set()
    return service.id, set(service.teams.values_list("id", flat=True))


def matching_subscriptions(event_type: str, *, resource):
    from sandbox.hooks.models import WebhookSubscription

    subs = [
        s
        for s in WebhookSubscription.objects.filter(active=True, temporarily_disabled=False)
        if event_type in (s.events or [])
    ]
    if not subs:
        return []
    service_id, team_ids = _service_and_teams(resource)
    scope = {
        "account_reference": lambda s: True,
        "service_reference": lambda s: s.filter_id == service_id,
        "team_reference": lambda s: s.filter_id in team_ids,
    }
    return [s for s in subs if scope.get(s.filter_type, lambda s: False)(s)]


def queue_for(sub, payload: dict) -> delivery.Delivery:
    job = delivery.Delivery(
        subscription_id=sub.id,
        url=sub.url,
        secret=sub.secret,
        custom_headers=list(sub.custom_headers or []),
        body=delivery.encode(payload),
        event_id=payload["event"]["id"],
        event_type=payload["event"]["event_type"],
    )
    delivery.enqueue(job)
    return job


def emit(event_type, *, resource, agent=None, data=None, client=None):
    """Build the v3 payload(s) for this change and queue one signed delivery per matching subscription.

    Never raises: a webhook problem must not break the state change that already committed.
    """
    try:
        subs = matching_subscriptions(event_type, resource=resource)
        if not subs:
            return []
        origin = getattr(_origin, "value", None) or {}
        if agent is None:
            agent = origin.get("agent")
        if client is None:
            client = origin.get("client")
        if agent is None and event_type == "incident.triggered" and payloads._model_name(resource) == "incident":
            # Triggered by the Events API: PagerDuty names the inbound integration as the agent.
            alert = resource.alerts.select_related("integration").exclude(integration=None).first()
            agent = alert.integration if alert is not None else None
        # A new incident's event occurred when it was created, as its REST updated_at says (not a moment later,
        # which can fall in the next second and make the REST body look older than the event).
        at = getattr(resource, "updated_at", None) if event_type == "incident.triggered" else None
        jobs = []
        for item in payloads.data_items(event_type, resource=resource, data=data):
            for sub in subs:
                # Each subscription gets its own event id, as PagerDuty does.
                payload = payloads.envelope(event_type, data=item, agent=agent, client=client, at=at)
                jobs.append(queue_for(sub, payload))
        return jobs
    except Exception:
        log.exception("could not emit %s", event_type)
        return []

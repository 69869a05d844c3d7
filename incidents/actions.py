"""Writes of the incident console: PagerDuty first, under the actor's identity; then the mirror takes its answer.

Every function raises `pdportal.pagerduty.PagerDutyError` when PagerDuty refuses (the mirror is then untouched),
or `ActionRefused` for a request the portal itself rejects before sending anything.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from django.db import transaction
from django.utils import timezone

from incidents import mirror
from incidents.models import Alert, ChangeEvent, Incident
from pdportal import live
from pdportal.pagerduty import PagerDutyClient, PagerDutyError
from pdportal.pagerduty.client import BULK_LIMIT

logger = logging.getLogger(__name__)


class ActionRefused(Exception):
    """The portal refuses the action before asking PagerDuty (e.g. snoozing an incident that is not acknowledged)."""


def client_for(actor: Any) -> PagerDutyClient:
    from accounts.selectors import pagerduty_client_for

    return pagerduty_client_for(user=actor)


def _publish(ids: Iterable[str], topic: str = "incident") -> None:
    ids = [i for i in ids if i]
    transaction.on_commit(lambda: live.publish(topic=topic, ids=ids))


def _apply_incident(data: dict[str, Any]) -> Incident | None:
    """Write PagerDuty's answer to the mirror; it is the newest state, so it wins unless it carries an older time."""
    changed_at = mirror.parse_time(data.get("updated_at")) or timezone.now()
    return mirror.upsert_incident(data, changed_at=changed_at)


def _refresh_log(client: PagerDutyClient, incident: Incident) -> None:
    """Pull the incident's newest log entries so the timeline shows what just happened (best effort)."""
    try:
        body = client.get(f"/incidents/{incident.pd_id}/log_entries", {"limit": 25, "is_overview": False})
    except PagerDutyError as exc:
        logger.info("could not refresh log entries of %s: %s", incident.pd_id, exc)
        return
    for entry in body.get("log_entries", []) if isinstance(body, dict) else []:
        mirror.upsert_log_entry(entry, incident=incident)


def _finish(client: PagerDutyClient, data: dict[str, Any], *, extra_ids: Sequence[str] = ()) -> Incident:
    with transaction.atomic():
        incident = _apply_incident(data)
        assert incident is not None
        _refresh_log(client, incident)
        _publish([incident.pd_id, *extra_ids])
    return incident


def _user_ref(pd_id: str) -> dict[str, str]:
    return {"id": pd_id, "type": "user_reference"}


def _policy_ref(pd_id: str) -> dict[str, str]:
    return {"id": pd_id, "type": "escalation_policy_reference"}


# -- single incident ----------------------------------------------------------------------------------------------


def incident_update(*, actor: Any, incident: Incident, changes: dict[str, Any]) -> Incident:
    """Update Incident (PUT /incidents/{id}) with these changes, then mirror PagerDuty's answer."""
    client = client_for(actor)
    data = client.update(f"/incidents/{incident.pd_id}", {"type": "incident_reference", **changes})
    return _finish(client, data)


def incident_acknowledge(*, actor: Any, incident: Incident) -> Incident:
    return incident_update(actor=actor, incident=incident, changes={"status": "acknowledged"})


def incident_resolve(*, actor: Any, incident: Incident, resolution: str = "") -> Incident:
    changes: dict[str, Any] = {"status": "resolved"}
    if resolution.strip():
        changes["resolution"] = resolution.strip()
    return incident_update(actor=actor, incident=incident, changes=changes)


def incident_retrigger(*, actor: Any, incident: Incident) -> Incident:
    return incident_update(actor=actor, incident=incident, changes={"status": "triggered"})


def incident_reassign(
    *, actor: Any, incident: Incident, user_ids: Sequence[str] = (), escalation_policy_id: str | None = None
) -> Incident:
    if bool(user_ids) == bool(escalation_policy_id):
        raise ActionRefused("Reassign to users or to one escalation policy.")
    if user_ids:
        changes = {"assignments": [{"assignee": _user_ref(u)} for u in user_ids]}
    else:
        changes = {"escalation_policy": _policy_ref(str(escalation_policy_id))}
    return incident_update(actor=actor, incident=incident, changes=changes)


def incident_escalate(*, actor: Any, incident: Incident, level: int) -> Incident:
    return incident_update(actor=actor, incident=incident, changes={"escalation_level": int(level)})


def incident_set_fields(
    *,
    actor: Any,
    incident: Incident,
    title: str | None = None,
    priority_id: str | None = None,
    urgency: str | None = None,
    service_id: str | None = None,
) -> Incident:
    """Change title, priority, urgency and/or service (only what is given)."""
    changes: dict[str, Any] = {}
    if title:
        changes["title"] = title
    if priority_id:
        changes["priority"] = {"id": priority_id, "type": "priority_reference"}
    if urgency:
        changes["urgency"] = urgency
    if service_id:
        changes["service"] = {"id": service_id, "type": "service_reference"}
    if not changes:
        raise ActionRefused("Nothing to change.")
    return incident_update(actor=actor, incident=incident, changes=changes)


def incident_snooze(*, actor: Any, incident: Incident, seconds: int) -> Incident:
    """Snooze (POST /incidents/{id}/snooze); like PagerDuty, only an acknowledged incident can be snoozed."""
    if incident.status != Incident.Status.ACKNOWLEDGED:
        raise ActionRefused("Only an acknowledged incident can be snoozed.")
    client = client_for(actor)
    data = client.snooze_incident(incident.pd_id, int(seconds))
    return _finish(client, data)


def incident_merge(*, actor: Any, incident: Incident, sources: Sequence[str]) -> Incident:
    """Merge other incidents into this one (PUT /incidents/{id}/merge); the sources resolve in PagerDuty.

    `sources` are PagerDuty ids or incident numbers ("#12" or "12"); numbers are looked up in the mirror.
    """
    sources = [s for s in dict.fromkeys(_merge_source_ids(sources)) if s != incident.pd_id]
    if not sources:
        raise ActionRefused("Choose at least one other incident to merge into this one.")
    client = client_for(actor)
    data = client.merge_incidents(incident.pd_id, sources)
    target = _finish(client, data, extra_ids=sources)
    # The merged incidents changed too (resolved, alerts moved): mirror PagerDuty's view of each.
    with transaction.atomic():
        for source_id in sources:
            try:
                _apply_incident(client.get_entity(f"/incidents/{source_id}"))
            except PagerDutyError as exc:
                logger.info("could not refresh merged incident %s: %s", source_id, exc)
        _sync_alerts(client, target)
    return target


def _merge_source_ids(refs: Iterable[str]) -> list[str]:
    from incidents.selectors import find_incident

    ids = []
    for ref in (r.strip() for r in refs):
        if not ref:
            continue
        found = find_incident(ref=ref)
        if found is None and ref.lstrip("#").isdigit():
            # PagerDuty only takes ids: a number we have not mirrored cannot be sent as it is.
            raise ActionRefused(f"No incident #{ref.lstrip('#')} is known here. Give its PagerDuty id instead.")
        ids.append(found.pd_id if found is not None else ref)
    return ids


def _sync_alerts(client: PagerDutyClient, incident: Incident) -> None:
    try:
        alerts = client.list_all(f"/incidents/{incident.pd_id}/alerts", concurrency=2)
    except PagerDutyError as exc:
        logger.info("could not refresh alerts of %s: %s", incident.pd_id, exc)
        return
    for alert in alerts:
        mirror.upsert_alert(alert, incident=incident, update_search=False)
    mirror.refresh_search_text(incident)


def note_create(*, actor: Any, incident: Incident, content: str) -> Any:
    """Create Incident Note, then mirror the note PagerDuty returns."""
    if not content.strip():
        raise ActionRefused("A note cannot be empty.")
    client = client_for(actor)
    data = client.create(f"/incidents/{incident.pd_id}/notes", {"content": content}, wrap="note")
    with transaction.atomic():
        note = mirror.upsert_note(data, incident=incident)
        _publish([incident.pd_id])
    return note


def responders_request(
    *, actor: Any, incident: Incident, user_ids: Sequence[str] = (), policy_ids: Sequence[str] = (), message: str
) -> dict[str, Any]:
    """Ask users and/or escalation policies to join (POST /incidents/{id}/responder_requests)."""
    from incidents.selectors import pd_user_of

    requester = pd_user_of(actor)
    if requester is None:
        raise ActionRefused("Your portal account is not linked to a PagerDuty user.")
    targets = [_user_ref(u) for u in user_ids] + [_policy_ref(p) for p in policy_ids]
    client = client_for(actor)
    result = client.create_responder_request(
        incident.pd_id, requester_id=requester.pd_id, message=message, targets=targets
    )
    try:
        _finish(client, client.get_entity(f"/incidents/{incident.pd_id}"))
    except PagerDutyError as exc:
        logger.info("could not refresh %s after a responder request: %s", incident.pd_id, exc)
    return result


def status_update_publish(
    *,
    actor: Any,
    incident: Incident,
    message: str,
    subject: str | None = None,
    html_message: str | None = None,
) -> Any:
    client = client_for(actor)
    data = client.create_status_update(
        incident.pd_id, message=message, subject=subject or None, html_message=html_message or None
    )
    with transaction.atomic():
        update = mirror.upsert_status_update(data, incident=incident)
        _refresh_log(client, incident)
        _publish([incident.pd_id])
    return update


def template_render(*, actor: Any, template_id: str, incident: Incident, message: str | None = None) -> dict[str, str]:
    """Render Template for this incident: {message, email_subject, email_body} as PagerDuty fills them in."""
    client = client_for(actor)
    body = client.render_template(template_id, incident_id=incident.pd_id, message=message or None)
    fields = body.get("templated_fields", body) if isinstance(body, dict) else {}
    return {k: str(v) for k, v in (fields or {}).items() if v is not None}


# -- alerts ---------------------------------------------------------------------------------------------------------


def alert_resolve(*, actor: Any, incident: Incident, alert_id: str) -> Alert | None:
    """Update Incident Alert: resolve one alert."""
    client = client_for(actor)
    data = client.update(
        f"/incidents/{incident.pd_id}/alerts/{alert_id}", {"type": "alert_reference", "status": "resolved"}
    )
    return _after_alerts(client, incident, [data])[0]


def alerts_manage(
    *, actor: Any, incident: Incident, alert_ids: Sequence[str], resolve: bool = False, target: Incident | None = None
) -> list[Alert | None]:
    """Manage Incident Alerts (PUT /incidents/{id}/alerts): resolve several, or move them to another incident."""
    if not alert_ids:
        raise ActionRefused("Select at least one alert.")
    if not resolve and target is None:
        raise ActionRefused("Choose to resolve the alerts or an incident to move them to.")
    if target is not None and target.pk == incident.pk:
        raise ActionRefused("The alerts are already on this incident.")
    client = client_for(actor)
    results: list[dict[str, Any]] = []
    for start in range(0, len(alert_ids), BULK_LIMIT):
        items = []
        for alert_id in alert_ids[start : start + BULK_LIMIT]:
            item: dict[str, Any] = {"id": alert_id, "type": "alert_reference"}
            if resolve:
                item["status"] = "resolved"
            if target is not None:
                item["incident"] = {"id": target.pd_id, "type": "incident_reference"}
            items.append(item)
        body = client.put(f"/incidents/{incident.pd_id}/alerts", {"alerts": items})
        results.extend(body.get("alerts", []) if isinstance(body, dict) else [])
    return _after_alerts(client, incident, results, target=target)


def _after_alerts(
    client: PagerDutyClient, incident: Incident, alerts: list[dict[str, Any]], target: Incident | None = None
) -> list[Alert | None]:
    with transaction.atomic():
        stored = [mirror.upsert_alert(a, changed_at=timezone.now()) for a in alerts]
        # Alert changes can resolve or re-count the incidents: take PagerDuty's view of both.
        touched = [incident] + ([target] if target is not None else [])
        for item in touched:
            try:
                _apply_incident(client.get_entity(f"/incidents/{item.pd_id}"))
            except PagerDutyError as exc:
                logger.info("could not refresh %s after an alert change: %s", item.pd_id, exc)
            _refresh_log(client, item)
        _publish([i.pd_id for i in touched])
    return stored


# -- many incidents ---------------------------------------------------------------------------------------------------

BULK_STATUS = {"acknowledge": "acknowledged", "resolve": "resolved"}


@dataclass
class BulkResult:
    """Per-incident outcome of a bulk action, summarised in words ("12 done, 2 already resolved")."""

    action: str
    done: list[str] = field(default_factory=list)
    unchanged: dict[str, str] = field(default_factory=dict)  # id -> reason ("already resolved")
    failed: dict[str, str] = field(default_factory=dict)  # id -> PagerDuty's message
    requests: int = 0

    def summary(self) -> str:
        parts = []
        if self.done:
            parts.append(f"{len(self.done)} done")
        for reason, count in Counter(self.unchanged.values()).items():
            parts.append(f"{count} {reason}")
        for message, count in Counter(self.failed.values()).items():
            parts.append(f"{count} refused by PagerDuty: {message}")
        return ", ".join(parts) or "Nothing to do"

    @property
    def ok(self) -> bool:
        return not self.failed


def incidents_bulk(*, actor: Any, incident_ids: Sequence[str], action: str, params: dict[str, Any]) -> BulkResult:
    """Manage Incidents (PUT /incidents) in chunks of 250; a refused chunk does not stop the others."""
    ids = list(dict.fromkeys(incident_ids))
    if not ids:
        raise ActionRefused("Select at least one incident.")
    change: dict[str, Any]
    if action in BULK_STATUS:
        change = {"status": BULK_STATUS[action]}
    elif action == "reassign":
        if params.get("users"):
            change = {"assignments": [{"assignee": _user_ref(u)} for u in params["users"]]}
        elif params.get("escalation_policy"):
            change = {"escalation_policy": _policy_ref(params["escalation_policy"])}
        else:
            raise ActionRefused("Choose users or an escalation policy.")
    elif action == "escalate":
        change = {"escalation_level": int(params["level"])}
    elif action == "priority":
        change = {"priority": {"id": params["priority"], "type": "priority_reference"}}
    elif action == "urgency":
        change = {"urgency": params["urgency"]}
    else:
        raise ActionRefused(f"Unknown bulk action: {action}")
    before = dict(Incident.objects.filter(pd_id__in=ids).values_list("pd_id", "status"))
    result = BulkResult(action=action)
    client = client_for(actor)
    for start in range(0, len(ids), BULK_LIMIT):
        chunk = ids[start : start + BULK_LIMIT]
        result.requests += 1
        try:
            updated = client.manage_incidents([{"id": pd_id, **change} for pd_id in chunk])
        except PagerDutyError as exc:
            for pd_id in chunk:
                result.failed[pd_id] = str(exc)
            continue
        with transaction.atomic():
            for data in updated:
                _apply_incident(data)
        for pd_id in chunk:
            target = change.get("status")
            if target and before.get(pd_id) == target:
                result.unchanged[pd_id] = f"already {target}"
            else:
                result.done.append(pd_id)
    _publish(ids)
    return result


# -- creating things -----------------------------------------------------------------------------------------------


def incident_create(
    *,
    actor: Any,
    title: str,
    service_id: str,
    urgency: str = "",
    priority_id: str = "",
    details: str = "",
    assignee_ids: Sequence[str] = (),
    escalation_policy_id: str = "",
    incident_key: str = "",
) -> Incident:
    """Create Incident (POST /incidents) and mirror it."""
    entity: dict[str, Any] = {
        "type": "incident",
        "title": title,
        "service": {"id": service_id, "type": "service_reference"},
    }
    if urgency:
        entity["urgency"] = urgency
    if priority_id:
        entity["priority"] = {"id": priority_id, "type": "priority_reference"}
    if details:
        entity["body"] = {"type": "incident_body", "details": details}
    if assignee_ids:
        entity["assignments"] = [{"assignee": _user_ref(u)} for u in assignee_ids]
    elif escalation_policy_id:
        entity["escalation_policy"] = _policy_ref(escalation_policy_id)
    if incident_key:
        entity["incident_key"] = incident_key
    client = client_for(actor)
    data = client.create("/incidents", entity)
    return _finish(client, data)


def event_send(*, actor: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Events API v2 Send Event (trigger, acknowledge or resolve); returns PagerDuty's answer (dedup_key…)."""
    from accounts.selectors import events_client

    payload: dict[str, Any] | None = None
    if data["event_action"] == "trigger":
        payload = {"summary": data["summary"], "source": data["source"], "severity": data["severity"]}
        for key, name in (("component", "component"), ("group", "group"), ("event_class", "class")):
            if data.get(key):
                payload[name] = data[key]
        if data.get("custom_details"):
            payload["custom_details"] = data["custom_details"]
    return events_client(user=actor).enqueue(
        routing_key=data["routing_key"],
        event_action=data["event_action"],
        dedup_key=data.get("dedup_key") or None,
        payload=payload,
        links=data.get("links") or None,
    )


def change_event_send(*, actor: Any, data: dict[str, Any]) -> dict[str, Any]:
    """Send Change Event (Events API v2 /v2/change/enqueue)."""
    from accounts.selectors import events_client

    return events_client(user=actor).send_change_event(
        routing_key=data["routing_key"],
        summary=data["summary"],
        source=data.get("source") or None,
        timestamp=data.get("timestamp") or None,
        custom_details=data.get("custom_details") or None,
        links=data.get("links") or None,
    )


def change_event_update(*, actor: Any, event: ChangeEvent, data: dict[str, Any]) -> ChangeEvent | None:
    """Update Change Event (PUT /change_events/{id}), then mirror PagerDuty's answer."""
    changes: dict[str, Any] = {"summary": data["summary"]}
    if data.get("source"):
        changes["source"] = data["source"]
    if data.get("custom_details"):
        changes["custom_details"] = data["custom_details"]
    if data.get("links"):
        changes["links"] = data["links"]
    client = client_for(actor)
    body = client.update(f"/change_events/{event.pd_id}", changes, wrap="change_event")
    with transaction.atomic():
        stored = mirror.upsert_change_event(body, changed_at=timezone.now())
        transaction.on_commit(lambda: live.publish(topic="change_event", ids=[event.pd_id]))
    return stored


# -- live reads that also refresh the mirror ------------------------------------------------------------------------


def priorities_fetch(*, actor: Any) -> list[Any]:
    """List Priorities with the person's identity and refresh the mirror every priority picker reads."""
    client = client_for(actor)
    items = client.list_all("/priorities", concurrency=2)
    with transaction.atomic():
        return mirror.upsert_priorities(items)


def change_events_fetch(*, actor: Any, filters: dict[str, Any]) -> list[ChangeEvent]:
    """List Change Events (team, integration, since/until filters) and mirror them."""
    params: dict[str, Any] = {}
    if filters.get("team"):
        params["team_ids"] = list(filters["team"])
    if filters.get("integration"):
        params["integration_ids"] = [filters["integration"]]
    for key in ("since", "until"):
        if filters.get(key):
            params[key] = filters[key].astimezone(UTC).isoformat().replace("+00:00", "Z")
    client = client_for(actor)
    body = client.get("/change_events", {**params, "limit": 100})
    events = body.get("change_events", []) if isinstance(body, dict) else []
    with transaction.atomic():
        return [e for e in (mirror.upsert_change_event(item) for item in events) if e is not None]


def change_event_fetch(*, actor: Any, pd_id: str) -> ChangeEvent | None:
    """Get Change Event and mirror it."""
    client = client_for(actor)
    data = client.get_entity(f"/change_events/{pd_id}")
    with transaction.atomic():
        return mirror.upsert_change_event(data)


def notifications_fetch(*, actor: Any, filters: dict[str, Any]) -> list[dict[str, Any]]:
    """List Notifications between since and until (PagerDuty: at most 3 months), newest first; not mirrored."""
    params: dict[str, Any] = {
        "since": filters["since"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "until": filters["until"].astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if filters.get("filter"):
        params["filter"] = filters["filter"]
    if filters.get("time_zone"):
        params["time_zone"] = filters["time_zone"]
    client = client_for(actor)
    items = client.list_all("/notifications", params, concurrency=2)
    for item in items:
        item["started_at_dt"] = mirror.parse_time(item.get("started_at"))
    return items

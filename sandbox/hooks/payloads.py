"""Build webhook v3 bodies shaped like PagerDuty's (`{"event": {id, event_type, ..., data}}`)."""

import os
import time

from sandbox import knobs

EVENT_TYPES = (
    "incident.acknowledged",
    "incident.action_invocation.created",
    "incident.action_invocation.terminated",
    "incident.action_invocation.updated",
    "incident.annotated",
    "incident.conference_bridge.updated",
    "incident.custom_field_values.updated",
    "incident.delegated",
    "incident.escalated",
    "incident.incident_type.changed",
    "incident.priority_updated",
    "incident.reassigned",
    "incident.reopened",
    "incident.resolved",
    "incident.responder.added",
    "incident.responder.replied",
    "incident.role.assigned",
    "incident.service_updated",
    "incident.status_update_published",
    "incident.task.completed",
    "incident.task.created",
    "incident.task.updated",
    "incident.triggered",
    "incident.unacknowledged",
    "incident.workflow.completed",
    "incident.workflow.started",
    "service.created",
    "service.custom_field_values.updated",
    "service.deleted",
    "service.updated",
)
PING = "pagey.ping"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def event_id() -> str:
    """A ULID (26 Crockford base-32 chars, time-ordered), like PagerDuty's webhook event ids."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


def occurred_at(moment=None) -> str:
    moment = moment or knobs.utcnow()
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _model_name(obj) -> str:
    meta = getattr(obj, "_meta", None)
    return meta.model_name if meta is not None else ""


def agent_json(agent):
    """The actor of the change: a user, an integration (Events API), a ready-made dict, or null."""
    from sandbox.api import serializers

    if agent is None or isinstance(agent, dict):
        return agent
    kind = _model_name(agent)
    if kind == "user":
        return serializers.user_ref(agent)
    if kind == "integration":
        ref = serializers.integration_ref(agent)
        return {**ref, "type": "inbound_integration_reference"}
    if kind == "service":
        return serializers.service_ref(agent)
    return None


def _committed(incident):
    """The incident as committed, re-read from the database.

    Emitters pass the instance the view loaded, whose prefetch cache (assignments, acknowledgements)
    predates the change; serialising it would describe the incident as it was before.
    """
    from sandbox.api.selectors import incidents_qs

    if getattr(incident, "pk", None) is None:
        return incident
    return incidents_qs().filter(pk=incident.pk).first() or incident


def incident_data(incident) -> dict:
    """The `incident` event data type, derived from the REST serializer so both views agree."""
    from sandbox.api.serializers import incident_json

    body = incident_json(_committed(incident))
    data = {
        "id": body["id"],
        "type": "incident",
        "self": body["self"],
        "html_url": body["html_url"],
        "number": body["incident_number"],
        "status": body["status"],
        "incident_key": body["incident_key"],
        "created_at": body["created_at"],
        "title": body["title"],
        "service": body["service"],
        "assignees": [a["assignee"] for a in body["assignments"]],
        "escalation_policy": body["escalation_policy"],
        "teams": body["teams"],
        "priority": body["priority"],
        "urgency": body["urgency"],
        "conference_bridge": body["conference_bridge"],
        "resolve_reason": body["resolve_reason"],
        "incident_type": body.get("incident_type") or {"name": "incident_default"},
    }
    return data


def _incident_ref(incident) -> dict:
    from sandbox.api.serializers import incident_ref

    ref = incident_ref(incident)
    # Webhooks summarise an incident by its title alone.
    return {**ref, "summary": incident.title}


def service_data(service, *, deleted: bool = False) -> dict:
    from sandbox.api.context import api_url, html_url
    from sandbox.api.serializers import team_ref

    data = {
        "html_url": html_url(f"/service-directory/{service.id}"),
        "id": service.id,
        "self": api_url(f"/services/{service.id}"),
        "summary": service.name,
        "type": "service",
    }
    if not deleted and service.pk is not None and not service._state.adding:
        data["alert_creation"] = service.alert_creation
        data["teams"] = [team_ref(t) for t in service.teams.all()]
    return data


def _note_data(note) -> dict:
    return {
        "incident": _incident_ref(note.incident),
        "id": note.id,
        "content": note.content,
        "trimmed": False,
        "type": "incident_note",
    }


def _status_update_data(update) -> dict:
    return {
        "incident": _incident_ref(update.incident),
        "id": update.id,
        "message": update.message,
        "trimmed": False,
        "type": "incident_status_update",
    }


def _responder_data(request, target) -> dict:
    from sandbox.api.serializers import escalation_policy_ref, user_ref

    policy = request.incident.escalation_policy
    return {
        "incident": _incident_ref(request.incident),
        "user": user_ref(target),
        "escalation_policy": escalation_policy_ref(policy) if policy else None,
        "message": request.message,
        "state": "pending",
        "type": "incident_responder",
    }


def _reply_data(incident, *, user, state, message="") -> dict:
    """incident.responder.replied: the responder's answer (`accepted` or `declined`, as webhooks say it)."""
    from sandbox.api.serializers import escalation_policy_ref, user_ref

    policy = incident.escalation_policy
    return {
        "incident": _incident_ref(incident),
        "user": user_ref(user),
        "escalation_policy": escalation_policy_ref(policy) if policy else None,
        "message": message,
        "state": state,
        "type": "incident_responder",
    }


def _conference_bridge_data(incident) -> dict:
    bridge = incident.conference_bridge or {}
    number = bridge.get("conference_number")
    return {
        "incident": _incident_ref(incident),
        "conference_numbers": [{"label": "", "number": number}] if number else [],
        "conference_url": bridge.get("conference_url"),
        "type": "incident_conference_bridge",
    }


def data_items(event_type: str, *, resource, data=None) -> list[dict]:
    """Every `data` object the change produces (a responder request to several users yields several)."""
    if isinstance(data, dict) and data:
        if "note" in data and _model_name(data["note"]) == "note":
            return [_note_data(data["note"])]
        if "status_update" in data and _model_name(data["status_update"]) == "statusupdate":
            return [_status_update_data(data["status_update"])]
        if "responder" in data and isinstance(data["responder"], dict) and "user" in data["responder"]:
            return [_reply_data(resource, **data["responder"])]
        if "responder_request" in data and _model_name(data["responder_request"]) == "responderrequest":
            request = data["responder_request"]
            return [_responder_data(request, t) for t in request.targets.all()] or []
        if not any(_model_name(v) for v in data.values()):
            return [data]
    kind = _model_name(resource)
    if kind == "incident" and event_type == "incident.conference_bridge.updated":
        return [_conference_bridge_data(resource)]
    if kind == "incident":
        return [incident_data(resource)]
    if kind == "service":
        return [service_data(resource, deleted=event_type == "service.deleted")]
    if isinstance(resource, dict):
        return [resource]
    return []


def envelope(event_type: str, *, data: dict, agent=None, client=None, at=None) -> dict:
    return {
        "event": {
            "id": event_id(),
            "event_type": event_type,
            "resource_type": event_type.split(".", 1)[0],
            "occurred_at": occurred_at(at),
            "agent": agent_json(agent),
            "client": client,
            "data": data,
        }
    }


def ping_envelope(agent=None) -> dict:
    return envelope(PING, data={"message": "Hello from your friend Pagey!", "type": "ping"}, agent=agent)

"""REST v2 views for incidents, alerts, notes, log entries, status updates and responder requests."""

import datetime as dt

from django.db import transaction

from . import domain
from . import models as m
from . import selectors as sel
from . import serializers as ser
from .context import now
from .errors import ApiError, invalid, not_found
from .http import (
    acting_user,
    apply_time_zone,
    body,
    get_or_404,
    includes,
    lookup,
    obj,
    page,
    parse_time,
    qlist,
    ref_id,
    require,
    respond,
    routes,
)

MAX_BULK = 250
STATUSES = ("triggered", "acknowledged", "resolved")
SORTABLE = {"incident_number": "number", "created_at": "created_at", "resolved_at": "resolved_at", "urgency": "urgency"}


def _sort(request):
    order = []
    items = qlist(request, "sort_by")
    if len(items) > 2:
        raise invalid("sort_by accepts at most two fields")
    for item in items:
        field, _, direction = item.partition(":")
        if field not in SORTABLE:
            raise invalid(f"sort_by field {field} is not supported")
        order.append(("-" if direction == "desc" else "") + SORTABLE[field])
    return [*order, "id"] if order else ["created_at", "id"]


def _incident(pk, include=()):
    return get_or_404(m.Incident, pk, sel.incidents_with_includes(include))


def _fresh(incident, include=()):
    return ser.incident_json(_incident(incident.pk, include), include)


DEFAULT_WINDOW = dt.timedelta(days=31)
MAX_WINDOW = dt.timedelta(days=183)


def _incident_window(request):
    """PagerDuty searches the last month by default, at most six months; `date_range=all` lifts both."""
    if request.GET.get("date_range") == "all":
        return None, None
    since = parse_time(request.GET.get("since"), "since")
    until = parse_time(request.GET.get("until"), "until")
    if since is None and until is None:
        # A little slack past "now" so an incident created this second is still listed.
        until = now() + dt.timedelta(minutes=1)
        return until - DEFAULT_WINDOW, until
    if since is None:
        since = until - DEFAULT_WINDOW
    if until is None:
        until = max(since + DEFAULT_WINDOW, now() + dt.timedelta(minutes=1))
    if since > until:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, ["since must be before until"])
    if until - since > MAX_WINDOW:
        raise ApiError(400, "Invalid Query Date Range", 2005, ["The date range may not exceed 6 months"])
    return since, until


def list_incidents(request):
    require(request, "incidents.read")
    domain.expire_snoozes()
    apply_time_zone(request)
    include = includes(request)
    statuses = qlist(request, "statuses")
    if any(s not in STATUSES for s in statuses):
        raise invalid("statuses must be triggered, acknowledged or resolved")
    urgencies = qlist(request, "urgencies")
    if any(u not in ("high", "low") for u in urgencies):
        raise invalid("urgencies must be high or low")
    if request.GET.get("date_range") not in (None, "", "all"):
        raise invalid("date_range must be all")
    since, until = _incident_window(request)
    qs = sel.incidents_filtered(
        statuses=statuses,
        urgencies=urgencies,
        service_ids=qlist(request, "service_ids"),
        team_ids=qlist(request, "team_ids"),
        user_ids=qlist(request, "user_ids"),
        incident_key=request.GET.get("incident_key"),
        since=since,
        until=until,
        sort_by=_sort(request),
        include=include,
    )
    return page(request, qs, "incidents", lambda i: ser.incident_json(i, include))


def get_incident(request, incident_id):
    require(request, "incidents.read")
    domain.expire_snoozes()
    apply_time_zone(request)
    include = includes(request)
    return respond({"incident": ser.incident_json(_incident(incident_id, include), include)})


def create_incident(request):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    data = obj(body(request), "incident")
    if not data.get("title"):
        raise invalid("Incident title can't be blank")
    if "service" not in data:
        raise invalid("Incident service is required")
    service = lookup(m.Service, data["service"], "Service")
    if data.get("assignments") and data.get("escalation_policy"):
        raise invalid("Assignments cannot be specified together with an escalation policy")
    assignees = [lookup(m.User, a.get("assignee"), "Assignee") for a in data.get("assignments") or []]
    policy = (
        lookup(m.EscalationPolicy, data["escalation_policy"], "Escalation policy")
        if data.get("escalation_policy")
        else None
    )
    priority = lookup(m.Priority, data["priority"], "Priority") if data.get("priority") else None
    service = lookup(m.Service, data["service"], "Service") if data.get("service") else None
    urgency = data.get("urgency")
    if urgency not in (None, "high", "low"):
        raise invalid("Urgency must be high or low")
    details = (data.get("body") or {}).get("details")
    incident = domain.incident_create(
        actor=actor,
        service=service,
        title=data["title"],
        urgency=urgency,
        priority=priority,
        details=details,
        incident_key=data.get("incident_key"),
        assignees=assignees,
        escalation_policy=policy,
        conference_bridge=data.get("conference_bridge"),
        channel={"type": "web_trigger", "summary": data["title"], "details": details},
    )
    return respond({"incident": _fresh(incident)}, 201)


def _priority_value(value):
    if value is None:
        return None
    if isinstance(value, str):
        found = m.Priority.objects.filter(name=value).first() or m.Priority.objects.filter(pk=value).first()
        if found is None:
            raise invalid(f"Priority {value} not found")
        return found
    return lookup(m.Priority, value, "Priority")


def apply_incident_update(*, actor, incident, data):
    """Apply one incident update (single PUT or one item of a bulk PUT); raises ApiError on bad input."""
    status = data.get("status")
    if status is not None and status not in STATUSES:
        raise invalid("Status must be triggered, acknowledged or resolved")
    if data.get("assignments") and data.get("escalation_policy"):
        raise invalid("Assignments cannot be specified together with an escalation policy")
    assignees = [lookup(m.User, a.get("assignee"), "Assignee") for a in data.get("assignments") or []]
    policy = (
        lookup(m.EscalationPolicy, data["escalation_policy"], "Escalation policy")
        if data.get("escalation_policy")
        else None
    )
    service = lookup(m.Service, data["service"], "Service") if data.get("service") else None
    urgency = data.get("urgency")
    if urgency not in (None, "high", "low"):
        raise invalid("Urgency must be high or low")
    level = data.get("escalation_level")
    if level is not None and not isinstance(level, int):
        raise invalid("Escalation level must be an integer")
    with transaction.atomic():
        domain.incident_update_fields(
            actor=actor,
            incident=incident,
            title=data.get("title"),
            urgency=urgency,
            priority=_priority_value(data["priority"]) if "priority" in data else False,
            service=service,
            conference_bridge=data.get("conference_bridge", False),
        )
        if status == "resolved":
            domain.incident_resolve(actor=actor, incident=incident, resolution=data.get("resolution"))
            return incident
        if status == "acknowledged":
            domain.incident_acknowledge(actor=actor, incident=incident)
        elif status == "triggered" and incident.status != "triggered":
            domain.incident_unacknowledge(actor=actor, incident=incident)
        if assignees:
            domain.incident_reassign(actor=actor, incident=incident, users=assignees)
        elif policy is not None:
            domain.incident_delegate(actor=actor, incident=incident, policy=policy)
        if level is not None:
            domain.incident_escalate(actor=actor, incident=incident, level=level)
    return incident


def update_incident(request, incident_id):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    data = obj(body(request), "incident")
    incident = _incident(incident_id)
    apply_incident_update(actor=actor, incident=incident, data=data)
    return respond({"incident": _fresh(incident)})


def manage_incidents(request):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    items = body(request).get("incidents")
    if not isinstance(items, list) or not items:
        raise invalid("incidents must be a non-empty array")
    if len(items) > MAX_BULK:
        raise ApiError(
            413, "Request Entity Too Large", 2001, [f"A maximum of {MAX_BULK} incidents may be updated at a time."]
        )
    ids = [ref_id(item, "Incident") for item in items]
    found = {i.pk: i for i in m.Incident.objects.filter(pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise invalid(*(f"Incident {pk} not found" for pk in missing))
    with transaction.atomic():
        for item, pk in zip(items, ids, strict=True):
            apply_incident_update(actor=actor, incident=found[pk], data=item)
    fresh = {i.pk: i for i in sel.incidents_qs().filter(pk__in=ids)}
    return respond({"incidents": [ser.incident_json(fresh[pk]) for pk in ids]})


def snooze_incident(request, incident_id):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    duration = body(request).get("duration")
    if not isinstance(duration, int) or not 1 <= duration <= 604800:
        raise invalid("Duration must be an integer between 1 and 604800 seconds")
    incident = _incident(incident_id)
    domain.incident_snooze(actor=actor, incident=incident, duration=duration)
    return respond({"incident": _fresh(incident)}, 201)


def merge_incidents(request, incident_id):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    sources = body(request).get("source_incidents")
    if not isinstance(sources, list) or not sources:
        raise invalid("source_incidents must be a non-empty array")
    target = _incident(incident_id)
    incidents = [lookup(m.Incident, s, "Incident") for s in sources]
    domain.incident_merge(actor=actor, target=target, sources=incidents)
    # The spec answers with a reference to the target (its summary is "[#number] title"), not the incident.
    return respond({"incident": ser.incident_ref(target)})


# --- alerts ---------------------------------------------------------------------------------------


def list_alerts(request, incident_id):
    require(request, "incidents.read")
    apply_time_zone(request)
    incident = _incident(incident_id)
    include = includes(request)
    qs = sel.alerts_qs().filter(incident=incident)
    if "services" in include:
        qs = qs.select_related("service__escalation_policy").prefetch_related(
            "service__teams", "service__integrations__service"
        )
    statuses = qlist(request, "statuses")
    if statuses:
        qs = qs.filter(status__in=statuses)
    if request.GET.get("alert_key"):
        qs = qs.filter(alert_key=request.GET["alert_key"])
    sort = request.GET.get("sort_by", "created_at")
    field, _, direction = sort.partition(":")
    if field not in ("created_at", "resolved_at"):
        raise invalid("sort_by must be created_at or resolved_at")
    qs = qs.order_by(("-" if direction == "desc" else "") + "created_at", "id")
    return page(request, qs, "alerts", lambda a: ser.alert_json(a, include))


def get_alert(request, incident_id, alert_id):
    require(request, "incidents.read")
    alert = get_or_404(m.Alert, alert_id, sel.alerts_qs().filter(incident_id=incident_id))
    return respond({"alert": ser.alert_json(alert)})


def _apply_alert_update(actor, alert, data):
    if data.get("status") not in (None, "resolved"):
        raise invalid("Alert status can only be set to resolved")
    target = data.get("incident")
    if target is not None:
        domain.alert_move(actor=actor, alert=alert, target=lookup(m.Incident, target, "Incident"))
    if data.get("status") == "resolved":
        domain.alert_resolve(actor=actor, alert=alert)


def update_alert(request, incident_id, alert_id):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    data = obj(body(request), "alert")
    alert = get_or_404(m.Alert, alert_id, sel.alerts_qs().filter(incident_id=incident_id))
    with transaction.atomic():
        _apply_alert_update(actor, alert, data)
    return respond({"alert": ser.alert_json(get_or_404(m.Alert, alert_id, sel.alerts_qs()))})


def manage_alerts(request, incident_id):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    items = body(request).get("alerts")
    if not isinstance(items, list) or not items:
        raise invalid("alerts must be a non-empty array")
    if len(items) > MAX_BULK:
        raise ApiError(
            413, "Request Entity Too Large", 2001, [f"A maximum of {MAX_BULK} alerts may be updated at a time."]
        )
    _incident(incident_id)
    ids = [ref_id(item, "Alert") for item in items]
    found = {a.pk: a for a in sel.alerts_qs().filter(incident_id=incident_id, pk__in=ids)}
    missing = [pk for pk in ids if pk not in found]
    if missing:
        raise invalid(*(f"Alert {pk} not found on incident {incident_id}" for pk in missing))
    with transaction.atomic():
        for item, pk in zip(items, ids, strict=True):
            _apply_alert_update(actor, found[pk], item)
    fresh = {a.pk: a for a in sel.alerts_qs().filter(pk__in=ids)}
    return respond(
        {
            "alerts": [ser.alert_json(fresh[pk]) for pk in ids],
            "limit": len(ids),
            "offset": 0,
            "more": False,
            "total": None,
        }
    )


# --- notes, status updates, responder requests ----------------------------------------------------


def list_notes(request, incident_id):
    require(request, "incidents.read")
    incident = _incident(incident_id)
    notes = incident.notes.select_related("user")
    return respond({"notes": [ser.note_json(n) for n in notes]})


def create_note(request, incident_id):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    data = obj(body(request), "note")
    content = data.get("content")
    if not isinstance(content, str) or not content.strip():
        raise invalid("Note content can't be blank")
    incident = _incident(incident_id)
    note = domain.note_create(actor=actor, incident=incident, content=content)
    return respond({"note": ser.note_json(note)})


def create_status_update(request, incident_id):
    require(request, "incidents.write", write=True)
    actor = acting_user(request)
    data = body(request)
    message = data.get("message")
    if not isinstance(message, str) or not message.strip():
        raise invalid("Message can't be blank")
    incident = _incident(incident_id)
    update = domain.status_update_create(
        actor=actor,
        incident=incident,
        message=message,
        subject=data.get("subject") or "",
        html_message=data.get("html_message") or "",
    )
    return respond({"status_update": ser.status_update_json(update)})


def list_status_updates(request, incident_id):
    # Not in PagerDuty's public spec; the portal reads status updates from log entries / webhooks.
    require(request, "incidents.read")
    incident = _incident(incident_id)
    return respond(
        {"status_updates": [ser.status_update_json(u) for u in incident.status_updates.select_related("sender")]}
    )


def create_responder_request(request, incident_id):
    require(request, "incidents.write", write=True)
    # The spec names the requester in the body (`requester_id`) rather than in a From header.
    actor = acting_user(request, required=False)
    data = body(request)
    requester = lookup(m.User, data["requester_id"], "Requester") if data.get("requester_id") else actor
    if requester is None:
        raise invalid("requester_id is required")
    targets = []
    for item in data.get("responder_request_targets") or []:
        target = (item or {}).get("responder_request_target") or {}
        if target.get("type") not in ("user_reference", "user"):
            raise invalid("Only user responder request targets are supported by the sandbox")
        targets.append(lookup(m.User, target, "User"))
    if not targets:
        raise invalid("responder_request_targets can't be empty")
    incident = _incident(incident_id)
    rr = domain.responder_request_create(
        actor=requester, incident=incident, targets=targets, message=data.get("message") or ""
    )
    rr = m.ResponderRequest.objects.select_related("incident", "requester").prefetch_related("targets").get(pk=rr.pk)
    return respond({"responder_request": ser.responder_request_json(rr)})


# --- log entries ----------------------------------------------------------------------------------


def _log_entries(request, qs):
    apply_time_zone(request)
    include = includes(request)
    since = parse_time(request.GET.get("since"), "since")
    until = parse_time(request.GET.get("until"), "until")
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    if request.GET.get("is_overview", "").lower() == "true":
        qs = qs.filter(is_overview=True)
    team_ids = qlist(request, "team_ids")
    if team_ids:
        qs = qs.filter(incident__service__in=m.Service.objects.filter(teams__in=team_ids))
    qs = qs.order_by("-created_at", "-id")
    return page(request, qs, "log_entries", lambda e: ser.log_entry_json(e, include))


def incident_log_entries(request, incident_id):
    require(request, "incidents.read")
    _incident(incident_id)
    return _log_entries(request, sel.log_entries_qs(includes(request)).filter(incident_id=incident_id))


def list_log_entries(request):
    require(request, "incidents.read")
    return _log_entries(request, sel.log_entries_qs(includes(request)))


def get_log_entry(request, entry_id):
    require(request, "incidents.read")
    apply_time_zone(request)
    include = includes(request)
    entry = sel.log_entries_qs(include).filter(pk=entry_id).first()
    if entry is None:
        raise not_found()
    return respond({"log_entry": ser.log_entry_json(entry, include)})


incidents = routes(GET=list_incidents, POST=create_incident, PUT=manage_incidents)
incident = routes(GET=get_incident, PUT=update_incident)
snooze = routes(POST=snooze_incident)
merge = routes(PUT=merge_incidents)
alerts = routes(GET=list_alerts, PUT=manage_alerts)
alert = routes(GET=get_alert, PUT=update_alert)
notes = routes(GET=list_notes, POST=create_note)
status_updates = routes(GET=list_status_updates, POST=create_status_update)
responder_requests = routes(POST=create_responder_request)
incident_log = routes(GET=incident_log_entries)
log_entries = routes(GET=list_log_entries)
log_entry = routes(GET=get_log_entry)

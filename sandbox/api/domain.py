"""Every state change of the emulated account, with its log entries and webhook events."""

from __future__ import annotations

import datetime as dt
import re

from django.db import transaction
from django.db.models import Max

from . import models as m
from .context import new_id, new_log_entry_id, now
from .errors import arguments_error, invalid

API_CHANNEL = {"type": "api"}
OPEN = ("triggered", "acknowledged")


def _emit(event_type, *, resource, agent=None, data=None):
    """Queue a webhook event for after the commit, so subscribers never see uncommitted state."""
    from sandbox.hooks.emit import emit

    transaction.on_commit(lambda: emit(event_type, resource=resource, agent=agent, data=data))


def _log(incident, entry_type, summary, *, user=None, service=None, channel=None, extra=None, at=None, overview=True):
    return m.LogEntry.objects.create(
        id=new_log_entry_id(),
        type=entry_type,
        summary=summary,
        incident=incident,
        created_at=at or now(),
        agent_user=user,
        agent_service=service if user is None else None,
        channel=channel or ({"type": "website"} if user else API_CHANNEL),
        extra=extra or {},
        is_overview=overview,
    )


def _user_ref_json(user):
    from .serializers import user_ref

    return user_ref(user)


def _touch(incident, *, user, at):
    incident.updated_at = at
    incident.last_status_change_at = at
    incident.last_status_change_by_user = user


def _policy_targets(policy, level):
    rules = list(policy.rules.prefetch_related("targets"))
    if not rules:
        return []
    rule = rules[min(max(level, 1), len(rules)) - 1]
    return list(rule.targets.all())


def _set_assignees(incident, users, at):
    m.Assignment.objects.filter(incident=incident).delete()
    m.Assignment.objects.bulk_create([m.Assignment(incident=incident, user=u, at=at) for u in users])


def _notify(incident, users, at):
    rows = []
    for user in users:
        method = next(iter(user.contact_methods.all()), None)
        if method is None:
            continue
        kind = {
            "email_contact_method": "email_notification",
            "phone_contact_method": "phone_notification",
            "sms_contact_method": "sms_notification",
        }.get(method.type, "push_notification")
        rows.append(
            m.Notification(id=new_id(), type=kind, started_at=at, address=method.address, user=user, incident=incident)
        )
    m.Notification.objects.bulk_create(rows)


def recount_alerts(incident):
    triggered = incident.alerts.filter(status="triggered").count()
    resolved = incident.alerts.filter(status="resolved").count()
    m.Incident.objects.filter(pk=incident.pk).update(alerts_triggered=triggered, alerts_resolved=resolved)
    incident.alerts_triggered, incident.alerts_resolved = triggered, resolved


def next_incident_number():
    return (m.Incident.objects.aggregate(n=Max("number"))["n"] or 0) + 1


# --- incidents ------------------------------------------------------------------------------------


@transaction.atomic
def incident_create(
    *,
    actor: m.User | None,
    service: m.Service,
    title: str,
    urgency: str | None = None,
    priority: m.Priority | None = None,
    details=None,
    incident_key: str | None = None,
    assignees: list[m.User] | None = None,
    escalation_policy: m.EscalationPolicy | None = None,
    conference_bridge=None,
    channel=None,
    at: dt.datetime | None = None,
) -> m.Incident:
    at = at or now()
    if incident_key:
        existing = m.Incident.objects.filter(service=service, incident_key=incident_key, status__in=OPEN).first()
        if existing is not None:
            raise invalid("Open incident with matching dedup key already exists on this service")
    policy = escalation_policy or service.escalation_policy
    direct = bool(assignees)
    users = list(assignees) if direct else _policy_targets(policy, 1)
    incident = m.Incident.objects.create(
        id=new_id(),
        number=next_incident_number(),
        title=title,
        status="triggered",
        urgency=urgency or "high",
        service=service,
        escalation_policy=policy,
        priority=priority,
        incident_key=incident_key or new_id("", 32).lower(),
        body_details=details,
        conference_bridge=conference_bridge,
        assigned_via="direct_assignment" if direct else "escalation_policy",
        created_at=at,
        updated_at=at,
        last_status_change_at=at,
        last_status_change_by_user=actor,
        escalated_at=at,
    )
    entry = _log(
        incident,
        "trigger_log_entry",
        "Triggered through the API",
        user=actor,
        service=service,
        channel=channel or {"type": "api" if actor is None else "web_trigger", "summary": title},
        at=at,
    )
    incident.first_trigger_log_entry_id = entry.id
    incident.save(update_fields=["first_trigger_log_entry_id"])
    _set_assignees(incident, users, at)
    _log(
        incident,
        "assign_log_entry",
        "Assigned to " + ", ".join(u.name for u in users),
        user=actor,
        service=service,
        extra={"assignees": [_user_ref_json(u) for u in users]},
        at=at,
        overview=False,
    )
    _notify(incident, users, at)
    m.Service.objects.filter(pk=service.pk).update(last_incident_timestamp=at)
    _emit("incident.triggered", resource=incident, agent=actor)
    return incident


def _reopen_if_resolved(incident, actor):
    if incident.status == "resolved":
        incident.resolved_at = None
        _emit("incident.reopened", resource=incident, agent=actor)
        return True
    return False


@transaction.atomic
def incident_acknowledge(*, actor: m.User | None, incident: m.Incident, channel=None) -> m.Incident:
    at = now()
    if incident.status == "acknowledged" and actor and incident.acknowledgements.filter(user=actor).exists():
        return incident
    reopened = _reopen_if_resolved(incident, actor)
    incident.status = "acknowledged"
    incident.snoozed_until = None
    _touch(incident, user=actor, at=at)
    incident.save()
    if actor is not None:
        m.Acknowledgement.objects.create(incident=incident, user=actor, at=at)
        if reopened:
            _set_assignees(incident, [actor], at)
    _log(
        incident,
        "acknowledge_log_entry",
        f"Acknowledged by {actor.name if actor else 'API'}",
        user=actor,
        service=incident.service,
        channel=channel,
        at=at,
    )
    _emit("incident.acknowledged", resource=incident, agent=actor)
    return incident


@transaction.atomic
def incident_unacknowledge(*, actor: m.User | None, incident: m.Incident, channel=None) -> m.Incident:
    """Back to triggered: reopen a resolved incident, or undo an acknowledgement (snooze expiry too)."""
    at = now()
    reopened = _reopen_if_resolved(incident, actor)
    incident.status = "triggered"
    incident.snoozed_until = None
    # Back to triggered: the current level is paged again and its escalation delay starts over.
    incident.escalated_at = at
    _touch(incident, user=actor, at=at)
    incident.save()
    m.Acknowledgement.objects.filter(incident=incident).delete()
    if reopened:
        users = _policy_targets(incident.escalation_policy, 1)
        incident.escalation_level = 1
        incident.save(update_fields=["escalation_level"])
        _set_assignees(incident, users, at)
        _log(incident, "trigger_log_entry", "Reopened", user=actor, service=incident.service, channel=channel, at=at)
    else:
        _log(
            incident,
            "unacknowledge_log_entry",
            "Unacknowledged",
            user=actor,
            service=incident.service,
            channel=channel or {"type": "timeout"},
            at=at,
        )
        _emit("incident.unacknowledged", resource=incident, agent=actor)
    return incident


@transaction.atomic
def incident_resolve(
    *, actor: m.User | None, incident: m.Incident, resolution: str | None = None, channel=None, emit=True
) -> m.Incident:
    if incident.status == "resolved":
        return incident
    at = now()
    incident.status = "resolved"
    incident.resolved_at = at
    incident.snoozed_until = None
    _touch(incident, user=actor, at=at)
    incident.save()
    incident.alerts.filter(status="triggered").update(status="resolved")
    recount_alerts(incident)
    m.Assignment.objects.filter(incident=incident).delete()
    extra = {"note": resolution} if resolution else {}
    _log(
        incident,
        "resolve_log_entry",
        f"Resolved by {actor.name if actor else 'API'}",
        user=actor,
        service=incident.service,
        channel=channel,
        extra=extra,
        at=at,
    )
    if emit:
        _emit("incident.resolved", resource=incident, agent=actor)
    return incident


@transaction.atomic
def incident_reassign(*, actor: m.User | None, incident: m.Incident, users: list[m.User]) -> m.Incident:
    at = now()
    if incident.status == "resolved":
        raise invalid("Incident is resolved; it cannot be reassigned.")
    incident.status = "triggered"
    incident.assigned_via = "direct_assignment"
    incident.updated_at = at
    incident.save()
    m.Acknowledgement.objects.filter(incident=incident).delete()
    _set_assignees(incident, users, at)
    _log(
        incident,
        "assign_log_entry",
        "Reassigned to " + ", ".join(u.name for u in users),
        user=actor,
        service=incident.service,
        extra={"assignees": [_user_ref_json(u) for u in users]},
        at=at,
    )
    _notify(incident, users, at)
    _emit("incident.reassigned", resource=incident, agent=actor)
    return incident


@transaction.atomic
def incident_delegate(*, actor: m.User | None, incident: m.Incident, policy: m.EscalationPolicy) -> m.Incident:
    at = now()
    if incident.status == "resolved":
        raise invalid("Incident is resolved; it cannot be reassigned.")
    users = _policy_targets(policy, 1)
    incident.escalation_policy = policy
    incident.escalation_level = 1
    incident.escalated_at = at
    incident.status = "triggered"
    incident.assigned_via = "escalation_policy"
    incident.updated_at = at
    incident.save()
    m.Acknowledgement.objects.filter(incident=incident).delete()
    _set_assignees(incident, users, at)
    _log(
        incident,
        "delegate_log_entry",
        f"Reassigned to {policy.name}",
        user=actor,
        service=incident.service,
        extra={"assignees": [_user_ref_json(u) for u in users]},
        at=at,
    )
    _notify(incident, users, at)
    _emit("incident.delegated", resource=incident, agent=actor)
    return incident


@transaction.atomic
def incident_escalate(*, actor: m.User | None, incident: m.Incident, level: int) -> m.Incident:
    at = now()
    levels = incident.escalation_policy.rules.count()
    if incident.status == "resolved":
        raise invalid("Incident is resolved; it cannot be escalated.")
    if level < 1 or level > max(levels, 1):
        raise invalid(f"Escalation level must be between 1 and {max(levels, 1)}.")
    users = _policy_targets(incident.escalation_policy, level)
    incident.escalation_level = level
    incident.escalated_at = at
    incident.status = "triggered"
    incident.assigned_via = "escalation_policy"
    incident.updated_at = at
    incident.save()
    m.Acknowledgement.objects.filter(incident=incident).delete()
    _set_assignees(incident, users, at)
    _log(
        incident,
        "escalate_log_entry",
        f"Escalated to level {level}",
        user=actor,
        service=incident.service,
        extra={"assignees": [_user_ref_json(u) for u in users], "escalation_level": level},
        at=at,
    )
    _notify(incident, users, at)
    _emit("incident.escalated", resource=incident, agent=actor)
    return incident


@transaction.atomic
def incident_update_fields(
    *,
    actor: m.User | None,
    incident: m.Incident,
    title: str | None = None,
    urgency: str | None = None,
    priority: m.Priority | bool | None = False,
    conference_bridge=False,
    service: m.Service | None = None,
) -> m.Incident:
    """Change title / urgency / priority / service / conference bridge; `False` means "not given"."""
    at = now()
    changed = False
    if title is not None and title != incident.title:
        incident.title = title
        changed = True
    if urgency is not None and urgency != incident.urgency:
        old = incident.urgency
        incident.urgency = urgency
        _log(
            incident,
            "urgency_change_log_entry",
            f"Urgency changed from {old} to {urgency}",
            user=actor,
            service=incident.service,
            at=at,
        )
        changed = True
    if priority is not False and priority != incident.priority:
        incident.priority = priority
        _emit("incident.priority_updated", resource=incident, agent=actor)
        changed = True
    if service is not None and service != incident.service:
        incident.service = service
        _emit("incident.service_updated", resource=incident, agent=actor)
        changed = True
    if conference_bridge is not False:
        incident.conference_bridge = conference_bridge
        _emit("incident.conference_bridge.updated", resource=incident, agent=actor)
        changed = True
    if changed:
        incident.updated_at = at
        incident.save()
    return incident


@transaction.atomic
def incident_snooze(*, actor: m.User | None, incident: m.Incident, duration: int) -> m.Incident:
    if incident.status != "acknowledged":
        raise arguments_error("Incident must be acknowledged to be snoozed.")
    at = now()
    incident.snoozed_until = at + dt.timedelta(seconds=duration)
    incident.updated_at = at
    incident.save()
    _log(
        incident,
        "snooze_log_entry",
        f"Snoozed for {duration // 60} minutes",
        user=actor,
        service=incident.service,
        extra={
            "changed_actions": [{"type": "unacknowledge", "at": incident.snoozed_until.strftime("%Y-%m-%dT%H:%M:%SZ")}]
        },
        at=at,
    )
    return incident


def expire_snoozes():
    """Return snoozed incidents whose time ran out to `triggered` (called lazily on reads)."""
    for incident in m.Incident.objects.filter(status="acknowledged", snoozed_until__lte=now()):
        incident_unacknowledge(actor=None, incident=incident)


@transaction.atomic
def incident_merge(*, actor: m.User | None, target: m.Incident, sources: list[m.Incident]) -> m.Incident:
    if target.status == "resolved":
        raise arguments_error("Open incidents cannot be merged into a resolved incident.")
    for source in sources:
        if source.pk == target.pk:
            raise arguments_error("An incident cannot be merged into itself.")
    moved = sum(s.alerts.count() for s in sources)
    if target.alerts.count() + moved > 1000:
        raise arguments_error("An incident cannot have more than 1000 alerts.")
    at = now()
    for source in sources:
        source.alerts.update(incident=target)
        recount_alerts(source)
        source.merged_into = target
        source.save(update_fields=["merged_into"])
        incident_resolve(actor=actor, incident=source, channel={"type": "merge", "summary": f"Merged into {target.id}"})
    recount_alerts(target)
    target.updated_at = at
    target.save()
    return target


@transaction.atomic
def note_create(*, actor: m.User | None, incident: m.Incident, content: str) -> m.Note:
    at = now()
    note = m.Note.objects.create(
        id=new_id(), incident=incident, user=actor, content=content, created_at=at, updated_at=at
    )
    _log(
        incident,
        "annotate_log_entry",
        content[:100],
        user=actor,
        service=incident.service,
        channel={"type": "note", "summary": content},
        extra={"note": content},
        at=at,
    )
    _emit("incident.annotated", resource=incident, agent=actor, data={"note": note})
    return note


@transaction.atomic
def status_update_create(
    *, actor: m.User | None, incident: m.Incident, message: str, subject: str = "", html_message: str = ""
) -> m.StatusUpdate:
    update = m.StatusUpdate.objects.create(
        id=new_id(),
        incident=incident,
        sender=actor,
        message=message,
        subject=subject,
        html_message=html_message,
        created_at=now(),
    )
    _emit("incident.status_update_published", resource=incident, agent=actor, data={"status_update": update})
    return update


@transaction.atomic
def responder_request_create(
    *, actor: m.User | None, incident: m.Incident, targets: list[m.User], message: str
) -> m.ResponderRequest:
    request = m.ResponderRequest.objects.create(
        id=new_id(), incident=incident, requester=actor, message=message, requested_at=now()
    )
    request.targets.set(targets)
    _notify(incident, targets, request.requested_at)
    _emit("incident.responder.added", resource=incident, agent=actor, data={"responder_request": request})
    return request


@transaction.atomic
def responder_request_answer(
    *, target: m.User, incident: m.Incident, accept: bool, message: str = ""
) -> m.ResponderRequest:
    """A requested responder accepts (REST state `joined`) or declines, as PagerDuty's apps let them: the latest
    request to them on this incident records it, and `incident.responder.replied` says `accepted` or `declined`."""
    request = incident.responder_requests.filter(targets=target).order_by("-requested_at", "-id").first()
    if request is None:
        raise invalid("This user was not requested as a responder on this incident.")
    at = now()
    answers = dict(request.answers or {})
    answers[target.id] = {"state": "joined" if accept else "declined", "at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}
    request.answers = answers
    request.save(update_fields=["answers"])
    data = {
        "responder": {
            "user": target,
            "state": "accepted" if accept else "declined",
            "message": message,
        }
    }
    _emit("incident.responder.replied", resource=incident, agent=target, data=data)
    return request


# --- alerts ---------------------------------------------------------------------------------------


@transaction.atomic
def alert_resolve(*, actor: m.User | None, alert: m.Alert) -> m.Alert:
    if alert.status != "resolved":
        alert.status = "resolved"
        alert.save(update_fields=["status"])
        incident = alert.incident
        recount_alerts(incident)
        if incident.status != "resolved" and incident.alerts_triggered == 0 and incident.alerts_resolved > 0:
            incident_resolve(actor=actor, incident=incident)
    return alert


@transaction.atomic
def alert_move(*, actor: m.User | None, alert: m.Alert, target: m.Incident) -> m.Alert:
    """Move an alert to another open incident (PagerDuty's split); the source keeps its other alerts."""
    if target.status == "resolved":
        raise arguments_error("Alerts cannot be moved to a resolved incident.")
    source = alert.incident
    if source.pk == target.pk:
        return alert
    alert.incident = target
    alert.save(update_fields=["incident"])
    recount_alerts(source)
    recount_alerts(target)
    at = now()
    for incident in (source, target):
        m.Incident.objects.filter(pk=incident.pk).update(updated_at=at)
    if source.status != "resolved" and source.alerts_triggered + source.alerts_resolved == 0:
        incident_resolve(actor=actor, incident=source)
    return alert


# --- Events API v2 (called by sandbox.events) -----------------------------------------------------


def _integration_user(integration):
    return None


def _contexts(links, images) -> list[dict]:
    """An event's links and images as the alert body's contexts: the spec's Context requires its `type`."""
    contexts = []
    for link in links or []:
        contexts.append({"type": "link", **{k: link[k] for k in ("href", "text") if k in link}})
    for image in images or []:
        # The Events API names an image's alternate text `alt`; a Context calls it `text`.
        extra = {"text": image["alt"]} if "alt" in image else {}
        contexts.append({"type": "image", **{k: image[k] for k in ("src", "href") if k in image}, **extra})
    return contexts


@transaction.atomic
def incident_trigger_from_event(
    *,
    integration: m.Integration,
    dedup_key: str,
    summary: str,
    severity: str = "critical",
    source: str = "",
    component: str | None = None,
    group: str | None = None,
    event_class: str | None = None,
    custom_details=None,
    links=None,
    images=None,
    timestamp: dt.datetime | None = None,
) -> tuple[m.Incident, m.Alert, bool]:
    """Trigger: a new alert (and incident), or, for an open alert with this dedup key, nothing new.

    Returns (incident, alert, created)."""
    service = integration.service
    existing = (
        m.Alert.objects.select_related("incident")
        .filter(service=service, alert_key=dedup_key, status="triggered")
        .first()
    )
    body = {
        "type": "alert_body",
        "contexts": _contexts(links, images),
        "details": custom_details if isinstance(custom_details, dict) else {"details": custom_details},
        "cef_details": {
            "summary": summary,
            "severity": severity,
            "source_origin": source,
            "service_group": group,
            "event_class": event_class,
            "source_component": component,
        },
    }
    if existing is not None:
        # A repeated trigger is deduplicated into the open alert, whose content follows the latest event.
        existing.summary, existing.severity, existing.body = summary, severity, body
        existing.save(update_fields=["summary", "severity", "body"])
        return existing.incident, existing, False
    at = now()
    incident = m.Incident.objects.filter(service=service, incident_key=dedup_key, status__in=OPEN).first()
    if incident is None:
        incident = incident_create(
            actor=None,
            service=service,
            title=summary,
            urgency="high",  # the seeded services use a constant "high" urgency rule
            incident_key=dedup_key,
            details=body["details"],
            channel={"type": "api", "summary": summary, "details": body["details"]},
            at=at,
        )
    alert = m.Alert.objects.create(
        id=new_id(),
        incident=incident,
        service=service,
        integration=integration,
        status="triggered",
        alert_key=dedup_key,
        summary=summary,
        severity=severity,
        body=body,
        created_at=timestamp or at,
    )
    recount_alerts(incident)
    return incident, alert, True


def _open_incident_for_key(integration, dedup_key):
    alert = (
        m.Alert.objects.select_related("incident")
        .filter(service=integration.service, alert_key=dedup_key)
        .exclude(incident__status="resolved")
        .order_by("-created_at")
        .first()
    )
    if alert is not None:
        return alert.incident
    return m.Incident.objects.filter(service=integration.service, incident_key=dedup_key, status__in=OPEN).first()


def incident_acknowledge_from_event(*, integration: m.Integration, dedup_key: str) -> m.Incident | None:
    """Acknowledge the open incident holding this dedup key; None when there is none (PagerDuty ignores it)."""
    incident = _open_incident_for_key(integration, dedup_key)
    if incident is None or incident.status != "triggered":
        return incident
    return incident_acknowledge(actor=None, incident=incident, channel={"type": "api"})


@transaction.atomic
def incident_resolve_from_event(*, integration: m.Integration, dedup_key: str) -> m.Incident | None:
    """Resolve the alerts with this dedup key; the incident resolves when none is left triggered."""
    incident = _open_incident_for_key(integration, dedup_key)
    if incident is None:
        return None
    alerts = list(incident.alerts.filter(alert_key=dedup_key, status="triggered"))
    if not alerts:
        return incident_resolve(actor=None, incident=incident, channel={"type": "api"})
    for alert in alerts:
        alert_resolve(actor=None, alert=alert)
    incident.refresh_from_db()
    return incident


@transaction.atomic
def change_event_create(
    *,
    integration: m.Integration,
    summary: str,
    timestamp: dt.datetime | None = None,
    source: str = "",
    custom_details=None,
    links=None,
) -> m.ChangeEvent:
    event = m.ChangeEvent.objects.create(
        id=new_id(),
        summary=summary,
        timestamp=timestamp or now(),
        source=source or "",
        integration=integration,
        custom_details=custom_details or {},
        links=links or [],
    )
    event.services.set([integration.service])
    return event


@transaction.atomic
def change_event_update(*, event: m.ChangeEvent, summary=None, source=None, custom_details=None, links=None):
    for field, value in (
        ("summary", summary),
        ("source", source),
        ("custom_details", custom_details),
        ("links", links),
    ):
        if value is not None:
            setattr(event, field, value)
    event.save()
    return event


# --- users ----------------------------------------------------------------------------------------

ROLES = (
    "owner",
    "admin",
    "user",
    "limited_user",
    "observer",
    "read_only_user",
    "restricted_access",
    "read_only_limited_user",
)


def _user_fields(user, *, name, email, role, time_zone, job_title, description, color):
    if name is not None:
        user.name = name
    if email is not None:
        if not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
            raise invalid("Email is invalid")
        clash = m.User.objects.filter(email__iexact=email).exclude(pk=user.pk).exists()
        if clash:
            raise invalid("Email has already been taken")
        user.email = email
    if role is not None:
        if role not in ROLES:
            raise invalid(f"Role is not included in the list: {', '.join(ROLES)}")
        if role == "owner" and user.role != "owner":
            raise invalid("Role owner cannot be assigned through the API")
        user.role = role
    if time_zone is not None:
        user.time_zone = time_zone
    if job_title is not None:
        user.job_title = job_title
    if description is not None:
        user.description = description
    if color is not None:
        user.color = color


@transaction.atomic
def user_create(*, name, email, role="user", time_zone=None, job_title=None, description=None, color=None) -> m.User:
    if not name:
        raise invalid("Name can't be blank")
    if not email:
        raise invalid("Email can't be blank")
    user = m.User(id=new_id(), name="", email="", role="user", created_at=now())
    _user_fields(
        user,
        name=name,
        email=email,
        role=role or "user",
        time_zone=time_zone or "Etc/UTC",
        job_title=job_title,
        description=description,
        color=color,
    )
    user.save()
    method = m.ContactMethod.objects.create(
        id=new_id(), user=user, type="email_contact_method", label="Default", address=user.email
    )
    m.NotificationRule.objects.create(id=new_id(), user=user, contact_method=method)
    return user


@transaction.atomic
def user_update(*, user: m.User, **fields) -> m.User:
    _user_fields(
        user, **{k: fields.get(k) for k in ("name", "email", "role", "time_zone", "job_title", "description", "color")}
    )
    user.save()
    if "team_ids" in fields and fields["team_ids"] is not None:
        user.teams.set(fields["team_ids"])
    return user


@transaction.atomic
def user_delete(*, user: m.User) -> None:
    open_count = m.Incident.objects.filter(assignments__user=user, status__in=OPEN).distinct().count()
    if open_count:
        raise arguments_error(
            f"User cannot be deleted as they have {open_count} open incidents. "
            "Please resolve or reassign them before deleting this user."
        )
    if user.role == "owner":
        raise arguments_error("The account owner cannot be deleted.")
    user.delete()


# --- services -------------------------------------------------------------------------------------


def _routing_key():
    return new_id("", 32).lower()


@transaction.atomic
def service_create(
    *,
    name,
    escalation_policy,
    description="",
    auto_resolve_timeout=14400,
    acknowledgement_timeout=1800,
    status="active",
    teams=(),
    alert_creation=None,
) -> m.Service:
    if not name:
        raise invalid("Name can't be blank")
    if m.Service.objects.filter(name__iexact=name).exists():
        raise invalid("Name has already been taken")
    at = now()
    service = m.Service.objects.create(
        id=new_id(),
        name=name,
        description=description or "",
        status=status or "active",
        escalation_policy=escalation_policy,
        auto_resolve_timeout=auto_resolve_timeout,
        acknowledgement_timeout=acknowledgement_timeout,
        alert_creation=alert_creation or "create_alerts_and_incidents",
        created_at=at,
        updated_at=at,
    )
    service.teams.set(teams)
    m.Integration.objects.create(
        id=new_id(), service=service, name="Events API V2", integration_key=_routing_key(), created_at=at
    )
    _emit("service.created", resource=service)
    return service


@transaction.atomic
def service_update(*, service: m.Service, **fields) -> m.Service:
    name = fields.get("name")
    if name is not None:
        if not name:
            raise invalid("Name can't be blank")
        if m.Service.objects.filter(name__iexact=name).exclude(pk=service.pk).exists():
            raise invalid("Name has already been taken")
        service.name = name
    for key in ("description", "auto_resolve_timeout", "acknowledgement_timeout", "alert_creation"):
        if key in fields:
            setattr(service, key, fields[key])
    if fields.get("status") is not None:
        if fields["status"] not in ("active", "warning", "critical", "maintenance", "disabled"):
            raise invalid("Status is not included in the list")
        service.status = fields["status"]
    if fields.get("escalation_policy") is not None:
        service.escalation_policy = fields["escalation_policy"]
    service.updated_at = now()
    service.save()
    if fields.get("teams") is not None:
        service.teams.set(fields["teams"])
    _emit("service.updated", resource=service)
    return service


@transaction.atomic
def service_delete(*, service: m.Service) -> None:
    snapshot = m.Service(
        id=service.id,
        name=service.name,
        escalation_policy_id=service.escalation_policy_id,
        created_at=service.created_at,
        updated_at=service.updated_at,
    )
    service.delete()
    _emit("service.deleted", resource=snapshot)


@transaction.atomic
def integration_create(*, service: m.Service, name: str, type: str = "events_api_v2_inbound_integration"):
    return m.Integration.objects.create(
        id=new_id(),
        service=service,
        name=name or "Events API V2",
        type=type,
        integration_key=_routing_key(),
        created_at=now(),
    )


# --- templates ------------------------------------------------------------------------------------


@transaction.atomic
def template_create(*, actor, name, description="", template_type="status_update", templated_fields=None):
    if not name:
        raise invalid("name can't be blank")
    at = now()
    return m.Template.objects.create(
        id=new_id(),
        name=name,
        description=description or "",
        template_type=template_type or "status_update",
        templated_fields=templated_fields or {},
        created_at=at,
        updated_at=at,
        created_by=actor,
        updated_by=actor,
    )


@transaction.atomic
def template_update(*, actor, template, **fields):
    for key in ("name", "description", "template_type", "templated_fields"):
        if fields.get(key) is not None:
            setattr(template, key, fields[key])
    if not template.name:
        raise invalid("name can't be blank")
    template.updated_at = now()
    template.updated_by = actor
    template.save()
    return template


_MUSTACHE = re.compile(r"{{\s*([\w.]+)\s*}}")


def template_render(*, template, incident, message: str = ""):
    """Substitute `{{incident.title}}`-style fields; unknown fields stay and become warnings."""
    from .serializers import incident_json

    data = {"incident": incident_json(incident), "status_update": {"message": message}, "message": message}
    rendered, warnings = {}, []
    for field, text in (template.templated_fields or {}).items():
        missing = []

        def sub(match, missing=missing):
            value = data
            for part in match.group(1).split("."):
                if isinstance(value, dict) and part in value:
                    value = value[part]
                else:
                    missing.append(match.group(0))
                    return match.group(0)
            return "" if value is None else str(value if not isinstance(value, dict) else value.get("summary", ""))

        rendered[field] = _MUSTACHE.sub(sub, text or "")
        if missing:
            warnings.append({field: [f"{name} does not exist." for name in missing]})
    return {"templated_fields": rendered, "warnings": warnings, "errors": []}

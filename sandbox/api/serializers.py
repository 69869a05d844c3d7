"""JSON shapes of the sandbox's objects, as PagerDuty's REST v2 renders them (also used for webhooks)."""

from datetime import timedelta

from .context import api_url, html_url, now, ts

AVATAR = "https://pd-static-assets.pagerduty.com/users/blank-avatar.png"


def _ref(kind, obj_id, summary, self_path, html_path=None):
    body = {"id": obj_id, "type": f"{kind}_reference", "summary": summary, "self": api_url(self_path)}
    body["html_url"] = html_url(html_path) if html_path else None
    return body


def user_ref(user):
    if user is None:
        return None
    return _ref("user", user.id, user.name, f"/users/{user.id}", f"/users/{user.id}")


def team_ref(team):
    return _ref("team", team.id, team.name, f"/teams/{team.id}", f"/teams/{team.id}")


def service_ref(service):
    return _ref("service", service.id, service.name, f"/services/{service.id}", f"/service-directory/{service.id}")


def escalation_policy_ref(policy):
    return _ref(
        "escalation_policy",
        policy.id,
        policy.name,
        f"/escalation_policies/{policy.id}",
        f"/escalation_policies/{policy.id}",
    )


def priority_ref(priority):
    if priority is None:
        return None
    return {
        "id": priority.id,
        "type": "priority_reference",
        "summary": priority.name,
        "self": api_url(f"/priorities/{priority.id}"),
        "html_url": None,
    }


def incident_summary(incident):
    return f"[#{incident.number}] {incident.title}"


def incident_ref(incident):
    return _ref(
        "incident", incident.id, incident_summary(incident), f"/incidents/{incident.id}", f"/incidents/{incident.id}"
    )


def integration_ref(integration):
    return {
        "id": integration.id,
        "type": f"{integration.type}_reference",
        "summary": integration.name,
        "self": api_url(f"/services/{integration.service_id}/integrations/{integration.id}"),
        "html_url": html_url(f"/services/{integration.service_id}/integrations/{integration.id}"),
    }


def contact_method_ref(method):
    return {
        "id": method.id,
        "type": f"{method.type}_reference",
        "summary": method.label,
        "self": api_url(f"/users/{method.user_id}/contact_methods/{method.id}"),
        "html_url": None,
    }


def notification_rule_ref(rule):
    return {
        "id": rule.id,
        "type": "assignment_notification_rule_reference",
        "summary": f"{rule.start_delay_in_minutes} minutes: channel {rule.contact_method_id}",
        "self": api_url(f"/users/{rule.user_id}/notification_rules/{rule.id}"),
        "html_url": None,
    }


def template_ref(template):
    return {
        "id": template.id,
        "type": "template_reference",
        "summary": template.name,
        "self": api_url(f"/templates/{template.id}"),
        "html_url": None,
    }


def log_entry_ref(entry_id, entry_type, summary, incident_id):
    return {
        "id": entry_id,
        "type": f"{entry_type}_reference",
        "summary": summary,
        "self": api_url(f"/log_entries/{entry_id}?incident_id={incident_id}"),
        "html_url": html_url(f"/incidents/{incident_id}/log_entries/{entry_id}"),
    }


# --- full objects -----------------------------------------------------------------------------------


def team_json(team):
    return {
        "id": team.id,
        "type": "team",
        "summary": team.name,
        "self": api_url(f"/teams/{team.id}"),
        "html_url": html_url(f"/teams/{team.id}"),
        "name": team.name,
        "description": team.description,
        "default_role": team.default_role,
        "parent": None,
    }


def contact_method_json(method):
    return {
        "id": method.id,
        "type": method.type,
        "summary": method.label,
        "self": api_url(f"/users/{method.user_id}/contact_methods/{method.id}"),
        "html_url": None,
        "label": method.label,
        "address": method.address,
        **({"country_code": 1} if method.type in ("phone_contact_method", "sms_contact_method") else {}),
    }


def notification_rule_json(rule, include_contact_method=False):
    return {
        "id": rule.id,
        "type": "assignment_notification_rule",
        "summary": f"{rule.start_delay_in_minutes} minutes: channel {rule.contact_method_id}",
        "self": api_url(f"/users/{rule.user_id}/notification_rules/{rule.id}"),
        "html_url": None,
        "start_delay_in_minutes": rule.start_delay_in_minutes,
        "urgency": rule.urgency,
        "contact_method": contact_method_json(rule.contact_method)
        if include_contact_method
        else contact_method_ref(rule.contact_method),
    }


def user_json(user, include=()):
    """A user; `include` may hold contact_methods, notification_rules, teams (expanded objects)."""
    teams = list(user.teams.all())
    methods = list(user.contact_methods.all())
    rules = list(user.notification_rules.all())
    return {
        "id": user.id,
        "type": "user",
        "summary": user.name,
        "self": api_url(f"/users/{user.id}"),
        "html_url": html_url(f"/users/{user.id}"),
        "name": user.name,
        "email": user.email,
        "time_zone": user.time_zone,
        "color": user.color,
        "role": user.role,
        "avatar_url": AVATAR,
        "description": user.description,
        "invitation_sent": False,
        "job_title": user.job_title,
        "teams": [team_json(t) if "teams" in include else team_ref(t) for t in teams],
        "contact_methods": [
            contact_method_json(m) if "contact_methods" in include else contact_method_ref(m) for m in methods
        ],
        "notification_rules": [
            notification_rule_json(r) if "notification_rules" in include else notification_rule_ref(r) for r in rules
        ],
        "coordinated_incidents": [],
    }


def escalation_policy_json(policy, include=()):
    return {
        "id": policy.id,
        "type": "escalation_policy",
        "summary": policy.name,
        "self": api_url(f"/escalation_policies/{policy.id}"),
        "html_url": html_url(f"/escalation_policies/{policy.id}"),
        "name": policy.name,
        "description": policy.description,
        "on_call_handoff_notifications": "if_has_services",
        "num_loops": policy.num_loops,
        "escalation_rules": [
            {
                "id": rule.id,
                "escalation_delay_in_minutes": rule.escalation_delay_in_minutes,
                "targets": [user_ref(u) for u in rule.targets.all()]
                + [
                    _ref("schedule", s.id, s.name, f"/schedules/{s.id}", f"/schedules/{s.id}")
                    for s in rule.schedule_targets.all()
                ],
            }
            for rule in policy.rules.all()
        ],
        "services": [service_ref(s) for s in policy.services.all()],
        "teams": [team_json(t) if "teams" in include else team_ref(t) for t in policy.teams.all()],
    }


def integration_json(integration):
    body = integration_ref(integration)
    body.update(
        {
            "type": integration.type,
            "name": integration.name,
            "created_at": ts(integration.created_at),
            "service": service_ref(integration.service),
            "integration_key": integration.integration_key,
        }
    )
    return body


def service_json(service, include=()):
    integrations = list(service.integrations.all())
    return {
        "id": service.id,
        "type": "service",
        "summary": service.name,
        "self": api_url(f"/services/{service.id}"),
        "html_url": html_url(f"/service-directory/{service.id}"),
        "name": service.name,
        "description": service.description,
        "auto_resolve_timeout": service.auto_resolve_timeout,
        "acknowledgement_timeout": service.acknowledgement_timeout,
        "created_at": ts(service.created_at),
        "updated_at": ts(service.updated_at),
        "status": service.status,
        "last_incident_timestamp": ts(service.last_incident_timestamp),
        "alert_creation": service.alert_creation,
        "incident_urgency_rule": {"type": "constant", "urgency": "high"},
        "support_hours": None,
        "scheduled_actions": [],
        "addons": [],
        "alert_grouping_parameters": {"type": None},
        "auto_pause_notifications_parameters": {"enabled": False, "timeout": None},
        "escalation_policy": escalation_policy_json(service.escalation_policy)
        if "escalation_policies" in include
        else escalation_policy_ref(service.escalation_policy),
        "teams": [team_json(t) if "teams" in include else team_ref(t) for t in service.teams.all()],
        "integrations": [
            integration_json(i) if "integrations" in include else integration_ref(i) for i in integrations
        ],
    }


def priority_json(priority):
    return {
        "id": priority.id,
        "type": "priority",
        "summary": priority.name,
        "self": api_url(f"/priorities/{priority.id}"),
        "html_url": None,
        "name": priority.name,
        "description": priority.description,
    }


def _alert_counts(incident):
    return {
        "all": incident.alerts_triggered + incident.alerts_resolved,
        "triggered": incident.alerts_triggered,
        "resolved": incident.alerts_resolved,
    }


def responder_request_json(request):
    incident_ref_body = incident_ref(request.incident)
    return {
        "incident": incident_ref_body,
        "requester": user_ref(request.requester),
        "requested_at": ts(request.requested_at),
        "message": request.message,
        "responder_request_targets": [
            {
                "responder_request_target": {
                    "type": "user",
                    "id": target.id,
                    "summary": target.name,
                    "incidents_responders": [_responder(request, target, incident_ref_body)],
                }
            }
            for target in request.targets.all()
        ],
    }


def _responder(request, target, incident_ref_body):
    answer = (request.answers or {}).get(target.id) or {}
    return {
        "state": answer.get("state", "pending"),
        "user": {**user_ref(target), "avatar_url": AVATAR},
        "incident": incident_ref_body,
        "updated_at": answer.get("at") or ts(request.requested_at),
        "message": request.message,
        "requester": {**user_ref(request.requester), "avatar_url": AVATAR} if request.requester else None,
        "requested_at": ts(request.requested_at),
    }


def _pending_actions(incident, service):
    """What PagerDuty will do by itself, and when (the REST Incident's `pending_actions`), sorted by time.

    escalate: a triggered incident on its policy moves on after the current level's escalation delay, counted from
    when it reached that level (the sandbox never escalates by itself, so only a time still ahead is listed);
    unacknowledge: a snooze's end (snoozes do end, on the next read), else the service's acknowledgement timeout
    after the latest acknowledgement (only a time ahead, as for escalate);
    resolve: the service's auto-resolve timeout.
    """
    pending = []
    if incident.status == "triggered" and incident.assigned_via == "escalation_policy":
        policy = incident.escalation_policy
        rules = sorted(policy.rules.all(), key=lambda r: r.position)
        level = min(max(incident.escalation_level, 1), len(rules)) if rules else 0
        if rules and (level < len(rules) or policy.num_loops):
            reached = incident.escalated_at or incident.last_status_change_at
            at = reached + timedelta(minutes=rules[level - 1].escalation_delay_in_minutes)
            if at > now():
                pending.append({"type": "escalate", "at": at})
    if incident.status == "acknowledged":
        if incident.snoozed_until:
            pending.append({"type": "unacknowledge", "at": incident.snoozed_until})
        elif service.acknowledgement_timeout:
            acks = [a.at for a in incident.acknowledgements.all()]
            at = max(acks) + timedelta(seconds=service.acknowledgement_timeout) if acks else None
            if at is not None and at > now():  # nor does it end acknowledgements by itself: only a time ahead
                pending.append({"type": "unacknowledge", "at": at})
    if incident.status != "resolved" and service.auto_resolve_timeout:
        pending.append({"type": "resolve", "at": incident.created_at + timedelta(seconds=service.auto_resolve_timeout)})
    return [{"type": p["type"], "at": ts(p["at"])} for p in sorted(pending, key=lambda p: p["at"])]


def incident_json(incident, include=()):
    """An incident; expects the selectors' prefetches (service, teams, assignments, acknowledgements)."""
    service = incident.service
    teams = list(service.teams.all())
    pending = _pending_actions(incident, service)
    requests = list(incident.responder_requests.all())
    incident_ref_body = incident_ref(incident)
    body = {
        "id": incident.id,
        "type": "incident",
        "summary": incident_summary(incident),
        "self": api_url(f"/incidents/{incident.id}"),
        "html_url": html_url(f"/incidents/{incident.id}"),
        "incident_number": incident.number,
        "title": incident.title,
        "description": incident.title,
        "created_at": ts(incident.created_at),
        "updated_at": ts(incident.updated_at),
        "status": incident.status,
        "incident_key": incident.incident_key,
        "service": service_json(service) if "services" in include else service_ref(service),
        "assignments": [
            {
                "at": ts(a.at),
                "assignee": user_json(a.user) if "assignees" in include else user_ref(a.user),
            }
            for a in incident.assignments.all()
        ],
        "assigned_via": incident.assigned_via,
        "last_status_change_at": ts(incident.last_status_change_at),
        "last_status_change_by": user_ref(incident.last_status_change_by_user)
        if incident.last_status_change_by_user
        else service_ref(service),
        "resolved_at": ts(incident.resolved_at),
        "first_trigger_log_entry": log_entry_ref(
            incident.first_trigger_log_entry_id or "R" + incident.id,
            "trigger_log_entry",
            "Triggered through the API",
            incident.id,
        ),
        "alert_counts": _alert_counts(incident),
        "is_mergeable": True,
        "incident_type": {"name": "incident_default"},
        "escalation_policy": escalation_policy_json(incident.escalation_policy)
        if "escalation_policies" in include
        else escalation_policy_ref(incident.escalation_policy),
        "teams": [team_json(t) if "teams" in include else team_ref(t) for t in teams],
        "pending_actions": pending,
        "acknowledgements": [
            {
                "at": ts(a.at),
                "acknowledger": user_json(a.user) if "acknowledgers" in include else user_ref(a.user),
            }
            for a in incident.acknowledgements.all()
        ],
        "alert_grouping": None,
        "priority": priority_json(incident.priority)
        if incident.priority and "priorities" in include
        else priority_ref(incident.priority),
        "urgency": incident.urgency,
        "resolve_reason": None,
        "conference_bridge": incident.conference_bridge,
        "incidents_responders": [_responder(r, t, incident_ref_body) for r in requests for t in r.targets.all()],
        "responder_requests": [responder_request_json(r) for r in requests],
        "escalation_level": incident.escalation_level,
    }
    # PagerDuty's incident never carries `body`: details live in the first trigger log entry's channel.
    return body


def alert_json(alert, include=()):
    return {
        "id": alert.id,
        "type": "alert",
        "summary": alert.summary,
        "self": api_url(f"/incidents/{alert.incident_id}/alerts/{alert.id}"),
        "html_url": html_url(f"/alerts/{alert.id}"),
        "created_at": ts(alert.created_at),
        "status": alert.status,
        "alert_key": alert.alert_key,
        "service": service_json(alert.service) if "services" in include else service_ref(alert.service),
        "incident": incident_ref(alert.incident),
        "suppressed": alert.suppressed,
        "severity": alert.severity,
        "integration": integration_ref(alert.integration) if alert.integration else None,
        "body": alert.body or {"type": "alert_body", "contexts": [], "details": {}},
        "first_trigger_log_entry": None,
    }


def note_json(note):
    return {
        "id": note.id,
        "user": user_ref(note.user),
        "channel": {"summary": "The PagerDuty website or APIs"},
        "content": note.content,
        "created_at": ts(note.created_at),
        "updated_at": ts(note.updated_at),
    }


def log_entry_json(entry, include=()):
    incident = entry.incident
    if entry.agent_user is not None:
        agent = user_json(entry.agent_user) if "users" in include else user_ref(entry.agent_user)
    elif entry.agent_service is not None:
        agent = service_json(entry.agent_service) if "services" in include else service_ref(entry.agent_service)
    else:
        agent = None
    body = {
        "id": entry.id,
        "type": entry.type,
        "summary": entry.summary,
        "self": api_url(f"/log_entries/{entry.id}?incident_id={incident.id}"),
        "html_url": html_url(f"/incidents/{incident.id}/log_entries/{entry.id}"),
        "created_at": ts(entry.created_at),
        "agent": agent,
        "channel": entry.channel,
        "service": service_ref(incident.service),
        "incident": incident_json(incident) if "incidents" in include else incident_ref(incident),
        "teams": [team_json(t) if "teams" in include else team_ref(t) for t in incident.service.teams.all()],
        "contexts": [],
    }
    body.update(entry.extra)
    if "channels" not in include and isinstance(body["channel"], dict):
        # Only `include[]=channels` adds the channel's details (PagerDuty keeps the type otherwise).
        body["channel"] = {k: v for k, v in body["channel"].items() if k in ("type", "summary")}
    return body


def status_update_json(update):
    return {
        "id": update.id,
        "message": update.message,
        "sender": user_ref(update.sender),
        "created_at": ts(update.created_at),
        "subject": update.subject,
        "html_message": update.html_message,
    }


def template_json(template):
    return {
        "id": template.id,
        "type": "template",
        "summary": template.name,
        "self": api_url(f"/templates/{template.id}"),
        "html_url": None,
        "name": template.name,
        "description": template.description,
        "template_type": template.template_type,
        "templated_fields": template.templated_fields,
        "created_at": ts(template.created_at),
        "updated_at": ts(template.updated_at),
        "created_by": user_ref(template.created_by),
        "updated_by": user_ref(template.updated_by),
    }


def change_event_json(event):
    return {
        "id": event.id,
        "type": "change_event",
        "summary": event.summary,
        "self": api_url(f"/change_events/{event.id}"),
        "html_url": None,
        "timestamp": ts(event.timestamp),
        "source": event.source,
        "integration": integration_ref(event.integration) if event.integration else None,
        "services": [service_ref(s) for s in event.services.all()],
        "custom_details": event.custom_details,
        "links": event.links,
        "images": [],
    }


def notification_json(notification, include=()):
    user = notification.user
    return {
        "id": notification.id,
        "type": notification.type,
        "started_at": ts(notification.started_at),
        "address": None if notification.type == "push_notification" else notification.address,
        "user": user_json(user) if "users" in include else user_ref(user),
    }

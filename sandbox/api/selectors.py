"""Read-side querysets for the REST views, prefetched so a page of 100 costs a fixed number of queries."""

from django.db.models import Prefetch, Q

from . import models as m

_USER_PREFETCH = ("teams", "contact_methods", "notification_rules__contact_method")


def incidents_qs():
    return m.Incident.objects.select_related(
        "service", "escalation_policy", "priority", "last_status_change_by_user"
    ).prefetch_related(
        "service__teams",
        "escalation_policy__rules",
        Prefetch("assignments", queryset=m.Assignment.objects.select_related("user")),
        Prefetch("acknowledgements", queryset=m.Acknowledgement.objects.select_related("user")),
        Prefetch(
            "responder_requests",
            queryset=m.ResponderRequest.objects.select_related("requester").prefetch_related("targets"),
        ),
    )


def incidents_with_includes(include):
    qs = incidents_qs()
    if "assignees" in include:
        qs = qs.prefetch_related(*(f"assignments__user__{p}" for p in _USER_PREFETCH))
    if "acknowledgers" in include:
        qs = qs.prefetch_related(*(f"acknowledgements__user__{p}" for p in _USER_PREFETCH))
    if "services" in include:
        qs = qs.select_related("service__escalation_policy").prefetch_related("service__integrations__service")
    if "escalation_policies" in include:
        qs = qs.prefetch_related(
            "escalation_policy__rules__targets",
            "escalation_policy__rules__schedule_targets",
            "escalation_policy__services",
            "escalation_policy__teams",
        )
    return qs


def incidents_filtered(
    *, statuses, urgencies, service_ids, team_ids, user_ids, incident_key, since, until, sort_by, include
):
    qs = incidents_with_includes(include)
    if statuses:
        qs = qs.filter(status__in=statuses)
    if urgencies:
        qs = qs.filter(urgency__in=urgencies)
    if service_ids:
        qs = qs.filter(service_id__in=service_ids)
    if team_ids:
        qs = qs.filter(service__in=m.Service.objects.filter(teams__in=team_ids))
    if user_ids:
        qs = qs.filter(pk__in=m.Assignment.objects.filter(user_id__in=user_ids).values("incident_id"))
    if incident_key:
        qs = qs.filter(incident_key=incident_key)
    if since is not None:
        qs = qs.filter(created_at__gte=since)
    if until is not None:
        qs = qs.filter(created_at__lt=until)
    return qs.order_by(*sort_by)


def users_qs():
    return m.User.objects.prefetch_related(*_USER_PREFETCH)


def services_qs(include=()):
    qs = m.Service.objects.select_related("escalation_policy").prefetch_related("teams", "integrations")
    if "integrations" in include:
        qs = qs.prefetch_related("integrations__service")
    if "escalation_policies" in include:
        qs = qs.prefetch_related(
            "escalation_policy__rules__targets",
            "escalation_policy__rules__schedule_targets",
            "escalation_policy__services",
            "escalation_policy__teams",
        )
    return qs


def policies_qs():
    return m.EscalationPolicy.objects.prefetch_related("rules__targets", "rules__schedule_targets", "services", "teams")


def alerts_qs():
    return m.Alert.objects.select_related("incident", "service", "integration")


def log_entries_qs(include=()):
    qs = m.LogEntry.objects.select_related("incident__service", "agent_user", "agent_service").prefetch_related(
        "incident__service__teams"
    )
    if "incidents" in include:
        qs = qs.select_related(
            "incident__escalation_policy", "incident__priority", "incident__last_status_change_by_user"
        ).prefetch_related(
            "incident__escalation_policy__rules",
            Prefetch("incident__assignments", queryset=m.Assignment.objects.select_related("user")),
            Prefetch("incident__acknowledgements", queryset=m.Acknowledgement.objects.select_related("user")),
            Prefetch(
                "incident__responder_requests",
                queryset=m.ResponderRequest.objects.select_related("requester").prefetch_related("targets"),
            ),
        )
    if "users" in include:
        qs = qs.prefetch_related(*(f"agent_user__{p}" for p in _USER_PREFETCH))
    if "services" in include:
        qs = qs.select_related("agent_service__escalation_policy").prefetch_related(
            "agent_service__teams", "agent_service__integrations__service"
        )
    return qs


def search(qs, query, *fields):
    if not query:
        return qs
    cond = Q()
    for f in fields:
        cond |= Q(**{f"{f}__icontains": query})
    return qs.filter(cond)

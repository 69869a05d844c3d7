"""REST v2 views: services, users, teams, escalation policies, priorities, templates, changes, notifications."""

import datetime as dt

from . import domain
from . import models as m
from . import selectors as sel
from . import serializers as ser
from .errors import ApiError, invalid
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
    require,
    respond,
    routes,
)

# --- services -------------------------------------------------------------------------------------


def list_services(request):
    require(request, "services.read")
    apply_time_zone(request)
    include = includes(request)
    qs = sel.services_qs(include)
    qs = sel.search(qs, request.GET.get("query"), "name")
    if request.GET.get("name"):
        qs = qs.filter(name=request.GET["name"])
    team_ids = qlist(request, "team_ids")
    if team_ids:
        qs = qs.filter(pk__in=m.Service.teams.through.objects.filter(team_id__in=team_ids).values("service_id"))
    sort = request.GET.get("sort_by", "name")
    qs = qs.order_by("-name" if sort == "name:desc" else "name")
    return page(request, qs, "services", lambda s: ser.service_json(s, include))


def _service_fields(data):
    fields = {}
    for key in ("name", "description", "status", "auto_resolve_timeout", "acknowledgement_timeout", "alert_creation"):
        if key in data:
            fields[key] = data[key]
    if data.get("escalation_policy"):
        fields["escalation_policy"] = lookup(m.EscalationPolicy, data["escalation_policy"], "Escalation policy")
    if "teams" in data and data["teams"] is not None:
        fields["teams"] = [lookup(m.Team, t, "Team") for t in data["teams"]]
    return fields


def create_service(request):
    require(request, "services.write", write=True)
    data = obj(body(request), "service")
    fields = _service_fields(data)
    if "escalation_policy" not in fields:
        raise invalid("Escalation policy can't be blank")
    service = domain.service_create(
        name=fields.get("name"),
        escalation_policy=fields["escalation_policy"],
        description=fields.get("description") or "",
        auto_resolve_timeout=fields.get("auto_resolve_timeout", 14400),
        acknowledgement_timeout=fields.get("acknowledgement_timeout", 1800),
        status=fields.get("status") or "active",
        teams=fields.get("teams") or [],
        alert_creation=fields.get("alert_creation"),
    )
    return respond({"service": ser.service_json(get_or_404(m.Service, service.pk, sel.services_qs()))}, 201)


def get_service(request, service_id):
    require(request, "services.read")
    apply_time_zone(request)
    include = includes(request)
    service = get_or_404(m.Service, service_id, sel.services_qs(include))
    return respond({"service": ser.service_json(service, include)})


def update_service(request, service_id):
    require(request, "services.write", write=True)
    service = get_or_404(m.Service, service_id)
    data = obj(body(request), "service")
    domain.service_update(service=service, **_service_fields(data))
    return respond({"service": ser.service_json(get_or_404(m.Service, service_id, sel.services_qs()))})


def delete_service(request, service_id):
    require(request, "services.write", write=True)
    domain.service_delete(service=get_or_404(m.Service, service_id))
    return respond(None, 204)


def create_integration(request, service_id):
    require(request, "services.write", write=True)
    service = get_or_404(m.Service, service_id)
    data = obj(body(request), "integration")
    kind = (data.get("type") or "events_api_v2_inbound_integration").removesuffix("_reference")
    integration = domain.integration_create(service=service, name=data.get("name") or "", type=kind)
    return respond({"integration": ser.integration_json(integration)}, 201)


def get_integration(request, service_id, integration_id):
    require(request, "services.read")
    integration = get_or_404(
        m.Integration, integration_id, m.Integration.objects.select_related("service").filter(service_id=service_id)
    )
    return respond({"integration": ser.integration_json(integration)})


# --- users ----------------------------------------------------------------------------------------


def list_users(request):
    require(request, "users.read")
    include = includes(request)
    qs = sel.search(sel.users_qs(), request.GET.get("query"), "name", "email")
    team_ids = qlist(request, "team_ids")
    if team_ids:
        qs = qs.filter(pk__in=m.User.teams.through.objects.filter(team_id__in=team_ids).values("user_id"))
    return page(request, qs.order_by("name", "id"), "users", lambda u: ser.user_json(u, include))


def _user_fields(data):
    fields = {k: data.get(k) for k in ("name", "email", "role", "time_zone", "job_title", "description", "color")}
    return fields


def create_user(request):
    require(request, "users.write", write=True, admin=True)
    acting_user(request)
    data = obj(body(request), "user")
    user = domain.user_create(**_user_fields(data))
    return respond({"user": ser.user_json(get_or_404(m.User, user.pk, sel.users_qs()))}, 201)


def get_user(request, user_id):
    require(request, "users.read")
    include = includes(request)
    return respond({"user": ser.user_json(get_or_404(m.User, user_id, sel.users_qs()), include)})


def update_user(request, user_id):
    actor_user = getattr(getattr(request, "pd_actor", None), "user", None)
    is_self = actor_user is not None and actor_user.pk == user_id
    # People may edit their own profile; everyone else's needs an owner or admin.
    actor = require(request, "users.write", write=True, admin=not is_self)
    user = get_or_404(m.User, user_id)
    data = obj(body(request), "user")
    fields = _user_fields(data)
    if is_self and fields.get("role") not in (None, user.role) and not (actor and actor.is_admin()):
        raise ApiError(403, "Access Denied", 2010, ["Only account owners and admins may change roles."])
    if data.get("teams") is not None:
        fields["team_ids"] = [lookup(m.Team, t, "Team").pk for t in data["teams"]]
    domain.user_update(user=user, **fields)
    return respond({"user": ser.user_json(get_or_404(m.User, user_id, sel.users_qs()))})


def delete_user(request, user_id):
    require(request, "users.write", write=True, admin=True)
    domain.user_delete(user=get_or_404(m.User, user_id))
    return respond(None, 204)


def me(request):
    # The spec asks no scope here: any signed-in token may ask who it belongs to.
    actor = getattr(request, "pd_actor", None)
    user = getattr(actor, "user", None)
    if user is None:
        raise ApiError(
            400,
            "Invalid Input Provided",
            2001,
            ["This endpoint cannot be used with an account-level API key; use a user API key or an OAuth token."],
        )
    include = includes(request)
    return respond({"user": ser.user_json(get_or_404(m.User, user.pk, sel.users_qs()), include)})


def list_contact_methods(request, user_id):
    require(request, "users:contact_methods.read")
    user = get_or_404(m.User, user_id)
    return respond({"contact_methods": [ser.contact_method_json(c) for c in user.contact_methods.all()]})


def list_notification_rules(request, user_id):
    require(request, "users:contact_methods.read")
    user = get_or_404(m.User, user_id)
    include = includes(request)
    rules = user.notification_rules.select_related("contact_method")
    return respond(
        {
            "notification_rules": [
                ser.notification_rule_json(r, include_contact_method="contact_methods" in include) for r in rules
            ]
        }
    )


# --- teams, escalation policies, priorities ---------------------------------------------------------


def list_teams(request):
    require(request, "teams.read")
    qs = sel.search(m.Team.objects.all(), request.GET.get("query"), "name")
    return page(request, qs, "teams", ser.team_json)


def get_team(request, team_id):
    require(request, "teams.read")
    return respond({"team": ser.team_json(get_or_404(m.Team, team_id))})


def add_team_member(request, team_id, user_id):
    require(request, "teams.write", write=True, admin=True)
    role = body(request).get("role", "responder")
    if role not in ("observer", "responder", "manager"):
        raise invalid("Role must be one of observer, responder, manager.")
    get_or_404(m.Team, team_id).users.add(get_or_404(m.User, user_id))
    return respond(None, 204)


def remove_team_member(request, team_id, user_id):
    require(request, "teams.write", write=True, admin=True)
    get_or_404(m.Team, team_id).users.remove(get_or_404(m.User, user_id))
    return respond(None, 204)


def list_policies(request):
    require(request, "escalation_policies.read")
    include = includes(request)
    qs = sel.search(sel.policies_qs(), request.GET.get("query"), "name")
    team_ids = qlist(request, "team_ids")
    if team_ids:
        qs = qs.filter(
            pk__in=m.EscalationPolicy.teams.through.objects.filter(team_id__in=team_ids).values("escalationpolicy_id")
        )
    user_ids = qlist(request, "user_ids")
    if user_ids:
        qs = qs.filter(rules__targets__in=user_ids).distinct()
    return page(
        request, qs.order_by("name", "id"), "escalation_policies", lambda p: ser.escalation_policy_json(p, include)
    )


def get_policy(request, policy_id):
    require(request, "escalation_policies.read")
    include = includes(request)
    policy = get_or_404(m.EscalationPolicy, policy_id, sel.policies_qs())
    return respond({"escalation_policy": ser.escalation_policy_json(policy, include)})


def list_priorities(request):
    require(request, "priorities.read")
    return page(request, m.Priority.objects.all(), "priorities", ser.priority_json)


# --- templates ------------------------------------------------------------------------------------

_TEMPLATE_QS = m.Template.objects.select_related("created_by", "updated_by")


def list_templates(request):
    require(request, "templates.read")
    qs = sel.search(_TEMPLATE_QS.all(), request.GET.get("query"), "name", "description")
    if request.GET.get("template_type"):
        qs = qs.filter(template_type=request.GET["template_type"])
    sort = request.GET.get("sort_by", "name")
    field, _, direction = sort.partition(":")
    if field not in ("name", "created_at"):
        raise invalid("sort_by must be name or created_at")
    qs = qs.order_by(("-" if direction == "desc" else "") + field, "id")
    return page(request, qs, "templates", ser.template_json)


def _template_fields(data):
    fields = {k: data.get(k) for k in ("name", "description", "template_type", "templated_fields")}
    if fields["templated_fields"] is not None and not isinstance(fields["templated_fields"], dict):
        raise invalid("templated_fields must be an object")
    if fields["template_type"] not in (None, "status_update"):
        raise invalid("template_type must be status_update")
    return fields


def create_template(request):
    require(request, "templates.write", write=True)
    actor = acting_user(request, required=False)
    data = obj(body(request), "template")
    template = domain.template_create(actor=actor, **_template_fields(data))
    return respond({"template": ser.template_json(template)}, 201)


def get_template(request, template_id):
    require(request, "templates.read")
    return respond({"template": ser.template_json(get_or_404(m.Template, template_id, _TEMPLATE_QS))})


def update_template(request, template_id):
    require(request, "templates.write", write=True)
    actor = acting_user(request, required=False)
    template = get_or_404(m.Template, template_id)
    data = obj(body(request), "template")
    domain.template_update(actor=actor, template=template, **_template_fields(data))
    return respond({"template": ser.template_json(get_or_404(m.Template, template_id, _TEMPLATE_QS))})


def delete_template(request, template_id):
    require(request, "templates.write", write=True)
    get_or_404(m.Template, template_id).delete()
    return respond(None, 204)


def render_template(request, template_id):
    require(request, "templates.read")
    template = get_or_404(m.Template, template_id)
    data = body(request)
    incident_id = data.get("incident_id")
    if not isinstance(incident_id, str) or not incident_id:
        raise invalid("incident_id is required")
    from .views_incidents import _incident

    incident = m.Incident.objects.filter(pk=incident_id).first()
    if incident is None:
        raise invalid(f"Incident {incident_id} not found")
    message = ((data.get("status_update") or {}).get("message")) or ""
    return respond(domain.template_render(template=template, incident=_incident(incident_id), message=message))


def _field(summary, data_type, description, example):
    domain = "Status update" if summary.startswith("status_update") else "Incident"
    return {
        "data_type": data_type,
        "default_value": None,
        "description": description,
        "domain": {"order": 1, "summary": domain},
        "example": example,
        "keyword": None,
        "summary": summary,
        "type": "standard_field",
    }


def template_fields(request):
    require(request, "templates.read")
    fields = [
        _field("incident.title", "string", "The incident's title.", "The server is on fire."),
        _field("incident.status", "string", "The incident's status.", "acknowledged"),
        _field("incident.urgency", "string", "The incident's urgency.", "high"),
        _field("incident.incident_number", "integer", "The incident's number.", "1234"),
        _field("incident.created_at", "datetime", "The time the incident was created.", "2023-11-22T07:12:50Z"),
        _field("incident.html_url", "url", "Link to the incident.", "https://example.pagerduty.com/incidents/P1"),
        _field("incident.service.summary", "string", "The name of the incident's service.", "Checkout"),
        _field("status_update.message", "string", "The status update message.", "We are on it."),
    ]
    return respond({"fields": fields})


# --- change events --------------------------------------------------------------------------------

_CHANGE_QS = m.ChangeEvent.objects.select_related("integration").prefetch_related("services")


def _change_events(request, qs, scope="change_events.read"):
    require(request, scope)
    apply_time_zone(request)
    for name in ("since", "until"):
        value = request.GET.get(name)
        if value and not (value.endswith("Z") or value.endswith("+00:00")):
            raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, [f"{name} must be a UTC time"])
    since = parse_time(request.GET.get("since"), "since")
    until = parse_time(request.GET.get("until"), "until")
    if since is not None:
        qs = qs.filter(timestamp__gte=since)
    if until is not None:
        qs = qs.filter(timestamp__lt=until)
    team_ids = qlist(request, "team_ids")
    if team_ids:
        qs = qs.filter(services__teams__in=team_ids).distinct()
    integration_ids = qlist(request, "integration_ids")
    if integration_ids:
        qs = qs.filter(integration_id__in=integration_ids)
    return page(request, qs.order_by("-timestamp", "id"), "change_events", ser.change_event_json)


def list_change_events(request):
    return _change_events(request, _CHANGE_QS.all())


def service_change_events(request, service_id):
    get_or_404(m.Service, service_id)
    return _change_events(request, _CHANGE_QS.filter(services=service_id), scope="services.read")


def get_change_event(request, event_id):
    require(request, "change_events.read")
    return respond({"change_event": ser.change_event_json(get_or_404(m.ChangeEvent, event_id, _CHANGE_QS))})


def update_change_event(request, event_id):
    require(request, "change_events.write", write=True)
    event = get_or_404(m.ChangeEvent, event_id)
    data = obj(body(request), "change_event")
    domain.change_event_update(
        event=event,
        summary=data.get("summary"),
        source=data.get("source"),
        custom_details=data.get("custom_details"),
        links=data.get("links"),
    )
    return respond({"change_event": ser.change_event_json(get_or_404(m.ChangeEvent, event_id, _CHANGE_QS))})


# --- notifications --------------------------------------------------------------------------------

NOTIFICATION_FILTERS = ("sms_notification", "email_notification", "phone_notification", "push_notification")


def list_notifications(request):
    require(request, "users:notifications.read")
    apply_time_zone(request)
    since = parse_time(request.GET.get("since"), "since")
    until = parse_time(request.GET.get("until"), "until")
    if since is None or until is None:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, ["since and until are required"])
    if until < since:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, ["until must be after since"])
    if until - since > dt.timedelta(days=92):
        raise ApiError(400, "Invalid Query Date Range", 2005, ["The date range may not exceed 3 months"])
    include = includes(request)
    qs = m.Notification.objects.select_related("user").filter(started_at__gte=since, started_at__lt=until)
    if "users" in include:
        qs = qs.prefetch_related("user__teams", "user__contact_methods", "user__notification_rules__contact_method")
    kind = request.GET.get("filter")
    if kind:
        if kind not in NOTIFICATION_FILTERS:
            raise invalid(f"filter must be one of {', '.join(NOTIFICATION_FILTERS)}")
        qs = qs.filter(type=kind)
    return page(
        request,
        qs.order_by("started_at", "id"),
        "notifications",
        lambda n: ser.notification_json(n, include),
        default_limit=100,
    )


services = routes(GET=list_services, POST=create_service)
service = routes(GET=get_service, PUT=update_service, DELETE=delete_service)
integrations = routes(POST=create_integration)
integration = routes(GET=get_integration)
users = routes(GET=list_users, POST=create_user)
user = routes(GET=get_user, PUT=update_user, DELETE=delete_user)
# The abilities a full-featured account has; the portal calls this as a cheap connection health check.
ACCOUNT_ABILITIES = ["teams", "read_only_users", "service_support_hours", "urgencies", "change_events"]


def list_abilities(request):
    # Like /users/me, the spec asks no scope: any valid token may ask what its account can do.
    return respond({"abilities": ACCOUNT_ABILITIES})


users_me = routes(GET=me)
abilities = routes(GET=list_abilities)
contact_methods = routes(GET=list_contact_methods)
notification_rules = routes(GET=list_notification_rules)
teams = routes(GET=list_teams)
team = routes(GET=get_team)
team_member = routes(PUT=add_team_member, DELETE=remove_team_member)
policies = routes(GET=list_policies)
policy = routes(GET=get_policy)
priorities = routes(GET=list_priorities)
templates = routes(GET=list_templates, POST=create_template)
template = routes(GET=get_template, PUT=update_template, DELETE=delete_template)
template_render_view = routes(POST=render_template)
template_fields_view = routes(GET=template_fields)
change_events = routes(GET=list_change_events)
change_event = routes(GET=get_change_event, PUT=update_change_event)
service_changes = routes(GET=service_change_events)
notifications = routes(GET=list_notifications)

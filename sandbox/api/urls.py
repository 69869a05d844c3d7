"""REST v2 routes of the sandbox (served at the root, like api.pagerduty.com)."""

from django.urls import path

from . import views_account as a
from . import views_incidents as i
from . import views_schedules as sch

urlpatterns = [
    path("incidents", i.incidents),
    path("incidents/<str:incident_id>", i.incident),
    path("incidents/<str:incident_id>/snooze", i.snooze),
    path("incidents/<str:incident_id>/merge", i.merge),
    path("incidents/<str:incident_id>/alerts", i.alerts),
    path("incidents/<str:incident_id>/alerts/<str:alert_id>", i.alert),
    path("incidents/<str:incident_id>/notes", i.notes),
    path("incidents/<str:incident_id>/status_updates", i.status_updates),
    path("incidents/<str:incident_id>/responder_requests", i.responder_requests),
    path("incidents/<str:incident_id>/log_entries", i.incident_log),
    path("log_entries", i.log_entries),
    path("log_entries/<str:entry_id>", i.log_entry),
    path("services", a.services),
    path("services/<str:service_id>", a.service),
    path("services/<str:service_id>/integrations", a.integrations),
    path("services/<str:service_id>/integrations/<str:integration_id>", a.integration),
    path("services/<str:service_id>/change_events", a.service_changes),
    path("users", a.users),
    path("users/me", a.users_me),
    path("users/<str:user_id>", a.user),
    path("users/<str:user_id>/contact_methods", a.contact_methods),
    path("users/<str:user_id>/notification_rules", a.notification_rules),
    path("teams", a.teams),
    path("teams/<str:team_id>", a.team),
    path("teams/<str:team_id>/users/<str:user_id>", a.team_member),
    path("escalation_policies", a.policies),
    path("escalation_policies/<str:policy_id>", a.policy),
    path("priorities", a.priorities),
    path("schedules", sch.schedules),
    path("schedules/<str:schedule_id>", sch.schedule),
    path("schedules/<str:schedule_id>/overrides", sch.overrides),
    path("schedules/<str:schedule_id>/overrides/<str:override_id>", sch.override),
    path("oncalls", sch.oncalls),
    path("abilities", a.abilities),
    path("templates", a.templates),
    path("templates/fields", a.template_fields_view),
    path("templates/<str:template_id>", a.template),
    path("templates/<str:template_id>/render", a.template_render_view),
    path("change_events", a.change_events),
    path("change_events/<str:event_id>", a.change_event),
    path("notifications", a.notifications),
]

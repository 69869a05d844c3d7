"""URLs of the incidents app."""

from django.urls import path

from incidents import live_views, views, views_insights, views_sync
from pdportal import live

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("incidents.csv", views.incident_export, {"fmt": "csv"}, name="export_csv"),
    path("incidents.json", views.incident_export, {"fmt": "json"}, name="export_json"),
    path("incidents/bulk/", views.incident_bulk, name="bulk"),
    path("views/", views.saved_view_save, name="view_save"),
    path("views/<int:view_id>/delete/", views.saved_view_delete, name="view_delete"),
    path("incidents/new/", views.incident_new, name="new"),
    path("incidents/<str:pd_id>/", views.incident_detail, name="detail"),
    path("incidents/<str:pd_id>/alerts.csv", views.incident_alerts_csv, name="alerts_csv"),
    path("incidents/<str:pd_id>/summary/", views.incident_summary, name="summary"),
    path("incidents/<str:pd_id>/policy/", views.incident_policy, name="policy"),
    path("incidents/<str:pd_id>/<slug:action>/", views.incident_action, name="action"),
    path("events/send/", views.event_send, name="event_send"),
    path("events/incident/", views.event_incident, name="event_incident"),
    path("change-events/", views.change_event_list, name="change_events"),
    path("change-events/send/", views.change_event_send, name="change_event_send"),
    path("change-events/<str:pd_id>/", views.change_event_detail, name="change_event_detail"),
    path("change-events/<str:pd_id>/edit/", views.change_event_edit, name="change_event_edit"),
    path("notifications/", views.notification_list, name="notifications"),
    path("priorities/", views.priority_list, name="priorities"),
    path("insights/", views_insights.insights, name="insights"),
    path("insights.csv", views_insights.insights_csv, name="insights_csv"),
    path("hooks/pagerduty/", live_views.pagerduty_webhook, name="pagerduty_webhook"),
    path("live/", live.stream, name="live"),
    path("settings/sync/", views_sync.sync_start, name="sync_start"),
]

"""URLs of the incidents app."""

from django.urls import path

from incidents import live_views, views
from pdportal import live

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("hooks/pagerduty/", live_views.pagerduty_webhook, name="pagerduty_webhook"),
    path("live/", live.stream, name="live"),
]

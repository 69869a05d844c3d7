"""URLs of the services app: /services/ and /webhooks/."""

from django.urls import path

from . import oncall_views, views

app_name = "services"
urlpatterns = [
    path("services/", views.service_list, name="list"),
    path("services/new/", views.service_create, name="create"),
    path("services/<str:pd_id>/", views.service_detail, name="detail"),
    path("services/<str:pd_id>/edit/", views.service_edit, name="edit"),
    path("services/<str:pd_id>/delete/", views.service_delete, name="delete"),
    path("oncall/", oncall_views.oncall, name="oncall"),
    path("oncall/refresh/", oncall_views.oncall_refresh, name="oncall_refresh"),
    path("schedules/", oncall_views.schedule_list, name="schedule_list"),
    path("schedules/<str:pd_id>/", oncall_views.schedule_detail, name="schedule_detail"),
    path("schedules/<str:pd_id>/take/", oncall_views.schedule_take, name="schedule_take"),
    path(
        "schedules/<str:pd_id>/overrides/<str:override_id>/delete/",
        oncall_views.override_delete,
        name="override_delete",
    ),
    path("escalation-policies/", oncall_views.policy_list, name="policy_list"),
    path("escalation-policies/<str:pd_id>/", oncall_views.policy_detail, name="policy_detail"),
    path("webhooks/", views.webhook_list, name="webhook_list"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/remove-portal/", views.webhook_remove_portal, name="webhook_remove_portal"),
    path("webhooks/<str:pd_id>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<str:pd_id>/edit/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<str:pd_id>/enable/", views.webhook_enable, name="webhook_enable"),
    path("webhooks/<str:pd_id>/ping/", views.webhook_ping, name="webhook_ping"),
    path("webhooks/<str:pd_id>/delete/", views.webhook_delete, name="webhook_delete"),
]

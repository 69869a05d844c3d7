"""URLs of the services app: /services/ and /webhooks/."""

from django.urls import path

from . import views

app_name = "services"
urlpatterns = [
    path("services/", views.service_list, name="list"),
    path("services/new/", views.service_create, name="create"),
    path("services/<str:pd_id>/", views.service_detail, name="detail"),
    path("services/<str:pd_id>/edit/", views.service_edit, name="edit"),
    path("services/<str:pd_id>/delete/", views.service_delete, name="delete"),
    path("webhooks/", views.webhook_list, name="webhook_list"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/remove-portal/", views.webhook_remove_portal, name="webhook_remove_portal"),
    path("webhooks/<str:pd_id>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<str:pd_id>/edit/", views.webhook_edit, name="webhook_edit"),
    path("webhooks/<str:pd_id>/enable/", views.webhook_enable, name="webhook_enable"),
    path("webhooks/<str:pd_id>/ping/", views.webhook_ping, name="webhook_ping"),
    path("webhooks/<str:pd_id>/delete/", views.webhook_delete, name="webhook_delete"),
]

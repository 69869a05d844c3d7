"""URLs of the admin console: /users/, /templates/, /api-console/ and /audit/."""

from django.urls import path

from . import views

app_name = "console"
urlpatterns = [
    path("users/", views.user_list, name="user_list"),
    path("users/new/", views.user_create, name="user_create"),
    path("users/<str:pd_id>/", views.user_detail, name="user_detail"),
    path("users/<str:pd_id>/edit/", views.user_edit, name="user_edit"),
    path("users/<str:pd_id>/delete/", views.user_delete, name="user_delete"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/new/", views.template_create, name="template_create"),
    path("templates/<str:pd_id>/edit/", views.template_edit, name="template_edit"),
    path("templates/<str:pd_id>/delete/", views.template_delete, name="template_delete"),
    path("templates/<str:pd_id>/preview/", views.template_preview, name="template_preview"),
    path("api-console/", views.api_console, name="api_console"),
    path("api-console/download/<str:key>/", views.api_console_download, name="api_console_download"),
    path("audit/", views.audit_log, name="audit_log"),
]

"""URLs of the accounts app: the Settings pages."""

from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/connection/oauth/", views.connection_oauth, name="connection_oauth"),
    path("settings/connection/check/", views.connection_check, name="connection_check"),
    path("settings/connection/disconnect/", views.connection_disconnect, name="connection_disconnect"),
    path("settings/me/", views.preferences_page, name="preferences"),
    path("settings/me/disconnect/", views.pagerduty_disconnect, name="pagerduty_disconnect"),
    path("settings/logins/", views.logins_page, name="logins"),
    path("settings/logins/<int:user_id>/", views.login_detail, name="login_detail"),
    path("settings/logins/<int:user_id>/active/", views.login_active, name="login_active"),
]

"""The portal's URL map: each app mounts its own pages; allauth lives under /accounts/."""

from django.urls import include, path

from pdportal import views

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("services.urls")),
    path("", include("console.urls")),
    path("", include("incidents.urls")),
]

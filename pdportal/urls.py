"""The portal's URL map: each app mounts its own pages; /accounts/ holds only the allauth views the product uses."""

from allauth.account import views as account_views
from django.urls import include, path

from pdportal import views

# Sign-in, sign-out and the PagerDuty provider (login + callback), nothing else. allauth's email manager, password
# set/change/reset, sign-up and third-party connection pages let one person attach to another's identity
# (issue 11), so they are not mounted and answer 404. A portal login's password is set by an admin
# (/settings/logins/); a PagerDuty sign-in has none.
allauth_urlpatterns = [
    path("login/", account_views.login, name="account_login"),
    path("logout/", account_views.logout, name="account_logout"),
    path("", include("accounts.pagerduty.urls")),
]

urlpatterns = [
    path("healthz", views.healthz, name="healthz"),
    path("accounts/", include(allauth_urlpatterns)),
    path("", include("accounts.urls")),
    path("", include("services.urls")),
    path("", include("console.urls")),
    path("", include("incidents.urls")),
]

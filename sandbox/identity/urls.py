"""OAuth routes of the sandbox (mounted at the root: /oauth/authorize, /oauth/token, /oauth/revoke)."""

from django.urls import path

from sandbox.identity import views

urlpatterns = [
    path("oauth/authorize", views.authorize, name="oauth-authorize"),
    path("oauth/token", views.token, name="oauth-token"),
    path("oauth/revoke", views.revoke, name="oauth-revoke"),
]

"""Root URLs of the sandbox: REST v2 at `/`, plus edge's OAuth, Events API and webhook routes."""

from django.urls import include, path

from sandbox.api import errors, views_web

# `/_sandbox/` (knobs, request log, reset, keys) is answered by sandbox.knobs.KnobsMiddleware itself.
urlpatterns = [
    path("", include("sandbox.identity.urls")),  # /oauth/authorize, /oauth/token, /oauth/revoke
    path("", include("sandbox.events.urls")),  # /v2/enqueue, /v2/change/enqueue
    path("", include("sandbox.hooks.urls")),  # /webhook_subscriptions…
    path("", include("sandbox.api.urls")),  # REST v2
    path("web/incidents/<str:incident_id>", views_web.incident_page),  # what an incident's html_url opens
    path("web/incidents/<str:incident_id>/responders/<str:user_id>", views_web.responder_answer),
]


def _not_found(request, exception=None):
    return errors.not_found().response()


def _server_error(request):
    return errors.ApiError(500, "Internal Server Error", 2000).response()


handler404 = _not_found
handler500 = _server_error

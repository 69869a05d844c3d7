"""Root URLs of the sandbox: REST v2 at `/`, plus edge's OAuth, Events API and webhook routes."""

import importlib.util

from django.urls import include, path

from sandbox.api import errors


def _present(module):
    return importlib.util.find_spec(module) is not None


urlpatterns = [
    # Edge's modules are included once they exist, so the REST API boots while they are being built.
    *[
        path("", include(m))
        for m in ("sandbox.identity.urls", "sandbox.events.urls", "sandbox.hooks.urls")
        if _present(m)
    ],
    path("", include("sandbox.api.urls")),
]


def _not_found(request, exception=None):
    return errors.not_found().response()


def _server_error(request):
    return errors.ApiError(500, "Internal Server Error", 2000).response()


handler404 = _not_found
handler500 = _server_error

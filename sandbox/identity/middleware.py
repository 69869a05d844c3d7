"""Authenticate sandbox requests the way PagerDuty does: `Token token=<key>` or `Bearer <oauth token>`."""

import json

from django.http import HttpResponse

from sandbox.identity.scopes import Actor
from sandbox.identity.selectors import actor_for_authorization

__all__ = ["Actor", "PagerDutyAuthMiddleware"]

# Paths that authenticate differently (Events API by routing key, OAuth by client) or not at all.
OPEN_PREFIXES = ("/_sandbox/", "/oauth/", "/v2/", "/static/", "/favicon.ico", "/web/")


def unauthorized() -> HttpResponse:
    body = {"error": {"message": "Unauthorized", "code": 2006, "errors": []}}
    return HttpResponse(json.dumps(body), status=401, content_type="application/json")


class PagerDutyAuthMiddleware:
    """Sets `request.pd_actor` (an Actor) or answers 401 like PagerDuty."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.pd_actor = None
        if request.path.startswith(OPEN_PREFIXES) or request.path == "/":
            return self.get_response(request)
        actor = actor_for_authorization(request.headers.get("Authorization", ""))
        if actor is None:
            return unauthorized()
        request.pd_actor = actor
        return self.get_response(request)

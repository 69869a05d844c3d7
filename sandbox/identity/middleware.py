"""Authenticate sandbox requests the way PagerDuty does (stub: account key only)."""

import json
import os
from dataclasses import dataclass, field

from django.http import HttpResponse


@dataclass
class Actor:
    """Who is making the request, as seen by the sandbox."""

    user: object = None
    kind: str = "account_key"
    scopes: set = field(default_factory=lambda: {"read", "write"})
    token_id: str = "account"

    def can(self, scope):
        return True

    def can_write_as_role(self):
        return True

    def is_admin(self):
        return True


def _unauthorized():
    body = {"error": {"message": "Unauthorized", "code": 2006}}
    return HttpResponse(json.dumps(body), status=401, content_type="application/json")


class PagerDutyAuthMiddleware:
    """Accept the account key `SANDBOX_API_TOKEN` as `Authorization: Token token=...`."""

    open_prefixes = ("/_sandbox/", "/oauth/", "/v2/", "/static/")

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.pd_actor = None
        if request.path.startswith(self.open_prefixes):
            return self.get_response(request)
        header = request.headers.get("Authorization", "")
        expected = os.environ.get("SANDBOX_API_TOKEN", "sandbox-account-token")
        token = header.removeprefix("Token token=").strip() if header.startswith("Token token=") else ""
        if header.startswith("Bearer "):
            token = header.removeprefix("Bearer ").strip()
        if token != expected:
            return _unauthorized()
        request.pd_actor = Actor()
        return self.get_response(request)

"""PagerDuty's error body: `ApiError` is raised anywhere and rendered by the middleware."""

import json

from django.http import HttpResponse


class ApiError(Exception):
    """An HTTP error the way PagerDuty answers it: `{"error": {"message", "code", "errors"}}`."""

    def __init__(self, status, message, code, errors=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.errors = list(errors or [])

    def body(self):
        return {"error": {"message": self.message, "code": self.code, "errors": self.errors}}

    def response(self):
        return HttpResponse(json.dumps(self.body()), status=self.status, content_type="application/json")


def invalid(*errors):
    """400 Invalid Input Provided (2001), PagerDuty's answer to a malformed body or parameter."""
    return ApiError(400, "Invalid Input Provided", 2001, errors)


def arguments_error(*errors):
    """400 Arguments Caused Error (2002), PagerDuty's answer to a well-formed but refused request."""
    return ApiError(400, "Arguments Caused Error", 2002, errors)


def not_found(what="Not Found"):
    return ApiError(404, "Not Found", 2100, [what] if what != "Not Found" else [])


def forbidden(message="Access Denied"):
    return ApiError(403, message, 2010)


def method_not_allowed():
    return ApiError(405, "Method Not Allowed", 2000)

"""Render ApiError and unexpected failures as PagerDuty's JSON error body; set the rendering context."""

import logging

from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.http import Http404

from .context import set_request_context
from .errors import ApiError, forbidden, invalid, not_found

log = logging.getLogger(__name__)


class ApiErrorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        set_request_context(base_url=f"{request.scheme}://{request.get_host()}")
        try:
            return self.get_response(request)
        except ApiError as exc:
            return exc.response()

    def process_exception(self, request, exception):
        if isinstance(exception, ApiError):
            return exception.response()
        # Django's own client errors keep their status (Django would answer them so without this middleware).
        if isinstance(exception, Http404):
            return not_found().response()
        if isinstance(exception, PermissionDenied):
            return forbidden().response()
        if isinstance(exception, BadRequest | SuspiciousOperation):
            return invalid("Bad Request").response()
        log.error("sandbox error on %s %s", request.method, request.path, exc_info=exception)
        return ApiError(500, "Internal Server Error", 2000, [str(exception)]).response()

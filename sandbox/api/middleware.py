"""Render ApiError and unexpected failures as PagerDuty's JSON error body; set the rendering context."""

import logging

from .context import set_request_context
from .errors import ApiError

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
        log.exception("sandbox error on %s %s", request.method, request.path)
        return ApiError(500, "Internal Server Error", 2000, [str(exception)]).response()

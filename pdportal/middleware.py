"""Web middleware of the platform layer: the overall PagerDuty deadline of every person's request."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import format_html

from pdportal.pagerduty import DeadlineExceeded
from pdportal.pagerduty.deadline import deadline


class PagerDutyDeadlineMiddleware:
    """Every PagerDuty call a request makes shares one deadline (PAGERDUTY_REQUEST_DEADLINE, retries included).

    Views show DeadlineExceeded where they show any PagerDuty error; one that escapes a view still becomes the
    same plain message (a page, or for htmx a notice above the content), never a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with deadline(settings.PAGERDUTY_REQUEST_DEADLINE):
            return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DeadlineExceeded):
            return None
        message = str(exception)
        if getattr(request, "htmx", False):
            # The swap the page asked for cannot happen: put the message above the content instead.
            response = HttpResponse(
                format_html('<ul class="messages" role="status"><li class="message warning">{}</li></ul>', message)
            )
            response["HX-Retarget"] = "#main"
            response["HX-Reswap"] = "beforebegin"
            return response
        return render(request, "pdportal/pagerduty_slow.html", {"message": message}, status=504)

"""Test-only pages for the deadline middleware, mounted beside the portal's own URLs."""

from django.http import HttpResponse
from django.urls import path

from pdportal.pagerduty import DeadlineExceeded
from pdportal.pagerduty.deadline import current
from pdportal.urls import urlpatterns as portal_urlpatterns


def slow_page(request):
    # A view that lets PagerDuty's deadline error escape, as a view without its own handling would.
    raise DeadlineExceeded(seconds=8)


def deadline_page(request):
    limit = current()
    return HttpResponse(f"{limit.seconds if limit else 'none'}")


urlpatterns = [path("t/slow/", slow_page), path("t/deadline/", deadline_page), *portal_urlpatterns]

"""URLconf of the ceiling process: the bare Django endpoint, then the measured checkout's own URLs."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from bench.ceiling import signed
from pdportal.urls import urlpatterns as portal_urlpatterns


@csrf_exempt
def bare(request: HttpRequest) -> HttpResponse:
    """Check the signature, answer 204: all a receiver must do, served by Django the way a sync view is."""
    ok = signed(request.body, request.headers.get("X-PagerDuty-Signature"))
    return HttpResponse(status=204 if ok else 403)


urlpatterns = [path("bench/bare/", bare), *portal_urlpatterns]

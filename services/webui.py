"""Small view helpers shared by the admin pages (services/ and console/): refusals, partials, paging."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, resolve_url

from pdportal.pagerduty import PagerDutyError, Unauthorized


def refusal(exc: PagerDutyError) -> str:
    """PagerDuty's own words for a refused request; a 401 goes on to the re-sign-in middleware."""
    if isinstance(exc, Unauthorized):
        raise exc
    return str(exc)


def partial(request: HttpRequest) -> str:
    """The `?partial=<dom-id>` the live layer (or htmx) asked for, or ""."""
    return request.GET.get("partial", "")


def paginate(request: HttpRequest, items: Any, per_page: int = 50) -> Page:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


def query_without(request: HttpRequest, *names: str) -> str:
    """The current query string minus some keys (for pagination and partial links)."""
    params = request.GET.copy()
    for name in names:
        params.pop(name, None)
    return params.urlencode()


def done(request: HttpRequest, to: str, *args: Any, **kwargs: Any) -> HttpResponse:
    """After a successful write: a redirect for a plain form POST, an `HX-Redirect` for htmx (whole-page swap)."""
    if getattr(request, "htmx", False):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = resolve_url(to, *args, **kwargs)
        return response
    return redirect(to, *args, **kwargs)

"""View helpers every app shares: PagerDuty refusals in words, partials, paging, redirects, CSV-safe cells."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url

from pdportal.pagerduty import PagerDutyError, Unauthorized


def refusal(exc: PagerDutyError) -> str:
    """PagerDuty's own words for a refused request; a 401 goes on to the re-sign-in middleware."""
    if isinstance(exc, Unauthorized):
        raise exc
    return str(exc)


# A spreadsheet reads a cell starting with one of these as a formula (tab and CR too: some strip them first).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text starting with = + - @, a tab or a CR gets a leading quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


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


def save_form[T](
    request: HttpRequest,
    *,
    form: Any,
    template: str,
    context: dict[str, Any],
    save: Callable[[], T],
    success: Callable[[T], str],
    then: Callable[[T], HttpResponse],
) -> HttpResponse:
    """An admin form page: on a valid POST, write to PagerDuty and move on, or show PagerDuty's refusal."""
    error = ""
    if request.method == "POST" and form.is_valid():
        try:
            saved = save()
        except PagerDutyError as exc:
            error = refusal(exc)
        else:
            messages.success(request, success(saved))
            return then(saved)
    return render(request, template, {**context, "form": form, "error": error})


def confirm_delete(
    request: HttpRequest, *, template: str, context: dict[str, Any], delete: Callable[[], object], success: str, to: str
) -> HttpResponse:
    """A delete page: GET asks for confirmation; POST deletes in PagerDuty, or shows PagerDuty's refusal."""
    error = ""
    if request.method == "POST":
        try:
            delete()
        except PagerDutyError as exc:
            error = refusal(exc)
        else:
            messages.success(request, success)
            return done(request, to)
    return render(request, template, {**context, "error": error})

"""Project-level views: the health endpoint."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pdportal import health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """`{"status": "ok"|"failing"}` for anyone (load balancers, uptime checks); every check for an admin."""
    result = health.report()
    body = result.details() if health.may_see_details(request) else result.public()
    return JsonResponse(body, status=result.http_status)

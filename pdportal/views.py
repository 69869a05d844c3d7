"""Project-level views: the health endpoint."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pdportal import health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    healthy, results = health.report()
    return JsonResponse({"ok": healthy, **results}, status=200 if healthy else 503)

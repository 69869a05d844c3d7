"""Live endpoints: the PagerDuty webhook receiver (POST /hooks/pagerduty/); the SSE stream is pdportal.live.stream."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from incidents import webhooks


def _declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


@csrf_exempt
@require_POST
def pagerduty_webhook(request: HttpRequest) -> JsonResponse:
    """PagerDuty's webhook v3 deliveries: no sign-in, the HMAC signature is the authentication."""
    declared = _declared_length(request)
    if declared is not None and declared > webhooks.MAX_BODY_BYTES:
        return JsonResponse({"error": f"Body larger than {webhooks.MAX_BODY_BYTES} bytes."}, status=413)
    # Read at most one byte past the limit: a lying or absent Content-Length cannot make us buffer more.
    body = request.read(webhooks.MAX_BODY_BYTES + 1)
    answer = webhooks.receive(
        body=body,
        signature=request.headers.get("X-PagerDuty-Signature"),
        webhook_id=request.headers.get("X-Webhook-Id", ""),
        subscription_id=request.headers.get("X-Webhook-Subscription", ""),
    )
    return JsonResponse(answer.body, status=answer.status)

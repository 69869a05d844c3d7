"""Events API v2 endpoints: /v2/enqueue and /v2/change/enqueue (authenticated by routing key)."""

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from sandbox.events import actions, throttle
from sandbox.events.actions import EventRejected


def _parse(request) -> dict:
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise EventRejected(
            ["JSON parse error"], status="Unrecognized object", message="Event object format is unrecognized"
        )
    return data


def _throttled(reset: int) -> JsonResponse:
    response = JsonResponse(
        {
            "status": "throttle event",
            "message": "Requests for this service are arriving too quickly. Please retry later.",
        },
        status=429,
    )
    response["Retry-After"] = str(reset)
    return response


@csrf_exempt
@require_POST
def enqueue(request):
    try:
        data = _parse(request)
        integration = actions.check_routing_key(data)
        allowed, reset = throttle.allow(integration.integration_key)
        if not allowed:
            return _throttled(reset)
        dedup_key = actions.alert_event_process(integration=integration, data=data)
    except EventRejected as exc:
        return JsonResponse(exc.body(), status=400)
    return JsonResponse({"status": "success", "message": "Event processed", "dedup_key": dedup_key}, status=202)


@csrf_exempt
@require_POST
def change_enqueue(request):
    try:
        data = _parse(request)
        integration = actions.check_routing_key(data)
        allowed, reset = throttle.allow(integration.integration_key)
        if not allowed:
            return _throttled(reset)
        actions.change_event_process(integration=integration, data=data)
    except EventRejected as exc:
        return JsonResponse(exc.body(), status=400)
    return JsonResponse({"status": "success", "message": "Change event processed"}, status=202)

"""Test-harness knobs for the sandbox: latency, faults, rate limit, request log and the /_sandbox/ API."""

import collections
import json
import math
import os
import random
import threading
import time
from datetime import UTC, datetime

from django.http import HttpResponse, JsonResponse
from django.http.request import RawPostDataException

from sandbox.identity.tokens import token_id_from_header

CONTROL_PREFIX = "/_sandbox/"
# Paths outside the REST API: they get no ratelimit-* headers and do not count against a token.
NON_REST_PREFIXES = (CONTROL_PREFIX, "/oauth/", "/v2/", "/static/", "/favicon.ico")
LOOPBACK = {"127.0.0.1", "::1", "::ffff:127.0.0.1"}
RATE_WINDOW_SECONDS = 60.0
REQUEST_LOG_SIZE = 10_000


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, "") or default)
    except ValueError:
        return default


def defaults() -> dict:
    """Startup knob values; the server command maps its CLI flags to these environment variables."""
    return {
        "latency_ms": int(_env_float("SANDBOX_LATENCY_MS", 0)),
        "fault_rate_500": _env_float("SANDBOX_FAULT_RATE_500", 0.0),
        "fault_rate_429": _env_float("SANDBOX_FAULT_RATE_429", 0.0),
        "fault_paths": [],
        "rate_limit_per_min": int(_env_float("SANDBOX_RATE_LIMIT_PER_MIN", 960)),
        "events_rate_limit_per_min": int(_env_float("SANDBOX_EVENTS_RATE_LIMIT_PER_MIN", 120)),
        "clock_offset_seconds": 0.0,
        "webhook_retry_base_seconds": _env_float("SANDBOX_WEBHOOK_RETRY_BASE_SECONDS", 1.0),
        "webhook_max_attempts": 3,
        "webhook_timeout_seconds": 5.0,
    }


def _validate(name: str, value):
    """Return the coerced value, or raise ValueError with a message a test author can act on."""
    if name == "fault_paths":
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(p, str) and p.startswith("/") for p in value):
            raise ValueError("fault_paths must be a list of path prefixes starting with '/'")
        return value
    if name in ("fault_rate_500", "fault_rate_429"):
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1")
        return value
    if name in ("latency_ms", "rate_limit_per_min", "events_rate_limit_per_min", "webhook_max_attempts"):
        if isinstance(value, bool) or float(value) != int(float(value)):
            raise ValueError(f"{name} must be an integer")
        value = int(float(value))
        low = 1 if name in ("rate_limit_per_min", "events_rate_limit_per_min", "webhook_max_attempts") else 0
        if value < low:
            raise ValueError(f"{name} must be at least {low}")
        return value
    if name in ("clock_offset_seconds", "webhook_retry_base_seconds", "webhook_timeout_seconds"):
        value = float(value)
        if name != "clock_offset_seconds" and value < 0:
            raise ValueError(f"{name} must not be negative")
        return value
    raise ValueError(f"unknown knob {name!r}")


class Knobs:
    """Thread-safe knob values; read with knobs.get(name)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._values = defaults()

    def get(self, name: str):
        with self._lock:
            return self._values[name]

    def snapshot(self) -> dict:
        with self._lock:
            return {k: (list(v) if isinstance(v, list) else v) for k, v in self._values.items()}

    def update(self, changes: dict) -> dict:
        """Validate every change first so a bad request changes nothing."""
        coerced = {}
        errors = []
        for name, value in changes.items():
            try:
                coerced[name] = _validate(name, value)
            except (TypeError, ValueError) as exc:
                errors.append(str(exc))
        if errors:
            raise ValueError("; ".join(errors))
        with self._lock:
            self._values.update(coerced)
        return self.snapshot()

    def reset(self) -> dict:
        with self._lock:
            self._values = defaults()
        return self.snapshot()


knobs = Knobs()


def now() -> float:
    """The sandbox clock (epoch seconds); tests shift it with the clock_offset_seconds knob."""
    return time.time() + knobs.get("clock_offset_seconds")


def utcnow() -> datetime:
    return datetime.fromtimestamp(now(), tz=UTC)


class SlidingWindowLimiter:
    """Sliding-window log: at most `limit` hits per key in any 60-second window."""

    def __init__(self, window: float = RATE_WINDOW_SECONDS):
        self.window = window
        self._hits: dict[str, collections.deque] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, limit: int, at: float | None = None) -> tuple[bool, int, int]:
        """Record a hit if allowed. Returns (allowed, remaining, seconds until a slot frees up)."""
        at = time.monotonic() if at is None else at
        with self._lock:
            hits = self._hits.setdefault(key, collections.deque())
            while hits and hits[0] <= at - self.window:
                hits.popleft()
            allowed = len(hits) < limit
            if allowed:
                hits.append(at)
            remaining = max(0, limit - len(hits))
            reset = math.ceil(hits[0] + self.window - at) if hits else math.ceil(self.window)
            return allowed, remaining, max(1, reset)

    def clear(self):
        with self._lock:
            self._hits.clear()


rest_limiter = SlidingWindowLimiter()


class RequestLog:
    """In-memory ring buffer of handled requests (never holds raw tokens)."""

    def __init__(self, size: int = REQUEST_LOG_SIZE):
        self._entries = collections.deque(maxlen=size)
        self._lock = threading.Lock()
        self._seq = 0

    def add(self, entry: dict):
        with self._lock:
            self._seq += 1
            entry["id"] = self._seq
            self._entries.append(entry)

    def list(self, *, since: int = 0, path_prefix: str = "", method: str = "", limit: int | None = None):
        with self._lock:
            rows = [
                e
                for e in self._entries
                if e["id"] > since
                and e["path"].startswith(path_prefix)
                and (not method or e["method"] == method.upper())
            ]
        return rows[-limit:] if limit else rows

    def clear(self):
        with self._lock:
            self._entries.clear()


request_log = RequestLog()


def _error(status: int, message: str, code: int, errors: list[str] | None = None) -> HttpResponse:
    return JsonResponse({"error": {"message": message, "code": code, "errors": errors or []}}, status=status)


def _rate_headers(response, *, limit: int, remaining: int, reset: int):
    response["ratelimit-limit"] = str(limit)
    response["ratelimit-remaining"] = str(remaining)
    response["ratelimit-reset"] = str(reset)
    return response


def _fault_applies(path: str) -> bool:
    prefixes = knobs.get("fault_paths")
    return not prefixes or any(path.startswith(p) for p in prefixes)


LOGGED_BODY_LIMIT = 64 * 1024


def _logged_body(request):
    """A write's JSON body as the client sent it (for tests that check what the portal sent), else None."""
    if request.method in ("GET", "HEAD", "OPTIONS") or "json" not in request.content_type:
        return None
    try:
        raw = request.body
    except RawPostDataException:  # a view already streamed it (uploads): nothing to show
        return None
    if not raw or len(raw) > LOGGED_BODY_LIMIT:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


class KnobsMiddleware:
    """Outermost middleware: logs API requests, injects latency and faults, enforces the rate limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        path = request.path
        token = token_id_from_header(request.headers.get("Authorization", ""))
        if path.startswith(CONTROL_PREFIX):
            # Harness calls are not PagerDuty traffic: keep them out of the log that tests count.
            return control(request)
        response = self._handle(request, path, token)
        request_log.add(
            {
                "at": utcnow().isoformat().replace("+00:00", "Z"),
                "method": request.method,
                "path": path,
                "query": request.META.get("QUERY_STRING", ""),
                "token_id": token,
                "from": request.headers.get("From", ""),
                "body": _logged_body(request),
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000, 2),
            }
        )
        return response

    def _handle(self, request, path, token):
        latency = knobs.get("latency_ms")
        if latency:
            time.sleep(latency / 1000)
        is_rest = not path.startswith(NON_REST_PREFIXES)
        limit = knobs.get("rate_limit_per_min")
        rate = None
        if is_rest:
            allowed, remaining, reset = rest_limiter.hit(token or "anonymous", limit)
            rate = {"limit": limit, "remaining": remaining, "reset": reset}
            if not allowed:
                limited = _error(429, "Rate Limit Exceeded", 2020, [f"Over {limit} requests a minute."])
                return _rate_headers(limited, **rate)
        if _fault_applies(path):
            roll = random.random()
            if roll < knobs.get("fault_rate_500"):
                response = _error(500, "Internal Server Error (injected by the sandbox)", 2000)
                return _rate_headers(response, **rate) if rate else response
            if roll < knobs.get("fault_rate_500") + knobs.get("fault_rate_429"):
                fault_rate = rate or {"limit": limit, "remaining": 0, "reset": 1}
                return _rate_headers(_error(429, "Rate Limit Exceeded", 2020), **{**fault_rate, "remaining": 0})
        response = self.get_response(request)
        if rate:
            _rate_headers(response, **rate)
        return response


# ---- /_sandbox/ control API -------------------------------------------------------------------


def _json_body(request) -> dict:
    if not request.body:
        return {}
    data = json.loads(request.body)
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def reset_state(*, reseed: bool = True, size: int | None = None) -> dict:
    """Put the sandbox back to its initial state: seed data, knobs, logs, limits, queues, tokens."""
    from sandbox.events import throttle
    from sandbox.hooks import delivery
    from sandbox.identity import actions as identity_actions

    delivery.clear()
    summary = {}
    if reseed:
        from sandbox.api import seed

        kwargs = {"size": size} if size is not None else {}
        result = seed.reset(**kwargs)
        if isinstance(result, dict):
            summary.update(result)
    identity_actions.reset()
    from sandbox.hooks import actions as hook_actions

    hook_actions.reset()
    knobs.reset()
    request_log.clear()
    rest_limiter.clear()
    throttle.clear()
    return summary


def control(request) -> HttpResponse:
    """Serve /_sandbox/*: a test harness, so no PagerDuty auth, but loopback callers only."""
    if request.META.get("REMOTE_ADDR", "") not in LOOPBACK:
        return JsonResponse({"error": "the sandbox control API only answers on loopback"}, status=403)
    route = request.path[len(CONTROL_PREFIX) :].strip("/")
    method = request.method
    try:
        body = _json_body(request) if method in ("POST", "PUT", "PATCH") else {}
    except ValueError as exc:
        return JsonResponse({"error": f"invalid JSON body: {exc}"}, status=400)
    try:
        if route == "requests":
            if method == "GET":
                q = request.GET
                rows = request_log.list(
                    since=int(q.get("since", 0) or 0),
                    path_prefix=q.get("path", ""),
                    method=q.get("method", ""),
                    limit=int(q["limit"]) if q.get("limit") else None,
                )
                return JsonResponse({"requests": rows, "count": len(rows)})
            if method == "DELETE":
                request_log.clear()
                return HttpResponse(status=204)
        elif route == "knobs":
            if method == "GET":
                return JsonResponse({"knobs": knobs.snapshot()})
            if method in ("POST", "PUT", "PATCH"):
                return JsonResponse({"knobs": knobs.update(body)})
            if method == "DELETE":
                return JsonResponse({"knobs": knobs.reset()})
        elif route == "reset" and method == "POST":
            size = body.get("size")
            summary = reset_state(reseed=body.get("reseed", True), size=int(size) if size is not None else None)
            return JsonResponse({"status": "reset", **summary})
        elif route == "keys" and method == "GET":
            from sandbox.identity.selectors import keys_overview

            return JsonResponse(keys_overview())
        elif route == "keys" and method == "POST":
            from sandbox.identity.actions import api_key_create

            raw = api_key_create(
                user_id=str(body.get("user_id") or ""),
                read_only=bool(body.get("read_only", False)),
                description=str(body.get("description") or ""),
            )
            return JsonResponse({"api_key": raw}, status=201)
        elif route == "simulate/step" and method == "POST":
            from sandbox.simulate import Simulator

            steps = int(body.get("steps", 1))
            simulator = Simulator(seed=body.get("seed"), max_open=int(body.get("max_open", 20)))
            return JsonResponse({"actions": [simulator.step() for _ in range(max(0, min(steps, 100)))]})
        elif route == "deliveries" and method == "GET":
            from sandbox.hooks import delivery

            return JsonResponse({"deliveries": delivery.recent(), "pending": delivery.pending()})
        elif route == "deliveries/flush" and method == "POST":
            from sandbox.hooks import delivery

            timeout = float(body.get("timeout", request.GET.get("timeout", 10)))
            idle = delivery.wait_idle(timeout=timeout)
            return JsonResponse({"idle": idle, "pending": delivery.pending()}, status=200 if idle else 504)
        else:
            return JsonResponse({"error": f"unknown control endpoint {request.path}"}, status=404)
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"error": f"method {method} not allowed on {request.path}"}, status=405)

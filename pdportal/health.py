"""The /healthz checks: apps register extra checks (worker, last sync, last webhook) in their ready()."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection

Check = Callable[[], dict]
_CHECKS: dict[str, Check] = {}


def register(name: str) -> Callable[[Check], Check]:
    def decorator(func: Check) -> Check:
        _CHECKS[name] = func
        return func

    return decorator


@register("database")
def check_database() -> dict:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "vendor": connection.vendor, "ms": round((time.perf_counter() - started) * 1000, 1)}


@register("redis")
def check_redis() -> dict:
    if not settings.REDIS_URL:
        return {"ok": False, "error": "REDIS_URL is not set"}
    from pdportal.redis import get_redis

    started = time.perf_counter()
    try:
        get_redis().ping()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def report() -> tuple[bool, dict]:
    results = {name: check() for name, check in _CHECKS.items()}
    # Only the database and Redis decide liveness; the rest is information for operators.
    healthy = results["database"]["ok"] and results["redis"]["ok"]
    return healthy, results

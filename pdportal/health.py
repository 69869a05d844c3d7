"""The /healthz checks: apps register extra checks (worker, last sync, last webhook) in their ready()."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.http import HttpRequest

from pdportal.redis import get_redis

Check = Callable[[], dict]
_CHECKS: dict[str, Check] = {}

# The overall states, each with its HTTP status. A new state (for example "degraded": 200) is one entry here
# plus its rule in `overall_status`; anonymous callers see only the state's name.
OK = "ok"
DEGRADED = "degraded"  # pages work from the mirror, but something needs an operator (e.g. a stalled sync)
FAILING = "failing"
HTTP_STATUS: dict[str, int] = {OK: 200, DEGRADED: 200, FAILING: 503}

# Who may read the details (subscription, connection mode, sync state, errors). The accounts app installs
# its rule ("a signed-in PagerDuty admin or owner") at start-up; until then nobody may.
DetailGate = Callable[[HttpRequest], bool]
_detail_gate: list[DetailGate] = []


def set_detail_gate(gate: DetailGate) -> None:
    _detail_gate[:] = [gate]


def may_see_details(request: HttpRequest) -> bool:
    try:
        return bool(_detail_gate) and _detail_gate[0](request)
    except Exception:  # noqa: BLE001 - the gate reads the session: with the database down, nobody sees details
        return False


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

    started = time.perf_counter()
    try:
        get_redis().ping()
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "error": str(exc)}
    return {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}


def overall_status(results: dict[str, dict]) -> str:
    """The one word an anonymous caller gets. Only the database and Redis decide liveness; the rest informs."""
    if not (results["database"]["ok"] and results["redis"]["ok"]):
        return FAILING
    # A check that reports `degraded` (the sync watchdog's stalled sync) makes the whole state degraded.
    if any(isinstance(result, dict) and result.get("degraded") for result in results.values()):
        return DEGRADED
    return OK


@dataclass(frozen=True)
class Report:
    status: str  # a key of HTTP_STATUS
    checks: dict[str, dict]

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.status]

    def public(self) -> dict[str, str]:
        """What anyone may read: the state, nothing about hosts, ports, subscriptions or modes."""
        return {"status": self.status}

    def details(self) -> dict[str, Any]:
        """For admins: every check, with hosts, ports and credentials taken out of error texts."""
        checks = {
            name: redact_check(result) if name in SERVICE_CHECKS else result for name, result in self.checks.items()
        }
        return {"status": self.status, "ok": self.status != FAILING, **checks}


def _run(check: Check) -> dict:
    """A check's result; a check that raises (its table unreachable, say) fails rather than answering 500."""
    try:
        return check()
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure
        return {"ok": False, "error": redact_error(f"{type(exc).__name__}: {exc}")}


def check(name: str) -> dict:
    """One registered check's result (the Settings page shows the webhook subscription's), or "not installed"."""
    found = _CHECKS.get(name)
    return _run(found) if found is not None else {"ok": False, "state": "unknown", "error": f"No {name} check."}


def report() -> Report:
    results = {name: _run(check) for name, check in _CHECKS.items()}
    return Report(status=overall_status(results), checks=results)


# Checks whose errors come from a driver that names the server (redis-py, psycopg): hosts and ports come out.
SERVICE_CHECKS = frozenset({"database", "redis", "worker"})
# host:port, user:password@host, and the configured service hosts, wherever an error text names them.
_CREDENTIALS = re.compile(r"[\w.+-]*:[^@\s/]*@")
_HOST_PORT = re.compile(r"(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):\d{1,5}\b")
_IP = re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b")
REDACTED_HOST = "[host]"


def redact_error(text: str) -> str:
    """An error text without credentials, hosts or ports (redis-py names both: "connecting to 10.0.0.5:6379")."""
    text = _HOST_PORT.sub(REDACTED_HOST, _CREDENTIALS.sub("", text))
    for url in (settings.REDIS_URL, settings.DATABASES["default"].get("HOST") or ""):
        host = urlsplit(url).hostname if "://" in str(url) else str(url)
        if host:
            text = text.replace(host, REDACTED_HOST)
    text = _IP.sub(REDACTED_HOST, text)
    return re.sub(re.escape(REDACTED_HOST) + r":\d{1,5}\b", REDACTED_HOST, text)


def redact_check(result: dict) -> dict:
    return {k: redact_error(v) if k == "error" and isinstance(v, str) else v for k, v in result.items()}

"""Per-request rendering context (public base URL, time zone) shared by the serializers."""

import contextvars
import datetime as dt
import random
import string
import zoneinfo

from django.conf import settings
from django.utils import timezone

_base_url = contextvars.ContextVar("sandbox_base_url", default="")
_tz = contextvars.ContextVar("sandbox_tz", default=None)
_rng = random.SystemRandom()
ID_ALPHABET = string.ascii_uppercase + string.digits


def set_request_context(*, base_url, time_zone=None):
    _base_url.set(base_url.rstrip("/"))
    _tz.set(time_zone)


def set_time_zone(name):
    _tz.set(zoneinfo.ZoneInfo(name) if name else None)


def api_url(path):
    base = settings.SANDBOX_BASE_URL or _base_url.get() or "http://127.0.0.1:8010"
    return f"{base}{path}"


def html_url(path):
    return f"{settings.SANDBOX_HTML_BASE_URL or api_url('/web')}{path}"


def ts(value):
    """Format a datetime like PagerDuty: UTC with `Z`, or the requested time zone with its offset."""
    if value is None:
        return None
    zone = _tz.get()
    if zone is None:
        return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value.astimezone(zone).isoformat(timespec="seconds")


def now():
    return timezone.now().replace(microsecond=0)


def new_id(prefix="P", length=7):
    return prefix + "".join(_rng.choice(ID_ALPHABET) for _ in range(length - len(prefix)))


def new_log_entry_id():
    return new_id("R", 26)

"""Request helpers shared by the REST views: JSON bodies, pagination, include[], From, routing by method."""

import datetime as dt
import json
import zoneinfo

from django.http import HttpResponse
from django.utils.dateparse import parse_date, parse_datetime

from . import models as m
from .context import set_time_zone
from .errors import ApiError, arguments_error, invalid, method_not_allowed, not_found

try:
    from sandbox.identity.guards import require as _require
except ImportError:  # edge's guard not there yet: allow everything

    def _require(request, scope, write=False, admin=False):
        return None


MAX_WINDOW = 10_000


def require(request, scope, *, write=False, admin=False):
    """Edge's guard: returns the request's actor or raises ApiError 401/403."""
    return _require(request, scope, write=write, admin=admin)


def respond(body, status=200):
    if status == 204:
        return HttpResponse(status=204)
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


def routes(**handlers):
    """One URL, one handler per HTTP method; any other method is PagerDuty's 405."""

    def view(request, *args, **kwargs):
        handler = handlers.get(request.method)
        if handler is None:
            raise method_not_allowed()
        return handler(request, *args, **kwargs)

    view.csrf_exempt = True
    return view


def body(request):
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid(f"Malformed JSON: {exc}") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    return data


def obj(data, key):
    value = data.get(key)
    if not isinstance(value, dict):
        raise invalid(f"{key} must be an object")
    return value


def qlist(request, name):
    values = request.GET.getlist(f"{name}[]") or request.GET.getlist(name)
    out = []
    for v in values:
        out.extend(x for x in v.split(",") if x)
    return out


def includes(request):
    return set(qlist(request, "include"))


def qbool(request, name, default=False):
    value = request.GET.get(name)
    if value is None:
        return default
    return value.lower() in ("1", "true", "yes")


def parse_time(value, name):
    if value is None or value == "":
        return None
    parsed = parse_datetime(value.replace(" ", "+")) if "T" in value else None
    if parsed is None:
        day = parse_date(value)
        if day is not None:
            parsed = dt.datetime.combine(day, dt.time.min)
    if parsed is None:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, [f"{name} is not a valid date"])
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def apply_time_zone(request):
    name = request.GET.get("time_zone")
    if not name:
        return
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise invalid("Time Zone is invalid") from None
    set_time_zone(name)


def page(request, queryset, key, serialize, *, default_limit=25, extra=None):
    """PagerDuty's offset pagination: limit ≤ 100, offset + limit ≤ 10,000, `total` only on request."""
    try:
        limit = int(request.GET.get("limit", default_limit))
        offset = int(request.GET.get("offset", 0))
    except ValueError:
        raise invalid("limit and offset must be integers") from None
    if limit < 1 or offset < 0:
        raise invalid("limit must be positive and offset not negative")
    limit = min(limit, 100)
    if offset + limit > MAX_WINDOW:
        raise arguments_error(
            "Offset+limit exceeds maximum allowed value of 10000. Please try to refine your search to reduce "
            "the returned set of records below this number, like adding a date range."
        )
    rows = list(queryset[offset : offset + limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    payload = {
        key: [serialize(r) for r in rows],
        "limit": limit,
        "offset": offset,
        "more": more,
        "total": queryset.count() if qbool(request, "total") else None,
    }
    if extra:
        payload.update(extra)
    return respond(payload)


def acting_user(request, *, required=True):
    """The user a write acts as: the token's user, else the `From` header (required for account keys)."""
    actor = getattr(request, "pd_actor", None)
    if actor is not None and getattr(actor, "user", None) is not None:
        return actor.user
    email = request.headers.get("From", "").strip()
    if not email:
        if required:
            raise ApiError(
                400,
                'You must specify a user\'s email address in the "From" header to perform this action',
                2016,
            )
        return None
    if "@" not in email:
        raise ApiError(400, 'Malformed "From" header', 1028)
    user = m.User.objects.filter(email__iexact=email).first()
    if user is None:
        raise ApiError(400, "Requester User Not Found", 1008)
    return user


def get_or_404(model, pk, queryset=None):
    qs = queryset if queryset is not None else model.objects.all()
    found = qs.filter(pk=pk).first()
    if found is None:
        raise not_found()
    return found


def ref_id(value, what):
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return value["id"]
    if isinstance(value, str):
        return value
    raise invalid(f"{what} must be a reference with an id")


def lookup(model, value, what):
    pk = ref_id(value, what)
    found = model.objects.filter(pk=pk).first()
    if found is None:
        raise invalid(f"{what} {pk} not found")
    return found

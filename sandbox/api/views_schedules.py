"""REST v2 views for schedules, overrides and on-calls (`GET /oncalls`), shaped as the official spec says."""

from __future__ import annotations

import contextlib
import datetime as dt

from django.db import transaction
from django.http import HttpResponse

from . import models as m
from . import serializers as ser
from .context import api_url, html_url, new_id, now, ts
from .errors import ApiError, invalid, not_found
from .http import (
    acting_user,
    apply_time_zone,
    body,
    get_or_404,
    includes,
    page,
    parse_time,
    qbool,
    qlist,
    ref_id,
    require,
    respond,
    routes,
)
from .oncall import Rendered, coverage

MAX_ONCALL_WINDOW = dt.timedelta(days=90)
DEFAULT_RENDER_WINDOW = dt.timedelta(days=14)


def schedule_ref(schedule):
    return {
        "id": schedule.id,
        "type": "schedule_reference",
        "summary": schedule.name,
        "self": api_url(f"/schedules/{schedule.id}"),
        "html_url": html_url(f"/schedules/{schedule.id}"),
    }


def schedules_qs():
    return m.Schedule.objects.prefetch_related("layers", "overrides", "teams", "escalation_rules__policy").order_by(
        "name", "id"
    )


def _users_by_id():
    return {u.id: u for u in m.User.objects.all()}


def _entries_json(entries, users):
    return [{"user": ser.user_ref(users.get(u)), "start": ts(s), "end": ts(e)} for s, e, u in entries]


def _layer_json(layer, rendered, users):
    entries = rendered.layers.get(layer.id, []) if rendered else []
    return {
        "id": layer.id,
        "name": layer.name,
        "start": ts(layer.start),
        "end": ts(layer.end),
        "rotation_virtual_start": ts(layer.rotation_virtual_start),
        "rotation_turn_length_seconds": layer.rotation_turn_length_seconds,
        "users": [{"user": ser.user_ref(users.get(u))} for u in layer.user_ids if u in users],
        "restrictions": layer.restrictions,
        "rendered_schedule_entries": _entries_json(entries, users) if rendered else [],
        "rendered_coverage_percentage": coverage(entries, rendered.since, rendered.until) if rendered else None,
    }


def _sub(name, entries, rendered, users):
    return {
        "name": name,
        "rendered_schedule_entries": _entries_json(entries, users) if rendered else [],
        "rendered_coverage_percentage": coverage(entries, rendered.since, rendered.until) if rendered else None,
    }


def schedule_json(schedule, users, *, rendered=None, layers=True):
    layer_rows = list(schedule.layers.all())
    policies = {r.policy_id: r.policy for r in schedule.escalation_rules.all()}
    member_ids = list(dict.fromkeys(u for layer in layer_rows for u in layer.user_ids))
    body = {
        "id": schedule.id,
        "type": "schedule",
        "summary": schedule.name,
        "self": api_url(f"/schedules/{schedule.id}"),
        "html_url": html_url(f"/schedules/{schedule.id}"),
        "name": schedule.name,
        "time_zone": schedule.time_zone,
        "description": schedule.description,
        "escalation_policies": [ser.escalation_policy_ref(p) for p in sorted(policies.values(), key=lambda p: p.id)],
        "users": [ser.user_ref(users[u]) for u in member_ids if u in users],
        "teams": [ser.team_ref(t) for t in schedule.teams.all()],
    }
    if layers:
        # Highest priority first, as PagerDuty lists them.
        body["schedule_layers"] = [_layer_json(layer, rendered, users) for layer in reversed(layer_rows)]
        body["overrides_subschedule"] = _sub("Overrides", rendered.overrides if rendered else [], rendered, users)
        body["final_schedule"] = _sub("Final Schedule", rendered.final if rendered else [], rendered, users)
    return body


def _window(request, default_length):
    apply_time_zone(request)
    since = parse_time(request.GET.get("since"), "since") or now()
    until = parse_time(request.GET.get("until"), "until") or since + default_length
    if until < since:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, ["until must be after since"])
    return since, until


# --- schedules --------------------------------------------------------------------------------------


def list_schedules(request):
    require(request, "schedules.read")
    include = includes(request)
    qs = schedules_qs()
    if request.GET.get("query"):
        qs = qs.filter(name__icontains=request.GET["query"])
    team_ids = qlist(request, "team_ids")
    if team_ids:
        qs = qs.filter(teams__in=team_ids).distinct()
    rendered_wanted = bool(include & {"schedule_layers", "final_schedule", "overrides_subschedule"})
    since, until = _window(request, DEFAULT_RENDER_WINDOW) if rendered_wanted else (None, None)
    users = _users_by_id()

    def serialize(schedule):
        rendered = Rendered(schedule, since, until) if rendered_wanted else None
        return schedule_json(schedule, users, rendered=rendered, layers=rendered_wanted)

    return page(request, qs, "schedules", serialize)


def get_schedule(request, schedule_id):
    require(request, "schedules.read")
    schedule = get_or_404(m.Schedule, schedule_id, schedules_qs())
    since, until = _window(request, DEFAULT_RENDER_WINDOW)
    rendered = Rendered(schedule, since, until, overflow=qbool(request, "overflow"))
    return respond({"schedule": schedule_json(schedule, _users_by_id(), rendered=rendered)})


# --- overrides --------------------------------------------------------------------------------------


def override_json(override, users=None):
    user = (users or {}).get(override.user_id) or override.user
    return {"id": override.id, "start": ts(override.start), "end": ts(override.end), "user": ser.user_ref(user)}


def list_overrides(request, schedule_id):
    require(request, "schedules.read")
    schedule = get_or_404(m.Schedule, schedule_id)
    apply_time_zone(request)
    since = parse_time(request.GET.get("since"), "since")
    until = parse_time(request.GET.get("until"), "until")
    if since is None or until is None:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, ["since and until are required"])
    if until < since:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, ["until must be after since"])
    qs = schedule.overrides.select_related("user").filter(end__gt=since, start__lt=until)
    if qbool(request, "editable"):
        qs = qs.filter(end__gt=now())
    if not qbool(request, "overflow"):
        # Without overflow PagerDuty cuts each override to the window.
        rows = list(qs)
        for row in rows:
            row.start, row.end = max(row.start, since), min(row.end, until)
    else:
        rows = list(qs)
    # The spec lists this answer under 201; PagerDuty answers 200 (SOURCE.md).
    return respond({"overrides": [override_json(o) for o in rows]})


def _one_override(schedule, data, users):
    """(status, override or None, errors) for one requested override."""
    if not isinstance(data, dict):
        return 400, None, ["Each override must be an object"]
    errors = []
    start = end = None
    try:
        start = parse_time(data.get("start"), "start")
        end = parse_time(data.get("end"), "end")
    except ApiError:
        errors.append("start and end must be ISO 8601 date-times")
    if start is None or end is None:
        errors.append("start and end are required")
    elif end <= start:
        errors.append("Override end must be after its start")
    user = None
    with contextlib.suppress(ApiError):
        user = users.get(ref_id(data.get("user"), "user"))
    if user is None:
        errors.append("User not found")
    if errors:
        return 400, None, errors
    override = m.ScheduleOverride.objects.create(id=new_id("Q", 14), schedule=schedule, user=user, start=start, end=end)
    return 201, override, []


def create_overrides(request, schedule_id):
    require(request, "schedules.write", write=True)
    acting_user(request, required=False)
    schedule = get_or_404(m.Schedule, schedule_id)
    data = body(request)
    requested = data.get("overrides")
    if not isinstance(requested, list) or not requested:
        raise invalid("overrides must be a non-empty array")
    if len(requested) > 100:
        raise invalid("At most 100 overrides may be created at once")
    users = _users_by_id()
    results = []
    with transaction.atomic():
        for item in requested:
            status, override, errors = _one_override(schedule, item, users)
            if override is not None:
                results.append({"status": status, "override": override_json(override, users)})
            else:
                echo = item if isinstance(item, dict) else {}
                results.append(
                    {
                        "status": status,
                        "errors": errors,
                        "override": {
                            "start": echo.get("start"),
                            "end": echo.get("end"),
                            "user": ser.user_ref(users.get(str((echo.get("user") or {}).get("id", ""))))
                            if isinstance(echo.get("user"), dict)
                            else None,
                        },
                    }
                )
    return respond(results, 201)


def delete_override(request, schedule_id, override_id):
    require(request, "schedules.write", write=True)
    acting_user(request, required=False)
    override = m.ScheduleOverride.objects.filter(schedule_id=schedule_id, pk=override_id).first()
    if override is None:
        raise not_found()
    moment = now()
    if override.start < moment < override.end:
        # An override under way is cut short at this moment instead of being deleted (PagerDuty's 200).
        override.end = moment
        override.save(update_fields=["end"])
        return HttpResponse(status=200)
    override.delete()
    return respond(None, 204)


# --- on-calls ---------------------------------------------------------------------------------------


class _Rows(list):
    """A list that pages like a queryset (`count()` for `total=true`)."""

    def count(self, *args):
        return len(self) if not args else super().count(*args)


def list_oncalls(request):
    require(request, "oncalls.read")
    include = includes(request)
    apply_time_zone(request)
    moment = now()
    since = parse_time(request.GET.get("since"), "since") or moment
    until = parse_time(request.GET.get("until"), "until") or since
    if until < since:
        raise ApiError(400, "Invalid 'since' or 'until' Parameter Values", 2004, ["until must be after since"])
    if until - since > MAX_ONCALL_WINDOW:
        raise ApiError(400, "Invalid Query Date Range", 2005, ["The date range may not exceed 90 days"])
    policy_ids = set(qlist(request, "escalation_policy_ids"))
    schedule_ids = set(qlist(request, "schedule_ids"))
    user_ids = set(qlist(request, "user_ids"))
    earliest = qbool(request, "earliest")

    policies = m.EscalationPolicy.objects.prefetch_related(
        "rules__targets", "rules__schedule_targets__layers", "rules__schedule_targets__overrides", "teams"
    ).order_by("name", "id")
    if policy_ids:
        policies = policies.filter(pk__in=policy_ids)
    users = _users_by_id()
    rendered_cache: dict[str, Rendered] = {}
    rows = []
    for policy in policies:
        for rule in policy.rules.all():
            if not schedule_ids:
                rows += [(policy, rule.position, None, u.id, None, None) for u in rule.targets.all()]
            for schedule in rule.schedule_targets.all():
                if schedule_ids and schedule.id not in schedule_ids:
                    continue
                if schedule.id not in rendered_cache:
                    rendered_cache[schedule.id] = Rendered(schedule, since, until, overflow=True)
                rows += [(policy, rule.position, schedule, u, s, e) for s, e, u in rendered_cache[schedule.id].final]
    if user_ids:
        rows = [r for r in rows if r[3] in user_ids]
    if earliest:
        seen, first = set(), []
        for row in sorted(rows, key=lambda r: r[4] or dt.datetime.min.replace(tzinfo=dt.UTC)):
            key = (row[0].id, row[1], row[3])
            if key not in seen:
                seen.add(key)
                first.append(row)
        rows = first
    rows.sort(key=lambda r: (r[0].name, r[0].id, r[1], r[4] or dt.datetime.min.replace(tzinfo=dt.UTC), r[3]))

    if "users" in include:
        expanded = {
            u.id: u
            for u in m.User.objects.prefetch_related("teams", "contact_methods", "notification_rules__contact_method")
        }

    def serialize(row):
        policy, level, schedule, user_id, start, end = row
        user = users.get(user_id)
        return {
            "escalation_policy": ser.escalation_policy_json(policy)
            if "escalation_policies" in include
            else ser.escalation_policy_ref(policy),
            "escalation_level": level,
            "schedule": (
                schedule_json(schedule, users, layers=False) if "schedules" in include else schedule_ref(schedule)
            )
            if schedule is not None
            else None,
            "user": ser.user_json(expanded[user_id]) if "users" in include else ser.user_ref(user),
            "start": ts(start),
            "end": ts(end),
        }

    return page(request, _Rows(rows), "oncalls", serialize)


schedules = routes(GET=list_schedules)
schedule = routes(GET=get_schedule)
overrides = routes(GET=list_overrides, POST=create_overrides)
override = routes(DELETE=delete_override)
oncalls = routes(GET=list_oncalls)

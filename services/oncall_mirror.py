"""Keep on-calls, schedules, overrides and escalation policies fresh in the mirror from PagerDuty.

Webhooks carry no schedule or on-call events, so this is a poll: `oncalls_refresh` reads `GET /oncalls` for the
next two weeks (users, schedules and escalation policies included), the schedule list, and renders a few
schedules per run (the stalest first, `SCHEDULE_DETAILS_PER_RUN`) with their overrides. Every PagerDuty read
happens before the one short transaction that writes the answers; then the live bus gets ids only.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.models import PagerDutyUser, Team
from pdportal import live, reference_cache
from pdportal.models import SyncState
from pdportal.pagerduty import PagerDutyClient

from .models import EscalationPolicy, OnCall, Schedule, ScheduleOverride

logger = logging.getLogger(__name__)

Json = Mapping[str, Any]
WINDOW = timedelta(days=14)
# Each run renders this many schedules (stalest first); the schedule page and "take the pager" render their own.
SCHEDULE_DETAILS_PER_RUN = 20
# Overrides that ended up to this long ago stay listed (a cut-short "take the pager" still shows its end).
OVERRIDE_LOOKBACK = timedelta(days=1)
ONCALL_TOPIC = "oncall"
# The SyncState row that says when on-calls were last read (the on-call page shows it).
ONCALL_STATE = "oncalls"
SCHEDULE_TOPIC = "schedule"


def parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ref_id(ref: Any) -> str | None:
    if isinstance(ref, Mapping) and ref.get("id"):
        return str(ref["id"])
    return None


def _name(ref: Json) -> str:
    return str(ref.get("name") or ref.get("summary") or ref.get("id") or "")[:255]


class _Directory:
    """Find-or-create of users, teams, policies and schedules by PagerDuty id, loading each id map once."""

    def __init__(self) -> None:
        self.users = {u.pd_id: u for u in PagerDutyUser.objects.all()}
        self.teams = dict(Team.objects.values_list("pd_id", "pk"))
        self.policies = {p.pd_id: p for p in EscalationPolicy.objects.all()}
        self.schedules = {s.pd_id: s for s in Schedule.objects.all()}

    def user(self, ref: Json) -> PagerDutyUser | None:
        pd_id = _ref_id(ref)
        if pd_id is None:
            return None
        user = self.users.get(pd_id)
        full = ref.get("type") == "user"
        if user is None:
            user = PagerDutyUser.objects.create(pd_id=pd_id, name=_name(ref), email=str(ref.get("email") or ""))
            self.users[pd_id] = user
        if full:
            changed = {
                key: str(ref.get(key) or "")[:limit]
                for key, limit in (("name", 255), ("email", 254), ("time_zone", 64), ("role", 32))
                if ref.get(key) and getattr(user, key) != str(ref.get(key))[:limit]
            }
            if changed:
                PagerDutyUser.objects.filter(pk=user.pk).update(**changed)
                reference_cache.changed()  # an update() sends no post_save: the pickers' names would stay old
                for key, value in changed.items():
                    setattr(user, key, value)
        return user

    def team_pks(self, refs: Iterable[Any]) -> list[int]:
        out = []
        for ref in refs or []:
            pd_id = _ref_id(ref)
            if pd_id is None:
                continue
            if pd_id not in self.teams:
                self.teams[pd_id] = Team.objects.create(pd_id=pd_id, name=_name(ref)).pk
            out.append(self.teams[pd_id])
        return out

    def policy(self, ref: Json) -> EscalationPolicy | None:
        policy = self._row(EscalationPolicy, self.policies, ref)
        if policy is not None and ref.get("type") == "escalation_policy":
            self._describe(policy, ref, num_loops=max(int(ref.get("num_loops") or 0), 0), raw=dict(ref))
        return policy

    def schedule(self, ref: Json, *, rendered: tuple[datetime, datetime] | None = None) -> Schedule | None:
        schedule = self._row(Schedule, self.schedules, ref)
        if schedule is not None and ref.get("type") == "schedule":
            fields: dict[str, Any] = {"time_zone": str(ref.get("time_zone") or "")[:64]}
            if rendered is not None:
                fields.update(raw=dict(ref), rendered_since=rendered[0], rendered_until=rendered[1])
            self._describe(schedule, ref, **fields)
        return schedule

    def _row[M: EscalationPolicy | Schedule](self, model: type[M], rows: dict[str, M], ref: Json) -> M | None:
        """The row for a reference, created (named after its summary) when the mirror does not hold it yet."""
        pd_id = _ref_id(ref)
        if pd_id is None:
            return None
        if pd_id not in rows:
            rows[pd_id] = model.objects.create(pd_id=pd_id, name=_name(ref))
        return rows[pd_id]

    def _describe(self, row: EscalationPolicy | Schedule, ref: Json, **fields: Any) -> None:
        """Write what a full object (not a reference) says: name, description, link, teams, and `fields`."""
        fields = {
            "name": _name(ref),
            "description": str(ref.get("description") or ""),
            "html_url": str(ref.get("html_url") or "")[:200],
            **fields,
        }
        for name, value in fields.items():
            setattr(row, name, value)
        row.save(update_fields=[*fields, "synced_at"])
        if "teams" in ref:
            row.teams.set(self.team_pks(ref.get("teams") or []))


@dataclass
class ScheduleDetail:
    data: dict[str, Any]
    overrides: list[dict[str, Any]]
    since: datetime
    until: datetime


@dataclass
class RefreshResult:
    oncalls: int = 0
    schedules: int = 0
    rendered: list[str] = field(default_factory=list)
    policies: list[str] = field(default_factory=list)


def fetch_schedule_detail(*, client: PagerDutyClient, pd_id: str, now: datetime | None = None) -> ScheduleDetail:
    """One schedule rendered for the next two weeks (whole shifts at the edges) and its overrides."""
    now = (now or timezone.now()).replace(microsecond=0)
    since, until = now, now + WINDOW
    data = client.get_entity(f"/schedules/{pd_id}", {"since": iso(since), "until": iso(until), "overflow": "true"})
    body = client.get(
        f"/schedules/{pd_id}/overrides",
        {"since": iso(since - OVERRIDE_LOOKBACK), "until": iso(until), "overflow": "true"},
    )
    overrides = body.get("overrides", []) if isinstance(body, dict) else []
    return ScheduleDetail(data=dict(data), overrides=list(overrides), since=since, until=until)


def _store_detail(directory: _Directory, detail: ScheduleDetail) -> Schedule | None:
    schedule = directory.schedule(detail.data, rendered=(detail.since, detail.until))
    if schedule is None:
        return None
    keep = []
    for item in detail.overrides:
        pd_id = _ref_id(item)
        start, end = parse_time(item.get("start")), parse_time(item.get("end"))
        if pd_id is None or start is None or end is None:
            continue
        user = directory.user(item.get("user") or {})
        ScheduleOverride.objects.update_or_create(
            pd_id=pd_id,
            defaults={"schedule": schedule, "user": user, "start": start, "end": end, "raw": dict(item)},
        )
        keep.append(pd_id)
    # What PagerDuty no longer lists in the window is gone (deleted, or cut short before it).
    ScheduleOverride.objects.filter(schedule=schedule).exclude(pd_id__in=keep).delete()
    return schedule


def store_schedule_detail(*, detail: ScheduleDetail) -> Schedule | None:
    """Write one fetched schedule detail to the mirror and tell open pages (ids only)."""
    with transaction.atomic():
        schedule = _store_detail(_Directory(), detail)
        if schedule is not None:
            ids = [schedule.pd_id]
            transaction.on_commit(lambda: live.publish(topic=SCHEDULE_TOPIC, ids=ids))
    return schedule


def _stalest_schedules(limit: int, seen: Iterable[str]) -> list[str]:
    rows = Schedule.objects.filter(pd_id__in=list(seen)).order_by(F("rendered_until").asc(nulls_first=True), "pd_id")
    return list(rows.values_list("pd_id", flat=True)[:limit])


def oncalls_refresh(*, client: PagerDutyClient, now: datetime | None = None) -> RefreshResult:
    """Replace the mirror's on-calls with PagerDuty's for the next two weeks, and render the stalest schedules."""
    now = (now or timezone.now()).replace(microsecond=0)
    params = {
        "since": iso(now),
        "until": iso(now + WINDOW),
        "include[]": ["users", "schedules", "escalation_policies"],
    }
    oncalls = client.list_all("/oncalls", params)
    schedules = client.list_all("/schedules")
    seen = {s["id"] for s in schedules if s.get("id")} | {
        o["schedule"]["id"] for o in oncalls if isinstance(o.get("schedule"), dict) and o["schedule"].get("id")
    }
    with transaction.atomic():
        directory = _Directory()
        for data in schedules:
            directory.schedule(data)
    details = [
        fetch_schedule_detail(client=client, pd_id=pd_id, now=now)
        for pd_id in _stalest_schedules(SCHEDULE_DETAILS_PER_RUN, seen)
    ]
    result = RefreshResult(schedules=len(seen))
    with transaction.atomic():
        directory = _Directory()
        rows = []
        for item in oncalls:
            policy = directory.policy(item.get("escalation_policy") or {})
            user = directory.user(item.get("user") or {})
            if policy is None or user is None:
                continue
            schedule = directory.schedule(item["schedule"]) if isinstance(item.get("schedule"), dict) else None
            rows.append(
                OnCall(
                    escalation_policy=policy,
                    escalation_level=max(int(item.get("escalation_level") or 1), 1),
                    user=user,
                    schedule=schedule,
                    start=parse_time(item.get("start")),
                    end=parse_time(item.get("end")),
                )
            )
        OnCall.objects.all().delete()
        OnCall.objects.bulk_create(rows, batch_size=500)
        for detail in details:
            stored = _store_detail(directory, detail)
            if stored is not None:
                result.rendered.append(stored.pd_id)
        result.oncalls = len(rows)
        result.policies = sorted({row.escalation_policy.pd_id for row in rows})
        policies, rendered = list(result.policies), list(result.rendered)
        transaction.on_commit(lambda: live.publish(topic=ONCALL_TOPIC, ids=policies))
        if rendered:
            transaction.on_commit(lambda: live.publish(topic=SCHEDULE_TOPIC, ids=rendered))
        SyncState.objects.update_or_create(
            name=ONCALL_STATE,
            defaults={
                "status": "done",
                "error": "",
                "started_at": now,
                "finished_at": timezone.now(),
                "done": len(rows),
            },
        )
    logger.info("on-calls refreshed: %s rows, %s schedules rendered", result.oncalls, len(result.rendered))
    return result


def schedule_refresh(*, client: PagerDutyClient, pd_id: str, now: datetime | None = None) -> Schedule | None:
    """Re-read one schedule (rendering, overrides) and its on-calls, e.g. right after an override was written.

    Three reads; the schedule's on-call rows are replaced from `GET /oncalls?schedule_ids[]=`, so the on-call
    page and the schedule page show the change at once, without waiting for the next full refresh.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    detail = fetch_schedule_detail(client=client, pd_id=pd_id, now=now)
    oncalls = client.list_all(
        "/oncalls",
        {"since": iso(now), "until": iso(now + WINDOW), "schedule_ids[]": [pd_id], "include[]": ["users"]},
    )
    with transaction.atomic():
        directory = _Directory()
        schedule = _store_detail(directory, detail)
        if schedule is None:
            return None
        rows = []
        for item in oncalls:
            policy = directory.policy(item.get("escalation_policy") or {})
            user = directory.user(item.get("user") or {})
            if policy is None or user is None:
                continue
            rows.append(
                OnCall(
                    escalation_policy=policy,
                    escalation_level=max(int(item.get("escalation_level") or 1), 1),
                    user=user,
                    schedule=schedule,
                    start=parse_time(item.get("start")),
                    end=parse_time(item.get("end")),
                )
            )
        OnCall.objects.filter(schedule=schedule).delete()
        OnCall.objects.bulk_create(rows)
        policies = sorted({row.escalation_policy.pd_id for row in rows})
        schedule_ids = [schedule.pd_id]
        transaction.on_commit(
            lambda: live.publish(topic=ONCALL_TOPIC, ids=policies, related={"schedule": schedule_ids})
        )
        transaction.on_commit(lambda: live.publish(topic=SCHEDULE_TOPIC, ids=schedule_ids))
    return schedule

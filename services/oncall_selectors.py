"""Reads for on-call pages: who is on call per policy and level, my shifts, schedules and their timelines.

All from the mirror (never PagerDuty), in a fixed number of queries. Visibility is the portal's one rule
(accounts.visibility, README "Visibility"): a private team's schedules and policies are hidden from non-members,
and `restricted_access` sees only its teams'.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from accounts.selectors import pd_user_of
from accounts.visibility import Viewer, scope_of

from .models import EscalationPolicy, OnCall, Schedule, ScheduleOverride
from .oncall_mirror import parse_time
from .selectors import escalation_policies_visible_to

MY_SHIFTS_WINDOW = timedelta(days=14)


# -- who may see what ------------------------------------------------------------------------------------------


def _schedules_touching(team_pks: Collection[int]) -> Q:
    """Schedules associated with one of these teams (a subquery, so no join duplicates rows)."""
    return Q(pk__in=Schedule.teams.through.objects.filter(team_id__in=list(team_pks)).values("schedule_id"))


def visible_policies(*, viewer: Viewer) -> QuerySet[EscalationPolicy]:
    """Escalation policies by the portal's one visibility rule (accounts.visibility, README "Visibility")."""
    return escalation_policies_visible_to(viewer=viewer)


def visible_schedules(*, viewer: Viewer) -> QuerySet[Schedule]:
    """Schedules by the same rule: a private team's schedules only to its members, Restricted Access its teams'."""
    return scope_of(viewer).restrict(Schedule.objects.all(), touching=_schedules_touching)


def visible_oncalls(*, viewer: Viewer) -> QuerySet[OnCall]:
    """On-call rows of the escalation policies the viewer may see."""
    qs = OnCall.objects.select_related("escalation_policy", "user", "schedule")
    return qs.filter(escalation_policy__in=visible_policies(viewer=viewer))


# -- on call now -----------------------------------------------------------------------------------------------


@dataclass
class Level:
    number: int
    now: list[OnCall] = field(default_factory=list)
    handoff: datetime | None = None
    next: list[OnCall] = field(default_factory=list)
    delay_minutes: int | None = None
    targets: list[dict[str, Any]] = field(default_factory=list)

    @property
    def next_names(self) -> list[str]:
        """Who is on call after the hand-off, each once."""
        return list(dict.fromkeys(row.user.name for row in self.next))


@dataclass
class PolicyOnCall:
    policy: EscalationPolicy
    levels: list[Level]


def _covers(row: OnCall, moment: datetime) -> bool:
    return (row.start is None or row.start <= moment) and (row.end is None or row.end > moment)


def rules_of(policy: EscalationPolicy) -> list[dict[str, Any]]:
    """The policy's escalation rules as PagerDuty sent them (levels in order), or [] when not mirrored yet."""
    rules = (policy.raw or {}).get("escalation_rules")
    return [r for r in rules if isinstance(r, Mapping)] if isinstance(rules, list) else []


def _levels(policy: EscalationPolicy, rows: list[OnCall], moment: datetime) -> list[Level]:
    by_level: dict[int, list[OnCall]] = {}
    for row in rows:
        by_level.setdefault(row.escalation_level, []).append(row)
    rules = rules_of(policy)
    numbers = sorted(set(by_level) | set(range(1, len(rules) + 1)))
    levels = []
    for number in numbers:
        level_rows = by_level.get(number, [])
        level = Level(number=number, now=[r for r in level_rows if _covers(r, moment)])
        if number <= len(rules):
            rule = rules[number - 1]
            level.delay_minutes = rule.get("escalation_delay_in_minutes")
            level.targets = [t for t in rule.get("targets") or [] if isinstance(t, Mapping)]
        # The next hand-off: the first moment someone on call now goes off, or someone new comes on.
        edges = [r.end for r in level.now if r.end is not None] + [
            r.start for r in level_rows if r.start is not None and r.start > moment
        ]
        if edges:
            level.handoff = min(edges)
            level.next = [r for r in level_rows if _covers(r, level.handoff)]
        levels.append(level)
    return levels


def oncall_now(*, viewer: Viewer, moment: datetime | None = None, policy_ids: Iterable[str] = ()) -> list[PolicyOnCall]:
    """For each visible policy: per level, who is on call now, until when, and the next hand-off (two queries)."""
    moment = moment or timezone.now()
    policies = visible_policies(viewer=viewer).order_by("name", "pd_id")
    wanted = list(policy_ids)
    if wanted:
        policies = policies.filter(pd_id__in=wanted)
    policies = list(policies)
    rows = list(
        OnCall.objects.filter(escalation_policy__in=[p.pk for p in policies])
        .select_related("user", "schedule")
        .order_by("escalation_level", "start", "pk")
    )
    by_policy: dict[int, list[OnCall]] = {}
    for row in rows:
        by_policy.setdefault(row.escalation_policy_id, []).append(row)
    return [PolicyOnCall(policy=p, levels=_levels(p, by_policy.get(p.pk, []), moment)) for p in policies]


def policy_levels(*, policy: EscalationPolicy, moment: datetime | None = None) -> list[Level]:
    """One policy's levels (targets, delay, who is on call now), for a page that already decided the person may
    read it (the incident page: anyone who may see the incident reads its policy). One query."""
    rows = list(
        OnCall.objects.filter(escalation_policy=policy)
        .select_related("user", "schedule")
        .order_by("escalation_level", "start", "pk")
    )
    return _levels(policy, rows, moment or timezone.now())


@dataclass
class Shift:
    policy: EscalationPolicy
    level: int
    schedule: Schedule | None
    start: datetime | None
    end: datetime | None


def my_shifts(*, viewer: Viewer, moment: datetime | None = None) -> list[Shift]:
    """The viewer's on-call shifts that touch the next 14 days, soonest first (direct targets first: always)."""
    me = pd_user_of(viewer)
    if me is None:
        return []
    moment = moment or timezone.now()
    until = moment + MY_SHIFTS_WINDOW
    rows = (
        visible_oncalls(viewer=viewer)
        .filter(user=me)
        .filter(Q(end__isnull=True) | Q(end__gt=moment))
        .filter(Q(start__isnull=True) | Q(start__lt=until))
        .order_by("start", "escalation_policy__name", "escalation_level")
    )
    shifts = [Shift(r.escalation_policy, r.escalation_level, r.schedule, r.start, r.end) for r in rows]
    return sorted(shifts, key=lambda s: (s.start is not None, s.start or moment, s.policy.name, s.level))


# -- schedules -------------------------------------------------------------------------------------------------


def schedule_list(*, viewer: Viewer, query: str = "") -> QuerySet[Schedule]:
    qs = visible_schedules(viewer=viewer).prefetch_related("teams")
    if query:
        qs = qs.filter(name__icontains=query)
    return qs.order_by("name", "pd_id")


def schedule_get(*, viewer: Viewer, pd_id: str) -> Schedule | None:
    return (
        visible_schedules(viewer=viewer)
        .prefetch_related("teams", Prefetch("overrides", queryset=ScheduleOverride.objects.select_related("user")))
        .filter(pd_id=pd_id)
        .first()
    )


def schedule_oncall_now(*, schedule: Schedule, moment: datetime | None = None) -> list[OnCall]:
    moment = moment or timezone.now()
    rows = OnCall.objects.filter(schedule=schedule).select_related("user", "escalation_policy")
    seen, out = set(), []
    for row in rows:
        if _covers(row, moment) and row.user_id not in seen:
            seen.add(row.user_id)
            out.append(row)
    return out


def overrides_ahead(*, schedule: Schedule, moment: datetime | None = None) -> list[ScheduleOverride]:
    moment = moment or timezone.now()
    return [o for o in schedule.overrides.all() if o.end > moment]


def policies_of_schedule(*, schedule: Schedule, viewer: Viewer) -> list[EscalationPolicy]:
    """Visible policies whose rules page this schedule (from their mirrored rules)."""
    out = []
    for policy in visible_policies(viewer=viewer).order_by("name"):
        if any(t.get("id") == schedule.pd_id for rule in rules_of(policy) for t in rule.get("targets") or []):
            out.append(policy)
    return out


# -- escalation policies ---------------------------------------------------------------------------------------


def policy_list(*, viewer: Viewer) -> list[PolicyOnCall]:
    return oncall_now(viewer=viewer)


def policy_get(*, viewer: Viewer, pd_id: str) -> PolicyOnCall | None:
    found = oncall_now(viewer=viewer, policy_ids=[pd_id])
    return found[0] if found else None


def known_schedule_ids(*, pd_ids: Iterable[str]) -> set[str]:
    return set(Schedule.objects.filter(pd_id__in=list(pd_ids)).values_list("pd_id", flat=True))


# -- the timeline ----------------------------------------------------------------------------------------------


@dataclass
class Bar:
    x: float
    width: float
    start: datetime
    end: datetime
    label: str
    user_id: str = ""
    tone: int = 0
    gap: bool = False

    @property
    def short(self) -> str:
        """The first name: what fits in a one-day bar."""
        return self.label.split(" ")[0] if not self.gap else "gap"


@dataclass
class Row:
    name: str
    kind: str  # layer, overrides, final
    bars: list[Bar]
    y: float = 0


@dataclass
class Timeline:
    since: datetime
    until: datetime
    rows: list[Row]
    days: list[tuple[float, datetime]]
    width: int = 1000
    row_height: int = 34
    label_width: int = 150
    gaps: list[Bar] = field(default_factory=list)
    final: list[Bar] = field(default_factory=list)
    now_x: float | None = None

    @property
    def height(self) -> int:
        return 28 + self.row_height * len(self.rows)


def _entries(sub: Any) -> list[tuple[datetime, datetime, str, str]]:
    out = []
    for entry in (sub or {}).get("rendered_schedule_entries") or [] if isinstance(sub, Mapping) else []:
        start, end = parse_time(entry.get("start")), parse_time(entry.get("end"))
        user = entry.get("user") or {}
        if start and end and end > start:
            out.append((start, end, str(user.get("summary") or user.get("id") or "?"), str(user.get("id") or "")))
    return out


def schedule_timeline(*, schedule: Schedule, overrides: list[ScheduleOverride] | None = None) -> Timeline | None:
    """The final schedule for the rendered window (two weeks) as rows of bars: layers, overrides, final, gaps."""
    raw = schedule.raw or {}
    since, until = schedule.rendered_since, schedule.rendered_until
    if not since or not until or until <= since:
        return None
    span = (until - since).total_seconds()
    width, label = 1000, 150
    plot = width - label

    def x_of(moment: datetime) -> float:
        return round(label + plot * max(0.0, min(1.0, (moment - since).total_seconds() / span)), 1)

    tones: dict[str, int] = {}

    def bars(entries: list[tuple[datetime, datetime, str, str]]) -> list[Bar]:
        out = []
        for start, end, name, user_id in entries:
            if end <= since or start >= until:
                continue
            tone = tones.setdefault(user_id or name, len(tones) % 6)
            x0, x1 = x_of(start), x_of(end)
            out.append(Bar(x=x0, width=max(x1 - x0, 1.0), start=start, end=end, label=name, user_id=user_id, tone=tone))
        return out

    rows = [
        Row(name=str(layer.get("name") or "Layer"), kind="layer", bars=bars(_entries(layer)))
        for layer in reversed(raw.get("schedule_layers") or [])
        if isinstance(layer, Mapping)
    ]
    # The mirror's overrides (fresher than the rendering after "take the pager") draw the overrides row.
    override_entries = (
        [(o.start, o.end, o.user.name if o.user else "?", o.user.pd_id if o.user else "") for o in overrides]
        if overrides is not None
        else _entries(raw.get("overrides_subschedule"))
    )
    rows.append(Row(name="Overrides", kind="overrides", bars=bars(override_entries)))
    final = bars(_entries(raw.get("final_schedule")))
    gaps: list[Bar] = []
    cursor = since
    for bar in sorted(final, key=lambda b: b.start):
        if bar.start > cursor:
            gaps.append(_gap(cursor, bar.start, x_of))
        cursor = max(cursor, bar.end)
    if cursor < until:
        gaps.append(_gap(cursor, until, x_of))
    rows.append(Row(name="Final schedule", kind="final", bars=final + gaps))
    for index, row in enumerate(rows):
        row.y = 24 + index * 34
    days = []
    # Day lines at the viewer's midnights (the active time zone), labelled by the template.
    local = timezone.localtime(since)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while day < until:
        if x_of(day) < width - 30:  # a label at the right edge would be cut off
            days.append((x_of(day), day))
        day = (day + timedelta(days=1, hours=2)).replace(hour=0)
    now = timezone.now()
    return Timeline(
        since=since,
        until=until,
        rows=rows,
        days=days,
        width=width,
        label_width=label,
        gaps=gaps,
        final=sorted(final + gaps, key=lambda b: b.start),
        now_x=x_of(now) if since <= now <= until else None,
    )


def _gap(start: datetime, end: datetime, x_of: Any) -> Bar:
    x0, x1 = x_of(start), x_of(end)
    return Bar(x=x0, width=max(x1 - x0, 1.0), start=start, end=end, label="No one on call", gap=True)

"""Insights reads: MTTA, MTTR and counts by service, team, urgency and week, and the share that woke someone.

Everything is aggregated in SQL over the mirror's incidents and log entries (no PagerDuty call), in a fixed
number of queries whatever the number of incidents:
- MTTA: mean of (first `acknowledge_log_entry` - created) over the incidents acknowledged at least once;
- MTTR: mean of (resolved - created) over the resolved incidents (`resolved_at`, else the first
  `resolve_log_entry`);
- woke someone: an acknowledged incident created outside the working hours (WORK_START-WORK_END, Monday to
  Friday) of the person who first acknowledged it, in that person's PagerDuty time zone (UTC when unknown).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    F,
    FloatField,
    Func,
    IntegerField,
    OuterRef,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import PagerDutyUser
from incidents.models import Incident, LogEntry

WINDOWS = (7, 30, 90)
WORK_START, WORK_END = time(8, 0), time(18, 0)
WORK_DAYS = frozenset({0, 1, 2, 3, 4})  # Monday..Friday
NOISIEST = 5


@dataclass
class Figure:
    """Counts and summed durations of one group; means are derived, so groups add up exactly."""

    key: str = ""
    label: str = ""
    incidents: int = 0
    acknowledged: int = 0
    resolved: int = 0
    ack_total: timedelta = timedelta(0)
    resolve_total: timedelta = timedelta(0)

    @property
    def mtta(self) -> timedelta | None:
        return self.ack_total / self.acknowledged if self.acknowledged else None

    @property
    def mttr(self) -> timedelta | None:
        return self.resolve_total / self.resolved if self.resolved else None

    @property
    def mtta_seconds(self) -> int | None:
        return round(self.mtta.total_seconds()) if self.mtta is not None else None

    @property
    def mttr_seconds(self) -> int | None:
        return round(self.mttr.total_seconds()) if self.mttr is not None else None

    @property
    def mtta_human(self) -> str:
        return human(self.mtta)

    @property
    def mttr_human(self) -> str:
        return human(self.mttr)


@dataclass
class Insights:
    days: int
    since: datetime
    until: datetime
    overall: Figure
    by_urgency: list[Figure]
    by_service: list[Figure]
    by_team: list[Figure]
    by_week: list[Figure]
    woke: int = 0
    woke_of: int = 0
    noisiest: list[Figure] = field(default_factory=list)

    @property
    def woke_share(self) -> float | None:
        return self.woke / self.woke_of if self.woke_of else None


class Epoch(Func):
    """Seconds since 1970 of a datetime column, natively on SQLite and PostgreSQL (no per-row Python function)."""

    output_field = FloatField()

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "CAST(EXTRACT(EPOCH FROM %(expressions)s) AS DOUBLE PRECISION)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "((julianday(%(expressions)s) - 2440587.5) * 86400.0)"
        return super().as_sql(compiler, connection, template=template, **extra)


class Bucket(Func):
    """floor((seconds - offset) / size) as an integer: a week or quarter-hour index, the same on both databases."""

    output_field = IntegerField()

    def __init__(self, expression: Any, *, size: int, offset: int = 0) -> None:
        super().__init__(expression)
        self.size, self.offset = size, offset

    def as_sql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"CAST(FLOOR((%(expressions)s - {self.offset}) / {self.size}) AS INTEGER)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        # Every value here is after 1970, so truncation is the floor.
        template = f"CAST((%(expressions)s - {self.offset}) / {self.size} AS INTEGER)"
        return super().as_sql(compiler, connection, template=template, **extra)


WEEK = 7 * 86400
MONDAY = 4 * 86400  # 1970-01-05, a Monday: weeks start on Mondays at 00:00 UTC
QUARTER_HOUR = 900


def _first_entry(kind: str) -> Subquery:
    entries = LogEntry.objects.filter(incident=OuterRef("pk"), type=kind).order_by("created_at", "pk")
    return Subquery(entries.values("created_at")[:1], output_field=DateTimeField())


def _spans(qs: QuerySet[Incident]) -> QuerySet[Incident]:
    """Seconds to the first acknowledgement, and to resolution for resolved incidents (NULL otherwise)."""
    created = Epoch("created_at")
    resolved = Coalesce(F("resolved_at"), _first_entry("resolve_log_entry"))
    return qs.annotate(
        ack_span=Epoch(_first_entry("acknowledge_log_entry")) - created,
        res_span=Case(When(status=Incident.Status.RESOLVED, then=Epoch(resolved) - created), default=None),
    )


# SUM and COUNT skip NULLs: the counts of acknowledged and resolved incidents come with their sums.
_AGGREGATES = {
    "incidents": Count("pk"),
    "acknowledged": Count("ack_span"),
    "resolved": Count("res_span"),
    "ack_total": Sum("ack_span"),
    "resolve_total": Sum("res_span"),
}


def _figure(row: dict[str, Any], key: str = "", label: str = "") -> Figure:
    return Figure(
        key=key,
        label=label,
        incidents=row.get("incidents") or 0,
        acknowledged=row.get("acknowledged") or 0,
        resolved=row.get("resolved") or 0,
        ack_total=_duration(row.get("ack_total")),
        resolve_total=_duration(row.get("resolve_total")),
    )


def _duration(value: Any) -> timedelta:
    """Summed seconds as a timedelta, to the millisecond (julianday's precision on SQLite)."""
    return timedelta(milliseconds=round(float(value) * 1000)) if value is not None else timedelta(0)


def _add(total: Figure, part: Figure) -> None:
    total.incidents += part.incidents
    total.acknowledged += part.acknowledged
    total.resolved += part.resolved
    total.ack_total += part.ack_total
    total.resolve_total += part.resolve_total


def _is_working_time(moment: datetime, zone_name: str) -> bool:
    try:
        zone = zoneinfo.ZoneInfo(zone_name) if zone_name else UTC
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = UTC
    local = moment.astimezone(zone)
    return local.weekday() in WORK_DAYS and WORK_START <= local.time() < WORK_END


def _woke(qs: QuerySet[Incident]) -> tuple[int, int]:
    """(woke someone, acknowledged) from buckets of (responder zone, UTC quarter-hour): bounded by the window."""
    first_ack = LogEntry.objects.filter(incident=OuterRef("pk"), type="acknowledge_log_entry").order_by(
        "created_at", "pk"
    )
    responder = Subquery(first_ack.annotate(uid=KeyTextTransform("id", "agent")).values("uid")[:1])
    zone = Subquery(PagerDutyUser.objects.filter(pd_id=OuterRef("responder")).values("time_zone")[:1])
    rows = (
        qs.annotate(responder=responder)
        .filter(responder__isnull=False)
        .annotate(zone=Coalesce(zone, Value("")), quarter=Bucket(Epoch("created_at"), size=QUARTER_HOUR))
        .values("zone", "quarter")
        .annotate(n=Count("pk"))
        .order_by()
    )
    woke = total = 0
    for row in rows:
        # Every zone's offset is a multiple of 15 minutes, as are 08:00 and 18:00: the bucket is all in or all out.
        moment = datetime.fromtimestamp(int(row["quarter"]) * QUARTER_HOUR, UTC)
        total += row["n"]
        if not _is_working_time(moment, row["zone"]):
            woke += row["n"]
    return woke, total


def insights(*, days: int, incidents: QuerySet[Incident] | None = None, now: datetime | None = None) -> Insights:
    """The insights over the last `days` days (incidents created in the window), in three aggregate queries.

    `incidents` is what the viewer may see (`selectors.incidents_visible_to`); None counts the whole mirror.
    """
    until = now or timezone.now()
    since = until - timedelta(days=days)
    visible = Incident.objects.all() if incidents is None else incidents
    base = visible.filter(created_at__gte=since, created_at__lt=until)
    spans = _spans(base)
    # One grouped query gives urgency x service x week cells; the other views are sums of those cells.
    cells = (
        spans.annotate(week=Bucket(Epoch("created_at"), size=WEEK, offset=MONDAY))
        .values("urgency", "service__pd_id", "service__name", "week")
        .annotate(**_AGGREGATES)
        .order_by()
    )
    overall = Figure(key="all", label="All incidents")
    urgencies: dict[str, Figure] = {}
    services: dict[str, Figure] = {}
    weeks: dict[int, Figure] = {}
    for cell in cells:
        part = _figure(cell)
        _add(overall, part)
        _add(urgencies.setdefault(cell["urgency"], Figure(key=cell["urgency"], label=cell["urgency"])), part)
        service_key = cell["service__pd_id"] or ""
        _add(
            services.setdefault(service_key, Figure(key=service_key, label=cell["service__name"] or "No service")), part
        )
        monday = datetime.fromtimestamp(MONDAY + int(cell["week"]) * WEEK, UTC)
        _add(
            weeks.setdefault(cell["week"], Figure(key=monday.date().isoformat(), label=f"Week of {monday:%d %b}")), part
        )
    by_urgency = sorted(urgencies.values(), key=lambda f: f.key)
    by_service = sorted(services.values(), key=lambda f: (-f.incidents, f.label))
    by_week = [weeks[k] for k in sorted(weeks)]
    by_team = [
        _figure(row, row["teams__pd_id"] or "", row["teams__name"] or "No team")
        for row in spans.values("teams__pd_id", "teams__name")
        .annotate(**_AGGREGATES)
        .order_by("-incidents", "teams__name")
    ]
    woke, woke_of = _woke(base)
    return Insights(
        days=days,
        since=since,
        until=until,
        overall=overall,
        by_urgency=by_urgency,
        by_service=by_service,
        by_team=by_team,
        by_week=by_week,
        woke=woke,
        woke_of=woke_of,
        noisiest=by_service[:NOISIEST],
    )


def human(value: timedelta | None) -> str:
    """4 m 05 s, 2 h 07 m, 3 d 4 h; '—' when there is nothing to average."""
    if value is None:
        return "—"
    seconds = round(value.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60} m {seconds % 60:02d} s"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} m"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


# -- charts: plain numbers for the SVG templates -----------------------------------------------------------------


@dataclass
class BarRow:
    label: str
    value: float
    text: str
    y: int
    width: float


@dataclass
class BarChart:
    rows: list[BarRow]
    height: int


def bar_chart(items: Iterable[tuple[str, float, str]], *, plot: int = 520, row: int = 26) -> BarChart:
    """Horizontal bars scaled to the largest value."""
    items = list(items)
    top = max((v for _, v, _ in items), default=0) or 1
    rows = [
        BarRow(label=label, value=value, text=text, y=index * row, width=round(plot * value / top, 1))
        for index, (label, value, text) in enumerate(items)
    ]
    return BarChart(rows=rows, height=max(len(rows), 1) * row + 6)


@dataclass
class TrendPoint:
    x: float
    y: float | None
    label: str
    text: str


def trend_points(
    items: Iterable[tuple[str, float | None, str]], *, width: int = 700, height: int = 160, left: int = 80
) -> tuple[list[TrendPoint], float]:
    """Points of a line chart (None values leave a hole); returns them and the top of the scale."""
    items = list(items)
    top = max((v for _, v, _ in items if v is not None), default=0) or 1
    step = (width - left - 30) / max(len(items) - 1, 1)
    points = [
        TrendPoint(
            x=round(left + index * step, 1),
            y=round(10 + (height - 20) * (1 - v / top), 1) if v is not None else None,
            label=label,
            text=text,
        )
        for index, (label, v, text) in enumerate(items)
    ]
    return points, top

"""Schedule rendering, as PagerDuty computes it: layer rotations cut by restrictions, later layers win, overrides top.

An entry is `(start, end, user_id)` with aware datetimes; lists are sorted by start and never overlap within a
layer. The final schedule is computed over the window and merged, so one shift that spans layers stays one
entry when it is the same person.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Iterable

from . import models as m

Entry = tuple[dt.datetime, dt.datetime, str]
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)


def _merge(entries: Iterable[Entry]) -> list[Entry]:
    """Join touching entries of the same person; drop empty ones."""
    out: list[Entry] = []
    for start, end, user_id in sorted(entries, key=lambda e: (e[0], e[1])):
        if end <= start:
            continue
        if out and out[-1][2] == user_id and out[-1][1] >= start:
            out[-1] = (out[-1][0], max(out[-1][1], end), user_id)
        else:
            out.append((start, end, user_id))
    return out


def _zone(name: str) -> dt.tzinfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return dt.UTC


def _restriction_windows(restrictions: list[dict], zone: dt.tzinfo, since: dt.datetime, until: dt.datetime):
    """The (start, end) spans a layer may be on call, from its daily/weekly restrictions in the schedule's zone."""
    spans = []
    first_day = since.astimezone(zone).date() - dt.timedelta(days=8)
    last_day = until.astimezone(zone).date() + dt.timedelta(days=1)
    for restriction in restrictions:
        hours, minutes, seconds = (int(x) for x in str(restriction.get("start_time_of_day", "00:00:00")).split(":"))
        length = dt.timedelta(seconds=int(restriction.get("duration_seconds") or 0))
        weekly = restriction.get("type") == "weekly_restriction"
        day = first_day
        while day <= last_day:
            if not weekly or day.isoweekday() == int(restriction.get("start_day_of_week") or 1):
                start = dt.datetime.combine(day, dt.time(hours, minutes, seconds), tzinfo=zone).astimezone(dt.UTC)
                if start < until and start + length > since:
                    spans.append((start, start + length))
            day += dt.timedelta(days=1)
    spans.sort()
    merged: list[tuple[dt.datetime, dt.datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def layer_entries(layer: m.ScheduleLayer, time_zone: str, since: dt.datetime, until: dt.datetime) -> list[Entry]:
    """Who the layer puts on call in [since, until), clipped to the window (and to the layer's own span)."""
    start = max(since, layer.start)
    end = min(until, layer.end) if layer.end else until
    users = list(layer.user_ids)
    if start >= end or not users or layer.rotation_turn_length_seconds <= 0:
        return []
    turn = dt.timedelta(seconds=layer.rotation_turn_length_seconds)
    index = (start - layer.rotation_virtual_start) // turn
    slots: list[Entry] = []
    slot_start = layer.rotation_virtual_start + index * turn
    while slot_start < end:
        slots.append((max(slot_start, start), min(slot_start + turn, end), users[index % len(users)]))
        index += 1
        slot_start += turn
    if layer.restrictions:
        windows = _restriction_windows(layer.restrictions, _zone(time_zone), start, end)
        slots = [(max(s, ws), min(e, we), u) for s, e, u in slots for ws, we in windows if ws < e and we > s]
    return _merge(slots)


def override_entries(overrides: Iterable[m.ScheduleOverride], since: dt.datetime, until: dt.datetime) -> list[Entry]:
    """Overrides clipped to the window; where two overlap, the one that starts later wins."""
    entries: list[Entry] = []
    for override in sorted(overrides, key=lambda o: (o.start, o.id)):
        start, end = max(override.start, since), min(override.end, until)
        if start >= end:
            continue
        # A later override cuts what it covers out of the earlier ones.
        entries = [
            piece
            for s, e, u in entries
            for piece in ((s, min(e, start), u), (max(s, end), e, u))
            if piece[0] < piece[1]
        ]
        entries.append((start, end, override.user_id))
    return _merge(entries)


def final_entries(layers: list[list[Entry]], overrides: list[Entry], since: dt.datetime, until: dt.datetime):
    """The final schedule: at each instant the override, else the highest layer that covers it; gaps stay empty."""
    stack = [*layers, overrides]  # later wins
    points = sorted({since, until, *(t for entries in stack for s, e, _ in entries for t in (s, e))})
    points = [p for p in points if since <= p <= until]
    out: list[Entry] = []
    for start, end in itertools.pairwise(points):
        for entries in reversed(stack):
            who = next((u for s, e, u in entries if s <= start and e >= end), None)
            if who is not None:
                out.append((start, end, who))
                break
    return _merge(out)


def coverage(entries: list[Entry], since: dt.datetime, until: dt.datetime) -> float | None:
    total = (until - since).total_seconds()
    if total <= 0:
        return None
    covered = sum((min(e, until) - max(s, since)).total_seconds() for s, e, _ in entries if e > since and s < until)
    return round(100.0 * covered / total, 2)


class Rendered:
    """One schedule rendered over a window: each layer's entries, the overrides and the final schedule."""

    def __init__(self, schedule: m.Schedule, since: dt.datetime, until: dt.datetime, *, overflow: bool = False):
        self.since, self.until = since, until
        layers = list(schedule.layers.all())
        overrides = list(schedule.overrides.all())
        # Overflow keeps whole shifts that cross the window's edges: render wider, then keep what touches it.
        margin = max([dt.timedelta(seconds=layer.rotation_turn_length_seconds) for layer in layers] or [DAY])
        margin = min(max(margin, DAY), 5 * WEEK)
        lo, hi = (since - margin, until + margin) if overflow else (since, until)
        self.layers = {layer.id: self._keep(layer_entries(layer, schedule.time_zone, lo, hi)) for layer in layers}
        self.overrides = self._keep(override_entries(overrides, lo, hi))
        self.final = self._keep(final_entries(list(self.layers.values()), self.overrides, lo, hi))

    def _keep(self, entries: list[Entry]) -> list[Entry]:
        return (
            [e for e in entries if e[1] > self.since and e[0] < self.until]
            if self.since < self.until
            else [e for e in entries if e[0] <= self.since < e[1]]
        )

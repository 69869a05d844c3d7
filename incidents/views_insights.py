"""Insights pages: MTTA/MTTR and counts over 7, 30 or 90 days as accessible SVG charts, and the same as CSV."""

from __future__ import annotations

import csv

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.roles import reader_required
from pdportal.webui import csv_safe

from . import insights as selectors
from .selectors import incidents_visible_to

CSV_HEADER = ["section", "key", "label", "incidents", "acknowledged", "resolved", "mtta_seconds", "mttr_seconds"]


def _days(request: HttpRequest) -> int:
    try:
        days = int(request.GET.get("days", 30))
    except ValueError:
        return 30
    return days if days in selectors.WINDOWS else 30


@reader_required
def insights(request: HttpRequest) -> HttpResponse:
    data = selectors.insights(days=_days(request), incidents=incidents_visible_to(viewer=request.user))
    context = {
        "data": data,
        "windows": selectors.WINDOWS,
        "noisy_bars": selectors.bar_chart((f.label, f.incidents, str(f.incidents)) for f in data.noisiest),
        "urgency_bars": selectors.bar_chart((f.label, f.incidents, str(f.incidents)) for f in data.by_urgency),
        "week_bars": selectors.bar_chart((f.label, f.incidents, str(f.incidents)) for f in data.by_week),
        "mtta_trend": selectors.trend_points(
            (f.label, f.mtta.total_seconds() / 60 if f.mtta else None, selectors.human(f.mtta)) for f in data.by_week
        ),
        "mttr_trend": selectors.trend_points(
            (f.label, f.mttr.total_seconds() / 60 if f.mttr else None, selectors.human(f.mttr)) for f in data.by_week
        ),
    }
    return render(request, "incidents/insights.html", context)


@reader_required
def insights_csv(request: HttpRequest) -> HttpResponse:
    days = _days(request)
    data = selectors.insights(days=days, incidents=incidents_visible_to(viewer=request.user))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="insights-{days}d.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    sections = [
        ("overall", [data.overall]),
        ("urgency", data.by_urgency),
        ("service", data.by_service),
        ("team", data.by_team),
        ("week", data.by_week),
    ]
    for section, figures in sections:
        for f in figures:
            writer.writerow(
                [
                    section,
                    csv_safe(f.key),
                    csv_safe(f.label),
                    f.incidents,
                    f.acknowledged,
                    f.resolved,
                    "" if f.mtta_seconds is None else f.mtta_seconds,
                    "" if f.mttr_seconds is None else f.mttr_seconds,
                ]
            )
    # incidents = acknowledged outside the acknowledger's working hours; acknowledged = all acknowledged ones.
    writer.writerow(["woke_someone", "outside_working_hours", "Woke someone", data.woke, data.woke_of, "", "", ""])
    return response

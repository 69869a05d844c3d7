"""One time format everywhere: `when` (date, time and the zone's name) and `age`/`ago` (compact durations)."""

from __future__ import annotations

from datetime import date, datetime

from django import template
from django.utils import timezone
from django.utils.dateformat import format as date_format
from django.utils.html import format_html

from pdportal.templatetags.ages import compact_age

register = template.Library()

# ISO-like, sortable, and the zone always named ("2026-12-07 03:20 CET"): the person's zone is active per request.
SHORT = "Y-m-d H:i T"
SECONDS = "Y-m-d H:i:s T"
FULL = "l j F Y, H:i:s T"


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


@register.filter(is_safe=True)
def when(value: datetime | None, precision: str = "") -> str:
    """`<time>` in the person's zone with the zone named; `|when:"seconds"` adds seconds. None renders "—".

    Inside SVG `<title>`/`<text>`, where an HTML element cannot go: `|when:"text"` is the same words as plain text,
    and `|when:"day"` a timeline axis label ("Mon 7 Dec").
    """
    if not isinstance(value, datetime):
        return "—" if value in (None, "") else str(value)
    local = _local(value)
    if precision == "day":
        return date_format(local, "D j M")
    shown = date_format(local, SECONDS if precision == "seconds" else SHORT)
    if precision == "text":
        return shown
    zone = timezone.get_current_timezone_name()
    return format_html(
        '<time datetime="{}" title="{} ({})">{}</time>', local.isoformat(), date_format(local, FULL), zone, shown
    )


@register.filter
def age(value: datetime | date | None) -> str:
    """How long ago `value` was, compact ("3h 37m"), the same way live.js ticks it (pdportal.templatetags.ages)."""
    if not isinstance(value, datetime):
        return ""
    return compact_age(value)


@register.filter
def ago(value: datetime | None) -> str:
    """`age` as a phrase: "3h 37m ago", "in 12m", or "just now" within a minute."""
    if not isinstance(value, datetime):
        return ""
    now = timezone.now()
    if abs((now - value).total_seconds()) < 60:
        return "just now"
    if value > now:
        return f"in {compact_age(now, now=value)}"
    return f"{compact_age(value, now=now)} ago"

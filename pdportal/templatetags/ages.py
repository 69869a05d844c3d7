"""`compact_age`: how long ago, as a wall screen reads it ("3h 37m"); static/pdportal/live.js keeps it ticking."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


@register.filter
def compact_age(value: datetime | None, now: datetime | None = None) -> str:
    """The age of `value` in days, hours and minutes, two units at most, the same way live.js writes it."""
    if not isinstance(value, datetime):
        return ""
    minutes = max(0, int(((now or timezone.now()) - value).total_seconds() // 60))
    if minutes < 1:
        return "<1m"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {mins}m" if mins else f"{hours}h"
    return f"{mins}m"

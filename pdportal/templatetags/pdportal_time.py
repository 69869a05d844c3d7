"""One time format everywhere: `when` (date, time and the zone's name) and `age`/`ago` (compact durations)."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache, lru_cache
from html import escape

from django import template
from django.utils import timezone
from django.utils.dateformat import DateFormat, re_escaped, re_formatchars
from django.utils.dateformat import format as date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

from pdportal.templatetags.ages import compact_age

register = template.Library()

# ISO-like, sortable, and the zone always named ("2026-12-07 03:20 CET"): the person's zone is active per request.
SHORT = "Y-m-d H:i T"
SECONDS = "Y-m-d H:i:s T"
FULL = "l j F Y, H:i:s T"


def _local(value: datetime) -> datetime:
    return timezone.localtime(value) if timezone.is_aware(value) else value


@cache
def _compiled(fmt: str) -> tuple[tuple[bool, str], ...]:
    """A format string split once into (is a format character, text) pieces, as DateFormat.format splits it."""
    pieces = enumerate(re_formatchars.split(fmt))
    return tuple((bool(i % 2), piece if i % 2 else re_escaped.sub(r"\1", piece)) for i, piece in pieces)


def _formatted(df: DateFormat, fmt: str) -> str:
    """date_format's output from DateFormat's own methods, with the format parsed once per process, not per call
    (the incident list formats 250 times per page; tests/pdportal/test_time_format.py checks the two agree)."""
    return "".join(str(getattr(df, text)()) if spec else text for spec, text in _compiled(fmt))


@register.filter(is_safe=True)
def when(value: datetime | None, precision: str = "") -> str:
    """`<time>` in the person's zone with the zone named; `|when:"seconds"` adds seconds. None renders "—".

    Inside SVG `<title>`/`<text>`, where an HTML element cannot go: `|when:"text"` is the same words as plain text,
    and `|when:"day"` a timeline axis label ("Mon 7 Dec").
    """
    if not isinstance(value, datetime):
        return "—" if value in (None, "") else str(value)
    if timezone.is_naive(value):
        return _when(value, precision)
    # The same instants come back on every live re-fetch of a list (every open page, every change in a storm): the
    # text depends only on the instant, the person's zone, the precision and the language.
    return _when_aware(value, precision, timezone.get_current_timezone(), get_language())


@lru_cache(maxsize=4096)
def _when_aware(value: datetime, precision: str, zone: object, language: str | None) -> str:
    return _when(value, precision)


def _when(value: datetime, precision: str) -> str:
    local = _local(value)
    if precision == "day":
        return date_format(local, "D j M")
    df = DateFormat(local)  # one formatter for both forms below
    shown = _formatted(df, SECONDS if precision == "seconds" else SHORT)
    if precision == "text":
        return shown
    zone = escape(timezone.get_current_timezone_name())
    full = escape(_formatted(df, FULL))
    return _time_element(escape(local.isoformat()), full, zone, escape(shown))


def _time_element(iso: str, full: str, zone: str, shown: str) -> SafeString:
    # Every part is escaped by the caller (html.escape: the same text as format_html's escaping).
    return mark_safe(f'<time datetime="{iso}" title="{full} ({zone})">{shown}</time>')  # noqa: S308


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

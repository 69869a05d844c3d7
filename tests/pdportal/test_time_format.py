"""One time format everywhere: the zone named, seconds on request, compact ages, and no raw Django formats left."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from django.template import Context, Template
from django.utils import timezone

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


def render(source: str, **context) -> str:
    return Template(source).render(Context(context))


def test_when_shows_the_persons_zone_by_name_with_the_exact_instant_in_the_markup():
    moment = datetime(2026, 12, 7, 2, 20, tzinfo=UTC)
    with timezone.override(ZoneInfo("Europe/Berlin")):
        html = render("{{ t|when }}", t=moment)
        seconds = render('{{ t|when:"seconds" }}', t=moment)
    assert ">2026-12-07 03:20 CET</time>" in html
    assert 'datetime="2026-12-07T03:20:00+01:00"' in html
    assert "(Europe/Berlin)" in html
    assert ">2026-12-07 03:20:00 CET</time>" in seconds


def test_when_renders_a_dash_for_no_time():
    assert render("{{ t|when }}", t=None) == "—"


def test_ago_reads_as_a_phrase_both_ways():
    now = timezone.now()
    assert render("{{ t|ago }}", t=now) == "just now"
    assert render("{{ t|ago }}", t=now - timedelta(hours=3, minutes=36, seconds=5)) == "3h 36m ago"
    assert render("{{ t|ago }}", t=now + timedelta(minutes=12, seconds=30)) == "in 12m"
    assert render("{{ t|ago }}", t=now - timedelta(days=9, hours=2)) == "9d 2h ago"
    assert render("{{ t|age }}", t=now - timedelta(days=2, hours=4, minutes=1)) == "2d 4h"


def test_no_template_formats_a_time_on_its_own():
    """`|date:"…"`, `|timesince`, `|naturaltime` each spell time their own way; `when`/`age`/`ago` are the one way."""
    offenders = [
        f"{path.relative_to(TEMPLATES)}:{number}"
        for path in TEMPLATES.rglob("*.html")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        # |date:'c' is allowed: it writes the machine-readable instant of a <time datetime="…">.
        if re.search(r"\|\s*(date|time|timesince|timeuntil|naturaltime)\b(?!:'c')", line)
    ]
    assert offenders == []


def test_when_has_plain_text_forms_for_svg_titles_and_axis_labels():
    moment = datetime(2026, 12, 7, 2, 20, tzinfo=UTC)
    with timezone.override(ZoneInfo("Europe/Berlin")):
        assert render('{{ t|when:"text" }}', t=moment) == "2026-12-07 03:20 CET"
        assert render('{{ t|when:"day" }}', t=moment) == "Mon 7 Dec"


def test_when_writes_exactly_what_djangos_date_format_writes_in_every_zone_and_around_dst_changes():
    """`when` formats without re-parsing the format string on every call (the list renders 250 times per page):
    its output must stay date_format's, including the hour a clock change repeats or skips (no zone name then)."""
    from django.utils.dateformat import format as date_format
    from django.utils.html import format_html

    from pdportal.templatetags.pdportal_time import FULL, SECONDS, SHORT, when

    moments = [datetime(2026, 12, 7, 2, 20, 5, tzinfo=UTC) + timedelta(days=41 * i, minutes=7 * i) for i in range(12)]
    # Europe/Berlin's 2026 changes: 29 March 01:00 UTC (skipped hour), 25 October 01:00 UTC (repeated hour).
    moments += [datetime(2026, 3, 29, 0, 59, tzinfo=UTC), datetime(2026, 3, 29, 1, 0, tzinfo=UTC)]
    moments += [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)]
    for zone in ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"):
        with timezone.override(ZoneInfo(zone)):
            for moment in moments:
                local = timezone.localtime(moment)
                expected = format_html(
                    '<time datetime="{}" title="{} ({})">{}</time>',
                    local.isoformat(),
                    date_format(local, FULL),
                    zone,
                    date_format(local, SHORT),
                )
                assert when(moment) == expected
                assert when(moment, "text") == date_format(local, SHORT)
                assert f">{date_format(local, SECONDS)}</time>" in when(moment, "seconds")
    naive = datetime(2026, 12, 7, 2, 20)
    assert when(naive, "text") == date_format(naive, SHORT)

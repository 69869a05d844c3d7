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

"""The incident list's Python-rendered rows: escaped, in the person's zone, checkboxes only for responders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from incidents import list_render
from incidents.selectors import IncidentRow

NOW = datetime(2026, 12, 7, 4, 30, 15, tzinfo=UTC)


def _row(**over) -> IncidentRow:
    values = dict(
        pk=1,
        pd_id="PX1",
        number=7,
        title='<b>db</b> & "cache"',
        status="triggered",
        urgency="high",
        priority_name=None,
        service_name="checkout",
        created_at=NOW - timedelta(minutes=3),
        alert_count=2,
        assignee_names=("Ann <a>", "Bo"),
    )
    values.update(over)
    return IncidentRow(**values)


def test_a_row_escapes_what_people_typed_and_shows_dates_in_the_persons_zone():
    with timezone.override("Europe/Berlin"):
        html = str(list_render.rows_html([_row()], can_act=True))
    assert "&lt;b&gt;db&lt;/b&gt; &amp; &quot;cache&quot;" in html and "<b>" not in html
    assert "Ann &lt;a&gt;, Bo" in html
    assert '<time datetime="2026-12-07T05:27:15+01:00" data-age>' in html
    assert "2026-12-07 05:27 CET" in html
    assert '<td class="col-priority">—</td>' in html  # no priority
    assert 'href="/incidents/PX1/"' in html and 'name="ids" value="PX1"' in html


def test_a_reader_gets_no_row_checkboxes_and_an_empty_list_says_so():
    assert 'name="ids"' not in str(list_render.rows_html([_row()], can_act=False))
    assert "No incidents match these filters." in str(list_render.rows_html([], can_act=True))


def test_every_column_writes_one_cell_and_the_row_markup_stays_the_templates(monkeypatch):
    """The row markup is what the template wrote (tests/e2e and live.js read it), one <td> per COLUMNS entry."""
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    with timezone.override("Europe/Berlin"):
        html = str(list_render.rows_html([_row(priority_name="P1 <crit>")], can_act=True, keep_selected={"PX1"}))
    assert html == (
        '\n        <tr id="incident-row-PX1" data-incident="PX1">\n'
        '          <td class="col-sel"><input type="checkbox" name="ids" value="PX1" class="row-select" checked'
        ' aria-label="Select #7"></td>\n'
        '          <td class="col-num"><a href="/incidents/PX1/">7</a></td>\n'
        '          <td class="col-title"><a href="/incidents/PX1/">'
        "&lt;b&gt;db&lt;/b&gt; &amp; &quot;cache&quot;</a></td>\n"
        '          <td class="col-status"><span class="status-triggered">triggered</span></td>\n'
        '          <td class="col-urgency"><span class="badge urgency-high">high</span></td>\n'
        '          <td class="col-priority"><span class="badge priority priority-p1-crit">P1 &lt;crit&gt;</span></td>\n'
        '          <td class="col-service">checkout</td>\n'
        '          <td class="col-assignees">Ann &lt;a&gt;, Bo</td>\n'
        '          <td class="col-created"><time datetime="2026-12-07T05:27:15+01:00" title="Monday 7 December 2026,'
        ' 05:27:15 CET (Europe/Berlin)">2026-12-07 05:27 CET</time></td>\n'
        '          <td class="col-age"><time datetime="2026-12-07T05:27:15+01:00" data-age>3m</time></td>\n'
        '          <td class="col-alerts" data-label="Alerts">2</td>\n'
        "        </tr>\n      "
    )
    assert html.count("<td ") == len(list_render.COLUMNS) + 1
    assert [key for key, _ in list_render.SORT_HEADINGS] == [column.key for column in list_render.COLUMNS]

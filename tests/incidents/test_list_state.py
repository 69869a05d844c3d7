"""The incident list shows each row's timers under its status: snoozed until, the acknowledgement timeout, and the
level with its next escalation, from the row's own columns (no query per row), through the one time format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from incidents import list_render, mirror
from incidents.selectors import IncidentRow
from tests.incidents.factories import incident_json

NOW = datetime(2026, 12, 7, 4, 30, 15, tzinfo=UTC)


def _row(**over) -> IncidentRow:
    values = dict(
        pk=1,
        pd_id="PX1",
        number=7,
        title="db",
        status="acknowledged",
        urgency="high",
        priority_name=None,
        service_name="checkout",
        created_at=NOW - timedelta(minutes=3),
        alert_count=2,
        assignee_names=("Ann",),
    )
    values.update(over)
    return IncidentRow(**values)


def _status_cell(html: str) -> str:
    start = html.index('<td class="col-status">')
    return html[start : html.index("</td>", start)]


def test_a_snoozed_row_says_until_when_in_the_persons_zone():
    until = NOW + timedelta(hours=1)
    with timezone.override("Europe/Berlin"):
        cell = _status_cell(
            str(list_render.rows_html([_row(unacknowledge_at=until, snoozed_until=until)], can_act=True))
        )
    assert 'class="timer">snoozed until <time datetime="2026-12-07T06:30:15+01:00"' in cell
    assert "2026-12-07 06:30 CET</time>" in cell


def test_an_acknowledged_row_says_when_its_acknowledgement_lapses():
    lapse = NOW + timedelta(minutes=30)
    with timezone.override("Europe/Berlin"):
        cell = _status_cell(str(list_render.rows_html([_row(unacknowledge_at=lapse)], can_act=True)))
    assert 'class="timer">ack lapses <time' in cell and "2026-12-07 06:00 CET</time>" in cell
    assert "snoozed" not in cell


def test_a_triggered_row_shows_its_level_and_next_escalation():
    due = NOW + timedelta(minutes=15)
    row = _row(status="triggered", next_escalation_at=due, escalation_level=2)
    with timezone.override("Europe/Berlin"):
        cell = _status_cell(str(list_render.rows_html([row], can_act=True)))
    assert 'class="timer">level 2, escalates <time' in cell and "2026-12-07 05:45 CET</time>" in cell


def test_a_row_without_timers_shows_none_and_stale_timers_of_another_status_stay_hidden():
    resolved = _row(status="resolved", next_escalation_at=NOW, unacknowledge_at=NOW, snoozed_until=NOW)
    cell = _status_cell(str(list_render.rows_html([resolved], can_act=True)))
    assert "timer" not in cell
    assert "timer" not in _status_cell(str(list_render.rows_html([_row(status="triggered")], can_act=True)))


@pytest.mark.django_db
def test_the_list_page_shows_a_snoozed_incident_as_snoozed(client_as, responder):
    incident = mirror.upsert_incident(
        incident_json(status="acknowledged", pending_actions=[{"type": "unacknowledge", "at": "2026-11-20T11:10:00Z"}])
    )
    mirror.upsert_log_entry(
        {
            "id": "PLSNZ",
            "type": "snooze_log_entry",
            "created_at": "2026-11-20T10:10:00Z",
            "changed_actions": [{"type": "unacknowledge", "at": "2026-11-20T11:10:00Z"}],
        },
        incident=incident,
    )
    html = client_as(responder).get("/?status=acknowledged").content.decode()
    row = html[html.index('id="incident-row-PINC1"') :]
    row = row[: row.index("</tr>")]
    assert "snoozed until" in row and "2026-11-20 12:10 CET</time>" in row

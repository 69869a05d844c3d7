"""The audit log page: every write (incident actions included), filters, and the CSV export."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from accounts.audit import audit_recorder
from accounts.models import AuditEntry


@pytest.fixture
def entries(admin, responder):
    record_admin = audit_recorder(user=admin)
    record_responder = audit_recorder(user=responder)
    record_responder({"method": "PUT", "path": "/incidents/Q1ABCDE", "status": 200, "duration_ms": 12})
    record_responder(
        {
            "method": "POST",
            "path": "/incidents/Q1ABCDE/notes",
            "status": 400,
            "error_message": "Invalid Input Provided",
            "error_code": 2001,
            "duration_ms": 8,
        }
    )
    record_admin({"method": "DELETE", "path": "/services/PSVC001", "status": 204, "duration_ms": 30})
    old = AuditEntry.objects.get(path="/services/PSVC001")
    AuditEntry.objects.filter(pk=old.pk).update(created_at=timezone.now() - dt.timedelta(days=10))
    return AuditEntry.objects.all()


def _rows(html: str) -> list[str]:
    body = html.split('<table id="audit-list">', 1)[1].split("</tbody>", 1)[0]
    return [row for row in body.split("<tr>")[2:]]


def test_it_shows_incident_actions_with_who_what_status_and_error(entries, admin_client):
    html = admin_client.get("/audit/").content.decode()

    rows = _rows(html)
    assert len(rows) == 3
    note = next(r for r in rows if "POST /incidents/{id}/notes" in r)
    assert "responder@example.com" in note
    assert "Q1ABCDE" in note
    assert "400" in note and "Invalid Input Provided (2001)" in note


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"actor": "responder"}, 2),
        ({"operation": "incidents"}, 2),
        ({"operation": "DELETE /services"}, 1),
        ({"status": "error"}, 1),
        ({"status": "ok"}, 2),
        ({"status": "204"}, 1),
        ({"date_from": (timezone.now() - dt.timedelta(days=2)).date().isoformat()}, 2),
        ({"date_to": (timezone.now() - dt.timedelta(days=5)).date().isoformat()}, 1),
    ],
)
def test_it_filters(entries, admin_client, query, expected):
    html = admin_client.get("/audit/", query).content.decode()

    assert len(_rows(html)) == expected


def test_it_exports_the_filtered_entries_as_csv(entries, admin_client):
    response = admin_client.get("/audit/", {"actor": "responder", "format": "csv"})

    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == [
        "time",
        "actor",
        "operation",
        "method",
        "path",
        "target",
        "status",
        "error",
        "duration_ms",
        "url",
    ]
    assert len(rows) == 3
    assert {r[2] for r in rows[1:]} == {"PUT /incidents/{id}", "POST /incidents/{id}/notes"}
    assert all(r[1] == "responder@example.com" for r in rows[1:])


def test_the_export_cannot_smuggle_a_spreadsheet_formula(admin, admin_client):
    # The console's paths and PagerDuty's error text reach the export as typed.
    audit_recorder(user=admin)(
        {"method": "GET", "path": "=HYPERLINK(1)", "status": 400, "error_message": "@SUM(A1)", "duration_ms": 1}
    )
    response = admin_client.get("/audit/", {"format": "csv"})
    row = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))[1]
    assert (row[4], row[7]) == ("'=HYPERLINK(1)", "'@SUM(A1)")


def test_the_export_link_keeps_the_filters(entries, admin_client):
    html = admin_client.get("/audit/", {"actor": "responder", "status": "error"}).content.decode()

    link = html.split('id="audit-csv" href="', 1)[1].split('"', 1)[0]
    assert "actor=responder" in link and "status=error" in link and "format=csv" in link


def test_it_reads_as_actions_with_the_raw_request_one_click_away(admin, admin_client):
    from incidents import mirror
    from tests.incidents.factories import incident_json

    mirror.upsert_incident(incident_json("PINC171", 171, created_at="2026-11-20T10:00:00Z"))
    record = audit_recorder(user=admin)
    record({"method": "PUT", "path": "/incidents/PINC171", "status": 200, "body": {"incident": {"status": "resolved"}}})
    record({"method": "POST", "path": "/incidents/PINC171/notes", "status": 201, "body": {"note": {"content": "x"}}})
    record(
        {
            "method": "PUT",
            "path": "/incidents",
            "status": 200,
            "body": {"incidents": [{"id": f"P{n}", "status": "acknowledged"} for n in range(3)]},
        }
    )
    html = admin_client.get("/audit/").content.decode()

    assert '<a href="/incidents/PINC171/">Resolved #171</a>' in html
    assert '<a href="/incidents/PINC171/">Added a note to #171</a>' in html
    assert "Acknowledged 3 incidents" in html
    assert '<details class="audit-raw"><summary>Request</summary><code>PUT /incidents/{id}</code>' in html

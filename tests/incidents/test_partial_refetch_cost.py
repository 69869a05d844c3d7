"""A live re-fetch of one partial reads only what that partial shows (issue 13: the header cost the state panel's
policy levels, the alerts, notes, timeline and change events on every refresh)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from incidents import mirror
from tests.incidents.factories import alert_json, incident_json

pytestmark = pytest.mark.django_db
OTHER_PARTIALS_TABLES = (
    "services_oncall",
    "incidents_alert",
    "incidents_note",
    "incidents_logentry",
    "incidents_statusupdate",
    "incidents_changeevent",
    "incidents_responder",
    "incidents_statusupdatetemplate",
)


@pytest.fixture
def incident(db):
    incident = mirror.upsert_incident(incident_json("PINC1", 7, created_at="2026-11-20T10:00:00Z"))
    mirror.upsert_alert(alert_json("PALR1", "PINC1", summary="disk full"))
    return incident


def _tables_read(client, path: str) -> str:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(path)
    assert response.status_code == 200
    return " ".join(query["sql"] for query in ctx.captured_queries)


def test_the_header_refetch_reads_no_other_partials_data(client_as, responder, incident):
    sql = _tables_read(client_as(responder), "/incidents/PINC1/?partial=incident-header")
    assert [table for table in OTHER_PARTIALS_TABLES if f'"{table}"' in sql] == []


def test_the_alerts_refetch_reads_the_alerts_and_not_the_state_panels_data(client_as, responder, incident):
    sql = _tables_read(client_as(responder), "/incidents/PINC1/?partial=incident-alerts")
    assert '"incidents_alert"' in sql
    assert '"services_oncall"' not in sql and '"incidents_responder"' not in sql


def test_the_whole_page_still_shows_every_partial(client_as, responder, incident):
    html = client_as(responder).get("/incidents/PINC1/").content.decode()
    for dom_id in ("incident-header", "incident-state", "incident-actions", "incident-alerts", "incident-timeline"):
        assert f'id="{dom_id}"' in html
    assert "disk full" in html

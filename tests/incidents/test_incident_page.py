"""The incident page from the mirror: partials fetchable by DOM id, the person's time zone, no-JS form errors."""

from __future__ import annotations

import pytest
import responses

from incidents import mirror
from tests.incidents.factories import alert_json, incident_json

pytestmark = pytest.mark.django_db
PARTIALS = [
    "incident-header",
    "incident-actions",
    "incident-alerts",
    "incident-notes",
    "incident-timeline",
    "incident-changes",
]


@pytest.fixture
def incident(db):
    incident = mirror.upsert_incident(incident_json("PINC1", 7, created_at="2026-11-20T10:00:00Z"))
    mirror.upsert_alert(alert_json("PALR1", "PINC1", summary="=HYPERLINK(evil)"))
    mirror.upsert_note({"id": "PN1", "content": "first look", "created_at": "2026-11-20T10:05:00Z"}, incident=incident)
    mirror.upsert_log_entry(
        {
            "id": "PL1",
            "type": "trigger_log_entry",
            "summary": "Triggered via API",
            "created_at": "2026-11-20T10:00:00Z",
        },
        incident=incident,
    )
    mirror.upsert_change_event(
        {"id": "PCE1", "summary": "Deploy v42", "timestamp": "2026-11-20T09:30:00Z", "services": [{"id": "PSVC1"}]}
    )
    return incident


def test_the_page_shows_header_alerts_notes_timeline_and_related_changes(client_as, responder, incident):
    html = client_as(responder).get("/incidents/PINC1/").content.decode()
    for text in (
        "#7",
        "Disk full",
        "API Gateway",
        "Rita Responder",
        "Platform On-Call",
        "P1",
        "first look",
        "Triggered via API",
        "Deploy v42",
    ):
        assert text in html


@pytest.mark.parametrize("dom_id", PARTIALS)
def test_each_partial_is_fetchable_by_its_dom_id(client_as, responder, incident, dom_id):
    html = client_as(responder).get(f"/incidents/PINC1/?partial={dom_id}").content.decode().strip()
    assert html.startswith(f'<section id="{dom_id}"') and "<html" not in html


def test_live_partials_carry_their_topic_ids_and_url(client_as, responder, incident):
    html = client_as(responder).get("/incidents/PINC1/").content.decode()
    assert 'data-live-topic="incident" data-live-ids="PINC1"' in html
    assert 'hx-get="/incidents/PINC1/?partial=incident-timeline"' in html


def test_times_show_in_the_persons_time_zone(client_as, responder, incident):
    # 10:00 UTC is 11:00 in Berlin (the responder persona's zone) in November.
    html = client_as(responder).get("/incidents/PINC1/?partial=incident-header").content.decode()
    assert "2026-11-20 11:00 CET" in html


def test_a_plain_post_with_bad_input_re_renders_the_page_with_the_error(client_as, responder, incident):
    with responses.RequestsMock():  # nothing may reach PagerDuty
        response = client_as(responder).post("/incidents/PINC1/escalate/", {"level": "zero"})
    html = response.content.decode()
    assert response.status_code == 200 and "<html" in html
    assert "Enter a whole number" in html


def test_csv_cells_cannot_become_spreadsheet_formulas(client_as, observer, incident):
    text = client_as(observer).get("/incidents/PINC1/alerts.csv").content.decode()
    assert "'=HYPERLINK(evil)" in text


def test_an_unknown_action_is_a_404(client_as, responder, incident):
    assert client_as(responder).post("/incidents/PINC1/explode/").status_code == 404


def test_get_on_an_action_is_not_allowed(client_as, responder, incident):
    assert client_as(responder).get("/incidents/PINC1/acknowledge/").status_code == 405


def test_a_change_event_page_survives_pagerduty_being_down(client_as, responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    mirror.upsert_change_event({"id": "PCE9", "summary": "Mirrored deploy", "timestamp": "2026-11-20T09:30:00Z"})
    with responses.RequestsMock() as rsps:
        rsps.add(responses.GET, "https://api.pagerduty.test/change_events/PCE9", status=503, body="upstream down")
        rsps.add(responses.GET, "https://api.pagerduty.test/change_events/PCE8", status=503, body="upstream down")
        c = client_as(responder)
        known = c.get("/change-events/PCE9/")
        unknown = c.get("/change-events/PCE8/")
    assert known.status_code == 200 and "Mirrored deploy" in known.content.decode()
    assert "Service Unavailable" in known.content.decode()
    assert unknown.status_code == 502 and "Service Unavailable" in unknown.content.decode()

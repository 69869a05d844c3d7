"""Small truths on the incident pages: each note once in the timeline, a merged incident links to its target and
offers nothing but viewing, a resolved one offers only what applies, ages are compact, the notification summary."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidents import mirror
from pdportal.templatetags.ages import compact_age
from tests.incidents.factories import incident_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def resolved(db):
    data = incident_json("PRES1", 171, status="resolved", resolved_at="2026-11-20T11:00:00Z")
    return mirror.upsert_incident(data)


def test_the_timeline_shows_each_note_once(client_as, responder):
    incident = mirror.upsert_incident(incident_json("PINC1", 7))
    mirror.upsert_note({"id": "PN1", "content": "first look", "created_at": "2026-11-20T10:05:00Z"}, incident=incident)
    mirror.upsert_log_entry(
        {"id": "PL1", "type": "annotate_log_entry", "summary": "first look", "created_at": "2026-11-20T10:05:00Z"},
        incident=incident,
    )
    html = client_as(responder).get("/incidents/PINC1/?partial=incident-timeline").content.decode()
    assert html.count("first look") == 1


def test_a_merged_incident_links_to_its_target_and_offers_nothing_but_viewing(client_as, responder, resolved):
    mirror.upsert_incident(incident_json("PTGT1", 186))
    mirror.upsert_log_entry(
        {
            "id": "PLM1",
            "type": "resolve_log_entry",
            "summary": "Resolved by Rita Responder",
            "channel": {"type": "merge", "summary": "Merged into PTGT1"},
            "created_at": "2026-11-20T11:00:00Z",
        },
        incident=resolved,
    )
    html = client_as(responder).get("/incidents/PRES1/").content.decode()
    assert '<a href="/incidents/PTGT1/">Merged into #186</a>' in html
    assert "hx-post" not in html and "btn-retrigger" not in html and "btn-note" not in html


def test_a_resolved_incident_offers_only_what_applies_and_retrigger_asks_first(client_as, responder, resolved):
    html = client_as(responder).get("/incidents/PRES1/").content.decode()
    for absent in (
        "btn-acknowledge",
        "btn-snooze",
        "btn-merge",
        "btn-resolve",
        "<summary>Reassign",
        "<summary>Escalate",
    ):
        assert absent not in html
    assert "<summary>Add responders" not in html
    assert 'hx-confirm="Re-trigger #171?' in html
    assert 'name="expected_status" value="resolved"' in html


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(0, "<1m"), (5, "5m"), (60, "1h"), (217, "3h 37m"), (1440, "1d"), (1500, "1d 1h")],
)
def test_ages_are_compact(minutes, text):
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert compact_age(datetime.fromtimestamp(now.timestamp() - minutes * 60, tz=UTC), now) == text


def test_the_notification_summary_names_number_service_urgency_and_title(client_as, responder):
    mirror.upsert_incident(incident_json("PINC1", 204))
    body = client_as(responder).get("/incidents/PINC1/summary/").json()
    assert body == {
        "id": "PINC1",
        "number": 204,
        "title": "Disk full",
        "status": "triggered",
        "urgency": "high",
        "service": "API Gateway",
        "url": "/incidents/PINC1/",
    }


def test_the_notification_summary_is_for_signed_in_readers_only(client, outsider):
    mirror.upsert_incident(incident_json("PINC1", 204))
    assert client.get("/incidents/PINC1/summary/").status_code in (302, 401, 403)

"""incidents.mirror: upserts keyed by PagerDuty id, idempotent, guarded by changed_at, tolerant of partial JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accounts.models import PagerDutyUser, Team
from incidents import mirror
from incidents.models import Alert, ChangeEvent, Incident, LogEntry, Note, Priority, StatusUpdate, StatusUpdateTemplate
from services.models import EscalationPolicy, Service
from tests.incidents.factories import alert_json, incident_json, ref

pytestmark = pytest.mark.django_db
WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"


def test_it_creates_an_incident_with_its_references_from_a_rest_body():
    incident = mirror.upsert_incident(incident_json())
    incident.refresh_from_db()
    assert incident.pd_id == "PINC1"
    assert incident.number == 1
    assert incident.status == "triggered"
    assert incident.service.name == "API Gateway"
    assert incident.escalation_policy.pd_id == "PEP1"
    assert incident.priority.name == "P1"
    assert [u.pd_id for u in incident.assignees.all()] == ["PUSR1"]
    assert [t.name for t in incident.teams.all()] == ["Platform"]
    assert incident.alert_count == 2
    assert incident.raw["incident_key"] == "key-PINC1"
    assert incident.changed_at.isoformat() == "2026-11-20T10:00:00+00:00"
    assert "disk full" in incident.search_text and "pinc1" in incident.search_text


def test_it_is_idempotent():
    for _ in range(3):
        mirror.upsert_incident(incident_json())
    assert Incident.objects.count() == 1
    assert Service.objects.count() == 1
    assert PagerDutyUser.objects.count() == 1
    assert Team.objects.count() == 1


def test_an_older_change_never_overwrites_a_newer_one():
    mirror.upsert_incident(incident_json(status="acknowledged", updated_at="2026-11-20T10:05:00Z"))
    stale = mirror.upsert_incident(incident_json(status="triggered", updated_at="2026-11-20T10:01:00Z"))
    assert stale.status == "acknowledged"
    assert Incident.objects.get().status == "acknowledged"
    mirror.upsert_incident(incident_json(status="resolved", updated_at="2026-11-20T10:09:00Z"))
    assert Incident.objects.get().status == "resolved"


def test_an_explicit_changed_at_wins_over_the_bodys_time():
    from incidents.mirror import parse_time

    mirror.upsert_incident(incident_json(status="acknowledged"), changed_at=parse_time("2026-11-21T00:00:00Z"))
    mirror.upsert_incident(incident_json(status="resolved"), changed_at=parse_time("2026-11-20T23:00:00Z"))
    assert Incident.objects.get().status == "acknowledged"


def test_a_partial_payload_keeps_the_other_columns():
    mirror.upsert_incident(incident_json())
    mirror.upsert_incident({"id": "PINC1", "type": "incident", "status": "acknowledged"})
    incident = Incident.objects.get()
    assert incident.status == "acknowledged"
    assert incident.title == "Disk full"
    assert incident.service.pd_id == "PSVC1"
    assert incident.assignees.count() == 1
    assert incident.raw["incident_number"] == 1


def test_it_applies_a_real_webhook_incident_payload():
    body = json.loads((WEBHOOKS / "incident.priority_updated.json").read_text())
    event = body["event"]
    incident = mirror.upsert_incident(event["data"], changed_at=mirror.parse_time(event["occurred_at"]))
    incident.refresh_from_db()
    assert incident.number == 2
    assert incident.title == "A little bump in the road"
    assert incident.priority.name == "P1"
    assert [u.pd_id for u in incident.assignees.all()] == ["PTUXL6G"]
    assert incident.service.name == "API Service"


def test_a_full_upsert_fills_a_stub_created_from_a_reference():
    mirror.upsert_incident(incident_json())
    assert Service.objects.get(pd_id="PSVC1").changed_at is None
    mirror.upsert_service(
        {
            "id": "PSVC1",
            "type": "service",
            "name": "API Gateway (prod)",
            "status": "active",
            "escalation_policy": ref("escalation_policy", "PEP1"),
            "teams": [ref("team", "PTEAM1")],
            "updated_at": "2026-01-01T00:00:00Z",
        }
    )
    service = Service.objects.get(pd_id="PSVC1")
    assert service.name == "API Gateway (prod)"
    assert service.escalation_policy.pd_id == "PEP1"
    assert EscalationPolicy.objects.count() == 1


def test_alerts_attach_to_their_incident_and_feed_the_search_text():
    mirror.upsert_incident(incident_json())
    mirror.upsert_alert(alert_json())
    alert = Alert.objects.get()
    assert alert.incident.pd_id == "PINC1"
    assert alert.severity == "critical"
    assert alert.body["details"] == {"host": "db-7"}
    assert "cpu on db-7" in Incident.objects.get().search_text


def test_moving_an_alert_updates_both_incidents_search_text():
    mirror.upsert_incident(incident_json())
    mirror.upsert_incident(incident_json("PINC2", 2, title="Other"))
    mirror.upsert_alert(alert_json())
    mirror.upsert_alert(alert_json(incident=ref("incident", "PINC2")))
    assert "cpu" not in Incident.objects.get(pd_id="PINC1").search_text
    assert "cpu" in Incident.objects.get(pd_id="PINC2").search_text


def test_notes_from_rest_and_from_webhooks():
    incident = mirror.upsert_incident(incident_json())
    mirror.upsert_note(
        {"id": "PNOTE1", "content": "Looking", "user": ref("user", "PUSR1"), "created_at": "2026-11-20T10:02:00Z"},
        incident=incident,
    )
    webhook_note = {"id": "PNOTE2", "type": "incident_note", "content": "Fixed", "incident": ref("incident", "PINC1")}
    mirror.upsert(webhook_note, changed_at=mirror.parse_time("2026-11-20T10:03:00Z"))
    notes = {n.pd_id: n for n in Note.objects.all()}
    assert notes["PNOTE1"].user.pd_id == "PUSR1"
    assert notes["PNOTE2"].incident == incident
    assert notes["PNOTE2"].created_at.isoformat() == "2026-11-20T10:03:00+00:00"


def test_a_note_for_an_unknown_incident_creates_a_stub_incident():
    note = mirror.upsert_note({"id": "PNOTE9", "content": "x", "incident": ref("incident", "PNEW")})
    assert note.incident.pd_id == "PNEW"
    mirror.upsert_incident(incident_json("PNEW", 9))
    assert Incident.objects.get(pd_id="PNEW").number == 9


def test_status_updates_log_entries_templates_change_events_and_priorities():
    incident = mirror.upsert_incident(incident_json())
    mirror.upsert(
        {
            "id": "PSU1",
            "type": "incident_status_update",
            "message": "Fix deployed",
            "incident": ref("incident", "PINC1"),
        }
    )
    assert StatusUpdate.objects.get().incident == incident
    mirror.upsert(
        {
            "id": "PLOG1",
            "type": "acknowledge_log_entry",
            "summary": "Acknowledged by Rita",
            "created_at": "2026-11-20T10:01:00Z",
            "agent": ref("user", "PUSR1"),
            "channel": {"type": "web_ui"},
            "incident": ref("incident", "PINC1"),
        }
    )
    entry = LogEntry.objects.get()
    assert (entry.type, entry.incident) == ("acknowledge_log_entry", incident)
    mirror.upsert_template(
        {
            "id": "PTPL1",
            "type": "template",
            "name": "Investigating",
            "template_type": "status_update",
            "templated_fields": {"message": "m", "email_subject": "s", "email_body": "b"},
        }
    )
    assert StatusUpdateTemplate.objects.get().subject == "s"
    mirror.upsert_change_event(
        {
            "id": "PCE1",
            "type": "change_event",
            "summary": "Deploy v2",
            "timestamp": "2026-11-20T09:55:00Z",
            "services": [ref("service", "PSVC1")],
            "integration": ref("integration", "PINT1"),
            "links": [{"href": "https://x", "text": "x"}],
        }
    )
    event = ChangeEvent.objects.get()
    assert event.integration_id == "PINT1"
    assert [s.pd_id for s in event.services.all()] == ["PSVC1"]
    mirror.upsert_priorities(
        [{"id": "PPRI1", "type": "priority", "name": "P1"}, {"id": "PPRI2", "type": "priority", "name": "P2"}]
    )
    assert list(Priority.objects.values_list("name", flat=True)) == ["P1", "P2"]


def test_a_resolved_then_reopened_incident_clears_resolved_at():
    mirror.upsert_incident(incident_json(status="resolved", resolved_at="2026-11-20T10:10:00Z"))
    assert Incident.objects.get().resolved_at is not None
    mirror.upsert_incident({"id": "PINC1", "type": "incident", "status": "triggered"})
    assert Incident.objects.get().resolved_at is None


def test_objects_without_an_id_are_ignored():
    assert mirror.upsert_incident({"type": "incident"}) is None
    assert mirror.upsert({"type": "pagey"}) is None


def test_shared_refs_resolve_references_without_a_query_per_incident(django_assert_max_num_queries):
    refs = mirror.Refs()
    mirror.upsert_incident(incident_json("PWARM", 99), refs=refs)
    with django_assert_max_num_queries(100):
        for n in range(10):
            mirror.upsert_incident(incident_json(f"PX{n}", n + 100), refs=refs)


def test_a_webhook_payload_keeps_the_raw_json_in_rests_shape():
    mirror.upsert_incident(incident_json())
    mirror.upsert_incident(
        {"id": "PINC1", "type": "incident", "number": 1, "assignees": [ref("user", "PUSR2")]},
        changed_at=mirror.parse_time("2026-11-21T00:00:00Z"),
    )
    incident = Incident.objects.get()
    assert "assignees" not in incident.raw and "number" not in incident.raw
    assert incident.raw["assignments"] == [{"assignee": ref("user", "PUSR2")}]
    assert [u.pd_id for u in incident.assignees.all()] == ["PUSR2"]


def test_a_concurrent_insert_of_the_same_id_becomes_an_update(monkeypatch):
    # Simulate losing the race: the lookup saw no row, but another writer inserted it before our INSERT.
    mirror.upsert_incident(incident_json(status="triggered"))
    real_filter = Incident.objects.filter

    class NoneFirst:
        def __init__(self, qs):
            self.qs = qs

        def first(self):
            return None

        def __getattr__(self, name):
            return getattr(self.qs, name)

    def filter_once(*args, **kwargs):
        monkeypatch.setattr(Incident.objects, "filter", real_filter)
        return NoneFirst(real_filter(*args, **kwargs))

    monkeypatch.setattr(
        Incident.objects,
        "select_for_update",
        lambda: type(
            "Q", (), {"filter": staticmethod(filter_once), "get": staticmethod(lambda **kw: Incident.objects.get(**kw))}
        )(),
    )
    incident = mirror.upsert_incident(incident_json(status="acknowledged", updated_at="2026-11-20T10:05:00Z"))
    assert Incident.objects.count() == 1
    assert incident.status == "acknowledged" and Incident.objects.get().status == "acknowledged"

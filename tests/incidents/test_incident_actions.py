"""Single incident actions against the sandbox: PagerDuty receives the request under the actor's identity,
then the mirror and the page show PagerDuty's answer; refusals show PagerDuty's message; bad input sends nothing."""

from __future__ import annotations

import pytest

from accounts.models import AuditEntry
from incidents.models import Alert, Incident, LogEntry, Note, StatusUpdate
from tests.incidents.sandbox_log import writes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


def post(client, incident, action, data=None, htmx=False):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(f"/incidents/{incident.pd_id}/{action}/", data or {}, **headers)


def test_it_acknowledges_with_the_actors_identity(mirrored, pick, client_as, responder):
    incident = pick("triggered")
    response = post(client_as(responder), incident, "acknowledge")
    assert response.status_code == 302
    assert ("PUT", f"/incidents/{incident.pd_id}") in writes(mirrored)
    [put] = [e for e in mirrored.requests_log() if e["method"] == "PUT"]
    assert put["body"] == {"incident": {"type": "incident_reference", "status": "acknowledged"}}
    incident.refresh_from_db()
    assert incident.status == "acknowledged"
    # The sandbox attributes the change to the From header's user: the mirrored log entry names the responder.
    assert LogEntry.objects.filter(incident=incident, type="acknowledge_log_entry", summary__icontains="Rita").exists()
    audit = AuditEntry.objects.filter(actor=responder, target=incident.pd_id).first()
    assert audit is not None and audit.status == 200
    page = client_as(responder).get(f"/incidents/{incident.pd_id}/").content.decode()
    assert 'id="incident-status">acknowledged<' in page


def test_an_htmx_action_answers_with_the_changed_partials(mirrored, pick, client_as, responder):
    incident = pick("triggered")
    response = post(client_as(responder), incident, "acknowledge", htmx=True)
    html = response.content.decode()
    assert response.status_code == 200
    for dom_id in ("incident-header", "incident-timeline", "incident-result"):
        assert f'id="{dom_id}"' in html
    # Only what an acknowledgement changes is swapped: the notes and alerts stay as they are.
    assert 'id="incident-notes"' not in html and 'id="incident-alerts"' not in html
    assert 'hx-swap-oob="outerHTML"' in html and "<html" not in html
    assert "acknowledged" in html


def test_it_resolves_with_a_resolution_note(mirrored, pick, client_as, responder):
    incident = pick("acknowledged")
    post(client_as(responder), incident, "resolve", {"resolution": "Rolled back"})
    incident.refresh_from_db()
    assert incident.status == "resolved" and incident.resolved_at is not None
    entry = LogEntry.objects.filter(incident=incident, type="resolve_log_entry").first()
    assert entry is not None and entry.raw.get("note") == "Rolled back"


def test_it_retriggers(mirrored, pick, client_as, responder):
    incident = pick("acknowledged")
    post(client_as(responder), incident, "retrigger")
    incident.refresh_from_db()
    assert incident.status == "triggered"


def test_it_reassigns_to_users_and_to_a_policy(mirrored, pick, client_as, responder):
    from accounts.models import PagerDutyUser
    from services.models import EscalationPolicy

    incident = pick("triggered")
    target = PagerDutyUser.objects.get(email="oncall@example.com")
    c = client_as(responder)
    post(c, incident, "reassign", {"users": [target.pd_id]})
    incident.refresh_from_db()
    assert list(incident.assignees.values_list("pd_id", flat=True)) == [target.pd_id]
    policy = EscalationPolicy.objects.exclude(pk=incident.escalation_policy_id).first()
    post(c, incident, "reassign", {"escalation_policy": policy.pd_id})
    incident.refresh_from_db()
    assert incident.escalation_policy_id == policy.pk


def test_it_escalates_to_a_chosen_level(mirrored, pick, client_as, responder):
    incident = pick("triggered")
    post(client_as(responder), incident, "escalate", {"level": 2})
    incident.refresh_from_db()
    assert incident.raw.get("escalation_level") == 2
    assert ("PUT", f"/incidents/{incident.pd_id}") in writes(mirrored)


def test_it_snoozes_an_acknowledged_incident_only(mirrored, pick, client_as, responder):
    incident = pick("acknowledged")
    c = client_as(responder)
    post(c, incident, "snooze", {"duration": "3600"})
    assert ("POST", f"/incidents/{incident.pd_id}/snooze") in writes(mirrored)
    incident.refresh_from_db()
    assert any(a.get("type") == "unacknowledge" for a in incident.raw.get("pending_actions", []))
    mirrored.clear_log()
    triggered = pick("triggered")
    response = post(c, triggered, "snooze", {"duration": "3600"}, htmx=True)
    assert "Only an acknowledged incident can be snoozed" in response.content.decode()
    assert writes(mirrored) == []


def test_it_merges_other_incidents_into_this_one(mirrored, pick, client_as, responder):
    target = pick("triggered", min_alerts=1)
    source = pick("triggered", min_alerts=1)
    moved, title = source.alert_count, target.title
    post(client_as(responder), target, "merge", {"sources": f"#{source.number}"})
    assert ("PUT", f"/incidents/{target.pd_id}/merge") in writes(mirrored)
    source.refresh_from_db()
    target.refresh_from_db()
    assert source.status == "resolved"
    assert target.alerts.count() >= moved + 1
    # PagerDuty answers a merge with a reference ("[#12] title" as its summary): the title must stay the title.
    assert target.title == title


def test_it_changes_title_priority_urgency_and_service(mirrored, pick, client_as, responder):
    from incidents.models import Priority
    from services.models import Service

    incident = pick("triggered")
    priority = Priority.objects.order_by("order").first()
    service = Service.objects.exclude(pk=incident.service_id).first()
    urgency = "low" if incident.urgency == "high" else "high"
    post(
        client_as(responder),
        incident,
        "update",
        {"title": "Renamed by test", "priority": priority.pd_id, "urgency": urgency, "service": service.pd_id},
    )
    incident.refresh_from_db()
    assert (incident.title, incident.priority_id, incident.urgency, incident.service_id) == (
        "Renamed by test",
        priority.pk,
        urgency,
        service.pk,
    )
    assert ("PUT", f"/incidents/{incident.pd_id}") in writes(mirrored)


def test_it_adds_a_note(mirrored, pick, client_as, responder):
    incident = pick("triggered")
    response = post(client_as(responder), incident, "note", {"content": "Looking into it"}, htmx=True)
    assert ("POST", f"/incidents/{incident.pd_id}/notes") in writes(mirrored)
    note = Note.objects.get(incident=incident, content="Looking into it")
    assert note.user.email == "responder@example.com"
    html = response.content.decode()
    assert "Looking into it" in html and 'id="incident-notes"' in html and 'id="incident-header"' not in html


def test_an_empty_note_is_a_field_error_and_nothing_is_sent(mirrored, pick, client_as, responder):
    incident = pick("triggered")
    response = post(client_as(responder), incident, "note", {"content": "   "}, htmx=True)
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert writes(mirrored) == []


def test_it_requests_responders(mirrored, pick, client_as, responder):
    from accounts.models import PagerDutyUser

    incident = pick("triggered")
    other = PagerDutyUser.objects.get(email="responder2@example.com")
    post(client_as(responder), incident, "responders", {"users": [other.pd_id], "message": "Need DB help"})
    assert ("POST", f"/incidents/{incident.pd_id}/responder_requests") in writes(mirrored)
    incident.refresh_from_db()
    assert incident.raw.get("responder_requests")


def test_it_publishes_a_status_update_from_a_rendered_template(mirrored, pick, client_as, responder):
    from incidents.models import StatusUpdateTemplate

    incident = pick("triggered")
    template = StatusUpdateTemplate.objects.get(name="Investigating")
    c = client_as(responder)
    preview = post(c, incident, "status-update", {"template": template.pd_id, "preview": "1"}, htmx=True)
    html = preview.content.decode()
    assert ("POST", f"/templates/{template.pd_id}/render") in writes(mirrored)
    assert f"We are investigating {incident.title}" in html
    assert StatusUpdate.objects.count() == 0
    post(c, incident, "status-update", {"message": f"We are investigating {incident.title}"})
    assert ("POST", f"/incidents/{incident.pd_id}/status_updates") in writes(mirrored)
    assert StatusUpdate.objects.get(incident=incident).message.startswith("We are investigating")
    page = c.get(f"/incidents/{incident.pd_id}/?partial=incident-timeline").content.decode()
    assert "Status update" in page


def test_it_resolves_one_alert_and_moves_another(mirrored, pick, client_as, responder):
    incident = pick("triggered", min_alerts=2)
    other = pick("triggered")
    alerts = list(Alert.objects.filter(incident=incident, status="triggered"))
    assert len(alerts) >= 2
    c = client_as(responder)
    post(c, incident, "alerts", {"alerts": [alerts[0].pd_id], "op": "resolve"})
    assert ("PUT", f"/incidents/{incident.pd_id}/alerts/{alerts[0].pd_id}") in writes(mirrored)
    assert Alert.objects.get(pk=alerts[0].pk).status == "resolved"
    post(c, incident, "alerts", {"alerts": [alerts[1].pd_id], "op": "move", "target": f"#{other.number}"})
    assert ("PUT", f"/incidents/{incident.pd_id}/alerts") in writes(mirrored)
    assert Alert.objects.get(pk=alerts[1].pk).incident_id == other.pk


def test_it_downloads_the_alerts_as_csv(mirrored, pick, client_as, observer):
    incident = pick("triggered", min_alerts=1)
    response = client_as(observer).get(f"/incidents/{incident.pd_id}/alerts.csv")
    assert response["Content-Type"].startswith("text/csv")
    lines = response.content.decode().strip().splitlines()
    assert lines[0].startswith("id,created_at,status") and len(lines) == 1 + incident.alerts.count()


def test_an_unknown_incident_is_a_404(client_as, responder):
    c = client_as(responder)
    assert c.get("/incidents/PNOPE00/").status_code == 404
    assert c.post("/incidents/PNOPE00/acknowledge/").status_code == 404


def test_observers_cannot_act_and_see_no_buttons(mirrored, pick, client_as, observer):
    incident = pick("triggered")
    c = client_as(observer)
    page = c.get(f"/incidents/{incident.pd_id}/").content.decode()
    assert "btn-acknowledge" not in page and "btn-note" not in page
    assert post(c, incident, "acknowledge").status_code == 403
    assert writes(mirrored) == []


def test_a_stale_action_shows_pagerdutys_error_and_keeps_the_mirror(mirrored, pick, client_as, responder, sandbox):
    incident = pick("triggered")
    # Someone resolves it in PagerDuty; the mirror has not heard yet.
    sandbox.put(
        f"/incidents/{incident.pd_id}",
        json={"incident": {"type": "incident_reference", "status": "resolved"}},
        headers={"From": "admin@example.com"},
    )
    Incident.objects.filter(pk=incident.pk).update(status="triggered")
    response = post(client_as(responder), incident, "escalate", {"level": 2}, htmx=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "resolved" in html.lower() and 'class="message error"' in html
    assert Incident.objects.get(pk=incident.pk).status == "triggered"


def test_it_resolves_several_alerts_at_once(mirrored, pick, client_as, responder):
    incident = pick("triggered", min_alerts=2)
    alerts = list(Alert.objects.filter(incident=incident, status="triggered").values_list("pd_id", flat=True)[:2])
    assert len(alerts) == 2
    response = post(client_as(responder), incident, "alerts", {"alerts": alerts, "op": "resolve"}, htmx=True)
    assert ("PUT", f"/incidents/{incident.pd_id}/alerts") in writes(mirrored)
    assert set(Alert.objects.filter(pd_id__in=alerts).values_list("status", flat=True)) == {"resolved"}
    assert "Resolved 2 alerts." in response.content.decode()


def test_moving_alerts_needs_a_known_target(mirrored, pick, client_as, responder):
    incident = pick("triggered", min_alerts=1)
    alert = Alert.objects.filter(incident=incident).first()
    response = post(
        client_as(responder),
        incident,
        "alerts",
        {"alerts": [alert.pd_id], "op": "move", "target": "#999999"},
        htmx=True,
    )
    assert "Enter the id or number of an incident" in response.content.decode()
    assert writes(mirrored) == []

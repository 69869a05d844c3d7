"""The exact requests PagerDuty receives for each action (method, path, body, From header, token), faked with
`responses`; the sandbox tests cover the end-to-end state."""

from __future__ import annotations

import json

import pytest
import responses

from incidents import actions, mirror
from incidents.models import Incident
from pdportal.pagerduty import PagerDutyError
from tests.incidents.factories import alert_json, incident_json

API = "https://api.pagerduty.test"
pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    incident = mirror.upsert_incident(incident_json("PINC1", 1, status="acknowledged"))
    mirror.upsert_incident(incident_json("PINC2", 2))
    mirror.upsert_alert(alert_json("PALR1", "PINC1"))
    return incident


def fake(rsps, method, path, body, status=200):
    rsps.add(method, f"{API}{path}", json=body, status=status)
    rsps.add(responses.GET, f"{API}/incidents/PINC1/log_entries", json={"log_entries": []})
    rsps.add(responses.GET, f"{API}/incidents/PINC2/log_entries", json={"log_entries": []})


def sent(rsps, method, path):
    for call in rsps.calls:
        if call.request.method == method and call.request.url.split("?")[0] == f"{API}{path}":
            return call.request
    raise AssertionError(f"{method} {path} was not sent")


CASES = [
    (
        "acknowledge",
        lambda u, i: actions.incident_acknowledge(actor=u, incident=i),
        "PUT",
        "/incidents/PINC1",
        {"incident": {"type": "incident_reference", "status": "acknowledged"}},
    ),
    (
        "resolve",
        lambda u, i: actions.incident_resolve(actor=u, incident=i, resolution="Rolled back"),
        "PUT",
        "/incidents/PINC1",
        {"incident": {"type": "incident_reference", "status": "resolved", "resolution": "Rolled back"}},
    ),
    (
        "retrigger",
        lambda u, i: actions.incident_retrigger(actor=u, incident=i),
        "PUT",
        "/incidents/PINC1",
        {"incident": {"type": "incident_reference", "status": "triggered"}},
    ),
    (
        "reassign",
        lambda u, i: actions.incident_reassign(actor=u, incident=i, user_ids=["PU9"]),
        "PUT",
        "/incidents/PINC1",
        {
            "incident": {
                "type": "incident_reference",
                "assignments": [{"assignee": {"id": "PU9", "type": "user_reference"}}],
            }
        },
    ),
    (
        "delegate",
        lambda u, i: actions.incident_reassign(actor=u, incident=i, escalation_policy_id="PEP9"),
        "PUT",
        "/incidents/PINC1",
        {
            "incident": {
                "type": "incident_reference",
                "escalation_policy": {"id": "PEP9", "type": "escalation_policy_reference"},
            }
        },
    ),
    (
        "escalate",
        lambda u, i: actions.incident_escalate(actor=u, incident=i, level=2),
        "PUT",
        "/incidents/PINC1",
        {"incident": {"type": "incident_reference", "escalation_level": 2}},
    ),
    (
        "fields",
        lambda u, i: actions.incident_set_fields(
            actor=u, incident=i, title="T", priority_id="PP2", urgency="low", service_id="PS2"
        ),
        "PUT",
        "/incidents/PINC1",
        {
            "incident": {
                "type": "incident_reference",
                "title": "T",
                "priority": {"id": "PP2", "type": "priority_reference"},
                "urgency": "low",
                "service": {"id": "PS2", "type": "service_reference"},
            }
        },
    ),
    (
        "snooze",
        lambda u, i: actions.incident_snooze(actor=u, incident=i, seconds=14400),
        "POST",
        "/incidents/PINC1/snooze",
        {"duration": 14400},
    ),
]


@pytest.mark.parametrize(("name", "call", "method", "path", "body"), CASES, ids=[c[0] for c in CASES])
def test_it_sends_pagerdutys_request_with_the_actors_identity(
    setup, responder, settings, name, call, method, path, body
):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake(
            rsps,
            getattr(responses, method),
            path,
            {"incident": incident_json("PINC1", 1, status="triggered", updated_at="2026-11-21T00:00:00Z")},
        )
        call(responder, setup)
        request = sent(rsps, method, path)
    assert json.loads(request.body) == body
    assert request.headers["From"] == "responder@example.com"
    assert request.headers["Authorization"] == f"Token token={settings.SANDBOX_API_TOKEN}"
    assert Incident.objects.get(pd_id="PINC1").changed_at.isoformat() == "2026-11-21T00:00:00+00:00"


def test_merge_sends_the_source_references(setup, responder):
    # The spec answers a merge with an incident reference, whose summary is "[#1] Disk full", not the title.
    reference = {
        "id": "PINC1",
        "type": "incident_reference",
        "summary": "[#1] Disk full",
        "self": f"{API}/incidents/PINC1",
        "html_url": "https://acme.pagerduty.com/incidents/PINC1",
    }
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake(rsps, responses.PUT, "/incidents/PINC1/merge", {"incident": reference})
        rsps.add(
            responses.GET,
            f"{API}/incidents/PINC1",
            json={"incident": incident_json("PINC1", 1, updated_at="2026-11-21T00:00:00Z", alert_counts={"all": 3})},
        )
        rsps.add(
            responses.GET, f"{API}/incidents/PINC2", json={"incident": incident_json("PINC2", 2, status="resolved")}
        )
        rsps.add(
            responses.GET,
            f"{API}/incidents/PINC1/alerts",
            json={"alerts": [alert_json("PALR2", "PINC1")], "more": False},
        )
        actions.incident_merge(actor=responder, incident=setup, sources=["#2"])
        request = sent(rsps, "PUT", "/incidents/PINC1/merge")
    assert json.loads(request.body) == {"source_incidents": [{"id": "PINC2", "type": "incident_reference"}]}
    assert Incident.objects.get(pd_id="PINC2").status == "resolved"
    # The target is refetched: its true title stays, and its state is PagerDuty's after the merge.
    target = Incident.objects.get(pd_id="PINC1")
    assert (target.title, target.alert_count) == ("Disk full", 3)


def test_merge_refuses_an_incident_number_it_does_not_know_without_calling_pagerduty(setup, responder):
    with responses.RequestsMock() as rsps:
        with pytest.raises(actions.ActionRefused, match="No incident #999 is known here"):
            actions.incident_merge(actor=responder, incident=setup, sources=["PINC2", "#999"])
        assert not rsps.calls


def test_note_status_update_responders_and_render(setup, responder):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake(
            rsps,
            responses.POST,
            "/incidents/PINC1/notes",
            {"note": {"id": "PN1", "content": "hi", "created_at": "2026-11-20T10:00:00Z"}},
        )
        rsps.add(
            responses.POST,
            f"{API}/incidents/PINC1/status_updates",
            json={"status_update": {"id": "PSU1", "message": "m"}},
        )
        rsps.add(responses.POST, f"{API}/incidents/PINC1/responder_requests", json={"responder_request": {}})
        rsps.add(responses.GET, f"{API}/incidents/PINC1", json={"incident": incident_json("PINC1", 1)})
        rsps.add(responses.POST, f"{API}/templates/PT1/render", json={"templated_fields": {"message": "rendered"}})
        actions.note_create(actor=responder, incident=setup, content="hi")
        actions.status_update_publish(actor=responder, incident=setup, message="m")
        actions.responders_request(
            actor=responder, incident=setup, user_ids=["PU2"], policy_ids=["PEP2"], message="help"
        )
        rendered = actions.template_render(actor=responder, template_id="PT1", incident=setup)
        assert json.loads(sent(rsps, "POST", "/incidents/PINC1/notes").body) == {"note": {"content": "hi"}}
        assert json.loads(sent(rsps, "POST", "/incidents/PINC1/status_updates").body) == {"message": "m"}
        responders_body = json.loads(sent(rsps, "POST", "/incidents/PINC1/responder_requests").body)
        assert json.loads(sent(rsps, "POST", "/templates/PT1/render").body) == {"incident_id": "PINC1"}
    assert responders_body["requester_id"] == responder.profile.pd_user.pd_id
    assert responders_body["responder_request_targets"] == [
        {"responder_request_target": {"id": "PU2", "type": "user_reference"}},
        {"responder_request_target": {"id": "PEP2", "type": "escalation_policy_reference"}},
    ]
    assert rendered == {"message": "rendered"}


def test_alert_requests(setup, responder):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        fake(
            rsps,
            responses.PUT,
            "/incidents/PINC1/alerts/PALR1",
            {"alert": alert_json("PALR1", "PINC1", status="resolved")},
        )
        rsps.add(responses.PUT, f"{API}/incidents/PINC1/alerts", json={"alerts": [alert_json("PALR1", "PINC2")]})
        rsps.add(responses.GET, f"{API}/incidents/PINC1", json={"incident": incident_json("PINC1", 1)})
        rsps.add(responses.GET, f"{API}/incidents/PINC2", json={"incident": incident_json("PINC2", 2)})
        actions.alert_resolve(actor=responder, incident=setup, alert_id="PALR1")
        assert json.loads(sent(rsps, "PUT", "/incidents/PINC1/alerts/PALR1").body) == {
            "alert": {"type": "alert_reference", "status": "resolved"}
        }
        target = Incident.objects.get(pd_id="PINC2")
        actions.alerts_manage(actor=responder, incident=setup, alert_ids=["PALR1"], target=target)
        assert json.loads(sent(rsps, "PUT", "/incidents/PINC1/alerts").body) == {
            "alerts": [
                {"id": "PALR1", "type": "alert_reference", "incident": {"id": "PINC2", "type": "incident_reference"}}
            ]
        }
    assert target.alerts.filter(pd_id="PALR1").exists()


def test_a_refusal_leaves_the_mirror_unchanged(setup, responder):
    before = Incident.objects.get(pd_id="PINC1")
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.PUT,
            f"{API}/incidents/PINC1",
            json={"error": {"message": "Incident Already Resolved", "code": 1001, "errors": []}},
            status=400,
        )
        with pytest.raises(PagerDutyError) as caught:
            actions.incident_acknowledge(actor=responder, incident=setup)
    assert "Incident Already Resolved" in str(caught.value) and "1001" in str(caught.value)
    after = Incident.objects.get(pd_id="PINC1")
    assert (after.status, after.changed_at, after.raw) == (before.status, before.changed_at, before.raw)


def test_the_page_shows_pagerdutys_refusal_in_place(setup, client_as, responder):
    with responses.RequestsMock() as rsps:
        rsps.add(
            responses.PUT,
            f"{API}/incidents/PINC1",
            json={"error": {"message": "Incident Already Resolved", "code": 1001, "errors": []}},
            status=400,
        )
        c = client_as(responder)
        htmx = c.post("/incidents/PINC1/resolve/", {}, HTTP_HX_REQUEST="true").content.decode()
        plain = c.post("/incidents/PINC1/resolve/", {}, follow=True).content.decode()
    assert "Incident Already Resolved (1001)" in htmx
    assert "Incident Already Resolved (1001)" in plain

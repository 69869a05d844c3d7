"""New incident, send event, change events, notifications and priorities, against the sandbox."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuditEntry
from incidents.models import ChangeEvent, Incident, Priority
from tests.incidents.sandbox_log import writes

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox]


def test_it_creates_an_incident(mirrored, client_as, responder):
    from accounts.models import PagerDutyUser
    from services.models import Service

    service = Service.objects.get(name="Checkout")
    priority = Priority.objects.get(name="P2")
    oncall = PagerDutyUser.objects.get(email="oncall@example.com")
    response = client_as(responder).post(
        "/incidents/new/",
        {
            "title": "Checkout is slow",
            "service": service.pd_id,
            "urgency": "low",
            "priority": priority.pd_id,
            "details": "p99 at 4s",
            "assignees": [oncall.pd_id],
            "incident_key": "checkout-slow-1",
        },
    )
    assert writes(mirrored) == [("POST", "/incidents")]
    incident = Incident.objects.get(title="Checkout is slow")
    assert response.status_code == 302 and response["Location"] == f"/incidents/{incident.pd_id}/"
    assert (incident.service, incident.priority, incident.urgency, incident.incident_key) == (
        service,
        priority,
        "low",
        "checkout-slow-1",
    )
    assert list(incident.assignees.all()) == [oncall]


def test_a_new_incident_without_a_title_is_a_field_error(mirrored, client_as, responder):
    response = client_as(responder).post("/incidents/new/", {"service": ""})
    assert response.status_code == 200
    assert response.content.decode().count("This field is required") >= 2
    assert writes(mirrored) == []


def test_a_refused_new_incident_shows_pagerdutys_message(mirrored, client_as, responder):
    from services.models import Service

    service = Service.objects.get(name="Checkout")
    c = client_as(responder)
    data = {"title": "Dup", "service": service.pd_id, "incident_key": "dup-key-1"}
    c.post("/incidents/new/", data)
    response = c.post("/incidents/new/", data)
    html = response.content.decode()
    assert response.status_code == 200 and 'id="form-error"' in html
    assert Incident.objects.filter(title="Dup").count() == 1


def test_it_creates_an_incident_through_htmx_with_the_form_as_a_partial(mirrored, client_as, responder):
    from services.models import Service

    c = client_as(responder)
    page = c.get("/incidents/new/").content.decode()
    assert '<div id="incident-new-form">' in page and 'hx-post="/incidents/new/"' in page
    assert 'hx-target="#incident-new-form"' in page
    bad = c.post("/incidents/new/", {"service": ""}, HTTP_HX_REQUEST="true")
    html = bad.content.decode().strip()
    assert bad.status_code == 200 and html.startswith('<div id="incident-new-form">') and "<html" not in html
    assert html.count("This field is required") >= 2
    assert writes(mirrored) == []
    service = Service.objects.get(name="Checkout")
    data = {"title": "Checkout via htmx", "service": service.pd_id, "incident_key": "htmx-1"}
    good = c.post("/incidents/new/", data, HTTP_HX_REQUEST="true")
    incident = Incident.objects.get(title="Checkout via htmx")
    assert good["HX-Redirect"] == f"/incidents/{incident.pd_id}/"
    refused = c.post("/incidents/new/", data, HTTP_HX_REQUEST="true").content.decode().strip()
    assert refused.startswith('<div id="incident-new-form">') and 'id="form-error"' in refused
    assert writes(mirrored) == [("POST", "/incidents"), ("POST", "/incidents")]


def test_it_sends_an_event_and_pagerduty_opens_an_incident(mirrored, client_as, responder, sandbox):
    key = sandbox.routing_keys["API Gateway"]
    response = client_as(responder).post(
        "/events/send/",
        {
            "event_action": "trigger",
            "routing_key": key,
            "dedup_key": "disk-7",
            "summary": "Disk 95% on db-7",
            "severity": "critical",
            "source": "db-7",
            "component": "disk",
            "group": "db",
            "event_class": "capacity",
            "custom_details": json.dumps({"used": "95%"}),
            "links": json.dumps([{"href": "https://runbooks.example.com/disk", "text": "Runbook"}]),
        },
    )
    html = response.content.decode()
    assert 'id="event-result"' in html and "disk-7" in html
    assert ("POST", "/v2/enqueue") in writes(mirrored)
    body = sandbox.get("/incidents", params={"incident_key": "disk-7"}).json()
    assert body["incidents"], "the sandbox should have opened an incident for the event"
    entry = AuditEntry.objects.get(path="/v2/enqueue")
    assert (entry.actor, entry.method, entry.status, entry.error) == (responder, "POST", 202, "")


def test_an_event_with_bad_json_is_a_field_error(mirrored, client_as, responder):
    response = client_as(responder).post(
        "/events/send/",
        {
            "event_action": "trigger",
            "routing_key": "x",
            "summary": "s",
            "severity": "info",
            "source": "s",
            "custom_details": "{nope",
        },
    )
    assert "Custom details must be valid JSON" in response.content.decode()
    assert writes(mirrored) == []


def test_change_events_list_detail_edit_and_send(mirrored, client_as, responder, sandbox):
    c = client_as(responder)
    html = c.get("/change-events/").content.decode()
    assert ("GET", "/change_events") in [(e["method"], e["path"]) for e in sandbox.requests_log()]
    event = ChangeEvent.objects.order_by("-timestamp").first()
    assert event is not None and event.summary in html
    detail = c.get(f"/change-events/{event.pd_id}/")
    assert detail.status_code == 200 and event.summary in detail.content.decode()
    response = c.post(
        f"/change-events/{event.pd_id}/edit/", {"summary": "Deploy v2 (edited)", "custom_details": "{}", "links": "[]"}
    )
    assert response.status_code == 302
    assert ("PUT", f"/change_events/{event.pd_id}") in writes(sandbox)
    event.refresh_from_db()
    assert event.summary == "Deploy v2 (edited)"
    key = sandbox.routing_keys["API Gateway"]
    sent = c.post(
        "/change-events/send/",
        {"routing_key": key, "summary": "Deploy v3", "source": "ci", "custom_details": '{"sha": "abc"}', "links": ""},
    )
    assert 'id="change-result"' in sent.content.decode()
    assert ("POST", "/v2/change/enqueue") in writes(sandbox)


def test_change_event_filters_validate_dates(mirrored, client_as, responder):
    html = client_as(responder).get("/change-events/?since=yesterday").content.decode()
    assert "Enter a valid date/time" in html


def test_an_unknown_change_event_is_a_404(mirrored, client_as, responder):
    assert client_as(responder).get("/change-events/PNOPE99/").status_code == 404


def test_notifications_are_read_live_with_a_required_range(mirrored, client_as, observer, sandbox):
    c = client_as(observer)
    response = c.get("/notifications/")
    assert response.status_code == 200
    assert ("GET", "/notifications") in [(e["method"], e["path"]) for e in sandbox.requests_log()]
    now = timezone.now()
    too_long = c.get(
        "/notifications/",
        {"since": (now - timedelta(days=120)).strftime("%Y-%m-%d"), "until": now.strftime("%Y-%m-%d")},
    ).content.decode()
    assert "at most 3 months" in too_long
    missing = c.get("/notifications/", {"since": now.strftime("%Y-%m-%d")}).content.decode()
    assert "This field is required" in missing


def test_priorities_are_listed_from_pagerduty(mirrored, client_as, observer, sandbox):
    Priority.objects.all().delete()
    html = client_as(observer).get("/priorities/").content.decode()
    assert ("GET", "/priorities") in [(e["method"], e["path"]) for e in sandbox.requests_log()]
    assert list(Priority.objects.values_list("name", flat=True)) == ["P1", "P2", "P3", "P4"]
    # The cells, not the bare names: a page's random CSRF token can hold "P4" (it failed 1 run in 3 that way).
    assert html.index("<td>P1</td>") < html.index("<td>P4</td>")


def test_observers_cannot_create_or_send(mirrored, client_as, observer):
    c = client_as(observer)
    assert c.get("/incidents/new/").status_code == 403
    assert c.post("/events/send/", {}).status_code == 403
    assert c.post("/change-events/send/", {}).status_code == 403

"""Services pages against the sandbox: List/Get/Create/Update/Delete Service, open counts, refusals."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import pytest
import responses
from django.utils import timezone

from accounts.models import AuditEntry
from incidents.models import Incident
from services import selectors
from services.models import EscalationPolicy, Service
from tests.services.conftest import requests_to


def _service_form(**overrides):
    if "escalation_policy" not in overrides:
        overrides["escalation_policy"] = EscalationPolicy.objects.get(name="Platform On-Call").pd_id
    data = {
        "name": "Search Indexer",
        "description": "Keeps the search index fresh",
        "auto_resolve_timeout": "7200",
        "acknowledgement_timeout": "900",
        "urgency_rule": "constant",
        "urgency": "low",
        "during_support_hours": "high",
        "outside_support_hours": "low",
        "support_time_zone": "UTC",
        "support_start_time": "09:00",
        "support_end_time": "17:00",
        "support_days": ["1", "2", "3", "4", "5"],
        "alert_creation": "create_alerts_and_incidents",
    }
    data.update(overrides)
    return data


def test_it_lists_services_from_pagerduty_with_the_filters(pd, admin_client):
    response = admin_client.get("/services/", {"query": "Gateway"})

    assert response.status_code == 200
    listed = requests_to(pd, "GET", "/services")
    assert len(listed) == 1
    assert parse_qs(listed[0]["query"])["query"] == ["Gateway"]
    html = response.content.decode()
    assert "API Gateway" in html
    assert "Checkout" not in html
    assert 'data-live-topic="service"' in html


def test_it_filters_by_team_and_name(pd, admin_client):
    admin_client.get("/services/")  # mirror the teams first
    platform = Service.objects.get(name="API Gateway").teams.get()
    pd.clear_log()

    response = admin_client.get("/services/", {"team": platform.pd_id, "name": "Database Cluster"})

    query = parse_qs(requests_to(pd, "GET", "/services")[0]["query"])
    assert query["team_ids[]"] == [platform.pd_id]
    assert query["name"] == ["Database Cluster"]
    html = response.content.decode()
    assert "Database Cluster" in html
    assert "API Gateway" not in html


def test_it_counts_open_incidents_per_service_from_the_mirror(pd, admin_client):
    admin_client.get("/services/")
    gateway = Service.objects.get(name="API Gateway")
    now = timezone.now()
    for n, status in enumerate(["triggered", "acknowledged", "resolved"], start=1):
        Incident.objects.create(
            pd_id=f"QTEST{n}", number=9000 + n, title="x", status=status, service=gateway, created_at=now
        )

    response = admin_client.get("/services/", {"partial": "service-list"})

    html = response.content.decode()
    assert html.lstrip().startswith('<div id="service-list"')
    row = html.split(f'id="service-{gateway.pd_id}"', 1)[1].split("</tr>", 1)[0]
    assert 'data-open-count="2"' in row


def test_it_counts_in_one_query_whatever_the_number_of_services(db, django_assert_num_queries):
    now = timezone.now()
    for n in range(12):
        service = Service.objects.create(pd_id=f"PSVC{n:03}", name=f"svc {n}")
        Incident.objects.create(
            pd_id=f"QINC{n:03}", number=n, title="x", status="triggered", service=service, created_at=now
        )

    # One query for the annotated services, one for their prefetched teams, however many rows.
    from accounts.visibility import EVERYTHING

    with django_assert_num_queries(2):
        rows = list(selectors.service_list(viewer=EVERYTHING))
    assert [r.open_incident_count for r in rows] == [1] * 12
    with django_assert_num_queries(2):
        assert len(list(selectors.service_list(viewer=EVERYTHING, query="svc 1"))) == 3


def test_it_shows_a_service_with_its_policy_integrations_and_incidents(pd, admin_client):
    pd_id = pd.services["API Gateway"]

    response = admin_client.get(f"/services/{pd_id}/")

    assert response.status_code == 200
    fetched = requests_to(pd, "GET", f"/services/{pd_id}")
    assert len(fetched) == 1
    assert set(parse_qs(fetched[0]["query"])["include[]"]) == {"escalation_policies", "integrations", "teams"}
    html = response.content.decode()
    assert "Platform On-Call" in html
    assert 'id="service-integrations"' in html
    integration_names = [
        i.get("name") or i.get("summary") for i in Service.objects.get(pd_id=pd_id).raw["integrations"]
    ]
    assert integration_names and all(name in html for name in integration_names)


def test_the_service_page_lists_its_recent_incidents_newest_first(pd, admin_client):
    pd_id = pd.services["API Gateway"]
    admin_client.get(f"/services/{pd_id}/")
    service = Service.objects.get(pd_id=pd_id)
    other = Service.objects.exclude(pd_id=pd_id).first() or service
    now = timezone.now()
    Incident.objects.create(
        pd_id="QOLD001",
        number=9101,
        title="Older one",
        status="resolved",
        service=service,
        created_at=now - timezone.timedelta(hours=2),
    )
    Incident.objects.create(
        pd_id="QNEW001", number=9102, title="Newer one", status="triggered", service=service, created_at=now
    )
    if other != service:
        Incident.objects.create(
            pd_id="QOTH001", number=9103, title="Elsewhere", status="triggered", service=other, created_at=now
        )

    html = admin_client.get(f"/services/{pd_id}/").content.decode()
    section = html.split('id="service-incidents"', 1)[1]
    assert section.index("Newer one") < section.index("Older one")
    assert 'href="/incidents/QNEW001/"' in section
    assert "Elsewhere" not in section


def test_it_creates_a_service_in_pagerduty_then_mirrors_it(pd, admin, admin_client):
    admin_client.get("/services/new/")  # mirrors the escalation policies for the form

    response = admin_client.post("/services/new/", _service_form())

    assert response.status_code == 302
    service = Service.objects.get(name="Search Indexer")
    assert response["Location"] == f"/services/{service.pd_id}/"
    assert len(requests_to(pd, "POST", "/services")) == 1
    remote = pd.get(f"/services/{service.pd_id}").json()["service"]
    assert remote["description"] == "Keeps the search index fresh"
    assert remote["auto_resolve_timeout"] == 7200
    assert remote["acknowledgement_timeout"] == 900
    assert remote["escalation_policy"]["summary"] == "Platform On-Call"
    entry = AuditEntry.objects.get(method="POST", path="/services")
    assert entry.actor == admin and entry.status == 201
    page = admin_client.get(response["Location"]).content.decode()
    assert "Search Indexer" in page


def test_it_shows_pagerdutys_refusal_and_leaves_the_mirror_alone(pd, admin_client):
    admin_client.get("/services/new/")
    before = Service.objects.count()

    response = admin_client.post("/services/new/", _service_form(name="API Gateway"))

    assert response.status_code == 200
    assert "Name has already been taken" in response.content.decode()
    assert Service.objects.count() == before
    assert AuditEntry.objects.get(method="POST", path="/services").status == 400


def test_it_updates_a_service(pd, admin_client):
    pd_id = pd.services["Checkout"]
    admin_client.get(f"/services/{pd_id}/")
    form = admin_client.get(f"/services/{pd_id}/edit/")
    assert form.status_code == 200
    policy = EscalationPolicy.objects.get(name="Payments On-Call")

    response = admin_client.post(
        f"/services/{pd_id}/edit/",
        _service_form(name="Checkout", description="Takes the money", escalation_policy=policy.pd_id),
    )

    assert response.status_code == 302
    assert len(requests_to(pd, "PUT", f"/services/{pd_id}")) == 1
    assert pd.get(f"/services/{pd_id}").json()["service"]["description"] == "Takes the money"
    assert Service.objects.get(pd_id=pd_id).description == "Takes the money"
    assert "Takes the money" in admin_client.get(f"/services/{pd_id}/").content.decode()


def test_it_asks_before_deleting_then_deletes(pd, admin_client):
    pd_id = pd.services["Android App"]
    admin_client.get(f"/services/{pd_id}/")

    confirm = admin_client.get(f"/services/{pd_id}/delete/")
    assert confirm.status_code == 200
    assert "Delete service" in confirm.content.decode()
    assert not requests_to(pd, "DELETE", f"/services/{pd_id}")

    response = admin_client.post(f"/services/{pd_id}/delete/", follow=True)

    assert response.redirect_chain[-1][0] == "/services/"
    assert f'id="service-{pd_id}"' not in response.content.decode()
    assert len(requests_to(pd, "DELETE", f"/services/{pd_id}")) == 1
    assert pd.get(f"/services/{pd_id}").status_code == 404
    assert not Service.objects.filter(pd_id=pd_id).exists()


@responses.activate
def test_it_sends_the_urgency_rule_and_support_hours_by_the_specs_names(admin, client_as, settings, api_key_mode):
    settings.SECURE_SSL_REDIRECT = False
    EscalationPolicy.objects.create(pd_id="PPOLICY", name="Primary")
    api = settings.PAGERDUTY_API_URL
    responses.get(f"{api}/escalation_policies", json={"escalation_policies": [], "more": False})
    responses.post(
        f"{api}/services",
        status=201,
        json={"service": {"id": "PNEW123", "type": "service", "name": "Search Indexer", "status": "active"}},
    )

    client_as(admin).post(
        "/services/new/",
        _service_form(
            escalation_policy="PPOLICY",
            urgency_rule="use_support_hours",
            during_support_hours="high",
            outside_support_hours="low",
            support_time_zone="Europe/Berlin",
            support_start_time="08:30",
            support_end_time="18:00",
            support_days=["1", "3", "5"],
            auto_resolve_timeout="",
            alert_creation="create_incidents",
        ),
    )

    sent = json.loads(responses.calls[-1].request.body)["service"]
    assert sent["escalation_policy"] == {"id": "PPOLICY", "type": "escalation_policy_reference"}
    assert sent["auto_resolve_timeout"] is None
    assert sent["acknowledgement_timeout"] == 900
    assert sent["alert_creation"] == "create_incidents"
    assert sent["incident_urgency_rule"] == {
        "type": "use_support_hours",
        "during_support_hours": {"type": "constant", "urgency": "high"},
        "outside_support_hours": {"type": "constant", "urgency": "low"},
    }
    assert sent["support_hours"] == {
        "type": "fixed_time_per_day",
        "time_zone": "Europe/Berlin",
        "start_time": "08:30:00",
        "end_time": "18:00:00",
        "days_of_week": [1, 3, 5],
    }
    assert responses.calls[-1].request.headers["From"] == "admin@example.com"


@pytest.mark.parametrize("missing", ["support_time_zone", "support_start_time", "support_days"])
def test_it_requires_support_hours_for_a_support_hours_rule(db, missing):
    from services.forms import ServiceForm

    data = {
        "name": "x",
        "escalation_policy": "P1",
        "urgency_rule": "use_support_hours",
        "urgency": "high",
        "support_time_zone": "UTC",
        "support_start_time": "09:00",
        "support_end_time": "17:00",
        "support_days": ["1"],
        "alert_creation": "create_alerts_and_incidents",
    }
    data[missing] = [] if missing == "support_days" else ""
    form = ServiceForm(data, policies=[("P1", "Primary")])
    assert not form.is_valid()
    assert missing in form.errors

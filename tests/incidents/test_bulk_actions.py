"""Bulk actions through Manage Incidents (PUT /incidents): chunks of 250, per-incident results in words."""

from __future__ import annotations

import json

import pytest
import responses

from incidents import actions
from incidents.models import Incident
from tests.incidents.factories import incident_json

API = "https://api.pagerduty.test"


def writes(sandbox):
    return [(e["method"], e["path"]) for e in sandbox.requests_log() if e["method"] != "GET"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_it_bulk_resolves_and_reports_already_resolved(mirrored, client_as, responder):
    open_ids = list(
        Incident.objects.filter(status="triggered").order_by("-created_at").values_list("pd_id", flat=True)[:3]
    )
    resolved_id = Incident.objects.filter(status="resolved").values_list("pd_id", flat=True).first()
    response = client_as(responder).post(
        "/incidents/bulk/", {"action": "resolve", "ids": [*open_ids, resolved_id]}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "3 done, 1 already resolved" in html
    assert writes(mirrored) == [("PUT", "/incidents")]
    assert set(Incident.objects.filter(pd_id__in=open_ids).values_list("status", flat=True)) == {"resolved"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.sandbox
def test_select_all_matching_applies_to_the_whole_filtered_set(mirrored, client_as, responder):
    from services.models import Service

    service = Service.objects.filter(incidents__status="triggered").first()
    query = f"status=triggered&service={service.pd_id}"
    expected = set(Incident.objects.filter(status="triggered", service=service).values_list("pd_id", flat=True))
    response = client_as(responder).post(
        "/incidents/bulk/", {"action": "acknowledge", "select_all": "1", "query": query}
    )
    assert response.status_code == 302 and response["Location"].endswith(f"?{query}")
    assert set(Incident.objects.filter(pd_id__in=expected).values_list("status", flat=True)) == {"acknowledged"}
    assert Incident.objects.filter(status="triggered", service=service).count() == 0


@pytest.mark.django_db
def test_an_oversized_selection_is_chunked_by_250_with_the_actors_identity(responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    ids = [f"PBULK{n:03d}" for n in range(300)]
    seen: list[dict] = []

    def answer(request):
        body = json.loads(request.body)
        seen.append({"body": body, "from": request.headers.get("From"), "auth": request.headers.get("Authorization")})
        return (
            200,
            {},
            json.dumps(
                {
                    "incidents": [
                        incident_json(i["id"], n, status="acknowledged") for n, i in enumerate(body["incidents"])
                    ]
                }
            ),
        )

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        result = actions.incidents_bulk(actor=responder, incident_ids=ids, action="acknowledge", params={})
    assert [len(s["body"]["incidents"]) for s in seen] == [250, 50]
    assert seen[0]["body"]["incidents"][0] == {"type": "incident_reference", "id": "PBULK000", "status": "acknowledged"}
    assert {s["from"] for s in seen} == {"responder@example.com"}
    assert seen[0]["auth"] == f"Token token={settings.SANDBOX_API_TOKEN}"
    assert result.requests == 2 and len(result.done) == 300
    assert result.summary() == "300 done"


@pytest.mark.django_db
def test_a_refused_chunk_is_reported_in_pagerdutys_words_and_others_continue(responder, api_key_mode, settings):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    ids = [f"PBULK{n:03d}" for n in range(260)]
    calls = {"n": 0}

    def answer(request):
        calls["n"] += 1
        body = json.loads(request.body)
        if calls["n"] == 1:
            error = {"error": {"message": "Incident Already Resolved", "code": 1001, "errors": []}}
            return 400, {}, json.dumps(error)
        return 200, {}, json.dumps({"incidents": [incident_json(i["id"], 1) for i in body["incidents"]]})

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        result = actions.incidents_bulk(actor=responder, incident_ids=ids, action="resolve", params={})
    assert len(result.failed) == 250 and len(result.done) == 10
    assert "Incident Already Resolved" in result.summary() and "1001" in result.summary()
    assert result.summary().startswith("10 done, 250 refused by PagerDuty")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("action", "params", "expected"),
    [
        (
            "reassign",
            {"users": ["PU1", "PU2"]},
            {
                "assignments": [
                    {"assignee": {"id": "PU1", "type": "user_reference"}},
                    {"assignee": {"id": "PU2", "type": "user_reference"}},
                ]
            },
        ),
        (
            "reassign",
            {"escalation_policy": "PEP9"},
            {"escalation_policy": {"id": "PEP9", "type": "escalation_policy_reference"}},
        ),
        ("escalate", {"level": 3}, {"escalation_level": 3}),
        ("priority", {"priority": "PPRI2"}, {"priority": {"id": "PPRI2", "type": "priority_reference"}}),
        ("urgency", {"urgency": "low"}, {"urgency": "low"}),
    ],
)
def test_every_bulk_action_sends_pagerdutys_shape(responder, api_key_mode, settings, action, params, expected):
    settings.PAGERDUTY_REQUESTS_PER_MINUTE = 1_000_000
    bodies = []

    def answer(request):
        body = json.loads(request.body)
        bodies.append(body)
        return 200, {}, json.dumps({"incidents": [incident_json(i["id"], 1) for i in body["incidents"]]})

    with responses.RequestsMock() as rsps:
        rsps.add_callback(responses.PUT, f"{API}/incidents", callback=answer)
        actions.incidents_bulk(actor=responder, incident_ids=["PA", "PB"], action=action, params=params)
    assert bodies[0]["incidents"][1] == {"type": "incident_reference", "id": "PB", **expected}


@pytest.mark.django_db
def test_bulk_input_errors_send_nothing(client_as, responder):
    with responses.RequestsMock():
        response = client_as(responder).post(
            "/incidents/bulk/", {"action": "escalate", "ids": ["PA"]}, HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert "Choose an escalation level" in response.content.decode()
